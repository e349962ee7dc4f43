"""Write what the ingest accepted: fixes, message provenance, rejections, events.

One call, one transaction. Fixes and provenance are COPYed (binary) straight
into their tables; if that hits a unique violation (a redelivered message, or
a phone resending a backlog) the transaction is rolled back and redone with
the same rows going through a temp table and ``INSERT … ON CONFLICT DO
NOTHING`` (no savepoint on the common path: two round trips fewer a flush). Redeliveries are rare, so the fast path is the common one:
``bench/ingest.py`` measures direct COPY at ~2× the temp-table path.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import psycopg
from psycopg import errors

from storage.visits import TouchedRange, aenqueue_touched, enqueue_touched

if TYPE_CHECKING:
    from ingest.pipeline import Processed

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_REJECTED_PAYLOAD_BYTES = (
    4096  # a bounded copy: enough to diagnose, not to store abuse
)

FIX_COLUMNS = (
    "time",
    "device_id",
    "lat",
    "lon",
    "accuracy",
    "altitude",
    "speed",
    "heading",
    "battery",
    "source",
    "mock",
    "ping",
    "received_at",
    "message_sha256",
)
FIX_TYPES = (
    "timestamptz",
    "text",
    "float8",
    "float8",
    "float4",
    "float4",
    "float4",
    "float4",
    "float4",
    "text",
    "bool",
    "bool",
    "timestamptz",
    "bytea",
)
MESSAGE_COLUMNS = (
    "device_id",
    "payload_sha256",
    "received_at",
    "topic",
    "protocol",
    "kind",
    "fix_count",
    "rejected_count",
    "payload_size",
)
MESSAGE_TYPES = (
    "text",
    "bytea",
    "timestamptz",
    "text",
    "text",
    "text",
    "int4",
    "int4",
    "int4",
)


def ms_to_datetime(ms: int) -> datetime:
    """Exact conversion (no float rounding) of epoch ms to an aware datetime."""
    return EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(dt: datetime) -> int:
    return (dt - EPOCH) // timedelta(milliseconds=1)


@dataclass
class StoreResult:
    """What a batch wrote: rows built, new events (for the handlers), fallback used."""

    fixes: int = 0
    messages: int = 0
    rejected: int = 0
    new_events: list[tuple[str, str]] = field(default_factory=list)
    fallback: bool = False
    steps: dict[str, float] = field(default_factory=dict)


class Rows(NamedTuple):
    """The rows one batch writes, each de-duplicated (first wins)."""

    fixes: list[tuple[Any, ...]]
    messages: list[tuple[Any, ...]]
    # (device_id, earliest, latest fix time) per device: the derive queue's input
    touched: list[TouchedRange]


def build_rows(batch: Sequence[Processed]) -> Rows:
    """Fix rows, provenance rows and touched device ranges for a batch, in one pass."""
    fix_rows: list[tuple[Any, ...]] = []
    msg_rows: list[tuple[Any, ...]] = []
    seen_fix: set[tuple[str, int]] = set()
    seen_msg: set[tuple[str, bytes]] = set()
    spans: dict[str, list[int]] = {}
    delta = timedelta
    for p in batch:
        if not (p.fixes or p.events or p.status):
            continue
        msg = p.message
        received = EPOCH + delta(milliseconds=msg.received_ms)
        sha = p.sha256
        key = (p.device_id or "", sha)
        if key not in seen_msg:
            seen_msg.add(key)
            msg_rows.append(
                (
                    key[0],
                    sha,
                    received,
                    msg.topic,
                    p.protocol,
                    p.kind,
                    p.carried,
                    len(p.rejections),
                    len(msg.payload),
                )
            )
        lo = hi = -1
        for f in p.fixes:
            t = f.t_ms
            fkey = (f.device_id, t)
            if fkey in seen_fix:
                continue
            seen_fix.add(fkey)
            fix_rows.append(
                (
                    EPOCH + delta(milliseconds=t),
                    f.device_id,
                    f.lat,
                    f.lon,
                    f.acc,
                    f.alt,
                    f.spd,
                    f.hdg,
                    f.bat,
                    f.src,
                    f.mock,
                    f.ping,
                    received,
                    sha,
                )
            )
            if lo < 0 or t < lo:
                lo = t
            if t > hi:
                hi = t
        if hi >= 0:
            # a message's fixes all belong to its device (decoders check the topic)
            dev = p.fixes[0].device_id
            span = spans.get(dev)
            if span is None:
                spans[dev] = [lo, hi]
            else:
                span[0] = min(span[0], lo)
                span[1] = max(span[1], hi)
    touched = [
        (dev, EPOCH + delta(milliseconds=lo), EPOCH + delta(milliseconds=hi))
        for dev, (lo, hi) in spans.items()
    ]
    return Rows(fix_rows, msg_rows, touched)


def _copy(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    with cur.copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def _ensure_stage(cur: psycopg.Cursor[Any]) -> None:
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS fixes_stage "
        "(LIKE fixes INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS ingest_messages_stage "
        "(LIKE ingest_messages INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )


def write_fixes(
    conn: psycopg.Connection[Any],
    fix_rows: Sequence[Sequence[Any]],
    msg_rows: Sequence[Sequence[Any]],
    *,
    fallback: bool | None = None,
) -> bool:
    """COPY fixes and provenance, idempotently; True if the fallback path was used.

    Must run inside a transaction. ``fallback=None`` tries the direct COPY in
    a savepoint and falls back on a duplicate; ``False`` COPYs directly (a
    duplicate raises ``UniqueViolation`` and the caller redoes the whole
    transaction with ``True``: two round trips fewer per flush); ``True`` goes
    through the temp tables and ``INSERT … ON CONFLICT DO NOTHING``.
    """
    with conn.cursor() as cur:
        if fallback is False:
            _copy_direct(cur, fix_rows, msg_rows)
            return False
        if fallback is None:
            try:
                with conn.transaction():
                    _copy_direct(cur, fix_rows, msg_rows)
                return False
            except errors.UniqueViolation:
                pass
        _ensure_stage(cur)
        cols = ", ".join(FIX_COLUMNS)
        if fix_rows:
            _copy(cur, "fixes_stage", FIX_COLUMNS, FIX_TYPES, fix_rows)
            cur.execute(
                f"INSERT INTO fixes ({cols}) SELECT {cols} FROM fixes_stage "
                "ON CONFLICT DO NOTHING"
            )
        mcols = ", ".join(MESSAGE_COLUMNS)
        if msg_rows:
            _copy(
                cur, "ingest_messages_stage", MESSAGE_COLUMNS, MESSAGE_TYPES, msg_rows
            )
            cur.execute(
                f"INSERT INTO ingest_messages ({mcols}) SELECT {mcols} "
                "FROM ingest_messages_stage ON CONFLICT DO NOTHING"
            )
        return True


def _copy_direct(
    cur: psycopg.Cursor[Any],
    fix_rows: Sequence[Sequence[Any]],
    msg_rows: Sequence[Sequence[Any]],
) -> None:
    if fix_rows:
        _copy(cur, "fixes", FIX_COLUMNS, FIX_TYPES, fix_rows)
    if msg_rows:
        _copy(cur, "ingest_messages", MESSAGE_COLUMNS, MESSAGE_TYPES, msg_rows)


def rejected_rows(batch: Sequence[Processed]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for p in batch:
        if not p.rejections:
            continue
        msg = p.message
        received = ms_to_datetime(msg.received_ms)
        copy = bytes(msg.payload[:MAX_REJECTED_PAYLOAD_BYTES])
        for r in p.rejections:
            rows.append(
                (
                    received,
                    msg.topic[:512],
                    p.device_id,
                    p.protocol,
                    r.reason,
                    r.detail[:500].replace("\x00", ""),
                    r.item,
                    p.sha256,
                    len(msg.payload),
                    copy,
                )
            )
    return rows


def write_rejected(
    conn: psycopg.Connection[Any], rows: Sequence[Sequence[Any]]
) -> None:
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO rejected_messages (received_at, topic, device_id, protocol, "
            "reason, detail, item, payload_sha256, payload_size, payload) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            rows,
        )


def write_events(
    conn: psycopg.Connection[Any], batch: Sequence[Processed]
) -> list[tuple[str, str]]:
    """Insert events idempotently; return (device_id, event_id) of the new ones."""
    rows = [
        (
            e.device_id,
            e.event_id,
            e.type,
            ms_to_datetime(e.t_ms),
            e.job,
            e.lat,
            e.lon,
            e.acc,
            ms_to_datetime(p.message.received_ms),
            p.sha256,
        )
        for p in batch
        for e in p.events
    ]
    if not rows:
        return []
    new: list[tuple[str, str]] = []
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO device_events (device_id, event_id, type, time, job_id, lat, "
            "lon, accuracy, received_at, message_sha256) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING device_id, event_id",
            rows,
            returning=True,
        )
        while True:
            new.extend((str(r[0]), str(r[1])) for r in cur.fetchall())
            if not cur.nextset():
                break
    return new


def store_batch(
    conn: psycopg.Connection[Any],
    batch: Sequence[Processed],
    rows: Rows | None = None,
) -> StoreResult:
    """Steps 4-5 of the pipeline: write everything of ``batch`` and commit.

    ``rows`` may be built beforehand (:func:`build_rows`); the result's
    ``steps`` holds each step's wall seconds (``bench/ingest.py`` prints them).
    """
    clock = time.perf_counter
    t0 = clock()
    if rows is None:
        rows = build_rows(batch)
    rej = rejected_rows(batch)
    t1 = clock()
    try:
        t2, t3, t4, new_events = _store_rows(conn, batch, rows, rej, fallback=False)
        fallback = False
    except errors.UniqueViolation:
        # a redelivery or a resent backlog: the transaction rolled back whole;
        # redo it through the ON CONFLICT path
        t2, t3, t4, new_events = _store_rows(conn, batch, rows, rej, fallback=True)
        fallback = True
    t5 = clock()
    steps = {
        "build": t1 - t0,
        "copy_fixes_messages": t2 - t1,
        "rejected_events": t3 - t2,
        "derive_queue": t4 - t3,
        "commit": t5 - t4,
    }
    return StoreResult(
        len(rows.fixes), len(rows.messages), len(rej), new_events, fallback, steps
    )


def _store_rows(
    conn: psycopg.Connection[Any],
    batch: Sequence[Processed],
    rows: Rows,
    rej: Sequence[Sequence[Any]],
    *,
    fallback: bool,
) -> tuple[float, float, float, list[tuple[str, str]]]:
    """One transaction: fixes, provenance, rejections, events, derive queue."""
    clock = time.perf_counter
    with conn.transaction():
        write_fixes(conn, rows.fixes, rows.messages, fallback=fallback)
        t2 = clock()
        write_rejected(conn, rej)
        new_events = write_events(conn, batch)
        t3 = clock()
        # Same transaction: the fixes and the note that their sessions need
        # re-deriving commit together, so no late fix is ever missed.
        enqueue_touched(conn, rows.touched)
        t4 = clock()
    return t2, t3, t4, new_events


def current_jobs(
    conn: psycopg.Connection[Any], device_ids: Sequence[str]
) -> dict[str, tuple[str, int]]:
    """The job each device is clocked into ('' if none) and when that began or ended (ms).

    Answered from the job sessions, which the jobs module keeps for clock
    events from the app and from devices alike: the newest session of each
    device decides (open: its job since clock-in; closed: none since clock-out).
    """
    if not device_ids:
        return {}
    rows = conn.execute(
        "SELECT DISTINCT ON (device_id) device_id, job_id, state, clocked_in_at, "
        "clocked_out_at FROM job_sessions WHERE device_id = ANY(%s) "
        "ORDER BY device_id, clocked_in_at DESC",
        (list(device_ids),),
    ).fetchall()
    out: dict[str, tuple[str, int]] = {}
    for device, job_id, state, clocked_in, clocked_out in rows:
        if state == "closed":
            out[str(device)] = ("", datetime_to_ms(clocked_out or clocked_in))
        else:
            out[str(device)] = (str(job_id), datetime_to_ms(clocked_in))
    return out


_FIX_INSERT = (
    f"INSERT INTO fixes ({', '.join(FIX_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(FIX_COLUMNS))}) ON CONFLICT DO NOTHING"
)
_MESSAGE_INSERT = (
    f"INSERT INTO ingest_messages ({', '.join(MESSAGE_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(MESSAGE_COLUMNS))}) ON CONFLICT DO NOTHING"
)


async def store_batch_async(
    conn: psycopg.AsyncConnection[Any], batch: Sequence[Processed]
) -> StoreResult:
    """:func:`store_batch` for the HTTP upload path (a few rows per request).

    Uses the same rows and the same idempotent semantics; plain INSERTs are
    fine at one request per phone every few seconds.
    """
    fix_rows, msg_rows, touched = build_rows(batch)
    rej = rejected_rows(batch)
    async with conn.transaction(), conn.cursor() as cur:
        if fix_rows:
            await cur.executemany(_FIX_INSERT, fix_rows)
            await aenqueue_touched(conn, touched)
        if msg_rows:
            await cur.executemany(_MESSAGE_INSERT, msg_rows)
        if rej:
            await cur.executemany(
                "INSERT INTO rejected_messages (received_at, topic, device_id, "
                "protocol, reason, detail, item, payload_sha256, payload_size, "
                "payload) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                rej,
            )
    return StoreResult(len(fix_rows), len(msg_rows), len(rej))
