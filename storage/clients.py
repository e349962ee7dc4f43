"""Clients, their properties (job sites) and technicians, as stored records.

None of them is ever deleted (jobs, invoices and history refer to them): an
archived one has ``archived_at`` set, drops out of lists unless they ask for
archived records too, and is still read by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from jobs_domain.errors import NotFound
from jobs_domain.job import OPEN_STATUSES

Conn = psycopg.AsyncConnection[Any]
# the columns an edit may set, per table (names are never taken from a request)
UPDATABLE = {
    "clients": frozenset({"name", "email", "phone", "notes"}),
    "technicians": frozenset({"name", "phone", "hourly_cost", "team"}),
    "properties": frozenset({"address", "lat", "lon", "geofence"}),
}
_JSON_COLUMNS = frozenset({"address", "geofence"})
#: A property address's lines, in the order they are read (and navigated to).
ADDRESS_LINES = ("line1", "line2", "city", "postcode", "country")

_CLIENT = "id, name, email, phone, notes, version, created_at, archived_at"
_PROPERTY = (
    "id, client_id, address, lat, lon, geofence, version, created_at, archived_at"
)
_TECH = (
    "t.id, t.user_id, t.name, t.phone, t.hourly_cost, t.version, t.created_at, "
    "COALESCE((SELECT array_agg(d.id ORDER BY d.id) FROM devices d "
    "WHERE d.user_id = t.user_id AND d.revoked_at IS NULL), '{}'), t.team, t.archived_at"
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
    archived_at: datetime | None = None


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
    archived_at: datetime | None = None

    def address_lines(self) -> list[str]:
        """The address's lines in reading order (``ADDRESS_LINES``; "" where absent)."""
        if isinstance(self.address, list):  # stored as plain lines by older seeds
            return [str(line) for line in self.address]
        return [str(self.address.get(k) or "") for k in ADDRESS_LINES]

    def address_object(self) -> dict[str, Any]:
        """The address as the API's object: a list's first line, then the rest."""
        return address_object(self.address)


def address_object(address: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    """An address as the API's object: an object as it is; plain lines (as older
    seeds keep them) as the first line, then the rest joined on ``line2``."""
    if isinstance(address, Mapping):
        return dict(address)
    lines = [str(line) for line in address if line]
    out = {"line1": lines[0]} if lines else {}
    if len(lines) > 1:
        out["line2"] = ", ".join(lines[1:])
    return out


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
    archived_at: datetime | None = None


def _client(row: Any) -> ClientRecord:
    return ClientRecord(*row)


def _property(row: Any) -> PropertyRecord:
    return PropertyRecord(*row)


def _technician(row: Any) -> TechnicianRecord:
    record = TechnicianRecord(*row)  # the devices come as a list
    return replace(record, device_ids=tuple(record.device_ids))


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
    conn: Conn,
    table: str,
    returning: str,
    record_id: str,
    changes: Mapping[str, Any],
    also: str = "",
) -> Any:
    """Set ``changes`` (UPDATABLE columns) and ``also`` (fixed SQL), bump the version."""
    columns = UPDATABLE[table]
    unknown = set(changes) - columns
    assert not unknown, f"not updatable: {unknown}"
    sets = "".join(f"{column} = %s, " for column in changes)
    values = [
        Jsonb(v) if k in _JSON_COLUMNS and v is not None else v
        for k, v in changes.items()
    ]
    cur = await conn.execute(
        f"UPDATE {table} AS t SET {sets}{also}version = version + 1 WHERE id = %s "
        f"RETURNING {returning}",
        (*values, record_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"{table[:-1]} {record_id} not found")
    return row


async def list_clients(
    conn: Conn,
    *,
    q: str | None,
    after: str | None,
    limit: int,
    include_archived: bool = False,
    by_name: bool = False,
) -> list[ClientRecord]:
    """Clients in id order (the API's pages), or by name (the office's list);
    either way the page continues after the client ``after``."""
    key = "lower(name), id" if by_name else "id"
    cur = await conn.execute(
        f"SELECT {_CLIENT} FROM clients WHERE (%s::text IS NULL OR name ILIKE %s) "
        "AND (%s OR archived_at IS NULL) "
        f"AND (%s::uuid IS NULL OR ({key}) > "
        f"(SELECT {key} FROM clients WHERE id = %s::uuid)) ORDER BY {key} LIMIT %s",
        (q, f"%{q}%", include_archived, after, after, limit),
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


async def get_property(
    conn: Conn, property_id: str, *, for_update: bool = False
) -> PropertyRecord:
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(
        f"SELECT {_PROPERTY} FROM properties WHERE id = %s{lock}", (property_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"property {property_id} not found")
    return _property(row)


async def update_property(
    conn: Conn, property_id: str, changes: Mapping[str, Any], *, fence_changed: bool
) -> PropertyRecord:
    """Set address, lat, lon or geofence; ``fence_changed`` bumps the fence version,
    so the derive sweep re-derives the visits of every session at the property."""
    also = "fence_version = fence_version + 1, " if fence_changed else ""
    return _property(
        await _update(conn, "properties", _PROPERTY, property_id, changes, also)
    )


async def list_properties(
    conn: Conn,
    *,
    client_id: str | None,
    after: str | None,
    limit: int,
    include_archived: bool = False,
) -> list[PropertyRecord]:
    cur = await conn.execute(
        f"SELECT {_PROPERTY} FROM properties WHERE (%s::uuid IS NULL OR client_id = %s::uuid) "
        "AND (%s OR archived_at IS NULL) "
        "AND (%s::uuid IS NULL OR id > %s::uuid) ORDER BY id LIMIT %s",
        (client_id, client_id, include_archived, after, after, limit),
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
    conn: Conn, *, after: str | None, limit: int, include_archived: bool = False
) -> list[TechnicianRecord]:
    cur = await conn.execute(
        f"SELECT {_TECH} FROM technicians t WHERE (%s::uuid IS NULL OR t.id > %s::uuid) "
        "AND (%s OR t.archived_at IS NULL) ORDER BY t.id LIMIT %s",
        (after, after, include_archived, limit),
    )
    return [_technician(r) for r in await cur.fetchall()]


async def teams(conn: Conn) -> list[tuple[str, int]]:
    """Every team with how many technicians are in it, by name."""
    cur = await conn.execute(
        "SELECT team, count(*) FROM technicians WHERE team <> '' "
        "AND archived_at IS NULL GROUP BY team ORDER BY team"
    )
    return [(str(r[0]), int(r[1])) for r in await cur.fetchall()]


async def technician_names(conn: Conn, ids: list[str]) -> dict[str, str]:
    cur = await conn.execute(
        "SELECT id, name FROM technicians WHERE id = ANY (%s::uuid[])", (ids,)
    )
    return {str(r[0]): r[1] for r in await cur.fetchall()}


# -- archive and restore ---------------------------------------------------------------------

_RETURNING = {"clients": _CLIENT, "properties": _PROPERTY, "technicians": _TECH}


async def _set_archived(
    conn: Conn, table: str, record_id: str, at: datetime | None
) -> Any:
    cur = await conn.execute(
        f"UPDATE {table} AS t SET archived_at = %s, version = version + 1 "
        f"WHERE id = %s RETURNING {_RETURNING[table]}",
        (at, record_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"{table[:-1]} {record_id} not found")
    return row


async def archive_client(conn: Conn, client_id: str, at: datetime) -> ClientRecord:
    """Archive a client and, at the same instant, its properties not yet archived."""
    await conn.execute(
        "UPDATE properties SET archived_at = %s, version = version + 1 "
        "WHERE client_id = %s AND archived_at IS NULL",
        (at, client_id),
    )
    return _client(await _set_archived(conn, "clients", client_id, at))


async def restore_client(conn: Conn, client: ClientRecord) -> ClientRecord:
    """Undo :func:`archive_client`: the properties archived with it come back too
    (ones archived on their own before stay archived)."""
    await conn.execute(
        "UPDATE properties SET archived_at = NULL, version = version + 1 "
        "WHERE client_id = %s AND archived_at = %s",
        (client.id, client.archived_at),
    )
    return _client(await _set_archived(conn, "clients", str(client.id), None))


async def set_property_archived(
    conn: Conn, property_id: str, at: datetime | None
) -> PropertyRecord:
    """Archive (``at``) or restore (None) one property."""
    return _property(await _set_archived(conn, "properties", property_id, at))


async def set_technician_archived(
    conn: Conn, technician_id: str, at: datetime | None
) -> TechnicianRecord:
    """Archive (``at``) or restore (None) a technician's profile (not their user)."""
    return _technician(await _set_archived(conn, "technicians", technician_id, at))


@dataclass(frozen=True)
class OpenJob:
    """An unfinished job that refers to a directory record."""

    id: UUID
    number: int
    status: str


async def open_jobs(
    conn: Conn,
    *,
    client_id: str | None = None,
    property_id: str | None = None,
    technician_id: str | None = None,
) -> list[OpenJob]:
    """Open jobs (pending, scheduled, in progress, on hold) of a client, at a
    property or with a technician on the crew, by number."""
    cur = await conn.execute(
        "SELECT id, number, status FROM jobs "
        "WHERE status = ANY (%s) "
        "AND (%s::uuid IS NULL OR client_id = %s::uuid) "
        "AND (%s::uuid IS NULL OR property_id = %s::uuid) "
        "AND (%s::uuid IS NULL OR %s::uuid = ANY (technician_ids)) ORDER BY number",
        (
            sorted(OPEN_STATUSES),
            client_id,
            client_id,
            property_id,
            property_id,
            technician_id,
            technician_id,
        ),
    )
    return [OpenJob(*row) for row in await cur.fetchall()]
