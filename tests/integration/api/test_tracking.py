"""Tracking evidence over HTTP: versioned visits per session, fixes as JSON/CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient

from derive.worker import derive_pending
from tests.integration.api.conftest import People
from tests.integration.derive.test_derive_worker import (
    ARRIVAL,
    _seed_session,
    _store,
    _track,
)


def _derived_session(db_url: str) -> uuid.UUID:
    with psycopg.connect(db_url, autocommit=True) as conn:
        session = _seed_session(conn)
        _store(conn, _track())
        derive_pending(conn)
    return session


async def test_billing_reads_the_newest_derived_visit_of_a_session(
    client: TestClient[Any, Any], people: People, db_url: str
) -> None:
    session = _derived_session(db_url)
    resp = await client.get(
        f"/api/v1/sessions/{session}/visits", headers=people.auth("billing")
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["version"] == 1
    assert [v["version"] for v in body["versions"]] == [1]
    arrival = dt.datetime.fromisoformat(body["visits"][0]["arrival"])
    assert abs((arrival - ARRIVAL).total_seconds()) <= 30
    assert body["input_digest"].startswith("fx1-")


async def test_an_earlier_version_stays_readable_after_late_data(
    client: TestClient[Any, Any], people: People, db_url: str
) -> None:
    # the fixes around the arrival arrive late (an offline backlog): the arrival
    # moves, so the record says something new and is a new version
    around_arrival = dt.timedelta(minutes=3)
    track = _track()
    late = [f for f in track if abs(f[0] - ARRIVAL) < around_arrival]
    with psycopg.connect(db_url, autocommit=True) as conn:
        session = _seed_session(conn)
        _store(conn, [f for f in track if f not in late])
        derive_pending(conn)
        _store(conn, late)
        derive_pending(conn)
    first = await client.get(
        f"/api/v1/sessions/{session}/visits?version=1", headers=people.auth("admin")
    )
    newest = await client.get(
        f"/api/v1/sessions/{session}/visits", headers=people.auth("admin")
    )
    v1, v2 = await first.json(), await newest.json()
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v1["input_digest"] != v2["input_digest"]
    assert len(v2["versions"]) == 2
    assert v2["status"] == "provisional"  # the session is still running
    assert v2["latest_inputs"]["version"] == 2
    assert v2["latest_inputs"]["fix_count"] == len(track)


async def test_a_technician_cannot_read_derived_visits(
    client: TestClient[Any, Any], people: People, db_url: str
) -> None:
    session = _derived_session(db_url)
    resp = await client.get(
        f"/api/v1/sessions/{session}/visits", headers=people.auth("tess")
    )
    assert resp.status == 403
    assert resp.content_type == "application/problem+json"


async def test_an_unknown_session_is_a_404_problem(
    client: TestClient[Any, Any], people: People
) -> None:
    resp = await client.get(
        f"/api/v1/sessions/{uuid.uuid4()}/visits", headers=people.auth("billing")
    )
    assert resp.status == 404
    assert (await resp.json())["status"] == 404


async def test_fixes_export_as_csv_for_the_customer(
    client: TestClient[Any, Any], people: People, db_url: str
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO devices (id, mqtt_password_hash) VALUES ('phone-1', 'x')"
        )
        _store(conn, _track())
    start = ARRIVAL - dt.timedelta(minutes=1)
    end = ARRIVAL + dt.timedelta(minutes=1)
    params = {"from": start.isoformat(), "to": end.isoformat()}
    resp = await client.get(
        "/api/v1/devices/phone-1/fixes",
        params={**params, "format": "csv"},
        headers=people.auth("billing"),
    )
    assert resp.status == 200
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[0][:3] == ["time", "lat", "lon"]
    assert len(rows) - 1 == 25  # one fix every 5 s over two minutes, both ends included
    as_json = await client.get(
        "/api/v1/devices/phone-1/fixes", params=params, headers=people.auth("billing")
    )
    body = json.loads(await as_json.text())
    assert body["count"] == 25
    assert [r[0] for r in rows[1:]] == [f["time"] for f in body["fixes"]]


async def test_a_fix_range_without_a_utc_offset_is_refused_with_a_pointer(
    client: TestClient[Any, Any], people: People, db_url: str
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO devices (id, mqtt_password_hash) VALUES ('phone-1', 'x')"
        )
    resp = await client.get(
        "/api/v1/devices/phone-1/fixes",
        params={"from": "2026-03-02T08:00:00", "to": "2026-03-02T09:00:00+00:00"},
        headers=people.auth("billing"),
    )
    assert resp.status == 422
    body = await resp.json()
    assert [e["pointer"] for e in body["errors"]] == ["/query/from"]
