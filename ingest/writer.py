"""The batch writer: pipeline steps 3-8 (batch, copy, commit, ack, events, live).

Like Traccar's ``PositionBatchWriter`` it flushes by size
(``ingest_batch_size`` fixes) or by age (``ingest_flush_interval_ms``), and
adaptively: what arrived during a flush is written as soon as that flush
commits, so under load a fix waits one flush, not a full batch.

Two threads share the work. The loop thread decodes messages and
:meth:`BatchWriter.add` encodes each one's rows (``storage.fixes``) into the
pending list. The database thread owns the connection and decides when to
flush: it takes what is pending, writes and commits it, hands the batch back
to the loop (acks in arrival order, then live state) and goes straight on to
the next batch - it never waits for the loop, which may be busy decoding for
a few ms. Events are applied and jobs looked up on the database thread too,
after the hand-back. If the database is down the batch is retried (the
broker holds everything unacked) and reading pauses once too much is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from core.messages import Processed, Rejection
from crewtrack.settings import Settings
from ingest import events as event_sink
from ingest.live_state import LiveState
from ingest.metrics import IngestMetrics
from storage import fixes as store

log = logging.getLogger(__name__)

DB_RETRY_S = (
    0.5  # retry a failed batch quickly: a restarting PostgreSQL is back in ~1 s
)
DB_CONNECT_TIMEOUT_S = 5
# Largest single flush, as a multiple of the batch size: after an outage the
# backlog is written in big COPYs (cheaper per row) but bounded transactions.
MAX_FLUSH_BATCHES = 4
# Pause reading MQTT when this many batches are pending (database slow or down);
# the broker queues the rest for our persistent session.
MAX_PENDING_BATCHES = 10
# Device events left unapplied (a worker died after its commit, a handler
# failed, the database dropped out after the commit) are swept this often.
SWEEP_EVERY_S = 30.0
WRITER_FAILED_EXIT = 70  # EX_SOFTWARE: the writer thread hit a bug
STORE_ERROR = "store_error"  # a message the database refused on its own (a bug)

AckFn = Callable[[Sequence[Processed]], None]


def _store_error(p: Processed, exc: Exception) -> Processed:
    """``p`` with nothing to store but a rejection saying why it could not be."""
    return p._replace(
        fixes=[],
        events=[],
        status=None,
        rejections=[Rejection(STORE_ERROR, repr(exc)[:300])],
    )


def _encode(p: Processed) -> tuple[Processed, store.EncodedMessage]:
    """Encode a message's rows; one that cannot be encoded becomes a rejection.

    Validation refuses every value the encoding cannot hold, so this is a
    safety net for a bug, never a crash of the worker.
    """
    try:
        return p, store.encode_message(p)
    except Exception as exc:
        log.exception("cannot encode a message from %s", p.message.topic[:200])
        bad = _store_error(p, exc)
        return bad, store.encode_message(bad)


class BatchWriter:
    """Collect processed messages, write them in batches, then ack and publish."""

    def __init__(
        self,
        settings: Settings,
        metrics: IngestMetrics,
        live_state: LiveState,
        ack: AckFn,
        *,
        pause: Callable[[], None] = lambda: None,
        resume: Callable[[], None] = lambda: None,
        event_handlers: Sequence[event_sink.EventSink] = (),
    ) -> None:
        self.settings = settings
        self.event_handlers = tuple(event_handlers)
        self.metrics = metrics
        self.live = live_state
        self.ack = ack
        self.pause, self.resume = pause, resume
        self.batch_size = max(1, settings.ingest_batch_size)
        self.interval_s = settings.ingest_flush_interval_ms / 1000
        # shared by both threads, under _cond
        self._cond = threading.Condition()
        self._pending: list[tuple[Processed, store.EncodedMessage]] = []
        self._pending_units = 0
        self._oldest = 0.0  # monotonic arrival of the oldest pending message
        self._closing = False
        self._abandoned = threading.Event()
        self._forget_jobs = False
        # loop thread only
        self._paused = False
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[None] = self._loop.create_future()
        # database thread only
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._job_known: set[str] = set()
        self._job_retry: set[str] = set()  # devices whose job lookup failed
        metrics.gauge(
            "crewtrack_ingest_pending_messages",
            "Messages received but not yet committed.",
            lambda: float(len(self._pending)),
        )
        metrics.gauge(
            "crewtrack_ingest_oldest_pending_seconds",
            "Age of the oldest uncommitted message (consumer lag).",
            lambda: (time.monotonic() - self._oldest) if self._pending else 0.0,
        )

    # --- step 3: batch (loop thread) -----------------------------------------
    def add(self, p: Processed) -> None:
        """Queue one processed message."""
        item = _encode(p)
        units = len(item[0].fixes) or 1
        with self._cond:
            if not self._pending:
                self._oldest = time.monotonic()
                self._cond.notify()  # the database thread starts the age clock
            self._pending.append(item)
            self._pending_units += units
            pending = self._pending_units
            if pending >= self.batch_size:
                self._cond.notify()
        if not self._paused and pending >= self.batch_size * MAX_PENDING_BATCHES:
            self._paused = True
            self.pause()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="ingest-db", daemon=False
        )
        self._thread.start()

    def forget_jobs(self) -> None:
        """Live state was lost (Redis restarted): re-send jobs with the next fixes."""
        self._forget_jobs = True

    # --- the database thread ------------------------------------------------
    def _run(self) -> None:
        try:
            sweep_at = 0.0
            while True:
                if time.monotonic() >= sweep_at:
                    self._sweep_sync()
                    sweep_at = time.monotonic() + SWEEP_EVERY_S
                items = self._next_batch(sweep_at)
                if items is None:
                    break
                if items:
                    self._flush(items)
        except Exception:
            # A bug, not an outage (those are retried): without its writer the
            # worker would read on and never ack. Exit so the supervisor
            # restarts it; everything unacked is redelivered.
            log.critical("batch writer failed; exiting", exc_info=True)
            logging.shutdown()
            os._exit(WRITER_FAILED_EXIT)
        self._drop_connection()
        self._post(self._finished)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread, in order; nothing once it closed."""
        with contextlib.suppress(RuntimeError):  # shutdown abandoned this thread
            self._loop.call_soon_threadsafe(fn, *args)

    def _next_batch(
        self, sweep_at: float
    ) -> list[tuple[Processed, store.EncodedMessage]] | None:
        """Wait until a flush is due and take its messages (None: stop).

        An idle writer returns an empty list at ``sweep_at``, for the sweep.
        """
        just_flushed = True
        limit = self.batch_size * MAX_FLUSH_BATCHES
        with self._cond:
            while True:
                if self._abandoned.is_set():
                    return None
                if not self._pending:
                    if self._closing:
                        return None
                    just_flushed = False
                    idle_for = sweep_at - time.monotonic()
                    if idle_for <= 0:
                        return []
                    self._cond.wait(idle_for)
                    continue
                age = time.monotonic() - self._oldest
                # Adaptive batching: what arrived while the previous flush was
                # committing goes out at once; only an idle writer waits for
                # the batch size or the flush interval.
                if (
                    just_flushed
                    or self._closing
                    or self._pending_units >= self.batch_size
                    or age >= self.interval_s * 0.95
                ):
                    break
                self._cond.wait(self.interval_s - age)
            units = n = 0
            for p, _ in self._pending:
                units += len(p.fixes) or 1
                n += 1
                if units >= limit:
                    break
            items, self._pending = self._pending[:n], self._pending[n:]
            self._pending_units -= units
            if self._pending:
                self._oldest = time.monotonic()  # approximate: the next batch's age
        return items

    def _flush(self, items: list[tuple[Processed, store.EncodedMessage]]) -> None:
        """Steps 4-5 here, 6 and 8 handed to the loop, then step 7 here."""
        batch = [p for p, _ in items]
        encoded = [e for _, e in items]
        while True:
            t0 = time.monotonic()
            try:
                result = self._store_sync(batch, encoded)
                break
            except psycopg.OperationalError as exc:
                self._post(self.metrics.db_errors.inc)
                log.warning("database unavailable (%s); retrying the batch", exc)
                if self._abandoned.wait(DB_RETRY_S):
                    return
        elapsed = time.monotonic() - t0
        self._post(self._committed, batch, result, elapsed, time.perf_counter())
        if self._forget_jobs:
            self._forget_jobs = False
            self._job_known.clear()
        devices = {p.device_id for p in batch if p.fixes and p.device_id}
        new_devices = devices - self._job_known
        clock_devices = {
            p.device_id
            for p in batch
            for e in p.events
            if p.device_id and e.type in ("clock_in", "clock_out")
        }
        if result.new_events or new_devices or clock_devices or self._job_retry:
            asked = new_devices | clock_devices | self._job_retry
            jobs = self._after_commit_sync(result.new_events, asked)
            if jobs is None:  # the database failed: ask again after the next flush
                self._job_retry = asked
                return
            self._job_retry = set()
            self._job_known |= new_devices
            self._post(self._jobs_found, jobs, asked)

    # --- steps 6 and 8 (loop thread) ------------------------------------------
    def _committed(
        self,
        batch: list[Processed],
        result: store.StoreResult,
        elapsed: float,
        posted: float,
    ) -> None:
        m = self.metrics
        steps = m.flush_steps
        steps.inc(time.perf_counter() - posted, "handback")
        m.commit_seconds.observe(elapsed)
        m.flushes.inc()
        for name, sec in result.steps.items():
            steps.inc(sec, name)
        steps.inc(elapsed, "store_total")
        m.fixes_stored.inc(result.fixes)
        m.events_stored.inc(len(result.new_events))
        if result.fallback:
            m.fallbacks.inc()
        now = time.time_ns() // 1_000_000
        lag = m.lag_seconds
        for p in batch:
            lag.observe((now - p.message.received_ms) / 1000)
            m.count_outcome(p)
        t1 = time.perf_counter()
        self.ack(batch)  # step 6: only after the commit
        t2 = time.perf_counter()
        self.live.add_batch(batch)  # step 8 is decoupled from the database path
        steps.inc(t2 - t1, "acks")
        steps.inc(time.perf_counter() - t2, "live_merge")
        if (
            self._paused
            and self._pending_units < self.batch_size * MAX_PENDING_BATCHES // 2
        ):
            self._paused = False
            self.resume()

    def _jobs_found(self, jobs: dict[str, tuple[str, int]], asked: set[str]) -> None:
        for dev, (job, job_t) in jobs.items():
            self.live.add({"device_id": dev, "job": job, "job_t": job_t})
        for dev in asked - jobs.keys():
            self.live.add({"device_id": dev, "job": "", "job_t": 0})

    def _finished(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.settings.database_url,
                autocommit=True,
                connect_timeout=DB_CONNECT_TIMEOUT_S,
                application_name=f"crewtrack-{self.settings.ingest_client_id}",
            )
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(
                Exception
            ):  # a broken connection may fail to close
                self._conn.close()
            self._conn = None

    def _store_sync(
        self, batch: list[Processed], encoded: list[store.EncodedMessage]
    ) -> store.StoreResult:
        cpu = time.thread_time()
        try:
            conn = self._connection()
            result = store.store_batch(conn, batch, encoded)
            result.steps["thread_cpu"] = time.thread_time() - cpu
            return result
        except psycopg.OperationalError:
            self._drop_connection()
            raise
        except psycopg.Error:
            # Not the database being down: one message the database refuses
            # (a bug in validation). Isolate it instead of retrying forever.
            log.exception("batch refused by the database; storing message by message")
            return self._store_one_by_one(batch)

    def _store_one_by_one(self, batch: list[Processed]) -> store.StoreResult:
        conn = self._connection()
        total = store.StoreResult()
        for p in batch:
            try:
                r = store.store_batch(conn, [p])
            except psycopg.OperationalError:
                self._drop_connection()
                raise
            except psycopg.Error as exc:
                bad = _store_error(p, exc)
                r = store.store_batch(conn, [bad])
                batch[batch.index(p)] = bad
            total.fixes += r.fixes
            total.messages += r.messages
            total.rejected += r.rejected
            total.new_events += r.new_events
        return total

    def _after_commit_sync(
        self, new_events: list[tuple[str, str]], devices: set[str]
    ) -> dict[str, tuple[str, int]] | None:
        try:
            conn = self._connection()
            if new_events:
                event_sink.apply_events(conn, new_events, self.event_handlers)
            return store.current_jobs(conn, sorted(devices))
        except psycopg.Error:
            # the sweep applies the events; jobs come with later fixes
            log.exception("applying device events or reading jobs failed")
            self._drop_connection()
            return None

    def _sweep_sync(self) -> None:
        try:
            event_sink.sweep_unapplied(self._connection(), self.event_handlers)
        except psycopg.Error:
            log.exception("event sweep failed")
            self._drop_connection()

    # --- shutdown (loop thread) ------------------------------------------------
    async def close(self) -> None:
        """Write, commit and ack everything pending (called after reading stopped)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            await asyncio.shield(self._done)

    def abandon(self) -> None:
        """Shutdown ran out of time: stop the database thread where it stands.

        Whatever is uncommitted is rolled back when the process ends and
        unacked messages are redelivered; the thread is not waited for.
        """
        self._abandoned.set()
        with self._cond:
            self._closing = True
            self._cond.notify()
