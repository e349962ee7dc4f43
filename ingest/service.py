"""One ingest replica: MQTT in, pipeline, batch writer, live state, metrics.

``run(settings)`` blocks until SIGTERM/SIGINT, then stops reading, commits and
acks what it holds, and disconnects (the broker keeps the session). paho,
psycopg and Redis are wired in here and nothing below builds its own
connections. The process entry point is ``crewtrack ingest`` (crewtrack/cli.py),
which also registers the jobs module's device-event handler first.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from aiohttp import web

from crewtrack.settings import Settings
from ingest.live_state import LiveState
from ingest.metrics import IngestMetrics
from ingest.model import InboundMessage
from ingest.mqtt import MqttConsumer
from ingest.pipeline import Processed, process
from ingest.validate import Limits
from ingest.writer import BatchWriter

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 30.0  # commit what we hold; the broker redelivers anything beyond


class IngestService:
    """Wire the consumer, the writer and live state together (one replica)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = IngestMetrics()
        self.limits = Limits.from_settings(
            settings.max_future_skew_s, settings.retention_days
        )
        self.stopped = asyncio.Event()
        self.live = LiveState(
            settings.redis_url, self.metrics, on_recovered=self._live_recovered
        )
        self.consumer = MqttConsumer(
            settings, self._on_message, shared=settings.ingest_shared_subscription
        )
        self.writer = BatchWriter(
            settings,
            self.metrics,
            self.live,
            self._ack,
            pause=self.consumer.pause,
            resume=self.consumer.resume,
        )
        self.metrics.gauge(
            "crewtrack_ingest_connected",
            "1 while connected to the broker and subscribed.",
            lambda: 1.0 if self.consumer.connected.is_set() else 0.0,
        )
        self._runner: web.AppRunner | None = None

    def _on_message(self, msg: InboundMessage) -> None:
        p = process(msg, self.limits)
        self.metrics.messages.inc(1, p.protocol)
        self.writer.add(p)

    def _ack(self, batch: Sequence[Processed]) -> None:
        self.metrics.acks.inc(self.consumer.ack(p.message for p in batch))

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
            loop.add_signal_handler(sig, self.stopped.set)
        await self._serve_metrics()
        self.live.start()
        self.writer.start()
        await self.consumer.start()
        log.info("ingest %s running", self.settings.ingest_client_id)
        await self.stopped.wait()
        log.info("ingest %s stopping", self.settings.ingest_client_id)
        self.consumer.pause()
        try:
            async with asyncio.timeout(SHUTDOWN_TIMEOUT_S):
                await self.writer.close()
        except TimeoutError:
            log.error("shutdown timed out; unacked messages will be redelivered")
        await self.consumer.stop()
        await self.live.close()
        if self._runner is not None:
            await self._runner.cleanup()


def run(settings: Settings) -> None:
    """Run one ingest replica until SIGTERM/SIGINT (blocking)."""

    async def _main() -> None:
        await IngestService(settings).run()

    asyncio.run(_main())
