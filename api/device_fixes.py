"""A phone's own fixes over HTTP: the native protocol's payload, batch and all.

``POST /api/v1/devices/{device_id}/fixes`` with the bearer token of the device's
user and, as the body, exactly what the phone would publish on
``crewtrack/v1/<device_id>/fix`` (msgpack: one fix map or ``{"fixes": […]}``).
The body goes through the MQTT ingest's own steps: ``ingest.pipeline.process``
(decode, validate) on the native topic, then ``storage.fixes.store_batch_async``
(idempotent on device + fix time), and the answer is sent only after the
transaction commits. It is the native phone's end-to-end ack
(``ingest.acks``, as JSON): the phone drops from its outbox exactly what an ack
names, stored or rejected, and keeps everything else (any other answer or a
network error keeps the whole batch). See docs/protocol.md "HTTP batch".
"""

from __future__ import annotations

import time
from typing import Any

import msgpack
from aiohttp import web

from api.http.context import Ctx
from api.http.problems import HttpProblem
from api.http.registry import Api
from api.http.responses import json_ok
from api.tracking_osmand import publish_live
from api.upload_metrics import count
from core.messages import InboundMessage
from ingest.acks import device_acks
from ingest.pipeline import process
from ingest.protocols import native
from ingest.validate import Limits
from jobs_domain.errors import NotFound
from storage.devices import owned_device
from storage.fixes import store_batch_async

MSGPACK_TYPES = (
    "application/msgpack",
    "application/vnd.msgpack",
    "application/x-msgpack",
)

ACK_OUT: dict[str, Any] = {
    "type": "object",
    "required": ["fixes", "events", "rejected"],
    "properties": {
        "fixes": {
            "type": "array",
            "description": "Inclusive ranges [t_from, t_to] (epoch ms) now stored",
            "items": {"type": "array", "items": {"type": "integer"}},
        },
        "events": {"type": "array", "items": {"type": "string"}},
        "rejected": {
            "type": "array",
            "description": "Items never to be stored: a fix by `t`, a message by "
            "`msg` (sha256 prefix) and `item`, with the reason",
            "items": {"type": "object", "required": ["reason"]},
        },
    },
}


def _ack(payloads: list[tuple[str, bytes]]) -> dict[str, list[Any]]:
    """The ack messages of one upload, merged into one answer."""
    out: dict[str, list[Any]] = {"fixes": [], "events": [], "rejected": []}
    for _topic, payload in payloads:
        body = msgpack.unpackb(payload, raw=False)
        for key in out:
            out[key] += body.get(key, [])
    return out


async def upload_fixes(ctx: Ctx) -> web.StreamResponse:
    """Store a native fix message from the caller's own device; answer its ack."""
    received_ms = time.time_ns() // 1_000_000
    device_id = ctx.request.match_info["device_id"]
    user_id = ctx.actor.user_id
    if not await owned_device(ctx.conn, device_id, user_id):
        raise NotFound(f"no active device {device_id!r} of yours")
    request = ctx.request
    if request.content_type not in MSGPACK_TYPES:
        raise HttpProblem(
            415,
            "Unsupported media type",
            "send the native fix message as application/msgpack",
        )
    limit = native.MAX_PACKET_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise HttpProblem(413, "Payload too large", f"at most {limit} bytes")
    body = await request.read()
    if len(body) > limit:
        raise HttpProblem(413, "Payload too large", f"at most {limit} bytes")
    settings = ctx.settings
    limits = Limits.from_settings(settings.max_future_skew_s, settings.retention_days)
    topic = f"{native.TOPIC_PREFIX}{device_id}/fix"
    processed = process(InboundMessage(topic, body, received_ms), limits)
    await store_batch_async(ctx.conn, [processed])
    count(request.app, processed)
    if processed.fixes:
        await publish_live(request.app, processed)
    return json_ok(_ack(device_acks([processed])))


def setup(api: Api) -> None:
    api.route(
        "POST",
        "/devices/{device_id}/fixes",
        upload_fixes,
        summary="Upload a native fix message (msgpack) from your own device",
        tag="tracking",
        description=(
            "The body is a native protocol fix message (docs/protocol.md), "
            "`Content-Type: application/msgpack`, at most 263,168 bytes. It is "
            "decoded, validated and stored by the MQTT ingest's steps; the answer, "
            "sent after the commit, is the device's end-to-end ack as JSON. The "
            "device must be one of the caller's active devices (else 404)."
        ),
        conflicts=True,
        responses={200: ACK_OUT},
    )
