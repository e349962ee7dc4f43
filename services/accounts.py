"""Users and devices: the admin's use cases (the API, the dashboard and the CLI).

Every use case needs :data:`~jobs_domain.permissions.Act.MANAGE_USERS` or
``MANAGE_DEVICES`` (admins, in the one matrix). Secrets are made here and
returned once: a generated password, a phone's MQTT password and HTTP token;
only their hashes are stored.

- A user added with the technician role gets their technician profile at once
  (``services.directory.create_technician``), so a phone can be registered for
  them; their role then follows the profile (archive the technician instead).
- Disabling a user shuts them out everywhere at once (``storage.users.disable_user``,
  the one ``disabled_at`` archiving a technician sets too): API tokens answer
  401, login and dashboard session end, devices are revoked. Enabling brings
  back exactly what it shut out (tokens, login, the devices it revoked); to
  end a token for good, revoke it. An archived technician comes back by
  restoring the technician, not here.
- An admin cannot disable themselves or take away their own admin role: the
  one acting is an admin, so there is always one left to come back here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg

from jobs_domain.actors import Actor, Role
from jobs_domain.errors import (
    Conflict,
    FieldProblem,
    InvalidInput,
    NotFound,
    invalid,
    required_text,
)
from jobs_domain.permissions import Act, require
from services import directory
from services.clock import now
from storage import devices as device_store
from storage import users as store
from storage.devices import DeviceCredentials, DeviceError, DeviceRecord
from storage.users import UserAccount

Conn = psycopg.AsyncConnection[Any]
#: Checks the current record before an edit (the API compares its If-Match).
Check = Callable[[UserAccount], None]

#: A generated password: 96 random bits, typed once and changed by its user.
TEMP_PASSWORD_BYTES = 12
MIN_PASSWORD_LENGTH = 10  # a chosen password: long enough to resist guessing
GENERATED_DEVICE_ID_BYTES = 4  # "phone-" + 6 characters: unique among a fleet


@dataclass(frozen=True)
class WithSecret:
    """An account and the password made for it (None when the admin chose one),
    shown once."""

    account: UserAccount
    password: str | None


def _no_check(_account: UserAccount) -> None:
    return None


async def list_users(conn: Conn, actor: Actor) -> list[UserAccount]:
    require(actor, Act.MANAGE_USERS)
    return await store.accounts(conn)


async def get_user(conn: Conn, actor: Actor, user_id: str) -> UserAccount:
    require(actor, Act.MANAGE_USERS)
    return await _account(conn, user_id)


async def _account(
    conn: Conn, user_id: str, *, for_update: bool = False
) -> UserAccount:
    found = await store.account(conn, user_id, for_update=for_update)
    if found is None:
        raise NotFound(f"no user {user_id}")
    return found


async def _editing(conn: Conn, actor: Actor, user_id: str, check: Check) -> UserAccount:
    """The user an edit is about, locked, once the actor may and ``check`` passes."""
    require(actor, Act.MANAGE_USERS)
    account = await _account(conn, user_id, for_update=True)
    check(account)
    return account


def _password(given: str | None) -> tuple[str, str | None]:
    """The password to set and the one to show (a generated one only)."""
    if given is None or given == "":
        made = secrets.token_urlsafe(TEMP_PASSWORD_BYTES)
        return made, made
    if len(given) < MIN_PASSWORD_LENGTH:
        raise invalid("/password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    return given, None


def _email(raw: str | None) -> str | None:
    email = (raw or "").strip().lower()
    if not email:
        return None
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email:
        raise invalid("/email", "is not an e-mail address")
    return email


def _role(raw: str, pointer: str = "/role") -> Role:
    try:
        return Role(raw)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise invalid(pointer, f"must be one of {names}") from None


async def add_user(conn: Conn, actor: Actor, data: Mapping[str, Any]) -> WithSecret:
    """A user from ``name``, ``email``, ``role`` and an optional ``password``
    (none: one is generated and returned once); a technician gets their
    profile too (``phone``, ``team`` optional)."""
    require(actor, Act.MANAGE_USERS)
    name = required_text(str(data.get("name") or ""), "/name")
    role = _role(str(data.get("role") or ""))
    email = _email(data.get("email"))
    if email is None and role is not Role.TECHNICIAN:
        raise invalid("/email", "required: office users log in with it")
    if email is not None and await store.account_by_email(conn, email) is not None:
        raise invalid("/email", "another user has this e-mail")
    password, shown = _password(data.get("password"))
    user_id = await store.acreate_user(conn, name, role.value, email, password)
    if role is Role.TECHNICIAN:
        await directory.create_technician(
            conn,
            {
                "user_id": str(user_id),
                "name": name,
                "phone": (data.get("phone") or "").strip() or None,
                "team": data.get("team") or "",
            },
        )
    return WithSecret(await _account(conn, str(user_id)), shown)


def _not_yourself(actor: Actor, account: UserAccount, what: str) -> None:
    if actor.user_id == str(account.id):
        raise Conflict(f"you cannot {what} yourself: ask another admin")


async def change_role(
    conn: Conn, actor: Actor, user_id: str, role: str, *, check: Check = _no_check
) -> UserAccount:
    """Give a user another role; their dashboard session ends (it held the old)."""
    account = await _editing(conn, actor, user_id, check)
    new = _role(role)
    if new.value == account.role:
        return account
    if account.technician_id is not None or new is Role.TECHNICIAN:
        raise invalid(
            "/role",
            "a technician's role follows their technician profile: add a new "
            "technician user, or archive the technician",
        )
    _not_yourself(actor, account, "change the role of")
    await store.set_role(conn, user_id, new.value)
    return await _account(conn, user_id)


async def disable(
    conn: Conn, actor: Actor, user_id: str, *, check: Check = _no_check
) -> UserAccount:
    """Shut a user out at once: API tokens, login, session and devices."""
    account = await _editing(conn, actor, user_id, check)
    if account.disabled_at is None:
        _not_yourself(actor, account, "disable")
        await store.disable_user(conn, account.id, now())
    return await _account(conn, user_id)


async def enable(
    conn: Conn, actor: Actor, user_id: str, *, check: Check = _no_check
) -> UserAccount:
    """Let a disabled user back in (not an archived technician: restore them)."""
    account = await _editing(conn, actor, user_id, check)
    if account.technician_archived:
        raise Conflict(
            f"{account.name} is an archived technician: restore the technician "
            "to let them back in"
        )
    if account.disabled_at is not None:
        await store.enable_user(conn, account.id, account.disabled_at)
    return await _account(conn, user_id)


async def reset_password(
    conn: Conn,
    actor: Actor,
    user_id: str,
    password: str | None = None,
    *,
    check: Check = _no_check,
) -> WithSecret:
    """Set a new login password (none given: one is generated, returned once);
    the user's dashboard sessions end."""
    account = await _editing(conn, actor, user_id, check)
    chosen, shown = _password(password)
    await store.set_password(conn, account.id, chosen)
    return WithSecret(await _account(conn, user_id), shown)


# ------------------------------------------------------------------- devices


@dataclass(frozen=True)
class NewDevice:
    """A registered phone and its credentials (shown once)."""

    device: DeviceRecord
    credentials: DeviceCredentials


async def list_devices(conn: Conn, actor: Actor) -> list[DeviceRecord]:
    require(actor, Act.MANAGE_DEVICES)
    return await device_store.device_records(conn)


async def _device(conn: Conn, device_id: str) -> DeviceRecord:
    found = await device_store.device_record(conn, device_id)
    if found is None:
        raise NotFound(f"no device {device_id}")
    return found


def new_device_id() -> str:
    return "phone-" + secrets.token_hex(GENERATED_DEVICE_ID_BYTES)[:6]


async def register_phone(
    conn: Conn,
    actor: Actor,
    data: Mapping[str, Any],
    *,
    hash_password: Callable[[str], str],
    service_users: Iterable[str],
) -> NewDevice:
    """Register a phone for a technician (``technician_id``; ``device_id``
    optional, generated when absent; ``label``): its credentials are made here
    and returned once."""
    require(actor, Act.MANAGE_DEVICES)
    technician_id = data.get("technician_id")
    if not technician_id:
        raise invalid("/technician_id", "required: whose phone is it?")
    try:
        technician_uuid = UUID(str(technician_id))
    except ValueError:
        raise invalid("/technician_id", "must be a technician's id") from None
    technician = await directory.get_technician(conn, str(technician_uuid))
    if technician.archived_at is not None:
        raise invalid("/technician_id", "the technician is archived")
    return await register_device(
        conn,
        actor,
        (data.get("device_id") or "").strip() or new_device_id(),
        user_id=str(technician.user_id),
        label=(data.get("label") or "").strip(),
        hash_password=hash_password,
        service_users=service_users,
    )


async def register_device(
    conn: Conn,
    actor: Actor,
    device_id: str,
    *,
    user_id: str | None,
    label: str,
    hash_password: Callable[[str], str],
    service_users: Iterable[str],
) -> NewDevice:
    """Register a device for any user, or none (the CLI's ``add-device``)."""
    require(actor, Act.MANAGE_DEVICES)
    try:
        creds = await device_store.aadd_device(
            conn,
            device_id,
            hash_password=hash_password,
            user_id=user_id,
            label=label,
            service_users=service_users,
        )
    except DeviceError as exc:
        raise InvalidInput(str(exc), [FieldProblem("/device_id", str(exc))]) from exc
    return NewDevice(await _device(conn, device_id), creds)


async def revoke_device(
    conn: Conn, actor: Actor, device_id: str
) -> tuple[DeviceRecord, bool]:
    """Lock a device out (the broker refuses it after its reload; its stored
    fixes stay); the device and whether it was active until now."""
    require(actor, Act.MANAGE_DEVICES)
    await _device(conn, device_id)
    changed = await device_store.arevoke_device(conn, device_id)
    return await _device(conn, device_id), changed
