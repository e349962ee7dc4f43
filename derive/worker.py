"""``crewtrack derive``: keep every job session's visits up to date.

Each pass claims queued device ranges (written by the ingest with the fixes),
adds sessions whose clock state changed or whose late data has settled, and
re-derives them. A new version is stored only when what the record says or the
meaning of its inputs changed (one more fix on site with nothing derived moving
updates the "latest inputs" row in place), so re-running is harmless, and any number
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
    SETTLE,
    Derivation,
    LatestInputs,
    SessionInputs,
    claim_touched_sessions,
    clock_events,
    input_digest,
    latest_derivation,
    latest_inputs,
    load_fixes,
    load_session,
    result_digest,
    sessions_needing_derivation,
    store_derivation,
    store_inputs,
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
    settle: dt.timedelta = SETTLE,
) -> Derivation | None:
    """Re-derive one session; return the new version, or None if nothing changed.

    A version is stored when the record would say something new (its
    :func:`~storage.visits.result_digest`), when the meaning of its inputs changed
    (parameters, fence, fence version, clock events, session state), or when it
    turns final: the session is closed and ``settle`` has passed both since the
    clock-out and since its fixes last changed. Fixes that move only the input
    digest update the session's latest-inputs row in place.
    """
    params = params or VisitParams()
    when = now or dt.datetime.now(dt.UTC)
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
        fence = inputs.fence
        seen = LatestInputs(
            session_id=session_id,
            version=0,
            input_digest=input_digest(points),
            fix_count=len(points),
            params_digest=params.digest(),
            fence_digest=fence.digest,
            fence_version=inputs.fence_version,
            clock_digest=inputs.clock_digest,
            session_state=inputs.state,
            inputs_changed_at=when,
            checked_at=when,
        )
        before = latest_inputs(conn, session_id)
        if before is not None and before.input_digest == seen.input_digest:
            seen = dataclasses.replace(seen, inputs_changed_at=before.inputs_changed_at)
        status = _status(inputs, seen.inputs_changed_at, when, settle)
        last = latest_derivation(conn, session_id)
        if (
            last is not None
            and before is not None
            and before.key() == seen.key()
            and before.version == last.version
            and last.status == status
        ):
            return None
        visits = derive_visits(points, fence, params)
        visit_dicts = [v.to_dict() for v in visits]
        reconciliation = _reconciliation(inputs, visits)
        result = result_digest(visit_dicts, reconciliation)
        same_meaning = last is not None and (
            last.result_digest,
            last.params_digest,
            last.fence_digest,
            last.fence_version,
            last.clock_digest,
            last.session_state,
            last.status,
        ) == (
            result,
            seen.params_digest,
            seen.fence_digest,
            seen.fence_version,
            seen.clock_digest,
            seen.session_state,
            status,
        )
        if same_meaning and last is not None:
            store_inputs(conn, dataclasses.replace(seen, version=last.version))
            return None
        derivation = Derivation(
            session_id=session_id,
            version=1 if last is None else last.version + 1,
            params_digest=seen.params_digest,
            params=dataclasses.asdict(params),
            fence_digest=fence.digest,
            fence=fence.to_geojson(),
            input_digest=seen.input_digest,
            fix_count=seen.fix_count,
            window_start=inputs.window_start,
            window_end=inputs.window_end,
            session_state=inputs.state,
            visits=visit_dicts,
            reconciliation=reconciliation,
            fence_version=inputs.fence_version,
            clock_digest=inputs.clock_digest,
            status=status,
            result_digest=result,
        )
        store_derivation(conn, derivation)
        store_inputs(conn, dataclasses.replace(seen, version=derivation.version))
        return derivation


def _status(
    inputs: SessionInputs,
    inputs_changed_at: dt.datetime,
    now: dt.datetime,
    settle: dt.timedelta,
) -> str:
    """``final`` once the session is closed and late data has settled."""
    out = inputs.clocked_out_at
    if inputs.state != "closed" or out is None:
        return "provisional"
    settled = now >= out + settle and now >= inputs_changed_at + settle
    return "final" if settled else "provisional"


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
    now: dt.datetime | None = None,
    settle: dt.timedelta = SETTLE,
) -> int:
    """One pass: derive every touched (and, with ``sweep``, every changed) session.

    Returns the number of versions stored.
    """
    with conn.transaction():
        touched = set(claim_touched_sessions(conn))
    if sweep:
        touched.update(sessions_needing_derivation(conn, now=now, settle=settle))
    stored = 0
    for session_id in sorted(touched, key=str):
        try:
            stored_version = derive_session(
                conn, session_id, params, now=now, settle=settle
            )
            if stored_version is not None:
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
                    stored = derive_pending(
                        conn,
                        sweep=sweep,
                        settle=dt.timedelta(seconds=settings.derive_settle_s),
                    )
                    if stored:
                        log.info("derived sessions", extra={"versions": stored})
                    stop.wait(POLL_INTERVAL_S)
        except psycopg.OperationalError as exc:
            log.warning("derive lost the database (%s); retrying", exc)
            stop.wait(RETRY_INTERVAL_S)
    log.info("derive worker stopped")
