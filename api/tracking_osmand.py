"""Traccar Client uploads (OsmAnd protocol) over HTTP, authenticated per device.

``GET|POST /api/v1/osmand?token=<device token>&id=<device id>&lat=…&lon=…``
(query or form), or ``POST`` JSON (Traccar Client 9+), token as ``?token=`` or
``Authorization: Bearer``. The decoder and validation are the MQTT ones; the
upload is committed *before* the answer, because Traccar Client treats an
answer as delivered. Answers: 200 stored, 400 rejected (and recorded with its
reason), 401 missing or unknown token (recorded as ``unknown_device`` with the
``id`` it claimed - never the token - at most once a minute per claimed id, so
a phone with a revoked token shows up, and at most
CREWTRACK_OSMAND_UNKNOWN_LIMIT_PER_IP per client address and _LIMIT_TOTAL for
everyone per window, so made-up ids cannot flood the table), 403 the ``id``
names another device. An alarm (``alarm=sos``) is raised as the dispatcher's
alert before the answer too (``services.alarms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from urllib.parse import urlencode

from aiohttp import web
from redis.exceptions import RedisError

from api.http.context import POOL, REDIS, SETTINGS
from api.http.problems import problem_response
from api.upload_metrics import count
from core.messages import (
    DEVICE_MISMATCH,
    UNKNOWN_DEVICE,
    InboundMessage,
    Processed,
    Reject,
    is_device_id,
)
from ingest.pipeline import reject_whole, validate
from ingest.protocols import osmand
from ingest.validate import Limits
from services.alarms import raise_alarm
from storage import live, rate_limits
from storage.devices import device_for_http_token
from storage.fixes import store_batch_async, stored_events

log = logging.getLogger(__name__)

PATH = "/api/v1/osmand"
LIVE_TIMEOUT_S = (
    0.5  # the live map is best effort here; the answer must not wait on Redis
)
UNAUTHORIZED_RECORD_EVERY_MS = 60_000
UNAUTHORIZED_SEEN_MAX = 10_000
RATE_KEY = "osmand-unknown:"  # + "ip:<address>" or "all"
# claimed device id -> when its last unauthenticated upload was recorded (ms)
UNAUTHORIZED_SEEN = web.AppKey("osmand_unauthorized_seen", dict[str, int])


def setup_routes(app: web.Application) -> None:
    """Register the OsmAnd upload routes (and a Redis client for live positions)."""
    app.router.add_route("GET", PATH, upload)
    app.router.add_route("POST", PATH, upload)
    app[UNAUTHORIZED_SEEN] = {}


def setup(api: object) -> None:
    """Hook for ``api.app.ROUTE_MODULES`` (these routes bypass user auth on purpose)."""
    setup_routes(api.app)  # type: ignore[attr-defined]


def _token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.query.get("token")


async def upload(request: web.Request) -> web.Response:
    """Store one Traccar Client upload; answer only after the commit."""
    received_ms = time.time_ns() // 1_000_000
    settings = request.app[SETTINGS]
    token = _token(request)
    query = {k: v for k, v in request.query.items() if k != "token"}
    is_json = request.content_type == "application/json"
    body = await request.read() if request.method == "POST" else b""
    if is_json:
        params, raw = query, body
    else:
        params = dict(query)
        if body:
            form = await request.post()
            params.update({k: str(v) for k, v in form.items() if k != "token"})
        raw = urlencode(sorted(params.items())).encode()  # never the token
    pool = request.app[POOL]
    device_id = None
    if token:
        async with pool.connection() as conn:
            device_id = await device_for_http_token(conn, token)
    if device_id is None:
        detail = "unknown or revoked device token" if token else "device token required"
        await _record_unauthorized(
            request.app,
            request.remote or "unknown",
            query.get("id", ""),
            raw,
            detail,
            received_ms,
        )
        return problem_response(401, "Unauthorized", detail)
    msg = InboundMessage(osmand.topic_for(device_id), raw, received_ms)
    limits = Limits.from_settings(settings.max_future_skew_s, settings.retention_days)
    processed = _process(msg, device_id, is_json, params, limits)
    async with pool.connection() as conn:
        await store_batch_async(conn, [processed])
        # an SOS reaches the dispatcher now, not at the ingest's next sweep
        # (which applies the same stored event later and raises nothing new)
        for event in stored_events([processed]):
            await raise_alarm(conn, event)
    count(request.app, processed)
    if processed.fixes:
        await publish_live(request.app, processed)
    if processed.rejections and not (processed.fixes or processed.events):
        first = processed.rejections[0]
        status = 403 if first.reason == DEVICE_MISMATCH else 400
        return problem_response(
            status, "Rejected", f"{first.reason}: {first.detail}", reason=first.reason
        )
    return web.json_response(
        {
            "stored": len(processed.fixes),
            "events": len(processed.events),
            "rejected": len(processed.rejections),
        }
    )


async def _within_recording_limits(app: web.Application, source: str) -> bool:
    """Whether one more ``unknown_device`` row from ``source`` is within the limits
    (per address, then for everyone); without Redis, nothing more is recorded."""
    settings = app[SETTINGS]
    window = settings.osmand_unknown_window_s
    try:
        async with asyncio.timeout(LIVE_TIMEOUT_S):
            wait = await rate_limits.retry_after(
                app[REDIS],
                rate_limits.Limit(
                    f"{RATE_KEY}ip:{source}",
                    settings.osmand_unknown_limit_per_ip,
                    window,
                ),
                rate_limits.Limit(
                    f"{RATE_KEY}all", settings.osmand_unknown_limit_total, window
                ),
            )
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("OsmAnd unknown-token limit unavailable, not recording: %s", exc)
        return False
    return wait is None


async def _record_unauthorized(
    app: web.Application,
    source: str,
    claimed: str,
    raw: bytes,
    detail: str,
    received_ms: int,
) -> None:
    """Keep an unauthenticated upload as a rejection, once a minute per claimed id
    and within the per-address and global limits."""
    claimed = claimed[:64]
    count(app, _unauthorized(claimed, raw, detail, received_ms))
    seen = app[UNAUTHORIZED_SEEN]
    last = seen.get(claimed)
    if last is not None and received_ms - last < UNAUTHORIZED_RECORD_EVERY_MS:
        return
    if len(seen) >= UNAUTHORIZED_SEEN_MAX:
        seen.clear()  # a flood of made-up ids: start over rather than grow
    seen[claimed] = received_ms
    if not await _within_recording_limits(app, source):
        return
    rejected = _unauthorized(claimed, raw, detail, received_ms)
    log.warning("OsmAnd upload without a valid device token (id=%r)", claimed)
    async with app[POOL].connection() as conn:
        await store_batch_async(conn, [rejected])


def _unauthorized(claimed: str, raw: bytes, detail: str, received_ms: int) -> Processed:
    """The ``unknown_device`` rejection of an upload without a valid token."""
    topic = osmand.topic_for(claimed if is_device_id(claimed) else "-")
    return reject_whole(
        InboundMessage(topic, raw, received_ms),
        osmand.PROTOCOL,
        hashlib.sha256(raw).digest(),
        UNKNOWN_DEVICE,
        f"{detail}; id={claimed!r}",
    )


def _process(
    msg: InboundMessage,
    device_id: str,
    is_json: bool,
    params: dict[str, str],
    limits: Limits,
) -> Processed:
    digest = hashlib.sha256(msg.payload).digest()
    try:
        if is_json:
            osmand.check_id(params.get("id"), device_id)
            decoded = osmand.decode_json(
                device_id, msg.payload, received_ms=msg.received_ms
            )
        else:
            decoded = osmand.decode_params(
                device_id, params, received_ms=msg.received_ms
            )
    except Reject as r:
        return reject_whole(msg, osmand.PROTOCOL, digest, r.reason, r.detail)
    return validate(msg, decoded, digest, limits)


async def publish_live(app: web.Application, p: Processed) -> None:
    """The newest fix of an upload to the live map, best effort (never waits long)."""
    newest = max(p.fixes, key=lambda f: f.t_ms)
    update = live.fix_update(newest, p.message.received_ms)
    with contextlib.suppress(RedisError, OSError, TimeoutError):
        async with asyncio.timeout(LIVE_TIMEOUT_S):
            await live.write_updates(app[REDIS], [update])
