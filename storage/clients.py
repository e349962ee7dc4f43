"""Clients, their properties (job sites) and technicians, as stored records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from jobs_domain.errors import NotFound

Conn = psycopg.AsyncConnection[Any]
# the columns an edit may set, per table (names are never taken from a request)
UPDATABLE = {
    "clients": frozenset({"name", "email", "phone", "notes"}),
    "technicians": frozenset({"name", "phone", "hourly_cost", "team"}),
}

_CLIENT = "id, name, email, phone, notes, version, created_at"
_PROPERTY = "id, client_id, address, lat, lon, geofence, version, created_at"
_TECH = (
    "t.id, t.user_id, t.name, t.phone, t.hourly_cost, t.version, t.created_at, t.team, "
    "COALESCE((SELECT array_agg(d.id ORDER BY d.id) FROM devices d "
    "WHERE d.user_id = t.user_id AND d.revoked_at IS NULL), '{}')"
)


@dataclass(frozen=True)
class ClientRecord:
    id: UUID
    name: str
    email: str | None
    phone: str | None
    notes: str
    version: int
    created_at: datetime


@dataclass(frozen=True)
class PropertyRecord:
    """A job site; ``address`` and ``geofence`` as stored (JSON objects)."""

    id: UUID
    client_id: UUID
    address: dict[str, Any]
    lat: float | None
    lon: float | None
    geofence: dict[str, Any] | None
    version: int
    created_at: datetime


@dataclass(frozen=True)
class TechnicianRecord:
    id: UUID
    user_id: UUID
    name: str
    phone: str | None
    hourly_cost: Decimal
    version: int
    created_at: datetime
    device_ids: tuple[str, ...]  # the technician's active devices, by id
    team: str = ""  # crew, depot or trade the dispatcher filters by ("" = none)


def _client(row: Any) -> ClientRecord:
    return ClientRecord(*row)


def _property(row: Any) -> PropertyRecord:
    return PropertyRecord(*row)


def _technician(row: Any) -> TechnicianRecord:
    tid, user_id, name, phone, hourly_cost, version, created_at, team, devices = row
    return TechnicianRecord(
        tid,
        user_id,
        name,
        phone,
        hourly_cost,
        version,
        created_at,
        tuple(devices),
        team,
    )


async def insert_client(
    conn: Conn, *, name: str, email: str | None, phone: str | None, notes: str
) -> ClientRecord:
    cur = await conn.execute(
        f"INSERT INTO clients (name, email, phone, notes) VALUES (%s, %s, %s, %s) "
        f"RETURNING {_CLIENT}",
        (name, email, phone, notes),
    )
    return _client(await cur.fetchone())


async def get_client(
    conn: Conn, client_id: str, *, for_update: bool = False
) -> ClientRecord:
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(
        f"SELECT {_CLIENT} FROM clients WHERE id = %s{lock}", (client_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"client {client_id} not found")
    return _client(row)


async def update_client(
    conn: Conn, client_id: str, changes: Mapping[str, Any]
) -> ClientRecord:
    """Set the given columns (name, email, phone, notes) and bump the version."""
    return _client(await _update(conn, "clients", _CLIENT, client_id, changes))


async def _update(
    conn: Conn, table: str, returning: str, record_id: str, changes: Mapping[str, Any]
) -> Any:
    columns = UPDATABLE[table]
    unknown = set(changes) - columns
    assert not unknown, f"not updatable: {unknown}"
    sets = "".join(f"{column} = %s, " for column in changes)
    cur = await conn.execute(
        f"UPDATE {table} AS t SET {sets}version = version + 1 WHERE id = %s "
        f"RETURNING {returning}",
        (*changes.values(), record_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"{table[:-1]} {record_id} not found")
    return row


async def list_clients(
    conn: Conn, *, q: str | None, after: str | None, limit: int
) -> list[ClientRecord]:
    cur = await conn.execute(
        f"SELECT {_CLIENT} FROM clients WHERE (%s::text IS NULL OR name ILIKE %s) "
        "AND (%s::uuid IS NULL OR id > %s::uuid) ORDER BY id LIMIT %s",
        (q, f"%{q}%", after, after, limit),
    )
    return [_client(r) for r in await cur.fetchall()]


async def insert_property(
    conn: Conn,
    *,
    client_id: str,
    address: dict[str, Any],
    lat: float | None,
    lon: float | None,
    geofence: dict[str, Any] | None,
) -> PropertyRecord:
    cur = await conn.execute(
        f"INSERT INTO properties (client_id, address, lat, lon, geofence) "
        f"VALUES (%s, %s, %s, %s, %s) RETURNING {_PROPERTY}",
        (
            client_id,
            Jsonb(address),
            lat,
            lon,
            None if geofence is None else Jsonb(geofence),
        ),
    )
    return _property(await cur.fetchone())


async def get_property(conn: Conn, property_id: str) -> PropertyRecord:
    cur = await conn.execute(
        f"SELECT {_PROPERTY} FROM properties WHERE id = %s", (property_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"property {property_id} not found")
    return _property(row)


async def list_properties(
    conn: Conn, *, client_id: str | None, after: str | None, limit: int
) -> list[PropertyRecord]:
    cur = await conn.execute(
        f"SELECT {_PROPERTY} FROM properties WHERE (%s::uuid IS NULL OR client_id = %s::uuid) "
        "AND (%s::uuid IS NULL OR id > %s::uuid) ORDER BY id LIMIT %s",
        (client_id, client_id, after, after, limit),
    )
    return [_property(r) for r in await cur.fetchall()]


async def user_role(conn: Conn, user_id: str) -> str | None:
    """The user's role (None: no such user)."""
    cur = await conn.execute("SELECT role FROM users WHERE id = %s", (user_id,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def insert_technician(
    conn: Conn,
    *,
    user_id: str,
    name: str,
    phone: str | None,
    hourly_cost: Any,
    team: str = "",
) -> TechnicianRecord:
    cur = await conn.execute(
        "INSERT INTO technicians AS t (user_id, name, phone, hourly_cost, team) "
        f"VALUES (%s, %s, %s, %s, %s) RETURNING {_TECH}",
        (user_id, name, phone, hourly_cost, team),
    )
    return _technician(await cur.fetchone())


async def get_technician(
    conn: Conn, technician_id: str, *, for_update: bool = False
) -> TechnicianRecord:
    lock = " FOR UPDATE OF t" if for_update else ""
    cur = await conn.execute(
        f"SELECT {_TECH} FROM technicians t WHERE t.id = %s{lock}", (technician_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"technician {technician_id} not found")
    return _technician(row)


async def update_technician(
    conn: Conn, technician_id: str, changes: Mapping[str, Any]
) -> TechnicianRecord:
    """Set the given columns (name, phone, hourly_cost) and bump the version."""
    return _technician(
        await _update(conn, "technicians", _TECH, technician_id, changes)
    )


async def list_technicians(
    conn: Conn, *, after: str | None, limit: int
) -> list[TechnicianRecord]:
    cur = await conn.execute(
        f"SELECT {_TECH} FROM technicians t WHERE (%s::uuid IS NULL OR t.id > %s::uuid) "
        "ORDER BY t.id LIMIT %s",
        (after, after, limit),
    )
    return [_technician(r) for r in await cur.fetchall()]


async def teams(conn: Conn) -> list[tuple[str, int]]:
    """Every team with how many technicians are in it, by name."""
    cur = await conn.execute(
        "SELECT team, count(*) FROM technicians WHERE team <> '' "
        "GROUP BY team ORDER BY team"
    )
    return [(str(r[0]), int(r[1])) for r in await cur.fetchall()]


async def technician_names(conn: Conn, ids: list[str]) -> dict[str, str]:
    cur = await conn.execute(
        "SELECT id, name FROM technicians WHERE id = ANY (%s::uuid[])", (ids,)
    )
    return {str(r[0]): r[1] for r in await cur.fetchall()}
