"""Users and devices (admin only): ``/users``, ``/devices``.

Thin views over ``services.accounts``; the roles come from the one matrix
(``Act.MANAGE_USERS``, ``Act.MANAGE_DEVICES``). A secret (a generated
password, a phone's credentials and set-up) is in the creating answer only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.http.context import Ctx
from api.http.registry import Api
from api.http.responses import json_ok
from ingest.broker_auth import hash_mqtt_password
from jobs_domain.permissions import MATRIX, Act
from services import accounts as service
from services import phone_setup
from storage.devices import DeviceRecord
from storage.users import UserAccount

USERS_ROLES = MATRIX[Act.MANAGE_USERS]
DEVICES_ROLES = MATRIX[Act.MANAGE_DEVICES]
ROLE = {"type": "string", "enum": ["admin", "dispatcher", "billing", "technician"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": ["string", "null"]}

USER_OUT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "role": ROLE,
        "active": {"type": "boolean"},
        "disabled_at": TIME,
        "created_at": TIME,
        "has_password": {"type": "boolean"},
        "technician_id": ID,
        "technician_name": {"type": ["string", "null"]},
        "last_login": {**TIME, "description": "The last dashboard login."},
    },
}
USER_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "role"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "email": {"type": ["string", "null"], "maxLength": 320},
        "role": ROLE,
        "password": {
            "type": ["string", "null"],
            "maxLength": 200,
            "description": "Omit it to have one generated (in the answer, once).",
        },
        "phone": {"type": ["string", "null"], "maxLength": 50},
        "team": {"type": "string", "maxLength": 100},
    },
}
USER_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {"role": ROLE},
}
PASSWORD_IN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"password": {"type": ["string", "null"], "maxLength": 200}},
}
DEVICE_OUT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "label": {"type": "string"},
        "user_id": ID,
        "owner": {"type": ["string", "null"]},
        "technician_id": ID,
        "active": {"type": "boolean"},
        "created_at": TIME,
        "revoked_at": TIME,
        "owntracks_key": {"type": "boolean"},
        "last_seen": {**TIME, "description": "When its newest message came in."},
        "kind": {
            "type": ["string", "null"],
            "description": "Protocol of its newest message (owntracks, osmand, …).",
        },
    },
}
DEVICE_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["technician_id"],
    "properties": {
        "technician_id": {"type": "string"},
        "device_id": {
            "type": ["string", "null"],
            "maxLength": 64,
            "description": "[A-Za-z0-9_-]{1,64}; omitted: phone-xxxxxx is made.",
        },
        "label": {"type": "string", "maxLength": 200},
    },
}
SETUP_OUT = {
    "type": "object",
    "description": "Shown once: the MQTT login, the OwnTracks configuration and "
    "link (owntracks:///config?inline=…), the Traccar Client server URL and link "
    "(org.traccar.client://config?url=…&id=…).",
}


DEVICE_CREATED = {
    "type": "object",
    "properties": {**DEVICE_OUT["properties"], "setup": SETUP_OUT},  # type: ignore[dict-item]
}
# No Idempotency-Key on the two creating POSTs: a replay would need the answer
# stored, and these answers hold secrets that are never stored.


def etag(account: UserAccount) -> str:
    return f'"user-{account.id}-{account.version}"'


def user_json(a: UserAccount) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "name": a.name,
        "email": a.email,
        "role": a.role,
        "active": a.disabled_at is None,
        "disabled_at": a.disabled_at,
        "created_at": a.created_at,
        "has_password": a.has_password,
        "technician_id": a.technician_id,
        "technician_name": a.technician_name,
        "last_login": a.last_login,
    }


def device_json(d: DeviceRecord) -> dict[str, Any]:
    return {
        "id": d.id,
        "label": d.label,
        "user_id": d.user_id,
        "owner": d.owner,
        "technician_id": d.technician_id,
        "active": d.revoked_at is None,
        "created_at": d.created_at,
        "revoked_at": d.revoked_at,
        "owntracks_key": d.owntracks_key,
        "last_seen": d.last_seen,
        "kind": d.kind,
    }


def _user_answer(
    a: UserAccount, status: int = 200, password: str | None = None
) -> web.Response:
    """A user, and the password made for them when there is one (shown once)."""
    extra = {} if password is None else {"password": password}
    return json_ok({**user_json(a), **extra}, status, etag=etag(a))


def _checker(ctx: Ctx) -> service.Check:
    return lambda current: ctx.check_if_match(etag(current))


async def list_users(ctx: Ctx) -> web.StreamResponse:
    found = await service.list_users(ctx.conn, ctx.actor)
    return json_ok({"items": [user_json(a) for a in found]})


async def get_user(ctx: Ctx) -> web.StreamResponse:
    user_id = ctx.path_id("user_id", "user")
    return _user_answer(await service.get_user(ctx.conn, ctx.actor, user_id))


async def create_user(ctx: Ctx) -> web.StreamResponse:
    made = await service.add_user(ctx.conn, ctx.actor, await ctx.json(USER_IN))
    return _user_answer(made.account, 201, made.password)


async def patch_user(ctx: Ctx) -> web.StreamResponse:
    user_id = ctx.path_id("user_id", "user")
    body = await ctx.json(USER_PATCH)
    changed = await service.change_role(
        ctx.conn, ctx.actor, user_id, body["role"], check=_checker(ctx)
    )
    return _user_answer(changed)


async def disable_user(ctx: Ctx) -> web.StreamResponse:
    user_id = ctx.path_id("user_id", "user")
    done = await service.disable(ctx.conn, ctx.actor, user_id, check=_checker(ctx))
    return _user_answer(done)


async def enable_user(ctx: Ctx) -> web.StreamResponse:
    user_id = ctx.path_id("user_id", "user")
    done = await service.enable(ctx.conn, ctx.actor, user_id, check=_checker(ctx))
    return _user_answer(done)


async def reset_password(ctx: Ctx) -> web.StreamResponse:
    user_id = ctx.path_id("user_id", "user")
    body = await ctx.json(PASSWORD_IN) if ctx.request.can_read_body else {}
    made = await service.reset_password(
        ctx.conn, ctx.actor, user_id, body.get("password"), check=_checker(ctx)
    )
    return _user_answer(made.account, password=made.password)


async def list_devices(ctx: Ctx) -> web.StreamResponse:
    found = await service.list_devices(ctx.conn, ctx.actor)
    return json_ok({"items": [device_json(d) for d in found]})


async def create_device(ctx: Ctx) -> web.StreamResponse:
    s = ctx.settings
    made = await service.register_phone(
        ctx.conn,
        ctx.actor,
        await ctx.json(DEVICE_IN),
        hash_password=hash_mqtt_password,
        service_users=[s.mqtt_username],
    )
    setup = phone_setup.for_settings(s, made.credentials, made.device.owner or "")
    return json_ok(
        {**device_json(made.device), "setup": setup.as_dict()},
        201,
        location=f"/api/v1/devices/{made.device.id}",
    )


async def revoke_device(ctx: Ctx) -> web.StreamResponse:
    device_id = ctx.request.match_info["device_id"]
    device, _changed = await service.revoke_device(ctx.conn, ctx.actor, device_id)
    return json_ok(device_json(device))


def setup(api: Api) -> None:
    api.tag("users", "Users, their roles and logins (admin)")
    user = api.schema("UserAccount", USER_OUT)
    device = api.schema("Device", DEVICE_OUT)
    listing = {"type": "object", "properties": {"items": {"type": "array"}}}
    api.route(
        "GET",
        "/users",
        list_users,
        summary="List users (role, active, their technician, last login)",
        tag="users",
        roles=USERS_ROLES,
        responses={200: listing},
    )
    api.route(
        "POST",
        "/users",
        create_user,
        summary="Add a user",
        description="Without `password`, one is generated and returned once as "
        "`password`. A technician gets their technician profile too.",
        tag="users",
        roles=USERS_ROLES,
        body=USER_IN,
        responses={201: {"$ref": user}},
    )
    api.route(
        "GET",
        "/users/{user_id}",
        get_user,
        summary="A user",
        tag="users",
        roles=USERS_ROLES,
        if_match=True,
        responses={200: {"$ref": user}},
    )
    api.route(
        "PATCH",
        "/users/{user_id}",
        patch_user,
        summary="Change a user's role",
        description="Their dashboard session ends. A technician's role follows "
        "their technician profile (422); an admin keeps their own (409).",
        tag="users",
        roles=USERS_ROLES,
        body=USER_PATCH,
        if_match=True,
        conflicts=True,
        responses={200: {"$ref": user}},
    )
    for path, handler, summary, why in (
        (
            "/users/{user_id}/disable",
            disable_user,
            "Disable a user",
            "At once: API tokens answer 401, login and dashboard session end, "
            "devices are revoked. Disabling yourself is refused (409).",
        ),
        (
            "/users/{user_id}/enable",
            enable_user,
            "Enable a disabled user",
            "Exactly what the disabling shut out comes back (tokens, login, the "
            "devices it revoked). An archived technician is restored instead (409).",
        ),
    ):
        api.route(
            "POST",
            path,
            handler,
            summary=summary,
            description=why,
            tag="users",
            roles=USERS_ROLES,
            if_match=True,
            conflicts=True,
            responses={200: {"$ref": user}},
        )
    api.route(
        "POST",
        "/users/{user_id}/reset-password",
        reset_password,
        summary="Set a new login password",
        description="Without `password`, one is generated and returned once. The "
        "user's dashboard sessions end.",
        tag="users",
        roles=USERS_ROLES,
        body=PASSWORD_IN,
        body_required=False,
        if_match=True,
        responses={200: {"$ref": user}},
    )
    api.route(
        "GET",
        "/devices",
        list_devices,
        summary="List devices (owner, kind and time of the last fix, revoked)",
        tag="devices",
        roles=DEVICES_ROLES,
        responses={200: listing},
    )
    api.route(
        "POST",
        "/devices",
        create_device,
        summary="Register a phone for a technician",
        description="The answer's `setup` holds its credentials and each app's "
        "set-up, once: only their hashes are stored.",
        tag="devices",
        roles=DEVICES_ROLES,
        body=DEVICE_IN,
        responses={201: DEVICE_CREATED},
    )
    api.route(
        "POST",
        "/devices/{device_id}/revoke",
        revoke_device,
        summary="Revoke a device",
        description="The broker refuses it after its reload, its HTTP token at "
        "once; its stored fixes stay.",
        tag="devices",
        roles=DEVICES_ROLES,
        responses={200: {"$ref": device}},
    )
