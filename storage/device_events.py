"""Stored device events and their hand-over state (``device_events.applied_at``).

The ingest writes the events with the fixes (:mod:`storage.fixes`); these
functions read them back one at a time for the jobs module and record whether
applying them worked, so an event is applied exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A device event as stored (times are aware UTC datetimes)."""

    device_id: str
    event_id: str
    type: str
    time: datetime
    job_id: str
    lat: float | None
    lon: float | None
    accuracy: float | None
    received_at: datetime


_LOCK_UNAPPLIED = (
    "SELECT device_id, event_id, type, time, job_id, lat, lon, accuracy, received_at "
    "FROM device_events WHERE device_id = %s AND event_id = %s AND applied_at IS NULL "
    "FOR UPDATE SKIP LOCKED"
)


def lock_unapplied(
    conn: psycopg.Connection[Any], device_id: str, event_id: str
) -> StoredEvent | None:
    """Lock an event not applied yet (None: applied already, or another worker holds it)."""
    row = conn.execute(_LOCK_UNAPPLIED, (device_id, event_id)).fetchone()
    return None if row is None else StoredEvent(*row)


def mark_applied(conn: psycopg.Connection[Any], device_id: str, event_id: str) -> None:
    conn.execute(
        "UPDATE device_events SET applied_at = now(), apply_error = NULL "
        "WHERE device_id = %s AND event_id = %s",
        (device_id, event_id),
    )


def record_apply_error(
    conn: psycopg.Connection[Any], device_id: str, event_id: str, error: str
) -> None:
    conn.execute(
        "UPDATE device_events SET apply_error = %s "
        "WHERE device_id = %s AND event_id = %s",
        (error[:1000], device_id, event_id),
    )


def unapplied_older_than(
    conn: psycopg.Connection[Any], grace_s: float, limit: int
) -> Sequence[tuple[str, str]]:
    """(device id, event id) of events still unapplied ``grace_s`` after receipt, oldest first."""
    rows = conn.execute(
        "SELECT device_id, event_id FROM device_events WHERE applied_at IS NULL "
        "AND received_at < now() - make_interval(secs => %s) "
        "ORDER BY received_at LIMIT %s",
        (grace_s, limit),
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]
