"""The directory's use cases: clients, their properties (job sites) and technicians.

A property's geofence is parsed by the domain (:class:`jobs_domain.properties.Geofence`)
and stored in its canonical JSON; a radius fence needs the property's location. An
edit that moves the fence bumps the property's fence version, and the derive worker
re-derives the visits of every session at the property.
A technician is a user with the technician role.

Nothing here is deleted: jobs, invoices and history refer to it. Archiving hides a
record from lists and from new work (no new job for an archived client or property,
no archived technician on a crew) and is refused while open jobs depend on it;
archiving a technician also shuts their user and devices out. Restoring undoes
exactly what the archive did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from core.geofence import GeofenceError
from jobs_domain.errors import (
    Blocker,
    FieldProblem,
    InvalidInput,
    TransitionRefused,
    invalid,
    required_text,
)
from jobs_domain.job import format_job_number
from jobs_domain.properties import Geofence
from services.clock import now
from storage import clients as store
from storage import users
from storage.clients import ClientRecord, OpenJob, PropertyRecord, TechnicianRecord
from storage.visits import fence_of

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
    conn: Conn,
    *,
    q: str | None,
    after: str | None,
    limit: int,
    include_archived: bool = False,
    by_name: bool = False,
) -> list[ClientRecord]:
    return await store.list_clients(
        conn,
        q=q,
        after=after,
        limit=limit,
        include_archived=include_archived,
        by_name=by_name,
    )


def _address(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An address's lines trimmed; a blank first line is refused."""
    out = {key: value.strip() for key, value in raw.items()}
    out["line1"] = required_text(raw["line1"], "/address/line1")
    return out


def _site(
    location: Mapping[str, Any] | None, geofence: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The stored columns of a location and a geofence (checked, canonical); a
    radius needs a location to be centred on."""
    canonical = None
    if geofence is not None:
        fence = Geofence.parse(dict(geofence))
        if fence.radius_m is not None and location is None:
            raise InvalidInput(
                "a radius needs a location",
                [FieldProblem("/location", "required with geofence.radius_m")],
            )
        canonical = fence.to_json()
    columns: dict[str, Any] = {
        "lat": None if location is None else location["lat"],
        "lon": None if location is None else location["lon"],
        "geofence": canonical,
    }
    try:
        fence_of(columns["lat"], columns["lon"], canonical)
    except GeofenceError as exc:  # a ring that crosses itself fences nothing
        raise invalid("/geofence/polygon", f"must not cross itself ({exc})") from exc
    return columns


def _fence_digest(
    lat: float | None, lon: float | None, geofence: dict[str, Any] | None
) -> str | None:
    """What the derive sees of a site's fence (None: nothing it can derive with)."""
    try:
        fence = fence_of(lat, lon, geofence)
    except GeofenceError:  # stored before crossing rings were refused
        return None
    return None if fence is None else fence.digest


async def create_property(conn: Conn, data: Mapping[str, Any]) -> PropertyRecord:
    """A job site of an existing, live client; its geofence checked and made canonical."""
    client = await store.get_client(conn, data["client_id"])
    if client.archived_at is not None:
        raise InvalidInput(
            "archived client", [FieldProblem("/client_id", "the client is archived")]
        )
    return await store.insert_property(
        conn,
        client_id=data["client_id"],
        address=_address(data["address"]),
        **_site(data.get("location"), data.get("geofence")),
    )


async def update_property(
    conn: Conn,
    property_id: str,
    changes: Mapping[str, Any],
    *,
    check: Callable[[PropertyRecord], None],
) -> PropertyRecord:
    """Edit a property's address, location or geofence (null clears the last two),
    checked as when it was created; ``check`` as for clients. Moving the fence
    (its shape, or the centre of a circle) re-derives the site's visits."""
    current = await store.get_property(conn, property_id, for_update=True)
    check(current)
    out: dict[str, Any] = {}
    if "address" in changes:
        out["address"] = _address(changes["address"])
    fence_changed = False
    if "location" in changes or "geofence" in changes:
        was = None if current.lat is None else {"lat": current.lat, "lon": current.lon}
        out.update(
            _site(
                changes.get("location", was), changes.get("geofence", current.geofence)
            )
        )
        fence_changed = _fence_digest(
            current.lat, current.lon, current.geofence
        ) != _fence_digest(out["lat"], out["lon"], out["geofence"])
    return await store.update_property(
        conn, property_id, out, fence_changed=fence_changed
    )


async def get_property(conn: Conn, property_id: str) -> PropertyRecord:
    return await store.get_property(conn, property_id)


async def list_properties(
    conn: Conn,
    *,
    client_id: str | None,
    after: str | None,
    limit: int,
    include_archived: bool = False,
) -> list[PropertyRecord]:
    return await store.list_properties(
        conn,
        client_id=client_id,
        after=after,
        limit=limit,
        include_archived=include_archived,
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
    conn: Conn, *, after: str | None, limit: int, include_archived: bool = False
) -> list[TechnicianRecord]:
    return await store.list_technicians(
        conn, after=after, limit=limit, include_archived=include_archived
    )


# -- archive and restore ---------------------------------------------------------------------


def _refuse_while_open(what: str, jobs: list[OpenJob]) -> None:
    """Refuse to archive ``what`` while open jobs depend on it, naming each."""
    if jobs:
        raise TransitionRefused(
            f"{what} has open jobs: complete, cancel or move them first",
            [
                Blocker(
                    "open-job",
                    f"{format_job_number(job.number)} is {job.status.replace('_', ' ')}",
                    str(job.id),
                )
                for job in jobs
            ],
        )


async def archive_client(
    conn: Conn, client_id: str, *, check: Callable[[ClientRecord], None]
) -> ClientRecord:
    """Archive a client with its properties; refused while the client has open
    jobs. Archiving again changes nothing."""
    client = await store.get_client(conn, client_id, for_update=True)
    check(client)
    if client.archived_at is not None:
        return client
    _refuse_while_open("the client", await store.open_jobs(conn, client_id=client_id))
    return await store.archive_client(conn, client_id, now())


async def restore_client(
    conn: Conn, client_id: str, *, check: Callable[[ClientRecord], None]
) -> ClientRecord:
    """Undo a client's archive, with the properties archived along with it."""
    client = await store.get_client(conn, client_id, for_update=True)
    check(client)
    if client.archived_at is None:
        return client
    return await store.restore_client(conn, client)


async def archive_property(
    conn: Conn, property_id: str, *, check: Callable[[PropertyRecord], None]
) -> PropertyRecord:
    """Archive a job site; refused while open jobs are at it."""
    prop = await store.get_property(conn, property_id, for_update=True)
    check(prop)
    if prop.archived_at is not None:
        return prop
    jobs = await store.open_jobs(conn, property_id=property_id)
    _refuse_while_open("the property", jobs)
    return await store.set_property_archived(conn, property_id, now())


async def restore_property(
    conn: Conn, property_id: str, *, check: Callable[[PropertyRecord], None]
) -> PropertyRecord:
    """Undo a property's archive; its client must not be archived."""
    prop = await store.get_property(conn, property_id, for_update=True)
    check(prop)
    if prop.archived_at is None:
        return prop
    client = await store.get_client(conn, str(prop.client_id))
    if client.archived_at is not None:
        raise TransitionRefused(
            "the property's client is archived: restore the client first",
            [Blocker("client-archived", f"{client.name} is archived", str(client.id))],
        )
    return await store.set_property_archived(conn, property_id, None)


async def archive_technician(
    conn: Conn, technician_id: str, *, check: Callable[[TechnicianRecord], None]
) -> TechnicianRecord:
    """Archive a technician who left: refused while they are on an open job's
    crew; their user (tokens, login) is disabled and their devices revoked at the
    same instant. Their sessions, fixes and visits stay."""
    tech = await store.get_technician(conn, technician_id, for_update=True)
    check(tech)
    if tech.archived_at is not None:
        return tech
    jobs = await store.open_jobs(conn, technician_id=technician_id)
    _refuse_while_open("the technician", jobs)
    at = now()
    await users.disable_user(conn, tech.user_id, at)
    return await store.set_technician_archived(conn, technician_id, at)


async def restore_technician(
    conn: Conn, technician_id: str, *, check: Callable[[TechnicianRecord], None]
) -> TechnicianRecord:
    """Undo a technician's archive: their user and the devices the archive revoked
    work again."""
    tech = await store.get_technician(conn, technician_id, for_update=True)
    check(tech)
    if tech.archived_at is None:
        return tech
    await users.enable_user(conn, tech.user_id, tech.archived_at)
    return await store.set_technician_archived(conn, technician_id, None)
