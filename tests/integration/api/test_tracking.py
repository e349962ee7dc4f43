"""Tracking evidence over HTTP: versioned visits per session, fixes as JSON/CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient

from derive.worker import derive_pending
from tests.integration.api.conftest import People
from tests.integration.derive.test_derive_worker import (
    ARRIVAL,
    T0,
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


def _book_and_bill(db_url: str, session: uuid.UUID, labour_hours: str | None) -> None:
    """Book the session's job 08:00–09:00 UTC; invoice ``labour_hours`` of labour."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        job, client = conn.execute(
            "UPDATE jobs SET scheduled_start = %s, scheduled_end = %s "
            "WHERE id = (SELECT job_id FROM job_sessions WHERE id = %s) "
            "RETURNING id, client_id",
            (T0, T0 + dt.timedelta(hours=1), session),
        ).fetchone() or (None, None)
        if labour_hours is None:
            return
        lines = [
            {
                "description": "Call-out",
                "quantity": "1",
                "unit_price": "40",
                "tax_rate": "19",
                "source": "line_item",
                "source_ref": None,
                "serials": [],
            },
            {
                "description": "Labour",
                "quantity": labour_hours,
                "unit_price": "60",
                "tax_rate": "19",
                "source": "labour",
                "source_ref": None,
                "serials": [],
            },
        ]
        conn.execute(
            "INSERT INTO invoices (id, kind, job_id, client_id, client_name, status, "
            "currency, lines, public_notes, net, tax, gross, version, created_at) "
            "VALUES (%s, 'invoice', %s, %s, 'Acme', 'draft', 'EUR', %s, '[]', 0, 0, 0, "
            "1, now())",
            (uuid.uuid4(), job, client, json.dumps(lines)),
        )


SUMMARY = re.compile(
    r"Tom arrived at 1 Main St at 09:(09|10):\d\d \(±\d+ s\), 10 min after the "
    r"booked window opened; left at 09:(49|50):\d\d \(±\d+ s\), provisional while "
    r"the session is open, 10 min before it closed; on site (39|40|41) min; "
    r"(not clocked|clocked [^;]+); (?P<billed>.+)"
)


async def test_the_visits_carry_the_answer_in_words_against_the_booking_and_invoice(
    client: TestClient[Any, Any], people: People, db_url: str
) -> None:
    session = _derived_session(db_url)
    _book_and_bill(db_url, session, "1.50")
    resp = await client.get(
        f"/api/v1/sessions/{session}/visits", headers=people.auth("billing")
    )
    summary = (await resp.json())["summary"]
    match = SUMMARY.fullmatch(summary["sentence"])
    assert match, summary["sentence"]
    assert match["billed"] == "billed 1.5 h"
    assert summary["billed_hours"] == "1.50"
    assert summary["scheduled_start"] == T0.isoformat()
    assert 570 <= summary["arrival_vs_window_s"] <= 630
    assert summary["provisional"] is True


async def test_a_job_not_invoiced_yet_reads_not_billed_yet(
    client: TestClient[Any, Any], people: People, db_url: str
) -> None:
    session = _derived_session(db_url)
    _book_and_bill(db_url, session, None)
    resp = await client.get(
        f"/api/v1/sessions/{session}/visits", headers=people.auth("billing")
    )
    summary = (await resp.json())["summary"]
    match = SUMMARY.fullmatch(summary["sentence"])
    assert match, summary["sentence"]
    assert match["billed"] == "not billed yet"
    assert summary["billed_hours"] is None
