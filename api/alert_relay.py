"""The reserve-alert relay: delivers the ``report_alerts`` outbox after commit.

Raising a reserve (``services.reports``) writes its alert to ``report_alerts`` in
the raising transaction with a ``NOTIFY``. The relay (one task per API process,
woken by the notification that PostgreSQL sends at commit, and sweeping every few
seconds) claims alerts with ``SKIP LOCKED``, appends each to the Redis stream
``Settings.alerts_stream`` (the dashboard reads it) and POSTs it to
``Settings.reserve_webhook_url`` signed with HMAC-SHA256. An alert is marked
delivered only once both succeeded; a failure is retried on the next sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import psycopg
from aiohttp import web
from redis.exceptions import RedisError

from api.http.context import POOL, REDIS, SETTINGS
from services.reports import ALERT_CHANNEL
from storage import reports as store
from storage.alert_stream import STREAM_MAXLEN, entry_fields

log = logging.getLogger("crewtrack.api.reports")

ALERT_SWEEP_S = 5.0  # retry undelivered alerts this often (Redis or webhook down)
WEBHOOK_TIMEOUT_S = 5.0  # a receiver slower than this is retried on the next sweep

RELAY = web.AppKey("report_alert_relay", asyncio.Task[None])


def sign_payload(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``, the scheme Stripe uses."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


async def deliver_pending_alerts(
    app: web.Application, http: aiohttp.ClientSession
) -> int:
    """Push every undelivered alert to Redis and the webhook; return how many completed."""
    settings = app[SETTINGS]
    done = 0
    async with app[POOL].connection() as conn, conn.transaction():
        for (
            alert_id,
            payload,
            stream_id,
            webhook_status,
        ) in await store.claim_pending_alerts(conn):
            body = json.dumps(payload, ensure_ascii=False).encode()
            error: str | None = None
            if stream_id is None:
                try:
                    raw_id = await app[REDIS].xadd(
                        settings.alerts_stream,
                        entry_fields(payload),  # type: ignore[arg-type]
                        maxlen=STREAM_MAXLEN,
                        approximate=True,
                    )
                    stream_id = (
                        raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    )
                except (RedisError, OSError) as exc:
                    error = f"redis: {exc}"
            webhook_ok = not settings.reserve_webhook_url or (
                webhook_status is not None and 200 <= webhook_status < 300
            )
            status: int | None = None
            if not webhook_ok:
                try:
                    async with http.post(
                        settings.reserve_webhook_url,
                        data=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Crewtrack-Event": str(payload["type"]),
                            "X-Crewtrack-Signature": sign_payload(
                                settings.reserve_webhook_secret, body
                            ),
                        },
                        timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S),
                    ) as response:
                        status = response.status
                    webhook_ok = 200 <= status < 300
                    if not webhook_ok:
                        error = f"webhook answered {status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"webhook: {exc!r}"
            delivered = stream_id is not None and webhook_ok
            await store.record_alert_attempt(
                conn,
                alert_id,
                stream_id=stream_id,
                webhook_status=status,
                delivered=delivered,
                error=error,
            )
            done += delivered
            if error:
                log.warning("reserve alert %s not delivered yet: %s", alert_id, error)
    return done


async def _relay(app: web.Application) -> None:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    settings.database_url, autocommit=True
                ) as listener:
                    await listener.execute(f"LISTEN {ALERT_CHANNEL}")
                    while True:
                        await deliver_pending_alerts(app, http)
                        async for _ in listener.notifies(
                            timeout=ALERT_SWEEP_S, stop_after=1
                        ):
                            pass
            except (psycopg.OperationalError, OSError):
                log.warning("reserve alert relay lost the database; retrying")
                await asyncio.sleep(ALERT_SWEEP_S)


async def alert_relay(app: web.Application) -> AsyncIterator[None]:
    """Run the alert relay for the app's lifetime (on the app's Redis client)."""
    app[RELAY] = asyncio.create_task(_relay(app), name="reserve-alert-relay")
    try:
        yield
    finally:
        app[RELAY].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[RELAY]
