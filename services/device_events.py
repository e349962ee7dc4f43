"""Device events the ingest stored, applied with the app's rules.

The ingest hands each new stored event over after its commit
(:mod:`ingest.events`); :func:`apply_stored_event` reads a clock event as the
jobs module's :class:`~jobs_domain.sessions.DeviceEvent` and applies it exactly
as a clock event sent to the API would be (``apply_device_event``, idempotent on
the event id, so the ingest's at-least-once hand-over is safe), and raises an
alarm (SOS) as the dispatcher's alert (``services.alarms``, idempotent too).
"""

from __future__ import annotations

from typing import Any

import psycopg

from jobs_domain.errors import InvalidInput
from jobs_domain.sessions import DeviceEvent, Position, SessionKind
from services.alarms import raise_alarm
from services.sessions import ClockOutcome, apply_device_event
from storage.device_events import StoredEvent

CLOCK_KINDS = frozenset(k.value for k in SessionKind)


def to_device_event(event: StoredEvent) -> DeviceEvent | None:
    """The jobs module's view of a stored event; None for non-clock events."""
    if event.type not in CLOCK_KINDS:
        return None
    position = None
    if event.lat is not None and event.lon is not None:
        try:
            position = Position(event.lat, event.lon, event.accuracy)
        except InvalidInput:
            position = None  # the clock event still counts; only its position is bad
    return DeviceEvent(
        event_id=event.event_id,
        kind=SessionKind(event.type),
        at=event.time,
        job_id=event.job_id or None,
        position=position,
    )


async def apply_stored_event(
    conn: psycopg.AsyncConnection[Any], event: StoredEvent
) -> ClockOutcome | None:
    """Apply a stored clock event; raise a stored alarm's alert (None: not a
    clock event)."""
    device_event = to_device_event(event)
    if device_event is None:
        await raise_alarm(conn, event)
        return None
    return await apply_device_event(conn, event.device_id, device_event)
