"""Pipeline step 8, decoupled: newest fix per device → Redis, catching up after outages.

Updates are merged per device (newest fix wins) into a pending map that one
task writes with a single script call per round; a round takes at most 500
devices (the longest-waiting first), so the pub/sub feed gets out early and
no call holds Redis or the event loop for long. If Redis is slow or down,
the map just keeps the newest state per device - memory is bounded by the
fleet, and nothing waits for Redis on the database path.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from storage import live

if TYPE_CHECKING:
    from core.messages import Processed
    from ingest.metrics import IngestMetrics

log = logging.getLogger(__name__)

RETRY_S = 1.0  # Redis down: try again each second (the pending map stays bounded)
TIMEOUT_S = 2.0  # a Redis call slower than this counts as a failure
LOG_EVERY_S = 30.0  # while Redis is down, one warning per this many seconds


class LiveState:
    def __init__(
        self,
        redis_url: str,
        metrics: IngestMetrics,
        *,
        on_recovered: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = aioredis.from_url(
            redis_url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        self.metrics = metrics
        self.on_recovered = on_recovered
        self.pending: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing_since: float | None = None
        self._last_log = 0.0
        metrics.gauge(
            "crewtrack_ingest_live_pending_devices",
            "Devices whose newest state is not yet in Redis.",
            lambda: float(len(self.pending)),
        )

    def add(self, update: dict[str, Any]) -> None:
        live.merge_update(self.pending, update)
        self._wake.set()

    def add_batch(self, batch: Iterable[Processed]) -> None:
        pending = self.pending
        for p in batch:
            if p.fixes:
                fixes = p.fixes
                newest = (
                    fixes[0] if len(fixes) == 1 else max(fixes, key=lambda f: f.t_ms)
                )
                live.merge_update(
                    pending, live.fix_update(newest, p.message.received_ms)
                )
            if p.status and p.device_id:
                live.merge_update(
                    pending, {"device_id": p.device_id, "status": p.status}
                )
        self._wake.set()

    def _take(self, n: int) -> dict[str, dict[str, Any]]:
        """The ``n`` longest-waiting devices' updates (a bounded Redis round)."""
        pending = self.pending
        if len(pending) <= n:
            self.pending = {}
            return pending
        taken: dict[str, dict[str, Any]] = {}
        for dev in itertools.islice(pending, n):
            taken[dev] = pending[dev]
        for dev in taken:
            del pending[dev]
        return taken

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-live")

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.pending:
                continue
            updates = self._take(live.MAX_UPDATES_PER_CALL)
            t0 = time.perf_counter()
            try:
                await live.write_updates(self.client, list(updates.values()))
                m = self.metrics
                m.live_rounds.inc()
                m.live_devices.inc(len(updates))
                m.flush_steps.inc(time.perf_counter() - t0, "redis_round")
            except (RedisError, OSError) as exc:
                self.metrics.redis_errors.inc()
                now = time.monotonic()
                if self._failing_since is None:
                    self._failing_since = now
                if now - self._last_log > LOG_EVERY_S:
                    self._last_log = now
                    log.warning("redis unavailable (%s); live state will catch up", exc)
                for u in updates.values():  # keep them, unless newer ones arrived
                    live.merge_update(self.pending, u)
                await asyncio.sleep(RETRY_S)
                self._wake.set()
                continue
            if self.pending:
                self._wake.set()  # the next round: the rest, oldest first
            if self._failing_since is not None:
                log.info(
                    "redis back after %.1f s", time.monotonic() - self._failing_since
                )
                self._failing_since = None
                self.on_recovered()

    async def close(self, flush_timeout_s: float = 2.0) -> None:
        """Try to write what is pending, then stop."""
        if self._task is not None:
            if self.pending:
                self._wake.set()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(flush_timeout_s):
                        while self.pending:  # noqa: ASYNC110 - the task empties it
                            await asyncio.sleep(0.01)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()
