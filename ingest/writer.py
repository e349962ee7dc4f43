"""The batch writer: pipeline steps 3-8 (batch, copy, commit, ack, events, live).

Like Traccar's ``PositionBatchWriter`` it flushes by size
(``ingest_batch_size`` fixes) or by age (``ingest_flush_interval_ms``), and
adaptively: what arrived during a flush is written as soon as that flush
commits, so under load a fix waits one flush, not a full batch. One
flush is in flight at a time, on a dedicated database thread, while the loop
keeps reading the next batch; acks go out in arrival order after the commit.
If the database is down the batch is retried (the broker holds everything
unacked) and reading pauses once too much is pending.

Each message's rows are encoded (``storage.fixes.encode_message``) when it is
added, on the loop thread, while the previous flush streams to the server:
the database thread then only sends bytes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from crewtrack.settings import Settings
from ingest import events as event_sink
from ingest.live_state import LiveState
from ingest.metrics import IngestMetrics
from ingest.model import Rejection
from ingest.pipeline import Processed
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
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.live = live_state
        self.ack = ack
        self.pause, self.resume = pause, resume
        self.batch_size = max(1, settings.ingest_batch_size)
        self.interval_s = settings.ingest_flush_interval_ms / 1000
        self.pending: list[tuple[Processed, store.EncodedMessage]] = []
        self.pending_units = 0
        self.oldest_monotonic = 0.0
        self._paused = False
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._db = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="ingest-db"
        )
        self._conn: psycopg.Connection[Any] | None = None
        self._job_known: set[str] = set()
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()
        self.idle.set()
        metrics.gauge(
            "crewtrack_ingest_pending_messages",
            "Messages received but not yet committed.",
            lambda: float(len(self.pending)),
        )
        metrics.gauge(
            "crewtrack_ingest_oldest_pending_seconds",
            "Age of the oldest uncommitted message (consumer lag).",
            lambda: (time.monotonic() - self.oldest_monotonic) if self.pending else 0.0,
        )

    # --- step 3: batch ------------------------------------------------------
    def add(self, p: Processed) -> None:
        """Queue one processed message (loop thread)."""
        if not self.pending:
            self.oldest_monotonic = time.monotonic()
            if self._timer is None:
                self._timer = self._loop.call_later(self.interval_s, self._due)
        self.pending.append(_encode(p))
        self.pending_units += len(p.fixes) or 1
        if self.pending_units >= self.batch_size:
            self._wake.set()
            if (
                not self._paused
                and self.pending_units >= self.batch_size * MAX_PENDING_BATCHES
            ):
                self._paused = True
                self.pause()

    def _due(self) -> None:
        self._timer = None
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-writer")

    async def _run(self) -> None:
        self._loop.run_in_executor(self._db, self._sweep_sync)
        while True:
            await self._wake.wait()
            self._wake.clear()
            just_flushed = False
            while self.pending:
                age = time.monotonic() - self.oldest_monotonic
                # Adaptive batching: what arrived while the previous flush
                # was committing goes out as soon as it returns; only an idle
                # writer waits for the batch size or the flush interval.
                if not (
                    just_flushed
                    or self._closing
                    or self.pending_units >= self.batch_size
                    or age >= self.interval_s * 0.95
                ):
                    if self._timer is None:
                        self._timer = self._loop.call_later(
                            self.interval_s - age, self._due
                        )
                    break
                await self._flush_once()
                just_flushed = True
            if self._closing and not self.pending:
                return

    async def _flush_once(self) -> None:
        limit = self.batch_size * MAX_FLUSH_BATCHES
        units = 0
        n = 0
        for p, _ in self.pending:
            units += len(p.fixes) or 1
            n += 1
            if units >= limit:
                break
        items, self.pending = self.pending[:n], self.pending[n:]
        self.pending_units -= units
        if self.pending:
            self.oldest_monotonic = time.monotonic()  # approximate: next batch's age
        self.idle.clear()
        try:
            await self._write([p for p, _ in items], [e for _, e in items])
        finally:
            self.idle.set()
        if (
            self._paused
            and self.pending_units < self.batch_size * MAX_PENDING_BATCHES // 2
        ):
            self._paused = False
            self.resume()

    # --- steps 4-8 ----------------------------------------------------------
    async def _write(
        self, batch: list[Processed], encoded: list[store.EncodedMessage]
    ) -> None:
        while True:
            t0 = time.monotonic()
            try:
                result = await self._loop.run_in_executor(
                    self._db, self._store_sync, batch, encoded, time.perf_counter()
                )
                break
            except psycopg.OperationalError as exc:
                self.metrics.db_errors.inc()
                log.warning("database unavailable (%s); retrying the batch", exc)
                await asyncio.sleep(DB_RETRY_S)
        elapsed = time.monotonic() - t0
        m = self.metrics
        m.commit_seconds.observe(elapsed)
        steps = m.flush_steps
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
            for r in p.rejections:
                m.rejected.inc(1, r.reason)
        t1 = time.perf_counter()
        self.ack(batch)  # step 6: only after the commit
        t2 = time.perf_counter()
        self.live.add_batch(batch)  # step 8 is decoupled from the database path
        steps.inc(t2 - t1, "acks")
        steps.inc(time.perf_counter() - t2, "live_merge")
        devices = {p.device_id for p in batch if p.fixes and p.device_id}
        new_devices = devices - self._job_known
        clock_devices = {
            p.device_id
            for p in batch
            for e in p.events
            if p.device_id and e.type in ("clock_in", "clock_out")
        }
        if result.new_events or new_devices or clock_devices:
            jobs = await self._loop.run_in_executor(
                self._db,
                self._after_commit_sync,
                result.new_events,
                new_devices | clock_devices,
            )
            self._job_known |= new_devices
            for dev, (job, job_t) in jobs.items():
                self.live.add({"device_id": dev, "job": job, "job_t": job_t})
            for dev in (new_devices | clock_devices) - jobs.keys():
                self.live.add({"device_id": dev, "job": "", "job_t": 0})

    def forget_jobs(self) -> None:
        """Live state was lost (Redis restarted): re-send jobs with the next fixes."""
        self._job_known.clear()

    # --- database thread ----------------------------------------------------
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
        self,
        batch: list[Processed],
        encoded: list[store.EncodedMessage],
        submitted: float,
    ) -> store.StoreResult:
        started = time.perf_counter()
        cpu = time.thread_time()
        try:
            conn = self._connection()
            result = store.store_batch(conn, batch, encoded)
            result.steps["thread_start_wait"] = started - submitted
            result.steps["thread_cpu"] = time.thread_time() - cpu
            return result
        except psycopg.OperationalError:
            self._drop_connection()
            raise
        except psycopg.Error as exc:
            # Not the database being down: one message the database refuses
            # (a bug in validation). Isolate it instead of retrying forever.
            log.exception("batch refused by the database; storing message by message")
            return self._store_one_by_one(batch, exc)

    def _store_one_by_one(
        self, batch: list[Processed], first_error: Exception
    ) -> store.StoreResult:
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
        del first_error
        return total

    def _after_commit_sync(
        self, new_events: list[tuple[str, str]], devices: set[str]
    ) -> dict[str, tuple[str, int]]:
        conn = self._connection()
        try:
            if new_events:
                event_sink.apply_events(conn, new_events)
            return store.current_jobs(conn, sorted(devices))
        except psycopg.OperationalError:
            self._drop_connection()
            return {}  # the sweep applies the events; jobs come with later fixes

    def _sweep_sync(self) -> None:
        try:
            event_sink.sweep_unapplied(self._connection())
        except psycopg.Error:
            log.exception("event sweep failed")
            self._drop_connection()

    # --- shutdown -----------------------------------------------------------
    async def close(self) -> None:
        """Write everything pending (called after reading stopped)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._timer is not None:
            self._timer.cancel()
        await self._loop.run_in_executor(self._db, self._drop_connection)
        self._db.shutdown(wait=False)  # idle now: nothing to wait for

    def abandon(self) -> None:
        """Shutdown ran out of time: stop the writer, leave the database thread.

        Whatever is uncommitted is rolled back when the process ends and
        unacked messages are redelivered; the thread is not waited for.
        """
        self._closing = True
        if self._task is not None:
            self._task.cancel()
        if self._timer is not None:
            self._timer.cancel()
        self._db.shutdown(wait=False, cancel_futures=True)
