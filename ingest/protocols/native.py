"""crewtrack device protocol v1: msgpack on ``crewtrack/v1/<device_id>/<kind>``.

See docs/protocol.md. ``fix`` carries one fix map or ``{"fixes": [...]}``;
``event`` one clock event; ``status`` the retained ``online``/``offline``.
"""

from __future__ import annotations

import functools
from typing import Any

import msgpack

from core.messages import (
    BAD_ENCODING,
    BAD_EVENT,
    BAD_SHAPE,
    BAD_TOPIC,
    BAD_TYPE,
    DEVICE_MISMATCH,
    EMPTY_BATCH,
    EVENT_TYPES,
    FIX_SOURCES,
    OUT_OF_RANGE,
    OVERSIZED,
    TOO_MANY_FIXES,
    Decoded,
    DeviceEvent,
    Fix,
    Reject,
    Rejection,
)
from ingest.protocols.fields import device_id as check_device_id
from ingest.protocols.fields import integer, number, opt_number, text

PROTOCOL = "native"
TOPIC_PREFIX = "crewtrack/v1/"
# The protocol's size limit (docs/protocol.md): any payload up to
# MAX_PAYLOAD_BYTES is accepted. The broker enforces it on the whole MQTT
# packet - Mosquitto's max_packet_size, announced to MQTT 5 clients in CONNACK
# as Maximum Packet Size - so a larger PUBLISH is refused *before* any PUBACK
# (the broker disconnects the sender, which keeps the message). The extra KiB
# holds the fixed header, the longest device topic and a few properties.
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 1024
MAX_BATCH_FIXES = 5000  # ~4 h at one fix every 3 s; larger backlogs are split
MAX_EVENT_ID_CHARS = 128
MAX_JOB_ID_CHARS = 128
STATUSES = frozenset({"online", "offline"})
TOPIC_CACHE_SIZE = 65_536  # a fleet's topics repeat; parsing each once saves ~1 µs/msg


@functools.lru_cache(maxsize=TOPIC_CACHE_SIZE)
def parse_topic(topic: str) -> tuple[str, str]:
    """Split ``crewtrack/v1/<device_id>/<kind>`` into (device_id, kind)."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "crewtrack" or parts[1] != "v1":
        raise Reject(BAD_TOPIC, topic[:200])
    return check_device_id(parts[2]), parts[3]


def unpack(payload: bytes) -> Any:
    """Decode msgpack; any failure is a ``bad_encoding`` rejection."""
    try:
        return msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises many types on hostile input
        raise Reject(BAD_ENCODING, type(exc).__name__) from None


def decode(topic: str, payload: bytes) -> Decoded:
    """Decode one native message; whole-message problems raise ``Reject``."""
    dev, kind = parse_topic(topic)
    # Only a payload the broker could not have let through is oversized here
    # (one that passed the broker was PUBACKed: refusing it now would lose it).
    if len(payload) > MAX_PACKET_BYTES:
        raise Reject(OVERSIZED, str(len(payload)))
    if kind == "fix":
        return decode_fixes(dev, unpack(payload))
    if kind == "event":
        return Decoded(
            PROTOCOL, dev, "event", events=[decode_event(dev, unpack(payload))]
        )
    if kind == "status":
        status = payload.decode("utf-8", "replace").strip()
        if status not in STATUSES:
            raise Reject(BAD_SHAPE, f"status {status[:20]!r}")
        return Decoded(PROTOCOL, dev, "status", status=status)
    raise Reject(BAD_TOPIC, topic[:200])


def _check_dev(m: dict[str, Any], dev: str) -> None:
    claimed = m.get("dev")
    if claimed is not None and claimed != dev:
        raise Reject(DEVICE_MISMATCH, str(claimed)[:80])


def decode_fixes(dev: str, obj: Any) -> Decoded:
    """One fix map or ``{"fixes": [...]}``; a bad fix rejects only itself."""
    if type(obj) is not dict:
        raise Reject(BAD_SHAPE, f"fix message is {type(obj).__name__}")
    _check_dev(obj, dev)
    if "fixes" not in obj:
        return Decoded(PROTOCOL, dev, fixes=[decode_fix(dev, obj)], carried=1)
    items = obj["fixes"]
    if type(items) is not list:
        raise Reject(BAD_SHAPE, "fixes is not an array")
    if not items:
        raise Reject(EMPTY_BATCH)
    if len(items) > MAX_BATCH_FIXES:
        raise Reject(TOO_MANY_FIXES, str(len(items)))
    fixes: list[Fix] = []
    rejections: list[Rejection] = []
    for i, item in enumerate(items):
        try:
            if type(item) is dict:
                _check_dev(item, dev)
            fixes.append(decode_fix(dev, item))
        except Reject as r:
            rejections.append(Rejection(r.reason, r.detail, i))
    return Decoded(
        PROTOCOL, dev, fixes=fixes, rejections=rejections, carried=len(items)
    )


def decode_fix(dev: str, m: Any) -> Fix:
    """One fix map (keys ``t lat lon`` required; ``acc alt spd hdg bat src mock``)."""
    if type(m) is not dict:
        raise Reject(BAD_SHAPE, f"fix is {type(m).__name__}")
    t = integer(m, "t")
    lat = number(m, "lat")
    lon = number(m, "lon")
    if len(m) == 3:  # the common minimal fix: skip the optional lookups
        return Fix(dev, t, lat, lon)
    src = m.get("src")
    if src is not None and src not in FIX_SOURCES:
        raise Reject(OUT_OF_RANGE if type(src) is str else BAD_TYPE, "src")
    mock = m.get("mock")
    if mock is not None and type(mock) is not bool:
        raise Reject(BAD_TYPE, "mock")
    return Fix(
        dev,
        t,
        lat,
        lon,
        opt_number(m, "acc"),
        opt_number(m, "alt"),
        opt_number(m, "spd"),
        opt_number(m, "hdg"),
        opt_number(m, "bat"),
        src,
        mock,
    )


def decode_event(dev: str, m: Any) -> DeviceEvent:
    """A clock event map: ``id type t job`` required, ``lat lon acc`` optional."""
    if type(m) is not dict:
        raise Reject(BAD_SHAPE, f"event is {type(m).__name__}")
    _check_dev(m, dev)
    event_id = text(m, "id") or ""
    if not 1 <= len(event_id) <= MAX_EVENT_ID_CHARS:
        raise Reject(BAD_EVENT, "id length")
    kind = text(m, "type")
    if kind not in EVENT_TYPES:
        raise Reject(BAD_EVENT, f"type {str(kind)[:40]!r}")
    t = integer(m, "t")
    job = m.get("job")
    if type(job) is int:  # numeric job ids from older app builds
        job = str(job)
    if type(job) is not str:
        raise Reject(BAD_TYPE if job is not None else BAD_EVENT, "job")
    if not 1 <= len(job) <= MAX_JOB_ID_CHARS:
        raise Reject(BAD_EVENT, "job length")
    lat = opt_number(m, "lat")
    lon = opt_number(m, "lon")
    if (lat is None) != (lon is None):
        raise Reject(BAD_EVENT, "lat and lon come together")
    return DeviceEvent(dev, event_id, kind, t, job, lat, lon, opt_number(m, "acc"))


def encode_fixes(fixes: list[dict[str, Any]]) -> bytes:
    """Encode fixes the way a phone does (one map, or a batch); for tools and tests."""
    body: Any = fixes[0] if len(fixes) == 1 else {"fixes": fixes}
    out: bytes = msgpack.packb(body, use_bin_type=True)
    return out
