"""Write what the ingest accepted: fixes, message provenance, rejections, events.

One call, one transaction. Each message's fix and provenance rows are encoded
in PostgreSQL's binary COPY format as the message arrives
(:func:`encode_message`), and a flush streams them straight into their tables;
if that hits a unique violation (a redelivered message, or a phone resending a
backlog) the transaction is rolled back and redone with the same bytes going
through temp tables and ``INSERT … ON CONFLICT DO NOTHING`` (no savepoint on
the common path: two round trips fewer a flush). Redeliveries are rare, so the
fast path is the common one.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import psycopg
from psycopg import errors

from storage.device_events import StoredEvent
from storage.visits import TouchedRange, aenqueue_touched, enqueue_touched

if TYPE_CHECKING:
    from core.messages import Processed

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
    "fix_flags",
    "received_at",
    "message_sha256",
)
# The PostgreSQL type of each of FIX_COLUMNS, as encode_message writes them
# (bench/ingest.py copies the same rows through psycopg with these).
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
    "text",
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


# --- rows in PostgreSQL's binary COPY format ------------------------------
# The ingest writes every fix it accepts, ~100,000 a second on two cores, so
# its rows are encoded here straight into the binary COPY format (one
# ``struct`` pack per fix) as each message arrives, instead of a tuple of
# Python values per row that psycopg encodes again inside the flush: no
# ``datetime`` per fix, one object per row for the garbage collector instead
# of ~16, and the database thread only streams bytes. The encoding is checked
# against psycopg's own in tests/integration/ingest/test_fix_rows.py.

PG_EPOCH_MS = 946_684_800_000  # 2000-01-01 UTC, PostgreSQL's timestamp epoch
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no extension
COPY_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"  # field length -1
_I32 = struct.Struct("!i").pack
_TIMESTAMP = struct.Struct("!iq").pack  # length 8, µs since PG_EPOCH
_ROW_HEAD = struct.Struct("!hiq").pack  # field count, then the timestamp
_LAT_LON = struct.Struct("!idid").pack
_LAT_LON_ACC = struct.Struct("!ididif").pack
_FLOAT4 = struct.Struct("!if").pack
_MESSAGE_COUNTS = struct.Struct("!iiiiii").pack
_SHA_FIELD = _I32(32)  # a sha256 is 32 bytes
_BOOL = {None: _NULL, False: b"\x00\x00\x00\x01\x00", True: b"\x00\x00\x00\x01\x01"}
_N_FIX_FIELDS = len(FIX_COLUMNS)


def _text(value: str) -> bytes:
    data = value.encode()
    return _I32(len(data)) + data


def _float4(value: float | None) -> bytes:
    return _NULL if value is None else _FLOAT4(4, value)


def _timestamp(ms: int) -> bytes:
    return _TIMESTAMP(8, (ms - PG_EPOCH_MS) * 1000)


_SOURCE: dict[str | None, bytes] = {None: _NULL}


class EncodedMessage(NamedTuple):
    """One processed message's rows, ready to stream (see :func:`encode_message`)."""

    key: tuple[str, bytes]  # (device_id, payload sha256): the provenance row's key
    message_row: bytes  # the ingest_messages row; empty when nothing is kept
    fix_rows: bytes
    fixes: int
    span: tuple[str, int, int] | None  # (device, earliest, latest fix time ms)


def encode_message(p: Processed) -> EncodedMessage:
    """The provenance row and fix rows of one message (fixes de-duplicated by time).

    Raises ``ValueError`` / ``struct.error`` / ``UnicodeError`` only for values
    validation should have refused; the ingest turns that into a rejection.
    """
    key = (p.device_id or "", p.sha256)
    if not (p.fixes or p.events or p.status):
        return EncodedMessage(key, b"", b"", 0, None)
    msg = p.message
    received = _timestamp(msg.received_ms)
    message_row = b"".join(
        (
            b"\x00\x09",
            _text(key[0]),
            _SHA_FIELD,
            p.sha256,
            received,
            _text(msg.topic),
            _text(p.protocol),
            _text(p.kind),
            _MESSAGE_COUNTS(4, p.carried, 4, len(p.rejections), 4, len(msg.payload)),
        )
    )
    if not p.fixes:
        return EncodedMessage(key, message_row, b"", 0, None)
    tail = received + _SHA_FIELD + p.sha256  # received_at, message_sha256
    rows: list[bytes] = []
    add = rows.append
    seen: set[tuple[str, int]] = set()
    dedup = len(p.fixes) > 1
    devices: dict[str, bytes] = {}
    lo = hi = p.fixes[0].t_ms
    no_extras = _NULL * 4
    sources, bools = _SOURCE, _BOOL
    for dev, t, lat, lon, acc, alt, spd, hdg, bat, src, mock, ping, fl in p.fixes:
        if dedup:
            k = (dev, t)
            if k in seen:
                continue
            seen.add(k)
        dev_field = devices.get(dev)
        if dev_field is None:
            dev_field = devices[dev] = _text(dev)
        if alt is None and spd is None and hdg is None and bat is None:
            # what phones send most: position and accuracy only
            if acc is None:
                body = _LAT_LON(8, lat, 8, lon) + _NULL + no_extras
            else:
                body = _LAT_LON_ACC(8, lat, 8, lon, 4, acc) + no_extras
        else:
            body = b"".join(
                (
                    _LAT_LON(8, lat, 8, lon),
                    _float4(acc),
                    _float4(alt),
                    _float4(spd),
                    _float4(hdg),
                    _float4(bat),
                )
            )
        source = sources.get(src)
        if source is None:
            source = sources[src] = _text(src)  # type: ignore[arg-type]
        add(
            _ROW_HEAD(_N_FIX_FIELDS, 8, (t - PG_EPOCH_MS) * 1000)
            + dev_field
            + body
            + source
            + bools[mock]
            + bools[ping]
            + (_NULL if fl is None else _text(fl))
            + tail
        )
        if t < lo:
            lo = t
        elif t > hi:
            hi = t
    # a message's fixes all belong to its device (decoders check the topic)
    span = (p.fixes[0].device_id, lo, hi)
    return EncodedMessage(key, message_row, b"".join(rows), len(rows), span)


class Rows(NamedTuple):
    """What one batch writes, in binary COPY format (header and trailer added on write)."""

    fixes: bytes
    n_fixes: int
    messages: bytes
    n_messages: int
    # (device_id, earliest, latest fix time) per device: the derive queue's input
    touched: list[TouchedRange]


def batch_rows(encoded: Iterable[EncodedMessage]) -> Rows:
    """Join a batch's encoded messages; provenance de-duplicated (first wins).

    Two copies of one message (a redelivery that arrives while the first is
    still pending) both carry their fixes: the direct COPY then meets a
    unique violation and the batch goes through ``ON CONFLICT DO NOTHING``.
    """
    fix_parts: list[bytes] = []
    msg_parts: list[bytes] = []
    seen: set[tuple[str, bytes]] = set()
    spans: dict[str, tuple[int, int]] = {}
    n_fixes = 0
    for e in encoded:
        if e.message_row and e.key not in seen:
            seen.add(e.key)
            msg_parts.append(e.message_row)
        if e.span is not None:
            fix_parts.append(e.fix_rows)
            n_fixes += e.fixes
            dev, lo, hi = e.span
            old = spans.get(dev)
            spans[dev] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
    touched = [
        (dev, ms_to_datetime(lo), ms_to_datetime(hi)) for dev, (lo, hi) in spans.items()
    ]
    return Rows(
        b"".join(fix_parts), n_fixes, b"".join(msg_parts), len(msg_parts), touched
    )


_FIXES_COPY = f"({', '.join(FIX_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_MESSAGES_COPY = f"({', '.join(MESSAGE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS fixes_stage "
    "(LIKE fixes INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS ingest_messages_stage "
    "(LIKE ingest_messages INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
)


def copy_steps(rows: Rows, *, fallback: bool) -> list[tuple[str, bytes | None]]:
    """The statements that write ``rows``: (SQL, COPY data or None) in order.

    Direct: COPY into the tables (a duplicate raises ``UniqueViolation``).
    Fallback: COPY into temp tables, then ``INSERT … ON CONFLICT DO NOTHING``.
    """
    fix_data = COPY_HEADER + rows.fixes + COPY_TRAILER if rows.n_fixes else None
    msg_data = COPY_HEADER + rows.messages + COPY_TRAILER if rows.n_messages else None
    steps: list[tuple[str, bytes | None]] = []
    if not fallback:
        if fix_data:
            steps.append((f"COPY fixes {_FIXES_COPY}", fix_data))
        if msg_data:
            steps.append((f"COPY ingest_messages {_MESSAGES_COPY}", msg_data))
        return steps
    steps += [(sql, None) for sql in _STAGE]
    cols, mcols = ", ".join(FIX_COLUMNS), ", ".join(MESSAGE_COLUMNS)
    if fix_data:
        steps += [
            (f"COPY fixes_stage {_FIXES_COPY}", fix_data),
            (
                f"INSERT INTO fixes ({cols}) SELECT {cols} FROM fixes_stage "
                "ON CONFLICT DO NOTHING",
                None,
            ),
        ]
    if msg_data:
        steps += [
            (f"COPY ingest_messages_stage {_MESSAGES_COPY}", msg_data),
            (
                f"INSERT INTO ingest_messages ({mcols}) SELECT {mcols} "
                "FROM ingest_messages_stage ON CONFLICT DO NOTHING",
                None,
            ),
        ]
    return steps


def write_rows(conn: psycopg.Connection[Any], rows: Rows, *, fallback: bool) -> None:
    """Run :func:`copy_steps` (inside the caller's transaction)."""
    with conn.cursor() as cur:
        for sql, data in copy_steps(rows, fallback=fallback):
            if data is None:
                cur.execute(sql)
            else:
                with cur.copy(sql) as copy:
                    copy.write(data)


_REJECTED_INSERT = (
    "INSERT INTO rejected_messages (received_at, topic, device_id, protocol, "
    "reason, detail, item, payload_sha256, payload_size, payload) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


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
        cur.executemany(_REJECTED_INSERT, rows)


_EVENT_INSERT = (
    "INSERT INTO device_events (device_id, event_id, type, time, job_id, lat, "
    "lon, accuracy, received_at, message_sha256) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT DO NOTHING RETURNING device_id, event_id"
)


def _event_rows(batch: Sequence[Processed]) -> list[tuple[Any, ...]]:
    return [
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


def stored_events(batch: Sequence[Processed]) -> list[StoredEvent]:
    """The events of ``batch`` as they are stored (and read back for the jobs module)."""
    return [StoredEvent(*row[:9]) for row in _event_rows(batch)]


def write_events(
    conn: psycopg.Connection[Any], batch: Sequence[Processed]
) -> list[tuple[str, str]]:
    """Insert events idempotently; return (device_id, event_id) of the new ones."""
    rows = _event_rows(batch)
    if not rows:
        return []
    new: list[tuple[str, str]] = []
    with conn.cursor() as cur:
        cur.executemany(_EVENT_INSERT, rows, returning=True)
        while True:
            new.extend((str(r[0]), str(r[1])) for r in cur.fetchall())
            if not cur.nextset():
                break
    return new


def store_batch(
    conn: psycopg.Connection[Any],
    batch: Sequence[Processed],
    encoded: Sequence[EncodedMessage] | None = None,
) -> StoreResult:
    """Steps 4-5 of the pipeline: write everything of ``batch`` and commit.

    ``encoded`` holds each message's rows, in ``batch`` order, when the caller
    encoded them as the messages arrived (:func:`encode_message`); the result's
    ``steps`` holds each step's wall seconds (``bench/ingest.py`` prints them).
    """
    clock = time.perf_counter
    t0 = clock()
    if encoded is None:
        encoded = [encode_message(p) for p in batch]
    rows = batch_rows(encoded)
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
        rows.n_fixes, rows.n_messages, len(rej), new_events, fallback, steps
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
        write_rows(conn, rows, fallback=fallback)
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


async def store_batch_async(
    conn: psycopg.AsyncConnection[Any], batch: Sequence[Processed]
) -> StoreResult:
    """:func:`store_batch` for the HTTP upload path (a few rows per request).

    The same rows and the same idempotent semantics; a resent upload (the
    phone did not see the answer) takes the ``ON CONFLICT`` path.
    """
    rows = batch_rows([encode_message(p) for p in batch])
    rej = rejected_rows(batch)
    async with conn.transaction(), conn.cursor() as cur:
        try:
            async with conn.transaction():
                await _awrite_rows(cur, rows, fallback=False)
        except errors.UniqueViolation:
            await _awrite_rows(cur, rows, fallback=True)
        await aenqueue_touched(conn, rows.touched)
        if rej:
            await cur.executemany(_REJECTED_INSERT, rej)
        events = _event_rows(batch)
        if events:  # an alarm over HTTP (Traccar Client's SOS); the sweep applies it
            await cur.executemany(_EVENT_INSERT, events)
    return StoreResult(rows.n_fixes, rows.n_messages, len(rej))


async def _awrite_rows(
    cur: psycopg.AsyncCursor[Any], rows: Rows, *, fallback: bool
) -> None:
    for sql, data in copy_steps(rows, fallback=fallback):
        if data is None:
            await cur.execute(sql)
        else:
            async with cur.copy(sql) as copy:
                await copy.write(data)
