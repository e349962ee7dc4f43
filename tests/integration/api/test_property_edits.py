"""The office edits a property in place; a fence edit re-derives its sessions' visits."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg

from derive.worker import derive_pending
from storage.visits import derivation_history
from tests.integration.api.conftest import World
from tests.integration.derive.test_derive_worker import ARRIVAL, SITE, _store, _track

SITE_LOCATION = {"lat": SITE[0], "lon": SITE[1]}
# A block around the site, in GeoJSON [lon, lat] order, about 150 m across.
RING = [
    [SITE[1] - 0.001, SITE[0] - 0.0007],
    [SITE[1] + 0.001, SITE[0] - 0.0007],
    [SITE[1] + 0.001, SITE[0] + 0.0007],
    [SITE[1] - 0.001, SITE[0] + 0.0007],
]


async def new_site(w: World, **fields: Any) -> dict[str, Any]:
    client = await w.call("dispatcher", "POST", "/clients", 201, {"name": "Acme"})
    body = {"client_id": client["id"], "address": {"line1": "1 Main St"}, **fields}
    site: dict[str, Any] = await w.call("dispatcher", "POST", "/properties", 201, body)
    return site


async def patch(
    w: World, site_id: str, body: dict[str, Any], status: int = 200, **headers: str
) -> Any:
    response = await w.api.patch(
        f"/api/v1/properties/{site_id}",
        json=body,
        headers={**w.people.auth("dispatcher"), **headers},
    )
    answer = await response.json()
    assert response.status == status, answer
    return answer


def tracked_session(w: World, site: dict[str, Any]) -> uuid.UUID:
    """A job at the site with a session of phone-1 that drove in, stayed, left."""
    job_id, session_id = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(w.settings.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO jobs (id, number, status, client_id, property_id, doc, "
            "created_at, updated_at) VALUES (%s, (SELECT coalesce(max(number), 0) + 1 "
            "FROM jobs), 'in_progress', %s, %s, '{}', now(), now())",
            (job_id, site["client_id"], site["id"]),
        )
        conn.execute(
            "INSERT INTO job_sessions (id, job_id, technician_id, device_id, state, "
            "clocked_in_at, intervals, evidence) "
            "VALUES (%s, %s, %s, 'phone-1', 'running', %s, '[]', '[]')",
            (
                session_id,
                job_id,
                w.people.technician_ids["tess"],
                ARRIVAL + dt.timedelta(minutes=2),
            ),
        )
        _store(conn, _track())
    return session_id


def derive(w: World, session: uuid.UUID) -> tuple[int, list[dt.datetime]]:
    """One derive pass: versions stored, then each version's first arrival."""
    with psycopg.connect(w.settings.database_url, autocommit=True) as conn:
        stored = derive_pending(conn)
        history = derivation_history(conn, session)
    return stored, [dt.datetime.fromisoformat(d.visits[0]["arrival"]) for d in history]


async def test_an_office_user_edits_a_propertys_address_location_and_fence(
    world: World,
) -> None:
    w = world
    site = await new_site(w, location={"lat": 53.8, "lon": -1.55})
    url = f"/properties/{site['id']}"
    etag = (await w.api.get(f"/api/v1{url}", headers=w.people.auth("admin"))).headers[
        "ETag"
    ]
    edited = await patch(
        w,
        site["id"],
        {
            "address": {"line1": "2 Side St", "city": "Leeds"},
            "location": {"lat": 53.81, "lon": -1.56},
            "geofence": {"radius_m": 120},
        },
        **{"If-Match": etag},
    )
    assert edited["address"] == {"line1": "2 Side St", "city": "Leeds"}
    assert edited["location"] == {"lat": 53.81, "lon": -1.56}
    assert edited["geofence"] == {"radius_m": 120}
    assert edited["version"] == site["version"] + 1
    assert "53.810000,-1.560000" in edited["navigation_url"]
    assert await w.call("dispatcher", "GET", url, 200) == edited
    await patch(w, site["id"], {"address": {"line1": "3 X"}}, 412, **{"If-Match": etag})
    polygon = await patch(w, site["id"], {"geofence": {"polygon": RING}})
    assert polygon["geofence"] == {"polygon": RING}
    cleared = await patch(w, site["id"], {"geofence": None, "location": None})
    assert (cleared["geofence"], cleared["location"]) == (None, None)
    await w.call("tess", "PATCH", url, 403, {"address": {"line1": "4 Y"}})
    await w.call("billing", "PATCH", url, 403, {"address": {"line1": "4 Y"}})


async def test_a_property_edit_is_checked_like_a_new_property(world: World) -> None:
    w = world
    site = await new_site(w)
    radius_without_location = await patch(
        w, site["id"], {"geofence": {"radius_m": 80}}, 422
    )
    assert radius_without_location["errors"] == [
        {"pointer": "/location", "detail": "required with geofence.radius_m"}
    ]
    twice = [RING[0], RING[1], RING[0]]
    bad_ring = await patch(w, site["id"], {"geofence": {"polygon": twice}}, 422)
    assert bad_ring["errors"] == [
        {"pointer": "/geofence/polygon", "detail": "needs 3 distinct points"}
    ]
    bow_tie = [RING[0], RING[2], RING[1], RING[3]]
    crossed = await patch(w, site["id"], {"geofence": {"polygon": bow_tie}}, 422)
    assert [e["pointer"] for e in crossed["errors"]] == ["/geofence/polygon"]
    assert crossed["errors"][0]["detail"].startswith("must not cross itself")
    crossed_site = {
        "client_id": site["client_id"],
        "address": {"line1": "2 Main St"},
        "geofence": {"polygon": bow_tie},
    }
    await w.call("dispatcher", "POST", "/properties", 422, crossed_site)
    circle = await new_site(w, location=SITE_LOCATION, geofence={"radius_m": 60})
    orphaned = await patch(w, circle["id"], {"location": None}, 422)
    assert orphaned["errors"] == [
        {"pointer": "/location", "detail": "required with geofence.radius_m"}
    ]
    blank = await patch(w, site["id"], {"address": {"line1": "   "}}, 422)
    assert blank["errors"] == [
        {"pointer": "/address/line1", "detail": "must not be empty"}
    ]
    await patch(w, site["id"], {}, 422)
    blank_site = {"client_id": site["client_id"], "address": {"line1": " "}}
    await w.call("dispatcher", "POST", "/properties", 422, blank_site)
    await patch(w, site["id"], {"client_id": circle["client_id"]}, 422)
    missing = "/properties/00000000-0000-0000-0000-000000000000"
    await w.call("dispatcher", "PATCH", missing, 404, {"geofence": None})
    unchanged = await w.call("dispatcher", "GET", f"/properties/{circle['id']}", 200)
    assert unchanged["location"] == SITE_LOCATION, "a refused edit changes nothing"


async def test_widening_the_fence_re_derives_the_arrival_of_the_sites_sessions(
    world: World,
) -> None:
    w = world
    site = await new_site(w, location=SITE_LOCATION, geofence={"radius_m": 60})
    session = tracked_session(w, site)
    stored, (first,) = derive(w, session)
    assert stored == 1
    assert abs((first - ARRIVAL).total_seconds()) <= 30
    # The technician drives in from the east at 2 m/s: a 600 m circle takes them
    # in almost five minutes earlier.
    await patch(w, site["id"], {"geofence": {"radius_m": 600}})
    stored, (_, widened) = derive(w, session)
    assert stored == 1, "the sweep saw the fence change"
    assert dt.timedelta(minutes=4) < ARRIVAL - widened < dt.timedelta(minutes=6)
    await patch(w, site["id"], {"address": {"line1": "1 Main Street"}})
    assert derive(w, session)[0] == 0, "an address edit leaves the visits alone"
    await patch(w, site["id"], {"geofence": {"polygon": RING}})
    stored, (*_, fenced) = derive(w, session)
    assert stored == 1
    assert widened < fenced < ARRIVAL


async def test_moving_the_centre_of_a_circle_re_derives_too(world: World) -> None:
    w = world
    site = await new_site(w, location=SITE_LOCATION, geofence={"radius_m": 200})
    session = tracked_session(w, site)
    _, (first,) = derive(w, session)
    # 150 m east, on the road in: the 200 m circle is reached 75 s earlier.
    east = {"lat": SITE[0], "lon": SITE[1] + 150 / 74_600}
    await patch(w, site["id"], {"location": east})
    stored, (_, moved) = derive(w, session)
    assert stored == 1
    assert dt.timedelta(seconds=45) < first - moved < dt.timedelta(seconds=105)


async def test_text_with_a_nul_character_is_refused_where_it_is(world: World) -> None:
    w = world
    site = await new_site(w)
    refused = await w.call(
        "dispatcher",
        "POST",
        "/properties",
        422,
        {"client_id": site["client_id"], "address": {"line1": "1\x00 Main St"}},
    )
    assert refused["errors"] == [
        {"pointer": "/address/line1", "detail": "must not contain NUL characters"}
    ]
    edited = await patch(
        w, site["id"], {"address": {"line1": "x", "ci\x00ty": ""}}, 422
    )
    assert edited["errors"][0]["pointer"] == "/address/ci\x00ty"
    named = await w.call("dispatcher", "POST", "/clients", 422, {"name": "A\x00"})
    assert named["errors"][0]["pointer"] == "/name"
