"""The derive worker: versioned visits per job session, re-derived on late data."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from core.geofence import Geofence
from derive.worker import derive_pending, derive_session
from storage.visits import (
    derivation_history,
    enqueue_touched,
    sessions_needing_derivation,
    touched_ranges,
)

SITE = (48.1372, 11.5756)
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
ARRIVAL = T0 + dt.timedelta(minutes=10)
DEPARTURE = T0 + dt.timedelta(minutes=50)


def _offset(
    lat: float, lon: float, north_m: float, east_m: float
) -> tuple[float, float]:
    return (
        lat + north_m / 111_320.0,
        lon + east_m / (111_320.0 * math.cos(math.radians(lat))),
    )


def _track(seed: int = 1) -> list[tuple[dt.datetime, float, float, float]]:
    """Drive in from 1.2 km east, 40 min on site, drive away west; a fix every 5 s."""
    rng = random.Random(seed)
    out = []
    t = T0
    while t <= T0 + dt.timedelta(hours=1):
        if t < ARRIVAL:
            east = 1200.0 * (ARRIVAL - t).total_seconds() / 600.0 + 20
        elif t < DEPARTURE:
            east = rng.uniform(-15, 15)
        else:
            east = -20 - 1200.0 * (t - DEPARTURE).total_seconds() / 600.0
        lat, lon = _offset(*SITE, rng.gauss(0, 4), east + rng.gauss(0, 4))
        out.append((t, lat, lon, 8.0))
        t += dt.timedelta(seconds=5)
    return out


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def _seed_session(conn: psycopg.Connection, device: str = "phone-1") -> uuid.UUID:
    client = conn.execute(
        "INSERT INTO clients (name) VALUES ('Acme') RETURNING id"
    ).fetchone()
    prop = conn.execute(
        "INSERT INTO properties (client_id, address, lat, lon, geofence) "
        "VALUES (%s, '[\"1 Main St\"]', %s, %s, %s) RETURNING id",
        (client[0], SITE[0], SITE[1], json.dumps({"radius_m": 60})),
    ).fetchone()
    user = conn.execute(
        "INSERT INTO users (name, role) VALUES ('Tom', 'technician') RETURNING id"
    ).fetchone()
    tech = conn.execute(
        "INSERT INTO technicians (user_id, name) VALUES (%s, 'Tom') RETURNING id",
        (user[0],),
    ).fetchone()
    job_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO jobs (id, number, status, client_id, property_id, doc, created_at, updated_at) "
        "VALUES (%s, (SELECT coalesce(max(number), 0) + 1 FROM jobs), 'in_progress', %s, %s, '{}', now(), now())",
        (job_id, client[0], prop[0]),
    )
    session_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO job_sessions (id, job_id, technician_id, device_id, state, "
        "clocked_in_at, intervals, evidence) VALUES (%s, %s, %s, %s, 'running', %s, '[]', '[]')",
        (session_id, job_id, tech[0], device, ARRIVAL + dt.timedelta(minutes=2)),
    )
    return session_id


def _store(
    conn: psycopg.Connection,
    fixes: list[tuple[dt.datetime, float, float, float]],
    device: str = "phone-1",
) -> None:
    """Store fixes the way the ingest does: idempotent, and queue the touched range."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO fixes (time, device_id, lat, lon, accuracy) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            [(t, device, lat, lon, acc) for t, lat, lon, acc in fixes],
        )
        enqueue_touched(conn, touched_ranges((device, f[0]) for f in fixes))


def test_fixes_of_a_session_produce_a_first_version_with_the_true_arrival(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    _store(conn, _track())
    assert derive_pending(conn) == 1
    (v1,) = derivation_history(conn, session)
    assert v1.version == 1
    assert len(v1.visits) == 1
    arrival = dt.datetime.fromisoformat(v1.visits[0]["arrival"])
    departure = dt.datetime.fromisoformat(v1.visits[0]["departure"])
    assert abs((arrival - ARRIVAL).total_seconds()) <= 30
    assert abs((departure - DEPARTURE).total_seconds()) <= 30
    assert v1.fence_digest == Geofence.circle(*SITE, 60).digest
    assert v1.input_digest.startswith("fx1-")


def test_deriving_again_without_new_fixes_stores_nothing(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    _store(conn, _track())
    derive_pending(conn)
    assert derive_pending(conn) == 0
    assert derive_session(conn, session) is None
    assert len(derivation_history(conn, session)) == 1


def test_a_late_backlog_adds_a_version_and_keeps_the_first(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    track = _track()
    on_time = [
        f
        for f in track
        if not (
            ARRIVAL - dt.timedelta(minutes=3) < f[0] < ARRIVAL + dt.timedelta(minutes=3)
        )
    ]
    _store(conn, on_time)
    derive_pending(conn)
    late = [f for f in track if f not in on_time]
    random.Random(3).shuffle(late)
    _store(conn, late + late[:20])  # shuffled and partly duplicated, hours later
    assert derive_pending(conn) == 1
    v1, v2 = derivation_history(conn, session)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.input_digest != v2.input_digest
    assert v2.fix_count == len(track)
    arrival = dt.datetime.fromisoformat(v2.visits[0]["arrival"])
    assert abs((arrival - ARRIVAL).total_seconds()) <= 30


def test_the_same_fixes_in_another_order_give_the_same_digest_and_visits(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    track = _track()
    shuffled = track[:]
    random.Random(9).shuffle(shuffled)
    _store(conn, shuffled)
    derive_pending(conn)
    (first,) = derivation_history(conn, session)
    conn.execute("DELETE FROM visit_derivations")
    conn.execute("DELETE FROM fixes")
    _store(conn, track)
    derive_pending(conn)
    (second,) = derivation_history(conn, session)
    assert (second.input_digest, second.visits) == (first.input_digest, first.visits)


def test_closing_a_session_re_derives_it(conn: psycopg.Connection) -> None:
    session = _seed_session(conn)
    _store(conn, _track())
    derive_pending(conn)
    conn.execute(
        "UPDATE job_sessions SET state = 'closed', clocked_out_at = %s WHERE id = %s",
        (DEPARTURE + dt.timedelta(minutes=5), session),
    )
    assert derive_pending(conn) == 1
    assert [d.session_state for d in derivation_history(conn, session)] == [
        "running",
        "closed",
    ]


def test_fixes_of_another_device_do_not_touch_the_session(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    _store(conn, _track())
    derive_pending(conn)
    _store(conn, _track(seed=5), device="phone-2")
    assert derive_pending(conn) == 0
    assert len(derivation_history(conn, session)) == 1


def test_a_clock_out_long_after_leaving_is_flagged_in_the_stored_reconciliation(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    clock_in = ARRIVAL + dt.timedelta(minutes=2)
    clock_out = DEPARTURE + dt.timedelta(minutes=45)
    evidence = [
        {
            "kind": "clock_in",
            "at": clock_in.isoformat(),
            "event_id": "e1",
            "position": None,
        },
        {
            "kind": "clock_out",
            "at": clock_out.isoformat(),
            "event_id": "e2",
            "position": None,
        },
    ]
    conn.execute(
        "UPDATE job_sessions SET state = 'closed', clocked_out_at = %s, evidence = %s "
        "WHERE id = %s",
        (clock_out, json.dumps(evidence), session),
    )
    _store(conn, _track())
    derive_pending(conn)
    (d,) = derivation_history(conn, session)
    rec = d.reconciliation
    assert dt.datetime.fromisoformat(rec["clock_out"]) == clock_out
    assert 44 * 60 <= rec["clock_out_delta_s"] <= 46 * 60
    assert "clocked_out_after_departure" in {f["code"] for f in rec["flags"]}
    assert rec["billed_s"] > rec["on_site_s"]


def test_sessions_without_a_usable_fence_do_not_crowd_out_the_others(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    fenceless = _seed_session(conn, device="phone-9")
    conn.execute(
        "UPDATE properties SET geofence = NULL WHERE id = "
        "(SELECT property_id FROM jobs WHERE id = "
        "(SELECT job_id FROM job_sessions WHERE id = %s))",
        (fenceless,),
    )
    conn.execute(
        "UPDATE job_sessions SET clocked_in_at = clocked_in_at + interval '1 hour' "
        "WHERE id = %s",
        (fenceless,),
    )
    assert sessions_needing_derivation(conn, limit=1) == [session]
