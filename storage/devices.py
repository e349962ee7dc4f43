"""The device registry: per-device MQTT credentials and HTTP tokens.

Only hashes are stored: the MQTT password in Mosquitto's own ``$7$`` format (so
the broker's password file is written straight from this table) and the sha256
of the HTTP token used by Traccar Client. The broker's hash function is the
caller's (``ingest.broker_auth.hash_mqtt_password``): storage knows the column,
not the broker.

A device's OwnTracks payload key (the app's "encryption key" setting) is
needed in clear to open its messages, so it cannot be hashed: it is stored
sealed (:class:`KeySealer`) with the server's own secret, kept in the home's
secrets file beside the evidence signing key, never in the database. No API,
CLI or log shows a key; they say only whether a device has one.

Broker names starting with ``crewtrack`` are the project's own accounts (the
ingest's ``crewtrack-ingest`` reads every device's topics): no device may take
one, here and in the table's check constraint alike.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from nacl import bindings
from nacl.exceptions import CryptoError
from psycopg.rows import class_row

from core.messages import is_device_id
from crewtrack.settings import SECRETS_FILE
from storage.users import token_digest

log = logging.getLogger(__name__)


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
    creds, params = _new_device(device_id, hash_password, user_id, label, service_users)
    try:
        conn.execute(_ADD_SQL, params)
    except psycopg.errors.UniqueViolation as exc:
        raise DeviceError(f"device {device_id} is already registered") from exc
    return creds


async def aadd_device(
    conn: psycopg.AsyncConnection[Any],
    device_id: str,
    *,
    hash_password: Callable[[str], str],
    user_id: UUID | str | None = None,
    label: str = "",
    service_users: Iterable[str] = (),
) -> DeviceCredentials:
    """:func:`add_device` on an async connection (the same checks and row)."""
    creds, params = _new_device(device_id, hash_password, user_id, label, service_users)
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves the rest
            await conn.execute(_ADD_SQL, params)
    except psycopg.errors.UniqueViolation as exc:
        raise DeviceError(f"device {device_id} is already registered") from exc
    return creds


_ADD_SQL = (
    "INSERT INTO devices (id, user_id, label, mqtt_password_hash, http_token_sha256) "
    "VALUES (%s, %s, %s, %s, %s)"
)


def _new_device(
    device_id: str,
    hash_password: Callable[[str], str],
    user_id: UUID | str | None,
    label: str,
    service_users: Iterable[str],
) -> tuple[DeviceCredentials, tuple[str, UUID | str | None, str, str, str]]:
    """A new device's credentials and its row, once its id is checked."""
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
    params = (
        device_id,
        user_id,
        label,
        hash_password(mqtt_password),
        token_digest(http_token),
    )
    return DeviceCredentials(device_id, device_id, mqtt_password, http_token), params


def revoke_device(conn: psycopg.Connection, device_id: str) -> bool:
    """Revoke a device: the broker refuses it after the next reload."""
    return conn.execute(_REVOKE_SQL, (device_id,)).rowcount == 1


async def arevoke_device(conn: psycopg.AsyncConnection[Any], device_id: str) -> bool:
    """:func:`revoke_device` on an async connection."""
    return (await conn.execute(_REVOKE_SQL, (device_id,))).rowcount == 1


_REVOKE_SQL = (
    "UPDATE devices SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL"
)


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


# ------------------------------------------------------- OwnTracks payload keys

SEALING_FIELD = "owntracks_key_secret"  # in the home's secrets file (base64)
SEALING_KEY_BYTES = bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES  # 32
SEAL_NONCE_BYTES = bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24


class KeySealer:
    """Seal device payload keys for the database with the server's own secret.

    XChaCha20-Poly1305 with a random nonce and the device id as associated
    data: the column holds nonce + box, and a box moved to another device's row
    does not open.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) != SEALING_KEY_BYTES:
            raise ValueError(f"the sealing secret must be {SEALING_KEY_BYTES} bytes")
        self._secret = secret

    def seal(self, device_id: str, key: bytes) -> bytes:
        nonce = secrets.token_bytes(SEAL_NONCE_BYTES)
        box = bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            key, device_id.encode(), nonce, self._secret
        )
        return nonce + box

    def open(self, device_id: str, sealed: bytes) -> bytes:
        """The key; ``CryptoError`` when another secret or device sealed it."""
        nonce, box = sealed[:SEAL_NONCE_BYTES], sealed[SEAL_NONCE_BYTES:]
        return bytes(
            bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                box, device_id.encode(), nonce, self._secret
            )
        )


def new_sealing_secret() -> str:
    """A fresh sealing secret as the secrets file keeps it (base64)."""
    return base64.b64encode(secrets.token_bytes(SEALING_KEY_BYTES)).decode()


def key_sealer(home: Path) -> KeySealer | None:
    """The sealer of the home's secrets file; None when it has no secret yet
    (then there is no sealed key it could open: sealing makes the secret)."""
    try:
        stored = json.loads((home / SECRETS_FILE).read_text())
    except FileNotFoundError:
        return None
    text = stored.get(SEALING_FIELD)
    return KeySealer(base64.b64decode(text)) if text else None


def ensure_key_sealer(home: Path) -> KeySealer:
    """The sealer of the home's secrets file, its secret made there on first use
    (under a file lock, so two first uses cannot each write their own)."""
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / SECRETS_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed
        content = f.read()
        stored = json.loads(content) if content.strip() else {}
        if not stored.get(SEALING_FIELD):
            stored[SEALING_FIELD] = new_sealing_secret()
            f.seek(0)
            f.truncate()
            f.write(json.dumps(stored, indent=2))
        return KeySealer(base64.b64decode(stored[SEALING_FIELD]))


async def set_owntracks_key(
    conn: psycopg.AsyncConnection, device_id: str, key: bytes, sealer: KeySealer
) -> bool:
    """Set an active device's payload key; False when there is no such device."""
    cur = await conn.execute(
        "UPDATE devices SET owntracks_key_sealed = %s "
        "WHERE id = %s AND revoked_at IS NULL",
        (sealer.seal(device_id, key), device_id),
    )
    return cur.rowcount == 1


async def clear_owntracks_key(conn: psycopg.AsyncConnection, device_id: str) -> bool:
    """Remove a device's payload key; False when there is no such device."""
    cur = await conn.execute(
        "UPDATE devices SET owntracks_key_sealed = NULL WHERE id = %s", (device_id,)
    )
    return cur.rowcount == 1


async def owntracks_keys(
    conn: psycopg.AsyncConnection, sealer: KeySealer | None
) -> dict[str, bytes]:
    """Every active device's payload key, by device id (for the ingest).

    A key the sealer cannot open (the secrets file was replaced, or the row
    was copied from another device) is left out and logged by device id.
    """
    cur = await conn.execute(
        "SELECT id, owntracks_key_sealed FROM devices "
        "WHERE owntracks_key_sealed IS NOT NULL AND revoked_at IS NULL"
    )
    keys: dict[str, bytes] = {}
    for device_id, sealed in await cur.fetchall():
        try:
            if sealer is None:
                raise CryptoError("no sealing secret in the home's secrets file")
            keys[device_id] = sealer.open(device_id, bytes(sealed))
        except CryptoError:
            log.error(
                "the OwnTracks key of device %s cannot be opened with this home's "
                "secret: set it again (crewtrack admin set-owntracks-key)",
                device_id,
            )
    return keys


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


# ------------------------------------------------------- the registry (admin pages)


@dataclass(frozen=True)
class DeviceRecord:
    """A registered device as an admin sees it (never a credential).

    ``last_seen`` and ``kind`` are of its newest ingest message: when it was
    received and which protocol sent it (``owntracks``, ``osmand``, ``native``…).
    """

    id: str
    label: str
    user_id: UUID | None
    owner: str | None
    technician_id: UUID | None
    created_at: datetime
    revoked_at: datetime | None
    owntracks_key: bool
    last_seen: datetime | None
    kind: str | None


_DEVICES_SQL = """
    SELECT d.id, d.label, d.user_id, coalesce(t.name, u.name) AS owner,
           t.id AS technician_id, d.created_at, d.revoked_at,
           d.owntracks_key_sealed IS NOT NULL AS owntracks_key,
           m.received_at AS last_seen, m.protocol AS kind
      FROM devices d
      LEFT JOIN users u ON u.id = d.user_id
      LEFT JOIN technicians t ON t.user_id = d.user_id
      LEFT JOIN LATERAL (
            SELECT x.received_at, x.protocol FROM ingest_messages x
             WHERE x.device_id = d.id ORDER BY x.received_at DESC LIMIT 1) m ON true
"""


async def device_records(conn: psycopg.AsyncConnection[Any]) -> list[DeviceRecord]:
    """Every device, active first, by id."""
    async with conn.cursor(row_factory=class_row(DeviceRecord)) as cur:
        await cur.execute(_DEVICES_SQL + " ORDER BY d.revoked_at IS NOT NULL, d.id")
        return await cur.fetchall()


async def device_record(
    conn: psycopg.AsyncConnection[Any], device_id: str
) -> DeviceRecord | None:
    async with conn.cursor(row_factory=class_row(DeviceRecord)) as cur:
        await cur.execute(_DEVICES_SQL + " WHERE d.id = %s", (device_id,))
        return await cur.fetchone()
