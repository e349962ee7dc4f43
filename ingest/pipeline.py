"""The ingest pipeline, in order. Every message, from any transport, goes:

1. **decode**   - the topic picks the protocol decoder (``ingest.protocols.*``);
                  bytes become fixes, events or a status (``Reject`` otherwise).
2. **validate** - shared range and time-window checks (``ingest.validate``);
                  a bad fix inside a batch rejects that fix, not the batch.
3. **batch**    - ``ingest.writer.BatchWriter`` collects processed messages and
                  flushes by size (``ingest_batch_size``) or age
                  (``ingest_flush_interval_ms``).
4. **copy**     - fixes, message provenance, rejections and events are written in
                  one transaction, idempotent on (device, fix time) and
                  (device, event id) (``storage.fixes``).
5. **commit**
6. **ack**      - only now is each MQTT message acknowledged: a crash before this
                  point makes the broker redeliver, and step 4 makes that harmless;
                  then each native phone is told what is stored
                  (``ingest.acks``: its end-to-end ack, since the broker's
                  PUBACK only means the broker has it).
7. **events**   - handlers registered in ``ingest.events`` apply new device
                  events (the jobs module's seam), exactly once via ``applied_at``.
8. **live**     - the newest fix per device goes to Redis (``storage.live``),
                  decoupled: Redis being down never holds up steps 1-7.

Steps 1-2 are :func:`process` here (pure, no I/O); 3-8 run in the writer.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace

from core.messages import (
    BAD_TOPIC,
    DECODER_ERROR,
    Decoded,
    DeviceEvent,
    Fix,
    InboundMessage,
    Processed,
    Reject,
    Rejection,
    is_device_id,
)
from ingest.protocols import native, owntracks
from ingest.validate import Limits, check_event, check_fix

log = logging.getLogger(__name__)

STEPS = ("decode", "validate", "batch", "copy", "commit", "ack", "events", "live")

Decoder = Callable[[str, bytes], Decoded]


def route(topic: str) -> tuple[str, Decoder]:
    """Pick the decoder for a topic (the topic's first level names the protocol)."""
    if topic.startswith(native.TOPIC_PREFIX):
        return native.PROTOCOL, native.decode
    if topic.startswith("owntracks/"):
        return owntracks.PROTOCOL, owntracks.decode
    raise Reject(BAD_TOPIC, topic[:200])


def _device_from_topic(topic: str) -> str | None:
    parts = topic.split("/")
    candidate = parts[2] if parts[0] == "crewtrack" and len(parts) > 2 else None
    if parts[0] == "owntracks" and len(parts) > 1:
        candidate = parts[1]
    if candidate and is_device_id(candidate):
        return candidate
    return None


def process(
    msg: InboundMessage, limits: Limits, keys: owntracks.KeyLookup | None = None
) -> Processed:
    """Steps 1-2 for an MQTT message. Never raises: failures become rejections.

    ``keys`` gives a device's OwnTracks payload key (``ingest.device_keys``).
    """
    digest = hashlib.sha256(msg.payload).digest()
    try:
        protocol, decoder = route(msg.topic)
    except Reject as r:
        return reject_whole(msg, "unknown", digest, r.reason, r.detail)
    try:
        if protocol == owntracks.PROTOCOL:
            decoded = owntracks.decode(msg.topic, msg.payload, keys)
        else:
            decoded = decoder(msg.topic, msg.payload)
    except Reject as r:
        return reject_whole(msg, protocol, digest, r.reason, r.detail)
    except Exception as exc:  # a decoder bug must not stop the worker
        log.exception("decoder failed on %s", msg.topic)
        return reject_whole(msg, protocol, digest, DECODER_ERROR, repr(exc)[:200])
    return validate(msg, decoded, digest, limits)


def validate(
    msg: InboundMessage, decoded: Decoded, digest: bytes, limits: Limits
) -> Processed:
    """Step 2: range and time checks; bad fixes/events become rejections."""
    received = msg.received_ms
    fixes: list[Fix] = []
    rejections = list(decoded.rejections)
    odd = list(decoded.odd)
    batch = decoded.carried > 1
    for i, fix in enumerate(decoded.fixes):
        try:
            fixes.append(check_fix(fix, received, limits))
        except Reject as r:
            rejections.append(Rejection(r.reason, r.detail, i if batch else -1))
    if batch and decoded.rejections:
        # indices of decode-time rejections refer to the original list; keep them
        # and renumber validation rejections to the original positions too
        rejections = _renumber(decoded, rejections)
    events: list[DeviceEvent] = []
    for event in decoded.events:
        if event.t_ms <= 0:
            # no time (an iBeacon transition's tst 0, decoded as 0): still an
            # event the phone meant to send, and it happened about now. A real
            # time, however old, stays what it is (too old is rejected below).
            event = replace(event, t_ms=received)
            odd.append("receive_time")
        try:
            check_event(event, received, limits)
        except Reject as r:
            rejections.append(Rejection(r.reason, r.detail, -1))
            continue
        events.append(event)
    kind = decoded.kind
    if decoded.kind == "event" and not events:
        fixes = []  # an OwnTracks transition stands or falls with its event
    return Processed(
        msg,
        decoded.protocol,
        decoded.device_id,
        digest,
        kind,
        fixes,
        events,
        rejections,
        decoded.status,
        decoded.carried,
        tuple(odd),
    )


def _renumber(decoded: Decoded, rejections: list[Rejection]) -> list[Rejection]:
    """Map validation rejections' indices (into decoded.fixes) to batch positions."""
    bad_at_decode = sorted(r.item for r in decoded.rejections)
    positions: list[int] = []
    j = 0
    for pos in range(decoded.carried):
        if j < len(bad_at_decode) and bad_at_decode[j] == pos:
            j += 1
            continue
        positions.append(pos)
    n_decode = len(decoded.rejections)
    out = rejections[:n_decode]
    out += [
        Rejection(r.reason, r.detail, positions[r.item] if r.item >= 0 else -1)
        for r in rejections[n_decode:]
    ]
    return out


def reject_whole(
    msg: InboundMessage, protocol: str, digest: bytes, reason: str, detail: str = ""
) -> Processed:
    """A message none of which can be stored."""
    return Processed(
        msg,
        protocol,
        _device_from_topic(msg.topic),
        digest,
        "fix",
        rejections=[Rejection(reason, detail)],
    )
