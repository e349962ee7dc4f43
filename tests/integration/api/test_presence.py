"""Ad-hoc presence through the API: "was Tom at this place between T1 and T2?"
answered from the stored fixes of all his devices, with no job or session, for
billing and admin, and bad questions refused as problems."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from api.app import init_app
from crewtrack.settings import Settings
from tests.integration.api.conftest import ClientFactory, People, seed_people
from tests.integration.derive.test_derive_worker import (
    ARRIVAL,
    DEPARTURE,
    SITE,
    T0,
    _store,
    _track,
)

URL = "/api/v1/presence"


@pytest.fixture
def people(db_url: str) -> People:
    return seed_people(db_url)


@pytest.fixture
def tom(db_url: str) -> Iterator[dict[str, str]]:
    """Tom (a technician with one phone and its day's track) and a fenced property."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        client = conn.execute(
            "INSERT INTO clients (name) VALUES ('Acme') RETURNING id"
        ).fetchone()
        assert client is not None
        prop = conn.execute(
            "INSERT INTO properties (client_id, address, lat, lon, geofence) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (
                client[0],
                json.dumps({"line1": "1 Main St", "city": "Munich"}),
                *SITE,
                json.dumps({"radius_m": 60}),
            ),
        ).fetchone()
        user = conn.execute(
            "INSERT INTO users (name, role) VALUES ('Tom', 'technician') RETURNING id"
        ).fetchone()
        assert prop is not None
        assert user is not None
        tech = conn.execute(
            "INSERT INTO technicians (user_id, name) VALUES (%s, 'Tom Berg') "
            "RETURNING id",
            (user[0],),
        ).fetchone()
        assert tech is not None
        conn.execute(
            "INSERT INTO devices (id, user_id, mqtt_password_hash) "
            "VALUES ('toms-phone', %s, 'x')",
            (user[0],),
        )
        _store(conn, _track(), device="toms-phone")
        yield {"technician_id": str(tech[0]), "property_id": str(prop[0])}


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, settings: Settings
) -> TestClient[Any, Any]:
    zoned = settings.replace(company_timezone="Europe/Berlin")
    return await aiohttp_client(init_app(zoned))


def _iso(t: dt.datetime) -> str:
    return t.isoformat()


async def test_billing_asks_by_property_and_gets_the_sessions_windows_and_a_berlin_sentence(
    client: TestClient[Any, Any], people: People, tom: dict[str, str]
) -> None:
    body = {
        "technician_id": tom["technician_id"],
        "start": _iso(T0),
        "end": _iso(T0 + dt.timedelta(hours=1)),
        "place": {"property_id": tom["property_id"]},
    }
    answer = await client.post(URL, json=body, headers=people.auth("billing"))
    assert answer.status == 200, await answer.text()
    out = await answer.json()
    assert out["present"] is True
    [visit] = out["visits"]
    arrival = dt.datetime.fromisoformat(visit["arrival"])
    departure = dt.datetime.fromisoformat(visit["departure"])
    assert abs((arrival - ARRIVAL).total_seconds()) < 30
    assert abs((departure - DEPARTURE).total_seconds()) < 30
    assert set(visit["arrival_window"]) == {"earliest", "latest"}
    edge = visit["evidence"]["arrival"]  # the fixes either side of the crossing
    assert edge["before"]["distance_m"] > 0 > edge["after"]["distance_m"]
    # Berlin is UTC+1 in March: 08:10 UTC reads 09:10
    sentence = out["sentence"]
    assert sentence.startswith("Tom Berg was at 1 Main St, Munich between ")
    assert "arrived 09:1" in sentence or "arrived 09:0" in sentence
    assert out["time_zone"] == "Europe/Berlin"
    assert out["fix_count"] == 721  # one every 5 s over the hour, ends included
    assert out["input_digest"].startswith("fx1-")
    assert out["place"]["property_id"] == tom["property_id"]
    assert out["technician"]["name"] == "Tom Berg"


async def test_admin_asks_by_circle_and_polygon_and_a_far_place_is_a_no(
    client: TestClient[Any, Any], people: People, tom: dict[str, str]
) -> None:
    lat, lon = SITE
    d = 0.0006
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    places = [
        {"lat": lat, "lon": lon, "radius_m": 50, "label": "the shop"},
        {"polygon": {"type": "Polygon", "coordinates": [ring]}},
    ]
    base = {
        "technician_id": tom["technician_id"],
        "start": _iso(ARRIVAL + dt.timedelta(minutes=5)),
        "end": _iso(ARRIVAL + dt.timedelta(minutes=10)),
    }
    for place in places:
        answer = await client.post(
            URL, json={**base, "place": place}, headers=people.auth("admin")
        )
        out = await answer.json()
        assert answer.status == 200, out
        # the visit overlaps the asked five minutes; its edges lie outside them
        [visit] = out["visits"]
        assert dt.datetime.fromisoformat(visit["arrival"]) < ARRIVAL + dt.timedelta(
            minutes=1
        )
        assert out["fixes_read"] > out["fix_count"] > 0
    assert "the shop" in out["sentence"] or "the drawn area" in out["sentence"]
    far = {"lat": lat + 0.05, "lon": lon, "radius_m": 100}
    answer = await client.post(
        URL, json={**base, "place": far}, headers=people.auth("admin")
    )
    out = await answer.json()
    assert out["present"] is False
    assert out["visits"] == []
    assert " was not at " in out["sentence"]


async def test_a_range_without_fixes_says_the_data_cannot_tell(
    client: TestClient[Any, Any], people: People, tom: dict[str, str]
) -> None:
    body = {
        "technician_id": tom["technician_id"],
        "start": _iso(T0 + dt.timedelta(days=2)),
        "end": _iso(T0 + dt.timedelta(days=3)),
        "place": {"property_id": tom["property_id"]},
    }
    out = await (
        await client.post(URL, json=body, headers=people.auth("billing"))
    ).json()
    assert out["present"] is None
    assert out["fix_count"] == 0
    assert "cannot say" in out["sentence"]


async def test_bad_questions_are_problems_and_other_roles_are_refused(
    client: TestClient[Any, Any], people: People, tom: dict[str, str]
) -> None:
    good: dict[str, Any] = {
        "technician_id": tom["technician_id"],
        "start": _iso(T0),
        "end": _iso(T0 + dt.timedelta(hours=1)),
        "place": {"property_id": tom["property_id"]},
    }
    for who in ("dispatcher", "tess"):
        assert (
            await client.post(URL, json=good, headers=people.auth(who))
        ).status == 403
    bad_cases: list[tuple[dict[str, Any], int, str]] = [
        ({"technician_id": "00000000-0000-0000-0000-000000000000"}, 404, ""),
        ({"end": _iso(T0)}, 422, "/end"),
        ({"end": _iso(T0 + dt.timedelta(days=32))}, 422, "/end"),
        ({"place": {"lat": 95.0, "lon": 0.0, "radius_m": 50}}, 422, "/place"),
        ({"place": {"lat": 48.0, "lon": 11.0, "radius_m": 0}}, 422, "/place/radius_m"),
        (
            {
                "place": {
                    "polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}
                }
            },
            422,
            "/place/polygon",
        ),
        ({"place": {"label": "nowhere"}}, 422, "/place"),
        (
            {"place": {"property_id": "00000000-0000-0000-0000-000000000000"}},
            422,
            "/place/property_id",
        ),
    ]
    for change, status, pointer in bad_cases:
        answer = await client.post(
            URL, json={**good, **change}, headers=people.auth("billing")
        )
        assert answer.status == status, (change, await answer.text())
        assert answer.content_type == "application/problem+json"
        if pointer:
            text = await answer.text()
            assert pointer in text, (change, text)


async def test_the_fixes_of_all_the_technicians_phones_are_read_together(
    client: TestClient[Any, Any], people: People, tom: dict[str, str], db_url: str
) -> None:
    later = dt.timedelta(hours=3)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO devices (id, user_id, mqtt_password_hash, revoked_at) "
            "SELECT 'toms-old-phone', user_id, 'x', now() FROM technicians "
            "WHERE id = %s",
            (tom["technician_id"],),
        )
        _store(
            conn, [(t + later, a, b, c) for t, a, b, c in _track(2)], "toms-old-phone"
        )
    body = {
        "technician_id": tom["technician_id"],
        "start": _iso(T0),
        "end": _iso(T0 + dt.timedelta(hours=5)),
        "place": {"property_id": tom["property_id"]},
    }
    out = await (
        await client.post(URL, json=body, headers=people.auth("billing"))
    ).json()
    arrivals = [dt.datetime.fromisoformat(v["arrival"]) for v in out["visits"]]
    assert len(arrivals) == 2
    assert abs((arrivals[1] - (ARRIVAL + later)).total_seconds()) < 30
    assert out["fix_count"] == 2 * 721
    assert "; then arrived " in out["sentence"]
