"""One ingest replica: MQTT in, pipeline, batch writer, live state, metrics.

``run(settings)`` blocks until SIGTERM/SIGINT, then stops reading, commits and
acks what it holds, and disconnects (the broker keeps the session). paho,
psycopg and Redis are wired in here and nothing below builds its own
connections. The process entry point is ``crewtrack ingest`` (crewtrack/cli.py),
which also registers the jobs module's device-event handler first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Sequence

import psycopg
from aiohttp import web

from core.messages import InboundMessage, Processed
from crewtrack.settings import Settings
from ingest.acks import device_acks
from ingest.device_keys import DeviceKeys, decided_by_keys
from ingest.events import EventSink
from ingest.live_state import LiveState
from ingest.metrics import IngestMetrics
from ingest.mqtt import ACK_OUTCOMES, FAILURE_REASONS, MqttConsumer
from ingest.pipeline import process
from ingest.validate import Limits
from ingest.writer import BatchWriter
from storage.devices import key_sealer, owntracks_keys

log = logging.getLogger(__name__)

# SIGTERM → exit is bounded: each step has its own budget (what does not
# finish in time is logged and abandoned - nothing unacked is lost, the broker
# redelivers it), and a watchdog thread ends the process if the whole
# shutdown, threads and interpreter exit included, takes longer than
# SHUTDOWN_DEADLINE_S.
SHUTDOWN_TIMEOUT_S = 28.0  # commit and ack what we hold
STEP_TIMEOUT_S = {"mqtt disconnect": 2.0, "live state": 2.5, "metrics server": 1.0}
EXECUTOR_TIMEOUT_S = 1.0  # threads still busy (a stuck connect) are left behind
SHUTDOWN_DEADLINE_S = 35.0
GIL_SWITCH_INTERVAL_S = 0.001
# A busy worker allocates a few objects per fix, ~100,000 fixes a second, and
# holds up to a few batches of them; at CPython's default threshold (700
# allocations) the young generation is collected every few hundred fixes and
# the older ones - everything pending - are walked again and again. Collect
# the young generation every 50,000 allocations instead, and freeze what
# start-up built (modules, settings) out of every collection.
GC_THRESHOLDS = (50_000, 20, 100)


class IngestService:
    """Wire the consumer, the writer and live state together (one replica)."""

    def __init__(
        self, settings: Settings, event_handlers: Sequence[EventSink] = ()
    ) -> None:
        self.settings = settings
        self.metrics = IngestMetrics()
        self.limits = Limits.from_settings(
            settings.max_future_skew_s, settings.retention_days
        )
        self.stopped = asyncio.Event()
        self.live = LiveState(
            settings.redis_url, self.metrics, on_recovered=self._live_recovered
        )
        self.connection_failures = self.metrics.counter(
            "crewtrack_ingest_connection_failures_total",
            "Broker connection attempts that failed or sessions that ended, by why "
            "(unreachable, refused, subscription, lost); each is retried with back-off.",
            "reason",
            FAILURE_REASONS,
        )
        self.device_acks = self.metrics.counter(
            "crewtrack_ingest_device_acks_total",
            "End-to-end acks to phones after a commit (crewtrack/v1/<device>/ack), "
            "by outcome (published, not_connected, queue_full).",
            "outcome",
            ACK_OUTCOMES,
        )
        self.consumer = MqttConsumer(
            settings,
            self._on_message,
            shared=settings.ingest_shared_subscription,
            on_failure=lambda reason: self.connection_failures.inc(1, reason),
        )
        self.writer = BatchWriter(
            settings,
            self.metrics,
            self.live,
            self._ack,
            pause=self.consumer.pause,
            resume=self.consumer.resume,
            event_handlers=event_handlers,
        )
        self.metrics.gauge(
            "crewtrack_ingest_connected",
            "Whether the MQTT session is up and subscribed (1) or not (0).",
            lambda: 1.0 if self.consumer.connected.is_set() else 0.0,
        )
        self.metrics.gauge(
            "crewtrack_ingest_mqtt_fast_path",
            "1 when MQTT is read by the fast path, 0 on paho's public path.",
            lambda: 1.0 if self.consumer.fast_path else 0.0,
        )
        self._runner: web.AppRunner | None = None
        self.keys = DeviceKeys(self._load_keys)
        self._keys_refresh: asyncio.Task[None] | None = None
        # messages waiting for a fresh read of the keys (ingest.device_keys)
        self._held: set[asyncio.Task[None]] = set()

    async def _load_keys(self) -> dict[str, bytes]:
        # the sealer is read each time: the first key set creates its secret
        sealer = key_sealer(self.settings.home)
        async with await psycopg.AsyncConnection.connect(
            self.settings.database_url
        ) as conn:
            return await owntracks_keys(conn, sealer)

    def _on_message(self, msg: InboundMessage) -> None:
        p = process(msg, self.limits, self.keys.get)
        if decided_by_keys(p) and self.keys.read_from_ms < msg.received_ms:
            task = asyncio.get_running_loop().create_task(self._with_fresh_keys(msg))
            self._held.add(task)
            task.add_done_callback(self._held.discard)
            return
        self._accept(p)

    async def _with_fresh_keys(self, msg: InboundMessage) -> None:
        """Decode ``msg`` again once the keys were read after it arrived."""
        await self.keys.fresh_since(msg.received_ms)
        self._accept(process(msg, self.limits, self.keys.get))

    def _accept(self, p: Processed) -> None:
        self.metrics.messages.inc(1, p.protocol)
        self.writer.add(p)

    def _ack(self, batch: Sequence[Processed]) -> None:
        """Step 6, after the commit: PUBACK the broker, then tell the phones."""
        self.metrics.acks.inc(self.consumer.ack(p.message for p in batch))
        for outcome, n in self.consumer.publish(device_acks(batch)).items():
            if n:
                self.device_acks.inc(n, outcome)

    def _live_recovered(self) -> None:
        self.writer.forget_jobs()

    async def _serve_metrics(self) -> None:
        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(
                text=self.metrics.render(), content_type="text/plain", charset="utf-8"
            )

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.settings.api_host, self.settings.ingest_metrics_port
        )
        await site.start()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal)
        await self._serve_metrics()
        self._keys_refresh = loop.create_task(self.keys.refresh_forever())
        self.live.start()
        self.writer.start()
        await self.consumer.start()
        log.info("ingest %s running", self.settings.ingest_client_id)
        await self.stopped.wait()
        log.info("ingest %s stopping", self.settings.ingest_client_id)
        await self.shutdown()

    def _on_signal(self) -> None:
        if not self.stopped.is_set():
            start_watchdog(SHUTDOWN_DEADLINE_S)
        self.stopped.set()

    async def shutdown(self) -> None:
        """Stop reading, commit + ack what is held, disconnect: every step bounded."""
        self.consumer.pause()
        # held messages are not acked: the broker redelivers them
        for task in (*self._held, self._keys_refresh):
            if task is not None:
                task.cancel()
        if not await _bounded("batch writer", self.writer.close(), SHUTDOWN_TIMEOUT_S):
            log.error("unacked messages will be redelivered")
            self.writer.abandon()
        await _bounded(
            "mqtt disconnect",
            self.consumer.stop(),
            STEP_TIMEOUT_S["mqtt disconnect"],
        )
        await _bounded("live state", self.live.close(), STEP_TIMEOUT_S["live state"])
        if self._runner is not None:
            await _bounded(
                "metrics server",
                self._runner.cleanup(),
                STEP_TIMEOUT_S["metrics server"],
            )


async def _bounded(step: str, work: Awaitable[None], timeout_s: float) -> bool:
    """Await one shutdown step for at most ``timeout_s``; log (not raise) failures."""
    try:
        async with asyncio.timeout(timeout_s):
            await work
        return True
    except TimeoutError:
        log.error("shutdown: %s did not finish within %.1f s", step, timeout_s)
    except Exception:
        log.exception("shutdown: %s failed", step)
    return False


def start_watchdog(deadline_s: float) -> threading.Timer:
    """End the process if it is still alive ``deadline_s`` from now (daemon timer)."""

    def expire() -> None:
        log.error(
            "shutdown took longer than %.0f s (threads: %s); exiting now",
            deadline_s,
            ", ".join(t.name for t in threading.enumerate()),
        )
        logging.shutdown()
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(deadline_s, expire)
    timer.daemon = True
    timer.name = "ingest-shutdown-watchdog"
    timer.start()
    return timer


def run(settings: Settings, event_handlers: Sequence[EventSink] = ()) -> None:
    """Run one ingest replica until SIGTERM/SIGINT (blocking).

    ``event_handlers`` get every new device event after its commit
    (:mod:`ingest.events`); without them events wait in ``device_events``.
    """

    async def _main() -> None:
        # Our own default executor (the consumer's connects run there), shut
        # down without waiting: asyncio.run would otherwise wait for a stuck
        # connect without bound.
        executor = concurrent.futures.ThreadPoolExecutor(
            4, thread_name_prefix="ingest-io"
        )
        loop = asyncio.get_running_loop()
        loop.set_default_executor(executor)
        try:
            await IngestService(settings, event_handlers).run()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            # what asyncio.run joins without a bound: a fresh, empty executor
            loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(1))

    # The database thread hands the GIL back and forth with the loop on every
    # round trip; at the default 5 ms a flush of ~8 round trips could wait
    # 40 ms for it. 1 ms: p99 233 -> 128 ms at 5,000 fixes/s (bench/ingest.py).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    asyncio.run(_main())
    _exit_if_threads_stuck(EXECUTOR_TIMEOUT_S)


def _exit_if_threads_stuck(timeout_s: float) -> None:
    """Give worker threads ``timeout_s`` to end; a stuck one must not hold the exit.

    The interpreter joins executor threads at exit; one blocked in a
    database or broker call would keep a SIGTERMed worker alive.
    """
    deadline = time.monotonic() + timeout_s
    main = threading.main_thread()
    for t in threading.enumerate():
        if t is main or t.daemon:
            continue
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [
        t.name
        for t in threading.enumerate()
        if t is not main and not t.daemon and t.is_alive()
    ]
    if stuck:
        log.error("threads still busy after shutdown (%s); exiting", ", ".join(stuck))
        logging.shutdown()
        os._exit(1)
