"""``crewtrack derive``: keep every job session's visits up to date.

Each pass claims queued device ranges (written by the ingest with the fixes),
adds sessions whose clock state changed, and re-derives them. A new version is
stored only when the inputs changed, so re-running is harmless, and any number
of workers may run: the queue is claimed with ``SKIP LOCKED`` and each session
is derived under a transaction-scoped advisory lock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import signal
import threading
import time
from typing import Any
from uuid import UUID

import psycopg

from core.reconcile import reconcile
from core.visits import Visit, VisitParams, derive_visits
from crewtrack.settings import Settings
from storage.visits import (
    Derivation,
    SessionInputs,
    claim_touched_sessions,
    clock_events,
    input_digest,
    latest_derivation,
    load_fixes,
    load_session,
    sessions_needing_derivation,
    store_derivation,
)

log = logging.getLogger("crewtrack.derive")

POLL_INTERVAL_S = 1.0  # live map and audit see a new arrival within ~1 s of its fixes
RETRY_INTERVAL_S = 5.0  # after losing the database
# New fixes arrive through the queue every pass; the sweep for new or closed
# sessions scans more, and a clock change may wait this long for its version.
SWEEP_INTERVAL_S = 15.0


def derive_session(
    conn: psycopg.Connection,
    session_id: UUID,
    params: VisitParams | None = None,
    *,
    now: dt.datetime | None = None,
) -> Derivation | None:
    """Re-derive one session; return the new version, or None if nothing changed."""
    params = params or VisitParams()
    with conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s::text, 7))", (session_id,)
        )
        inputs = load_session(conn, session_id, now)
        if inputs is None or inputs.device_id is None or inputs.fence is None:
            return None
        points = load_fixes(
            conn, inputs.device_id, inputs.window_start, inputs.window_end
        )
        digest = input_digest(points)
        fence = inputs.fence
        last = latest_derivation(conn, session_id)
        unchanged = last is not None and (
            last.input_digest,
            last.params_digest,
            last.fence_digest,
            last.session_state,
            last.fence_version,
            last.clock_digest,
        ) == (
            digest,
            params.digest(),
            fence.digest,
            inputs.state,
            inputs.fence_version,
            inputs.clock_digest,
        )
        if unchanged:
            return None
        visits = derive_visits(points, fence, params)
        derivation = Derivation(
            session_id=session_id,
            version=1 if last is None else last.version + 1,
            params_digest=params.digest(),
            params=dataclasses.asdict(params),
            fence_digest=fence.digest,
            fence=fence.to_geojson(),
            input_digest=digest,
            fix_count=len(points),
            window_start=inputs.window_start,
            window_end=inputs.window_end,
            session_state=inputs.state,
            visits=[v.to_dict() for v in visits],
            reconciliation=_reconciliation(inputs, visits),
            fence_version=inputs.fence_version,
            clock_digest=inputs.clock_digest,
        )
        store_derivation(conn, derivation)
        return derivation


def _reconciliation(inputs: SessionInputs, visits: list[Visit]) -> dict[str, Any]:
    # ``now`` stays unset: an open session is judged up to its latest known
    # event, so the stored figure is a pure function of the stored inputs.
    result = reconcile(clock_events(inputs.evidence), visits, fence=inputs.fence)
    return result.to_dict()


def derive_pending(
    conn: psycopg.Connection,
    params: VisitParams | None = None,
    *,
    sweep: bool = True,
) -> int:
    """One pass: derive every touched (and, with ``sweep``, every changed) session.

    Returns the number of versions stored.
    """
    with conn.transaction():
        touched = set(claim_touched_sessions(conn))
    if sweep:
        touched.update(sessions_needing_derivation(conn))
    stored = 0
    for session_id in sorted(touched, key=str):
        try:
            if derive_session(conn, session_id, params) is not None:
                stored += 1
        except (ValueError, psycopg.DataError) as exc:
            # A malformed fence or input must not stall every other session.
            log.error("cannot derive session %s: %s", session_id, exc)
    return stored


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    """Derive forever (until SIGTERM/SIGINT or ``stop``)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    log.info("derive worker started")
    while not stop.is_set():
        try:
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                last_sweep = 0.0
                while not stop.is_set():
                    sweep = time.monotonic() - last_sweep >= SWEEP_INTERVAL_S
                    if sweep:
                        last_sweep = time.monotonic()
                    stored = derive_pending(conn, sweep=sweep)
                    if stored:
                        log.info("derived sessions", extra={"versions": stored})
                    stop.wait(POLL_INTERVAL_S)
        except psycopg.OperationalError as exc:
            log.warning("derive lost the database (%s); retrying", exc)
            stop.wait(RETRY_INTERVAL_S)
    log.info("derive worker stopped")
