"""The directory's use cases: clients, their properties (job sites) and technicians.

A property's geofence is parsed by the domain (:class:`jobs_domain.properties.Geofence`)
and stored in its canonical JSON; a radius fence needs the property's location.
A technician is a user with the technician role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from jobs_domain.errors import FieldProblem, InvalidInput, required_text
from jobs_domain.properties import Geofence
from storage import clients as store
from storage.clients import ClientRecord, PropertyRecord, TechnicianRecord

Conn = psycopg.AsyncConnection[Any]


def _cleaned(changes: Mapping[str, Any]) -> dict[str, Any]:
    """An edit's text trimmed; a blank name is refused (a team may be "": none)."""
    out = dict(changes)
    if "name" in out:
        out["name"] = required_text(out["name"], "/name")
    if "team" in out:
        out["team"] = out["team"].strip()
    return out


async def create_client(conn: Conn, data: Mapping[str, Any]) -> ClientRecord:
    """A client from a request body (schema-checked)."""
    return await store.insert_client(
        conn,
        name=data["name"],
        email=data.get("email"),
        phone=data.get("phone"),
        notes=data.get("notes", ""),
    )


async def update_client(
    conn: Conn,
    client_id: str,
    changes: Mapping[str, Any],
    *,
    check: Callable[[ClientRecord], None],
) -> ClientRecord:
    """Edit a client (a request body's members, schema-checked); ``check`` runs
    on the current record first (the API compares If-Match with its version)."""
    check(await store.get_client(conn, client_id, for_update=True))
    return await store.update_client(conn, client_id, _cleaned(changes))


async def get_client(conn: Conn, client_id: str) -> ClientRecord:
    return await store.get_client(conn, client_id)


async def list_clients(
    conn: Conn, *, q: str | None, after: str | None, limit: int
) -> list[ClientRecord]:
    return await store.list_clients(conn, q=q, after=after, limit=limit)


async def create_property(conn: Conn, data: Mapping[str, Any]) -> PropertyRecord:
    """A job site of an existing client; its geofence checked and made canonical."""
    await store.get_client(conn, data["client_id"])
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
    return await store.insert_property(
        conn,
        client_id=data["client_id"],
        address=data["address"],
        lat=None if location is None else location["lat"],
        lon=None if location is None else location["lon"],
        geofence=geofence,
    )


async def get_property(conn: Conn, property_id: str) -> PropertyRecord:
    return await store.get_property(conn, property_id)


async def list_properties(
    conn: Conn, *, client_id: str | None, after: str | None, limit: int
) -> list[PropertyRecord]:
    return await store.list_properties(
        conn, client_id=client_id, after=after, limit=limit
    )


async def create_technician(conn: Conn, data: Mapping[str, Any]) -> TechnicianRecord:
    """A technician profile for a user with the technician role."""
    if await store.user_role(conn, data["user_id"]) != "technician":
        raise InvalidInput(
            "not a technician user",
            [FieldProblem("/user_id", "must be a user with the technician role")],
        )
    return await store.insert_technician(
        conn,
        user_id=data["user_id"],
        name=data["name"],
        phone=data.get("phone"),
        hourly_cost=data.get("hourly_cost", 0),
        team=data.get("team", "").strip(),
    )


async def update_technician(
    conn: Conn,
    technician_id: str,
    changes: Mapping[str, Any],
    *,
    check: Callable[[TechnicianRecord], None],
) -> TechnicianRecord:
    """Edit a technician's name, phone or hourly cost; ``check`` as for clients."""
    check(await store.get_technician(conn, technician_id, for_update=True))
    return await store.update_technician(conn, technician_id, _cleaned(changes))


async def get_technician(conn: Conn, technician_id: str) -> TechnicianRecord:
    return await store.get_technician(conn, technician_id)


async def teams(conn: Conn) -> list[tuple[str, int]]:
    """The teams technicians are in (name, size); a team exists while it has members."""
    return await store.teams(conn)


async def list_technicians(
    conn: Conn, *, after: str | None, limit: int
) -> list[TechnicianRecord]:
    return await store.list_technicians(conn, after=after, limit=limit)
