"""The seam between the ingest and the jobs module: device events after commit.

The ingest stores every clock event in ``device_events`` (idempotent on device +
event id) and, after the commit, hands each new one to the event handlers it was
built with (``IngestService(settings, event_handlers=[...])``; the composition
root passes the jobs module's bridge, ``crewtrack.wiring.JobEventBridge``)::

    def apply_device_event(conn: psycopg.Connection, device_id: str,
                           event: StoredEvent) -> None:
        ...  # start/stop the job session, set the job In Progress

Each event is applied in its own transaction together with setting
``device_events.applied_at``: an event is applied exactly once even when a worker
dies between the commit of the fixes and the handler (the sweep, which the batch
writer runs at start and every ``SWEEP_EVERY_S``, finds it). A handler that
raises leaves ``applied_at`` empty and records ``apply_error``; the sweep retries
it. With no handlers nothing is marked applied, so a jobs module that arrives
later still sees every event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import psycopg

from storage import device_events as store
from storage.device_events import StoredEvent

log = logging.getLogger(__name__)

SWEEP_GRACE_S = (
    30  # the writer applies its own events at once; the sweep only picks up leftovers
)
SWEEP_LIMIT = 500  # events applied per sweep round (one transaction each)


class EventSink(Protocol):
    """What the jobs module plugs in: apply one event inside ``conn``'s transaction."""

    def __call__(
        self, conn: psycopg.Connection[Any], device_id: str, event: StoredEvent
    ) -> None: ...


def apply_events(
    conn: psycopg.Connection[Any],
    keys: Sequence[tuple[str, str]],
    handlers: Sequence[EventSink],
) -> int:
    """Apply the given stored events (device_id, event_id) once each; return how many."""
    if not handlers:
        return 0
    applied = 0
    for device_id, event_id in keys:
        try:
            with conn.transaction():
                event = store.lock_unapplied(conn, device_id, event_id)
                if event is None:
                    continue  # applied already, or another worker holds it
                for handler in handlers:
                    handler(conn, device_id, event)
                store.mark_applied(conn, device_id, event_id)
                applied += 1
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            log.exception("event handler failed for %s/%s", device_id, event_id)
            with conn.transaction():
                store.record_apply_error(conn, device_id, event_id, repr(exc))
    return applied


def sweep_unapplied(
    conn: psycopg.Connection[Any], handlers: Sequence[EventSink]
) -> int:
    """Apply events a dead worker left unapplied (older than the grace period)."""
    if not handlers:
        return 0
    keys = store.unapplied_older_than(conn, SWEEP_GRACE_S, SWEEP_LIMIT)
    conn.commit()
    return apply_events(conn, keys, handlers)
