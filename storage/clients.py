"""Clients, their properties (job sites) and technicians."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from jobs_domain.errors import FieldProblem, InvalidInput, NotFound
from jobs_domain.properties import Geofence, navigation_url

Conn = psycopg.AsyncConnection[Any]

_CLIENT = "id, name, email, phone, notes, version, created_at"
_PROPERTY = "id, client_id, address, lat, lon, geofence, version, created_at"
_TECH = (
    "t.id, t.user_id, t.name, t.phone, t.hourly_cost, t.version, t.created_at, "
    "COALESCE((SELECT array_agg(d.id ORDER BY d.id) FROM devices d "
    "WHERE d.user_id = t.user_id AND d.revoked_at IS NULL), '{}')"
)


def _client(row: Any) -> dict[str, Any]:
    keys = ("id", "name", "email", "phone", "notes", "version", "created_at")
    return dict(zip(keys, row, strict=True))


def _property(row: Any) -> dict[str, Any]:
    pid, client_id, address, lat, lon, geofence, version, created_at = row
    lines = [
        address.get(k, "") for k in ("line1", "line2", "city", "postcode", "country")
    ]
    return {
        "id": pid,
        "client_id": client_id,
        "address": address,
        "location": None if lat is None else {"lat": lat, "lon": lon},
        "geofence": geofence,
        "navigation_url": navigation_url(lines, lat, lon),
        "version": version,
        "created_at": created_at,
    }


def _technician(row: Any) -> dict[str, Any]:
    keys = ("id", "user_id", "name", "phone", "hourly_cost", "version", "created_at")
    out = dict(zip(keys, row[:7], strict=True))
    out["device_ids"] = list(row[7])
    return out


async def create_client(conn: Conn, data: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        f"INSERT INTO clients (name, email, phone, notes) VALUES (%s, %s, %s, %s) "
        f"RETURNING {_CLIENT}",
        (data["name"], data.get("email"), data.get("phone"), data.get("notes", "")),
    )
    return _client(await cur.fetchone())


async def get_client(conn: Conn, client_id: str) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {_CLIENT} FROM clients WHERE id = %s", (client_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"client {client_id} not found")
    return _client(row)


async def list_clients(
    conn: Conn, *, q: str | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_CLIENT} FROM clients WHERE (%s::text IS NULL OR name ILIKE %s) "
        "AND (%s::uuid IS NULL OR id > %s::uuid) ORDER BY id LIMIT %s",
        (q, f"%{q}%", after, after, limit),
    )
    return [_client(r) for r in await cur.fetchall()]


async def create_property(conn: Conn, data: dict[str, Any]) -> dict[str, Any]:
    await get_client(conn, data["client_id"])
    location = data.get("location")
    geofence = data.get("geofence")
    if geofence is not None:
        fence = Geofence.parse(geofence)
        if fence.radius_m is not None and location is None:
            raise InvalidInput(
                "a radius needs a location",
                [FieldProblem("/location", "required with geofence.radius_m")],
            )
        geofence = fence.to_json()
    cur = await conn.execute(
        f"INSERT INTO properties (client_id, address, lat, lon, geofence) "
        f"VALUES (%s, %s, %s, %s, %s) RETURNING {_PROPERTY}",
        (
            data["client_id"],
            Jsonb(data["address"]),
            None if location is None else location["lat"],
            None if location is None else location["lon"],
            None if geofence is None else Jsonb(geofence),
        ),
    )
    return _property(await cur.fetchone())


async def get_property(conn: Conn, property_id: str) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {_PROPERTY} FROM properties WHERE id = %s", (property_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"property {property_id} not found")
    return _property(row)


async def list_properties(
    conn: Conn, *, client_id: str | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_PROPERTY} FROM properties WHERE (%s::uuid IS NULL OR client_id = %s::uuid) "
        "AND (%s::uuid IS NULL OR id > %s::uuid) ORDER BY id LIMIT %s",
        (client_id, client_id, after, after, limit),
    )
    return [_property(r) for r in await cur.fetchall()]


async def create_technician(conn: Conn, data: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute("SELECT role FROM users WHERE id = %s", (data["user_id"],))
    row = await cur.fetchone()
    if row is None or row[0] != "technician":
        raise InvalidInput(
            "not a technician user",
            [FieldProblem("/user_id", "must be a user with the technician role")],
        )
    cur = await conn.execute(
        "INSERT INTO technicians AS t (user_id, name, phone, hourly_cost) "
        f"VALUES (%s, %s, %s, %s) RETURNING {_TECH}",
        (data["user_id"], data["name"], data.get("phone"), data.get("hourly_cost", 0)),
    )
    return _technician(await cur.fetchone())


async def get_technician(conn: Conn, technician_id: str) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {_TECH} FROM technicians t WHERE t.id = %s", (technician_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"technician {technician_id} not found")
    return _technician(row)


async def list_technicians(
    conn: Conn, *, after: str | None, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_TECH} FROM technicians t WHERE (%s::uuid IS NULL OR t.id > %s::uuid) "
        "ORDER BY t.id LIMIT %s",
        (after, after, limit),
    )
    return [_technician(r) for r in await cur.fetchall()]


async def technician_names(conn: Conn, ids: list[str]) -> dict[str, str]:
    cur = await conn.execute(
        "SELECT id, name FROM technicians WHERE id = ANY (%s::uuid[])", (ids,)
    )
    return {str(r[0]): r[1] for r in await cur.fetchall()}
