"""Wiring between adapters that must not import each other.

The ingest stores device clock events and, after its commit, hands each new
one to the event handlers it was built with (``ingest.events``); the jobs
module applies clock events with the same rules as the app's API calls
(``services.device_events.apply_stored_event``). This module joins the two.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import psycopg

from services.device_events import apply_stored_event
from services.sessions import ClockOutcome
from storage.device_events import StoredEvent

log = logging.getLogger("crewtrack.wiring")


class JobEventBridge:
    """Apply stored device events to job sessions (an ingest event handler).

    The ingest's writer calls it on its database thread, inside the event's
    transaction on the writer's synchronous connection. The jobs use cases are
    asynchronous, so the bridge keeps one event loop (an ``asyncio.Runner``)
    and one autocommit async connection for its whole life, reopened only after
    the database was lost; each event is applied in its own transaction there.
    That is safe with the ingest's at-least-once hand-over because applying is
    idempotent on the event id (a replay returns the recorded outcome).
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._lock = threading.Lock()  # one event at a time on the loop
        self._runner: asyncio.Runner | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None

    def __call__(
        self, conn: psycopg.Connection[Any], device_id: str, event: StoredEvent
    ) -> None:
        with self._lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            outcome = self._runner.run(self._apply(event))
        if outcome is None:
            return  # not a clock event
        log.info(
            "device event applied" if outcome.applied else "device event refused",
            extra={
                "device_id": device_id,
                "event_id": event.event_id,
                "kind": event.type,
                "outcome": outcome.code,
            },
        )

    async def _apply(self, event: StoredEvent) -> ClockOutcome | None:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True
            )
        try:
            return await apply_stored_event(self._conn, event)
        except psycopg.OperationalError:
            await self._conn.close()  # reconnect on the next event
            self._conn = None
            raise

    def close(self) -> None:
        """Close the connection and the loop (the ingest has stopped)."""
        with self._lock:
            if self._runner is None:
                return
            if self._conn is not None:
                self._runner.run(self._conn.close())
                self._conn = None
            self._runner.close()
            self._runner = None
