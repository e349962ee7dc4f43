"""A property's geofence: circles and polygons with fractional coordinates (issue 12)."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg

from storage.visits import load_session, sessions_needing_derivation
from tests.integration.api.conftest import World

# A small block around (48.8566, 2.3521), in GeoJSON [lon, lat] order.
RING = [[2.3521, 48.8566], [2.3541, 48.8566], [2.3541, 48.8581], [2.3521, 48.8581]]


async def new_property(w: World, status: int, **fields: object) -> dict[str, object]:
    client = await w.call("dispatcher", "POST", "/clients", 201, {"name": "Mme Curie"})
    body = {"client_id": client["id"], "address": {"line1": "1 rue Pierre"}, **fields}
    result: dict[str, object] = await w.call(
        "dispatcher", "POST", "/properties", status, body
    )
    return result


def session_at(
    db_url: str, property_id: str, client_id: str, tech_id: str
) -> uuid.UUID:
    """A job at the property with a device-tracked session, as the derive sees it."""
    job_id, session_id = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (id, number, status, client_id, property_id, doc, "
            "created_at, updated_at) VALUES (%s, (SELECT coalesce(max(number), 0) + 1 "
            "FROM jobs), 'in_progress', %s, %s, '{}', now(), now())",
            (job_id, client_id, property_id),
        )
        conn.execute(
            "INSERT INTO job_sessions (id, job_id, technician_id, device_id, state, "
            "clocked_in_at, intervals, evidence) "
            "VALUES (%s, %s, %s, 'phone-1', 'running', now(), '[]', '[]')",
            (session_id, job_id, tech_id),
        )
    return session_id


async def test_a_polygon_with_fractional_coordinates_is_stored_and_fences_the_derive(
    world: World,
) -> None:
    w = world
    site = await new_property(w, 201, geofence={"polygon": RING})
    assert site["geofence"] == {"polygon": RING}
    again = await w.call("dispatcher", "GET", f"/properties/{site['id']}", 200)
    assert again["geofence"] == {"polygon": RING}

    session = session_at(
        w.settings.database_url,
        str(site["id"]),
        str(site["client_id"]),
        w.people.technician_ids["tess"],
    )
    with psycopg.connect(w.settings.database_url) as conn:
        assert session in sessions_needing_derivation(conn)
        inputs = load_session(conn, session, dt.datetime.now(dt.UTC))
    assert inputs is not None
    assert inputs.fence is not None
    # (lat, lon): the middle of the block, then 200 m north of it.
    lats, lons = [48.8573, 48.8600], [2.3531, 2.3531]
    assert list(inputs.fence.contains(lats, lons)) == [True, False]


async def test_a_circle_with_a_fractional_radius_is_accepted(world: World) -> None:
    site = await new_property(
        world,
        201,
        location={"lat": 48.8566, "lon": 2.3521},
        geofence={"radius_m": 80.5},
    )
    assert site["geofence"] == {"radius_m": 80.5}


async def test_a_polygon_still_needs_three_distinct_points_in_range(
    world: World,
) -> None:
    twice = [[2.3521, 48.8566], [2.3541, 48.8566], [2.3521, 48.8566]]
    refused = await new_property(world, 422, geofence={"polygon": twice})
    assert refused["errors"] == [
        {"pointer": "/geofence/polygon", "detail": "needs 3 distinct points"}
    ]
    off_the_map = [[182.5, 48.8566], *RING[1:]]
    await new_property(world, 422, geofence={"polygon": off_the_map})
