"""Visit derivations: the derive queue, the inputs of a session, versioned results.

The ingest calls :func:`enqueue_touched` in the transaction that stores fixes;
derive workers claim queue rows with ``SKIP LOCKED`` (so any number of them can
run), find the job sessions those fixes fall into, and store a new version of a
session's visits only when what they say changed (:func:`result_digest`) or the
meaning of their inputs did (fence, parameters, clock events, session state,
provisional → final); the newest inputs' digest and count are kept in place in
``visit_derivation_inputs``. A sweep adds sessions never derived, whose clock state
or site fence (the property's ``fence_version``, bumped by a fence edit) changed
since, or closed sessions whose late data has settled and whose record is not final.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import numpy as np
import pandas as pd
import psycopg

from core.fixes import fix_arrays
from core.geofence import Geofence
from core.reconcile import ClockEvent

# Fixes this long before clock-in and after clock-out still count: arrival often
# precedes the clock-in (or follows it, when the technician clocks in en route).
SESSION_MARGIN = dt.timedelta(hours=2)
# A closed session's record is final once this long has passed since clock-out and
# since its fixes last changed (settings: CREWTRACK_DERIVE_SETTLE_S).
SETTLE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class SessionInputs:
    """Everything a derivation of one session depends on."""

    session_id: UUID
    job_id: UUID
    device_id: str | None
    state: str
    clocked_in_at: dt.datetime
    clocked_out_at: dt.datetime | None
    intervals: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    fence: Geofence | None
    window_start: dt.datetime
    window_end: dt.datetime
    fence_version: int = 0  # the property's, bumped by every fence edit
    clock_digest: str = ""  # of the clock events (late ones change them)


def clock_events(evidence: list[dict[str, Any]]) -> list[ClockEvent]:
    """The session's clock events as the core reads them (stored evidence JSON)."""
    events: list[ClockEvent] = []
    for raw in evidence:
        kind = raw.get("kind")
        if kind not in ("clock_in", "clock_out", "pause", "resume"):
            continue
        position = raw.get("position") or {}
        events.append(
            ClockEvent(
                kind=kind,
                time=dt.datetime.fromisoformat(raw["at"]),
                lat=position.get("lat"),
                lon=position.get("lon"),
            )
        )
    return events


_QUEUE_COPY = (
    "COPY derive_queue (device_id, from_time, to_time) FROM STDIN (FORMAT BINARY)"
)

TouchedRange = tuple[str, dt.datetime, dt.datetime]


def touched_ranges(rows: Iterable[tuple[str, dt.datetime]]) -> list[TouchedRange]:
    """Collapse stored ``(device_id, fix time)`` pairs to one range per device."""
    spans: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for device, at in rows:
        lo, hi = spans.get(device, (at, at))
        spans[device] = (min(lo, at), max(hi, at))
    return [(d, lo, hi) for d, (lo, hi) in spans.items()]


def enqueue_touched(conn: psycopg.Connection, ranges: Sequence[TouchedRange]) -> None:
    """Queue re-derivation for these device ranges, in the caller's transaction.

    A COPY, not an INSERT per range: the ingest queues one range per device per
    flush, and with 2,000 phones in a flush ``executemany`` cost 19 µs a range,
    more than the fixes' own COPY (binary COPY: 2.6 µs).
    """
    if not ranges:
        return
    with conn.cursor() as cur, cur.copy(_QUEUE_COPY) as copy:
        copy.set_types(["text", "timestamptz", "timestamptz"])
        for row in ranges:
            copy.write_row(row)


async def aenqueue_touched(
    conn: psycopg.AsyncConnection, ranges: Sequence[TouchedRange]
) -> None:
    """Async twin of :func:`enqueue_touched` (the HTTP upload path)."""
    if not ranges:
        return
    async with conn.cursor() as cur, cur.copy(_QUEUE_COPY) as copy:
        copy.set_types(["text", "timestamptz", "timestamptz"])
        for row in ranges:
            await copy.write_row(row)


def claim_touched_sessions(conn: psycopg.Connection, limit: int = 500) -> list[UUID]:
    """Take queued device ranges (deleting them) and return the sessions they touch."""
    rows = conn.execute(
        """
        WITH claimed AS (
            DELETE FROM derive_queue
             WHERE id IN (SELECT id FROM derive_queue ORDER BY id
                           FOR UPDATE SKIP LOCKED LIMIT %s)
            RETURNING device_id, from_time, to_time)
        SELECT DISTINCT s.id
          FROM claimed c
          JOIN job_sessions s
            ON s.device_id = c.device_id
           AND s.clocked_in_at - %s <= c.to_time
           AND (s.clocked_out_at IS NULL OR s.clocked_out_at + %s >= c.from_time)
        """,
        (limit, SESSION_MARGIN, SESSION_MARGIN),
    ).fetchall()
    return [r[0] for r in rows]


def sessions_needing_derivation(
    conn: psycopg.Connection,
    limit: int = 200,
    *,
    now: dt.datetime | None = None,
    settle: dt.timedelta = SETTLE,
) -> list[UUID]:
    """Derivable sessions never derived, whose clock state or site fence changed
    since, or closed ones settled (``settle`` after clock-out and after their
    fixes last changed) whose newest record is still provisional.

    Only sessions that can be derived (a device, and a job site with a usable
    fence) are returned: one that can't would otherwise match forever and
    crowd the others out of ``limit``.
    """
    when = now or dt.datetime.now(dt.UTC)
    rows = conn.execute(
        """
        SELECT s.id FROM job_sessions s
          JOIN jobs j ON j.id = s.job_id
          JOIN properties p ON p.id = j.property_id
          LEFT JOIN LATERAL (
                SELECT session_state, fence_version, clock_digest, status
                  FROM visit_derivations d
                 WHERE d.session_id = s.id ORDER BY version DESC LIMIT 1) last ON true
          LEFT JOIN visit_derivation_inputs inp ON inp.session_id = s.id
         WHERE s.device_id IS NOT NULL
           AND (p.geofence ? 'polygon'
                OR (p.geofence ? 'radius_m' AND p.lat IS NOT NULL AND p.lon IS NOT NULL))
           AND (last.session_state IS NULL OR last.session_state <> s.state
                OR last.fence_version <> p.fence_version
                OR last.clock_digest IS DISTINCT FROM md5(s.evidence::text)
                OR (last.status = 'provisional' AND s.state = 'closed'
                    AND s.clocked_out_at + %s <= %s
                    AND coalesce(inp.inputs_changed_at, s.clocked_out_at) + %s <= %s))
         ORDER BY s.clocked_in_at DESC
         LIMIT %s
        """,
        (settle, when, settle, when, limit),
    ).fetchall()
    return [r[0] for r in rows]


def fence_of(
    prop_lat: float | None, prop_lon: float | None, raw: Any
) -> Geofence | None:
    """The core geofence of a property's stored fence (``radius_m`` or ``polygon``)."""
    if not isinstance(raw, dict):
        return None
    if (
        raw.get("radius_m") is not None
        and prop_lat is not None
        and prop_lon is not None
    ):
        return Geofence.circle(prop_lat, prop_lon, float(raw["radius_m"]))
    if raw.get("polygon"):
        ring = [list(p) for p in raw["polygon"]]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        return Geofence.from_geojson({"type": "Polygon", "coordinates": [ring]})
    return None


def load_session(
    conn: psycopg.Connection, session_id: UUID, now: dt.datetime | None = None
) -> SessionInputs | None:
    row = conn.execute(
        """
        SELECT s.id, s.job_id, s.device_id, s.state, s.clocked_in_at, s.clocked_out_at,
               s.intervals, s.evidence, p.lat, p.lon, p.geofence, p.fence_version,
               md5(s.evidence::text)
          FROM job_sessions s
          JOIN jobs j ON j.id = s.job_id
          LEFT JOIN properties p ON p.id = j.property_id
         WHERE s.id = %s
        """,
        (session_id,),
    ).fetchone()
    if row is None:
        return None
    end = row[5] or (now or dt.datetime.now(dt.UTC))
    return SessionInputs(
        session_id=row[0],
        job_id=row[1],
        device_id=row[2],
        state=row[3],
        clocked_in_at=row[4],
        clocked_out_at=row[5],
        intervals=list(row[6] or []),
        evidence=list(row[7] or []),
        fence=fence_of(row[8], row[9], row[10]),
        window_start=row[4] - SESSION_MARGIN,
        window_end=end + SESSION_MARGIN,
        fence_version=row[11] or 0,
        clock_digest=row[12],
    )


_FIXES_SQL = (
    "SELECT time, lat, lon, accuracy, fix_flags FROM fixes "
    "WHERE device_id = %s AND time >= %s AND time <= %s"
)


def _fix_frame(rows: Sequence[tuple[Any, ...]]) -> pd.DataFrame:
    # fix_flags: core.fixes leaves out fixes their device called not valid
    frame = pd.DataFrame(rows, columns=["time", "lat", "lon", "accuracy", "fix_flags"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["accuracy"] = pd.to_numeric(frame["accuracy"], errors="coerce").astype(float)
    frame["lat"] = frame["lat"].astype(float)
    frame["lon"] = frame["lon"].astype(float)
    return frame


def load_fixes(
    conn: psycopg.Connection, device_id: str, start: dt.datetime, end: dt.datetime
) -> pd.DataFrame:
    """A device's fixes in a time range as the DataFrame ``core.visits`` takes."""
    with conn.cursor(binary=True) as cur:
        cur.execute(_FIXES_SQL, (device_id, start, end))
        return _fix_frame(cur.fetchall())


async def aload_fixes(
    conn: psycopg.AsyncConnection[Any],
    device_ids: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
) -> pd.DataFrame:
    """:func:`load_fixes` of several devices (a person's phones), on an async
    connection: one frame, as ``core.visits`` takes it."""
    async with conn.cursor(binary=True) as cur:
        await cur.execute(
            "SELECT time, lat, lon, accuracy FROM fixes "
            "WHERE device_id = ANY(%s) AND time >= %s AND time <= %s",
            (list(device_ids), start, end),
        )
        return _fix_frame(await cur.fetchall())


async def atechnician_devices(
    conn: psycopg.AsyncConnection[Any], technician_id: str
) -> tuple[str, list[str]] | None:
    """A technician's name and every device of their user (revoked ones too: their
    stored fixes are still evidence); None for no such technician."""
    cur = await conn.execute(
        "SELECT t.name, coalesce(array_agg(d.id ORDER BY d.id) "
        "FILTER (WHERE d.id IS NOT NULL), '{}') "
        "FROM technicians t LEFT JOIN devices d ON d.user_id = t.user_id "
        "WHERE t.id = %s GROUP BY t.name",
        (technician_id,),
    )
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), list(row[1]))


def input_digest(points: pd.DataFrame) -> str:
    """sha256 of the canonical fixes (sorted, de-duplicated): order-independent."""
    fx = fix_arrays(points)
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(fx.t_ns, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(np.round(fx.lat, 7), dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(np.round(fx.lon, 7), dtype="<f8").tobytes())
    acc = np.where(np.isnan(fx.accuracy), -1.0, np.round(fx.accuracy, 2))
    h.update(np.ascontiguousarray(acc, dtype="<f8").tobytes())
    return "fx1-" + h.hexdigest()


@dataclass(frozen=True)
class Derivation:
    session_id: UUID
    version: int
    params_digest: str
    params: dict[str, Any]
    fence_digest: str
    fence: dict[str, Any]
    input_digest: str
    fix_count: int
    window_start: dt.datetime
    window_end: dt.datetime
    session_state: str
    visits: list[dict[str, Any]]
    reconciliation: dict[str, Any]
    fence_version: int = 0  # the property's fence version the fence came from
    clock_digest: str | None = None  # the session's clock events it reconciled with
    status: str = "provisional"  # or "final": closed and late data settled
    result_digest: str | None = None  # of what the record says (result_digest)


_DERIVATION_COLUMNS = """session_id, version, params_digest, params, fence_digest, fence,
    input_digest, fix_count, window_start, window_end, session_state, visits,
    reconciliation, fence_version, clock_digest, status, result_digest"""

#: Per-visit figures that move with every fix while nothing derived changes: they
#: describe the input (kept in ``visit_derivation_inputs``), not the result.
_INPUT_FIGURES = frozenset(
    {"fix_count", "usable_fix_count", "ignored_fix_count", "gap_s", "longest_gap_s"}
)


def result_digest(visits: list[dict[str, Any]], reconciliation: dict[str, Any]) -> str:
    """sha256 of what a record says: visits, windows, evidence edges, flags, the
    reconciliation — without the fix counts and gap figures of the evidence."""
    meaning = []
    for v in visits:
        ev = {
            k: x
            for k, x in (v.get("evidence") or {}).items()
            if k not in _INPUT_FIGURES
        }
        meaning.append({**v, "evidence": ev})
    blob = json.dumps(
        {"visits": meaning, "reconciliation": reconciliation},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "rs1-" + hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class LatestInputs:
    """The inputs a session was last derived from, and the version they gave."""

    session_id: UUID
    version: int
    input_digest: str
    fix_count: int
    params_digest: str
    fence_digest: str
    fence_version: int
    clock_digest: str | None
    session_state: str
    inputs_changed_at: dt.datetime
    checked_at: dt.datetime

    def key(self) -> tuple[object, ...]:
        """What a re-derivation depends on (compare with the same of new inputs)."""
        return (
            self.input_digest,
            self.params_digest,
            self.fence_digest,
            self.fence_version,
            self.clock_digest,
            self.session_state,
        )


_INPUTS_COLUMNS = """session_id, version, input_digest, fix_count, params_digest,
    fence_digest, fence_version, clock_digest, session_state, inputs_changed_at,
    checked_at"""


def latest_inputs(conn: psycopg.Connection, session_id: UUID) -> LatestInputs | None:
    row = conn.execute(
        f"SELECT {_INPUTS_COLUMNS} FROM visit_derivation_inputs WHERE session_id = %s",
        (session_id,),
    ).fetchone()
    return None if row is None else LatestInputs(*row)


async def alatest_inputs(
    conn: psycopg.AsyncConnection, session_id: str
) -> LatestInputs | None:
    cur = await conn.execute(
        f"SELECT {_INPUTS_COLUMNS} FROM visit_derivation_inputs WHERE session_id = %s",
        (session_id,),
    )
    row = await cur.fetchone()
    return None if row is None else LatestInputs(*row)


def store_inputs(conn: psycopg.Connection, i: LatestInputs) -> None:
    """Record (in place) the inputs a session was just derived from."""
    conn.execute(
        f"""INSERT INTO visit_derivation_inputs ({_INPUTS_COLUMNS})
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (session_id) DO UPDATE SET
              version = EXCLUDED.version, input_digest = EXCLUDED.input_digest,
              fix_count = EXCLUDED.fix_count, params_digest = EXCLUDED.params_digest,
              fence_digest = EXCLUDED.fence_digest,
              fence_version = EXCLUDED.fence_version,
              clock_digest = EXCLUDED.clock_digest,
              session_state = EXCLUDED.session_state,
              inputs_changed_at = EXCLUDED.inputs_changed_at,
              checked_at = EXCLUDED.checked_at""",
        (
            i.session_id,
            i.version,
            i.input_digest,
            i.fix_count,
            i.params_digest,
            i.fence_digest,
            i.fence_version,
            i.clock_digest,
            i.session_state,
            i.inputs_changed_at,
            i.checked_at,
        ),
    )


_LATEST_SQL = (
    f"SELECT {_DERIVATION_COLUMNS} FROM visit_derivations WHERE session_id = %s "
    "ORDER BY version DESC LIMIT 1"
)
_VERSION_SQL = (
    f"SELECT {_DERIVATION_COLUMNS} FROM visit_derivations "
    "WHERE session_id = %s AND version = %s"
)
_HISTORY_SQL = (
    f"SELECT {_DERIVATION_COLUMNS} FROM visit_derivations WHERE session_id = %s "
    "ORDER BY version"
)


def latest_derivation(conn: psycopg.Connection, session_id: UUID) -> Derivation | None:
    row = conn.execute(_LATEST_SQL, (session_id,)).fetchone()
    return None if row is None else Derivation(*row)


async def aderivation(
    conn: psycopg.AsyncConnection, session_id: str, version: int | None = None
) -> Derivation | None:
    """One version of a session's visits (the newest when ``version`` is None)."""
    if version is None:
        cur = await conn.execute(_LATEST_SQL, (session_id,))
    else:
        cur = await conn.execute(_VERSION_SQL, (session_id, version))
    row = await cur.fetchone()
    return None if row is None else Derivation(*row)


async def aversions(
    conn: psycopg.AsyncConnection, session_id: str
) -> list[dict[str, Any]]:
    """Every version of a session's visits: number, time, input digest, status."""
    cur = await conn.execute(
        "SELECT version, derived_at, input_digest, fix_count, session_state, status "
        "FROM visit_derivations WHERE session_id = %s ORDER BY version",
        (session_id,),
    )
    return [
        {
            "version": r[0],
            "derived_at": r[1],
            "input_digest": r[2],
            "fix_count": r[3],
            "session_state": r[4],
            "status": r[5],
        }
        for r in await cur.fetchall()
    ]


def store_derivation(conn: psycopg.Connection, d: Derivation) -> None:
    conn.execute(
        """INSERT INTO visit_derivations
               (session_id, version, params_digest, params, fence_digest, fence,
                input_digest, fix_count, window_start, window_end, session_state,
                visits, reconciliation, fence_version, clock_digest, status,
                result_digest)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                   %s)""",
        (
            d.session_id,
            d.version,
            d.params_digest,
            json.dumps(d.params),
            d.fence_digest,
            json.dumps(d.fence),
            d.input_digest,
            d.fix_count,
            d.window_start,
            d.window_end,
            d.session_state,
            json.dumps(d.visits),
            json.dumps(d.reconciliation),
            d.fence_version,
            d.clock_digest,
            d.status,
            d.result_digest,
        ),
    )


def derivation_history(
    conn: psycopg.Connection, session_id: UUID
) -> Sequence[Derivation]:
    rows = conn.execute(_HISTORY_SQL, (session_id,)).fetchall()
    return [Derivation(*r) for r in rows]


# What the tracking API serves of a stored fix (not the ingest's COPY columns,
# storage.fixes.FIX_COLUMNS: no device id, which the request names).
SERVED_FIX_COLUMNS = (
    "time",
    "lat",
    "lon",
    "accuracy",
    "altitude",
    "speed",
    "heading",
    "battery",
    "source",
    "mock",
    "received_at",
)


async def adevice_fixes(
    conn: psycopg.AsyncConnection,
    device_id: str,
    start: dt.datetime,
    end: dt.datetime,
    limit: int,
) -> list[dict[str, Any]]:
    """A device's stored fixes in ``[start, end]``, oldest first, at most ``limit``."""
    cur = await conn.execute(
        f"SELECT {', '.join(SERVED_FIX_COLUMNS)} FROM fixes "
        "WHERE device_id = %s AND time >= %s AND time <= %s ORDER BY time LIMIT %s",
        (device_id, start, end, limit),
    )
    return [
        dict(zip(SERVED_FIX_COLUMNS, row, strict=True)) for row in await cur.fetchall()
    ]


async def adevice_exists(conn: psycopg.AsyncConnection, device_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM devices WHERE id = %s", (device_id,))
    return await cur.fetchone() is not None
