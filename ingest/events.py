"""The seam between the ingest and the jobs module: device events after commit.

The ingest stores every clock event in ``device_events`` (idempotent on device +
event id) and, after the commit, hands each new one to the registered handlers::

    from ingest.events import register_event_handler

    def apply_device_event(conn: psycopg.Connection, device_id: str,
                           event: StoredEvent) -> None:
        ...  # start/stop the job session, set the job In Progress

    register_event_handler(apply_device_event)

Each event is applied in its own transaction together with setting
``device_events.applied_at``: an event is applied exactly once even when a worker
dies between the commit of the fixes and the handler (the sweep, which the batch
writer runs at start and every ``SWEEP_EVERY_S``, finds it). A handler that
raises leaves ``applied_at`` empty and records ``apply_error``; the sweep retries
it. With no handler registered nothing is marked applied,
so a jobs module that arrives later still sees every event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg

log = logging.getLogger(__name__)

SWEEP_GRACE_S = (
    30  # the writer applies its own events at once; the sweep only picks up leftovers
)
SWEEP_LIMIT = 500  # events applied per sweep round (one transaction each)


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


class EventSink(Protocol):
    """What the jobs module plugs in: apply one event inside ``conn``'s transaction."""

    def __call__(
        self, conn: psycopg.Connection[Any], device_id: str, event: StoredEvent
    ) -> None: ...


_handlers: list[EventSink] = []


def register_event_handler(fn: EventSink) -> EventSink:
    """Register ``fn`` (usable as a decorator); registering twice is a no-op."""
    if fn not in _handlers:
        _handlers.append(fn)
    return fn


def unregister_event_handler(fn: EventSink) -> None:
    if fn in _handlers:
        _handlers.remove(fn)


def event_handlers() -> tuple[EventSink, ...]:
    return tuple(_handlers)


_SELECT = (
    "SELECT device_id, event_id, type, time, job_id, lat, lon, accuracy, received_at "
    "FROM device_events WHERE device_id = %s AND event_id = %s AND applied_at IS NULL "
    "FOR UPDATE SKIP LOCKED"
)


def apply_events(
    conn: psycopg.Connection[Any],
    keys: Sequence[tuple[str, str]],
    handlers: Sequence[EventSink] | None = None,
) -> int:
    """Apply the given stored events (device_id, event_id) once each; return how many."""
    handlers = event_handlers() if handlers is None else handlers
    if not handlers:
        return 0
    applied = 0
    for device_id, event_id in keys:
        try:
            with conn.transaction():
                row = conn.execute(_SELECT, (device_id, event_id)).fetchone()
                if row is None:
                    continue  # applied already, or another worker holds it
                event = StoredEvent(*row)
                for handler in handlers:
                    handler(conn, device_id, event)
                conn.execute(
                    "UPDATE device_events SET applied_at = now(), apply_error = NULL "
                    "WHERE device_id = %s AND event_id = %s",
                    (device_id, event_id),
                )
                applied += 1
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            log.exception("event handler failed for %s/%s", device_id, event_id)
            _record_error(conn, device_id, event_id, repr(exc))
    return applied


def _record_error(
    conn: psycopg.Connection[Any], device_id: str, event_id: str, error: str
) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE device_events SET apply_error = %s "
            "WHERE device_id = %s AND event_id = %s",
            (error[:1000], device_id, event_id),
        )


def sweep_unapplied(
    conn: psycopg.Connection[Any], handlers: Sequence[EventSink] | None = None
) -> int:
    """Apply events a dead worker left unapplied (older than the grace period)."""
    handlers = event_handlers() if handlers is None else handlers
    if not handlers:
        return 0
    rows = conn.execute(
        "SELECT device_id, event_id FROM device_events WHERE applied_at IS NULL "
        "AND received_at < now() - make_interval(secs => %s) "
        "ORDER BY received_at LIMIT %s",
        (SWEEP_GRACE_S, SWEEP_LIMIT),
    ).fetchall()
    conn.commit()
    return apply_events(conn, [(str(r[0]), str(r[1])) for r in rows], handlers)
