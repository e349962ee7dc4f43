"""The technician app's login: e-mail + password for a bearer token, and logout.

``POST /auth/login`` is public; it counts every attempt per client address and
per account exactly as the dashboard's form does (``services.login``), and
answers a new token of the technician (``CREWTRACK_TOKEN_TTL_DAYS``) with who
they are and their devices. Office users keep getting tokens from the CLI: a
password alone never yields an admin's or a dispatcher's API token.
``POST /auth/logout`` revokes the token it is called with. ``GET /me`` answers
the caller and their devices (the app's tracking publishes as one of them).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from api import schemas as s
from api.http.context import POOL, REDIS, SETTINGS, Ctx
from api.http.problems import HttpProblem
from api.http.registry import Api
from api.http.responses import json_ok
from api.http.validation import read_json
from crewtrack.settings import Settings
from jobs_domain.actors import Role
from services.login import TooManyAttempts, check_login
from storage.devices import user_devices
from storage.users import aissue_token, arevoke_token

log = logging.getLogger(__name__)

LOGIN_MAX_BYTES = 4 * 1024  # an e-mail and a password; anything bigger is abuse
APP_TOKEN_LABEL = "technician app login"  # noqa: S105 - a label, not a secret

LOGIN_IN: s.S = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "password"],
    "properties": {
        "email": {"type": "string", "minLength": 3, "maxLength": 254},
        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
    },
}
DEVICE_OUT: s.S = s.obj(
    ["id", "label"], id={"type": "string"}, label={"type": "string"}
)
ME_OUT: s.S = s.obj(
    ["user_id", "name", "email", "role", "technician_id", "devices", "time_zone"],
    user_id=s.UUID_S,
    name={"type": "string"},
    email=s.NULL_STR,
    role={"enum": [r.value for r in Role]},
    technician_id={"type": ["string", "null"]},
    devices={"type": "array", "items": DEVICE_OUT},
    time_zone={
        "type": "string",
        "description": "The company time zone (CREWTRACK_COMPANY_TIMEZONE)",
    },
    may={
        "type": "object",
        "description": "What the company settings let a technician do from the app "
        "(CREWTRACK_TECHNICIAN_CAN_DECLINE, _RESCHEDULE, _DUPLICATE)",
        "properties": {
            k: {"type": "boolean"} for k in ("decline", "reschedule", "duplicate")
        },
    },
)
LOGIN_OUT: s.S = s.obj(
    ["token", "expires_at", "me"],
    token={"type": "string"},
    expires_at=s.TIME,
    me=ME_OUT,
)


async def _me(
    conn: Any, settings: Settings, user_id: str, technician_id: str | None
) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT id, name, email, role FROM users WHERE id = %s", (user_id,)
    )
    row = await cur.fetchone()
    assert row is not None  # the caller was just authenticated
    return {
        "user_id": str(row[0]),
        "name": row[1],
        "email": row[2],
        "role": row[3],
        "technician_id": technician_id,
        "time_zone": settings.company_zone.key,
        "may": {
            "decline": settings.technician_can_decline,
            "reschedule": settings.technician_can_reschedule,
            "duplicate": settings.technician_can_duplicate,
        },
        "devices": [
            {"id": d.device_id, "label": d.label}
            for d in await user_devices(conn, row[0])
        ],
    }


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password (rate limited); a new token for a technician."""
    body = await read_json(request, LOGIN_IN, LOGIN_MAX_BYTES)
    settings = request.app[SETTINGS]
    address = request.remote or "unknown"
    async with request.app[POOL].connection() as conn, conn.transaction():
        try:
            user = await check_login(
                request.app[REDIS],
                conn,
                settings,
                address,
                body["email"].strip(),
                body["password"],
            )
        except TooManyAttempts as too_many:
            log.warning("app login limit reached from %s", address)
            wait = too_many.retry_after
            raise HttpProblem(
                429,
                "Too many requests",
                f"too many login attempts; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            ) from None
        except (RedisError, OSError) as exc:
            log.warning("app login limit unavailable: %s", exc)
            raise HttpProblem(
                503, "Service unavailable", "logging in is unavailable; try shortly"
            ) from exc
        if user is None:
            raise HttpProblem(401, "Unauthorized", "wrong e-mail or password")
        if user.role != Role.TECHNICIAN.value:
            raise HttpProblem(
                403,
                "Forbidden",
                "the app is for technicians; office users sign in to the dashboard",
            )
        ttl = timedelta(days=settings.token_ttl_days)
        token, expires_at = await aissue_token(conn, user.id, APP_TOKEN_LABEL, ttl=ttl)
        cur = await conn.execute(
            "SELECT id FROM technicians WHERE user_id = %s", (user.id,)
        )
        row = await cur.fetchone()
        technician_id = None if row is None else str(row[0])
        me = await _me(conn, settings, str(user.id), technician_id)
    return json_ok({"token": token, "expires_at": expires_at, "me": me})


async def logout(ctx: Ctx) -> web.StreamResponse:
    """Revoke the token this request came with: the next request with it is 401."""
    token = ctx.request.headers["Authorization"].partition(" ")[2].strip()
    await arevoke_token(ctx.conn, token)
    return web.Response(status=204)


async def me(ctx: Ctx) -> web.StreamResponse:
    actor = ctx.actor
    return json_ok(
        await _me(ctx.conn, ctx.settings, actor.user_id, actor.technician_id)
    )


def setup(api: Api) -> None:
    api.tag("auth", "The technician app's login and logout")
    api.public_route(
        "POST",
        "/auth/login",
        login,
        summary="Log a technician in: e-mail + password → a bearer token",
        tag="auth",
        description=(
            "Counted per client address and per account, with the dashboard's "
            "login (CREWTRACK_DASHBOARD_LOGIN_LIMIT_PER_IP, _LIMIT_PER_ACCOUNT per "
            "CREWTRACK_DASHBOARD_LOGIN_WINDOW_S): over either, 429 with "
            "Retry-After whatever the password. A wrong e-mail or password is "
            "401; a user who is not a technician is 403 (office users get tokens "
            "from `crewtrack admin token`)."
        ),
        body=LOGIN_IN,
        problems=[401, 403, 429],
        responses={200: LOGIN_OUT},
    )
    api.route(
        "POST",
        "/auth/logout",
        logout,
        summary="Log out: revoke the token of this request",
        tag="auth",
        responses={204: None},
    )
    api.route(
        "GET",
        "/me",
        me,
        summary="Who the token belongs to, and their devices",
        tag="auth",
        responses={200: ME_OUT},
    )
