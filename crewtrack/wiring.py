"""Wiring between adapters that must not import each other.

The ingest stores device clock events and, after its commit, hands each new
one to registered handlers (``ingest.events``); the jobs module applies clock
events with the same rules as the app's API calls
(``storage.job_sessions.apply_device_event``). This module joins the two.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import psycopg

from ingest.events import StoredEvent, register_event_handler
from jobs_domain.errors import InvalidInput
from jobs_domain.sessions import DeviceEvent, Position, SessionKind
from services.sessions import ClockOutcome, apply_device_event

log = logging.getLogger("crewtrack.wiring")

CLOCK_KINDS = {k.value for k in SessionKind}


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


@dataclass(frozen=True)
class JobEventBridge:
    """Apply stored device events to job sessions.

    The jobs storage is asynchronous, so each event is applied on its own async
    connection in its own transaction. That is safe with the ingest's
    at-least-once hand-over because ``apply_device_event`` is idempotent on the
    event id (a replay returns the recorded outcome).
    """

    dsn: str

    def __call__(
        self, conn: psycopg.Connection[Any], device_id: str, event: StoredEvent
    ) -> None:
        device_event = to_device_event(event)
        if device_event is None:
            return
        outcome = asyncio.run(self._apply(device_id, device_event))
        log.info(
            "device event applied" if outcome.applied else "device event refused",
            extra={
                "device_id": device_id,
                "event_id": event.event_id,
                "kind": event.type,
                "outcome": outcome.code,
            },
        )

    async def _apply(self, device_id: str, event: DeviceEvent) -> ClockOutcome:
        async with await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True
        ) as aconn:
            return await apply_device_event(aconn, device_id, event)


def wire_ingest(dsn: str) -> None:
    """Register the jobs module's handler for device events (the ingest process)."""
    register_event_handler(JobEventBridge(dsn))
