"""The ingest's event bridge applies device events on one connection for its whole life."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from crewtrack.wiring import JobEventBridge
from storage.device_events import StoredEvent


def _other_backends(db_url: str) -> set[int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {int(r[0]) for r in rows}


def _clock_in(event_id: str) -> StoredEvent:
    now = datetime.now(UTC)
    return StoredEvent("ghost-1", event_id, "clock_in", now, "", None, None, None, now)


def test_the_event_bridge_applies_every_event_on_one_long_lived_connection(
    db_url: str,
) -> None:
    before = _other_backends(db_url)
    bridge = JobEventBridge(db_url)
    seen: list[set[int]] = []
    try:
        with psycopg.connect(db_url) as writer_conn:
            before.update(_other_backends(db_url) - before)  # the writer's own
            for i in range(5):
                bridge(writer_conn, "ghost-1", _clock_in(f"e-{i}"))
                seen.append(_other_backends(db_url) - before)
    finally:
        bridge.close()
    assert len(seen[0]) == 1, "the bridge opened one connection"
    assert all(s == seen[0] for s in seen), "and kept it for every event"
    assert _other_backends(db_url) - before == set(), "closing the bridge closed it"
    with psycopg.connect(db_url) as conn:
        outcomes = conn.execute(
            "SELECT event_id, outcome FROM session_events ORDER BY event_id"
        ).fetchall()
    # a phone no technician owns: each event refused once, and the refusal recorded
    assert [r[0] for r in outcomes] == [f"e-{i}" for i in range(5)]
    assert {r[1] for r in outcomes} == {"not-found"}


def test_the_event_bridge_ignores_events_that_are_not_clock_events(db_url: str) -> None:
    bridge = JobEventBridge(db_url)
    now = datetime.now(UTC)
    event = StoredEvent("ghost-1", "g-1", "geofence_enter", now, "", 1.0, 2.0, 5, now)
    try:
        with psycopg.connect(db_url) as writer_conn:
            bridge(writer_conn, "ghost-1", event)
    finally:
        bridge.close()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM session_events").fetchone() == (0,)
