"""The tracking messages: inbound messages, fixes, device events, rejections.

What flows through the ingest and is stored below it (``storage`` writes these
records, the ingest decodes into them), so the model lives here, below both.

A message from any transport (MQTT, HTTP) becomes an :class:`InboundMessage`
before anything decodes it; decoders turn it into :class:`Fix` and
:class:`DeviceEvent` values or :class:`Rejection` records. All are immutable.
The per-message records (``InboundMessage``, ``Fix``, ``Decoded``, ``Processed``) are
``NamedTuple`` rather than frozen dataclasses: a busy worker builds ~20,000 of
each a second, and a frozen dataclass costs 2-3 µs to build against 0.3 µs
for a tuple (measured here) - a tenth of the per-message budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

# A device id is its MQTT username and its topic level: ``%u`` in the broker's
# ACL. A ``/`` (or ``+``/``#``) in it would let one phone write another's topics.
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_device_id(value: str) -> bool:
    """True if ``value`` may be a device id (the whole string, not a part)."""
    return DEVICE_ID.fullmatch(value) is not None


# Reason codes of rejected messages (rejected_messages.reason, metrics label).
BAD_TOPIC = "bad_topic"  # topic outside the protocol's shape
BAD_DEVICE_ID = "bad_device_id"  # id not [A-Za-z0-9_-]{1,64}
OVERSIZED = "oversized"  # payload larger than the protocol allows
BAD_ENCODING = "bad_encoding"  # not msgpack / JSON / form data
BAD_SHAPE = "bad_shape"  # decodes, but not the map / list the protocol defines
MISSING_FIELD = "missing_field"  # a required key is absent
BAD_TYPE = "bad_type"  # a key holds the wrong type
NOT_FINITE = "not_finite"  # NaN or infinity
OUT_OF_RANGE = "out_of_range"  # lat/lon/acc/hdg/bat outside their domain
FUTURE = "future"  # fix time too far ahead of the receive time
TOO_OLD = "too_old"  # fix time beyond the retention horizon
DEVICE_MISMATCH = "device_mismatch"  # payload names another device than the topic
TOO_MANY_FIXES = "too_many_fixes"  # batch longer than the protocol allows
EMPTY_BATCH = "empty_batch"  # a batch with no fixes
BAD_EVENT = "bad_event"  # unknown event type or malformed id/job
UNSUPPORTED_TYPE = "unsupported_type"  # a well-formed message we do not store
UNKNOWN_DEVICE = "unknown_device"  # HTTP upload for a device not in the registry
ENCRYPTED_WITHOUT_KEY = (
    "encrypted_without_key"  # an encrypted OwnTracks payload; the device has no key
)
DECRYPT_FAILED = "decrypt_failed"  # the device's key does not open the payload
DECODER_ERROR = (
    "decoder_error"  # a bug in a decoder: recorded, never crashes the worker
)

REASONS = (
    BAD_TOPIC,
    BAD_DEVICE_ID,
    OVERSIZED,
    BAD_ENCODING,
    BAD_SHAPE,
    MISSING_FIELD,
    BAD_TYPE,
    NOT_FINITE,
    OUT_OF_RANGE,
    FUTURE,
    TOO_OLD,
    DEVICE_MISMATCH,
    TOO_MANY_FIXES,
    EMPTY_BATCH,
    BAD_EVENT,
    UNSUPPORTED_TYPE,
    UNKNOWN_DEVICE,
    ENCRYPTED_WITHOUT_KEY,
    DECRYPT_FAILED,
    DECODER_ERROR,
)

EVENT_TYPES = frozenset({"clock_in", "clock_out", "pause", "resume"})
# OwnTracks region transitions are stored as events too; the jobs module decides
# whether a region stands for a job site.
GEOFENCE_EVENT_TYPES = frozenset({"geofence_enter", "geofence_leave"})
FIX_SOURCES = frozenset({"gps", "network", "fused"})


class InboundMessage(NamedTuple):
    """One message as the transport delivered it, before any decoding.

    ``generation`` counts MQTT (re)connections: an ack is only sent on the
    connection the message arrived on (after a reconnect the broker redelivers
    it and the redelivered copy is acked instead).
    """

    topic: str
    payload: bytes
    received_ms: int
    mid: int = 0
    qos: int = 0
    retain: bool = False
    dup: bool = False
    generation: int = 0


#: In ``Fix.flags`` / ``fixes.fix_flags``: the device itself said the fix is not
#: valid (Traccar ``valid=false``); kept and shown, never evidence for visits.
NOT_VALID_FLAG = "not_valid"


class Fix(NamedTuple):
    """A GPS fix. Units: epoch ms UTC, degrees, metres, m/s, degrees, percent."""

    device_id: str
    t_ms: int
    lat: float
    lon: float
    acc: float | None = None
    alt: float | None = None
    spd: float | None = None
    hdg: float | None = None
    bat: float | None = None
    src: str | None = None
    mock: bool | None = None
    ping: bool = False
    # what is uncertain about this fix, comma-separated (docs/protocol.md):
    # ``receive_time`` (the device sent no time), ``dropped:<field>`` (an
    # implausible optional field was dropped); None when all is as sent
    flags: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """A clock event (or geofence transition) from a device; ``event_id`` is the idempotency key."""

    device_id: str
    event_id: str
    type: str
    t_ms: int
    job: str = ""
    lat: float | None = None
    lon: float | None = None
    acc: float | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a message was not stored; ``item`` is the fix index, -1 = whole."""

    reason: str
    detail: str = ""
    item: int = -1


class Reject(Exception):
    """Raised inside a decoder to reject the message or one fix of it."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


class Decoded(NamedTuple):
    """What a decoder found in one message (the lists are not shared or mutated)."""

    protocol: str
    device_id: str | None
    kind: str = "fix"  # fix | event | status
    fixes: list[Fix] = []  # noqa: RUF012 - NamedTuple defaults are never mutated
    events: list[DeviceEvent] = []  # noqa: RUF012
    rejections: list[Rejection] = []  # noqa: RUF012
    status: str | None = None
    carried: int = 0  # fixes the message carried (valid or not)
    odd: tuple[str, ...] = ()  # odd-but-kept inputs, counted per reason


class Processed(NamedTuple):
    """A message after decode and validate: what to store, and what was rejected."""

    message: InboundMessage
    protocol: str
    device_id: str | None
    sha256: bytes
    kind: str = "fix"
    fixes: list[Fix] = []  # noqa: RUF012 - never mutated
    events: list[DeviceEvent] = []  # noqa: RUF012
    rejections: list[Rejection] = []  # noqa: RUF012
    status: str | None = None
    carried: int = 0
    odd: tuple[str, ...] = ()  # odd-but-kept inputs, counted per reason

    @property
    def accepted(self) -> bool:
        """Whether provenance is recorded (something of the message is kept)."""
        return bool(self.fixes or self.events or self.status)
