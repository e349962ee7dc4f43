"""The device registry: per-device MQTT credentials and HTTP tokens.

Only hashes are stored: the MQTT password in Mosquitto's own ``$7$`` format (so
the broker's password file is written straight from this table) and the sha256
of the HTTP token used by Traccar Client. The broker's hash function is the
caller's (``ingest.broker_auth.hash_mqtt_password``): storage knows the column,
not the broker.

Broker names starting with ``crewtrack`` are the project's own accounts (the
ingest's ``crewtrack-ingest`` reads every device's topics): no device may take
one, here and in the table's check constraint alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple
from uuid import UUID

import psycopg

from core.messages import is_device_id
from storage.users import token_digest


class DeviceError(ValueError):
    """Raised when a device id is malformed, reserved or already registered."""


RESERVED_PREFIX = "crewtrack"


def is_reserved_device_id(device_id: str, service_users: Iterable[str] = ()) -> bool:
    """Whether ``device_id`` is a broker name kept for the project's own accounts:
    any name starting with ``crewtrack`` (any case), and the configured service
    accounts (``CREWTRACK_MQTT_USERNAME``) whatever they are called."""
    lowered = device_id.lower()
    return lowered.startswith(RESERVED_PREFIX) or lowered in {
        user.lower() for user in service_users
    }


@dataclass(frozen=True)
class DeviceCredentials:
    """What a phone needs to connect; shown once when the device is added."""

    device_id: str
    mqtt_username: str
    mqtt_password: str
    http_token: str

    def as_dict(self) -> dict[str, str]:
        return {
            "device_id": self.device_id,
            "mqtt_username": self.mqtt_username,
            "mqtt_password": self.mqtt_password,
            "http_token": self.http_token,
        }


def add_device(
    conn: psycopg.Connection,
    device_id: str,
    *,
    hash_password: Callable[[str], str],
    user_id: UUID | None = None,
    label: str = "",
    service_users: Iterable[str] = (),
) -> DeviceCredentials:
    """Register a device and return its new random credentials.

    ``hash_password`` turns the clear MQTT password into what the broker's
    password file holds; only that hash is stored. The password is always made
    here, 144 random bits: nobody can pick a guessable one, which is what lets
    the broker's hash stay cheap (ingest.broker_auth). ``service_users`` are the
    broker's service accounts, refused as device ids like the reserved prefix.
    """
    if not is_device_id(device_id):
        raise DeviceError("device id must match [A-Za-z0-9_-]{1,64}")
    if is_reserved_device_id(device_id, service_users):
        raise DeviceError(
            f"device id {device_id} is reserved for crewtrack's own broker accounts "
            f"(names starting with {RESERVED_PREFIX!r} and the ingest's account): "
            "choose another id"
        )
    mqtt_password = secrets.token_urlsafe(18)
    http_token = "dev_" + secrets.token_urlsafe(24)
    try:
        conn.execute(
            "INSERT INTO devices (id, user_id, label, mqtt_password_hash, http_token_sha256) "
            "VALUES (%s, %s, %s, %s, %s)",
            (
                device_id,
                user_id,
                label,
                hash_password(mqtt_password),
                token_digest(http_token),
            ),
        )
    except psycopg.errors.UniqueViolation as exc:
        raise DeviceError(f"device {device_id} is already registered") from exc
    return DeviceCredentials(device_id, device_id, mqtt_password, http_token)


def revoke_device(conn: psycopg.Connection, device_id: str) -> bool:
    """Revoke a device: the broker refuses it after the next reload."""
    cur = conn.execute(
        "UPDATE devices SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
        (device_id,),
    )
    return cur.rowcount == 1


class DeviceLogin(NamedTuple):
    """An active device's MQTT login as stored (the broker's password hash)."""

    device_id: str
    mqtt_password_hash: str


def device_logins(conn: psycopg.Connection) -> list[DeviceLogin]:
    """Every active device's MQTT login, by id."""
    rows = conn.execute(
        "SELECT id, mqtt_password_hash FROM devices WHERE revoked_at IS NULL ORDER BY id"
    ).fetchall()
    return [DeviceLogin(row[0], row[1]) for row in rows]


async def device_for_http_token(
    conn: psycopg.AsyncConnection, token: str
) -> str | None:
    """The active device an HTTP token belongs to (Traccar Client's OsmAnd uploads)."""
    cur = await conn.execute(
        "SELECT id FROM devices WHERE http_token_sha256 = %s AND revoked_at IS NULL",
        (token_digest(token),),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


class UserDevice(NamedTuple):
    """One of a user's active devices, as the user sees it."""

    device_id: str
    label: str


async def user_devices(
    conn: psycopg.AsyncConnection, user_id: UUID
) -> list[UserDevice]:
    """A user's active devices, oldest first."""
    cur = await conn.execute(
        "SELECT id, label FROM devices WHERE user_id = %s AND revoked_at IS NULL "
        "ORDER BY created_at, id",
        (user_id,),
    )
    return [UserDevice(str(r[0]), str(r[1] or "")) for r in await cur.fetchall()]


async def owned_device(
    conn: psycopg.AsyncConnection, device_id: str, user_id: UUID | str
) -> bool:
    """Whether ``device_id`` is an active device of ``user_id``."""
    cur = await conn.execute(
        "SELECT 1 FROM devices WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
        (device_id, user_id),
    )
    return await cur.fetchone() is not None
