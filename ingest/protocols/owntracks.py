"""The OwnTracks app's JSON on ``owntracks/<user>/<device>[/<sub>]``.

The ``<user>`` level is the broker username, i.e. our device id (the ACL lets a
device write only ``owntracks/<its id>/#``); ``<device>`` is the app's own
device name and is ignored. Mapping onto our model:

- ``_type: location`` → a fix. ``tst`` seconds → ms, ``vel`` km/h → m/s,
  ``cog`` → heading, ``batt`` → battery. ``t: p`` (ping) is stored flagged
  ``ping`` because its ``tst`` is the send time, not a fresh fix.
- ``_type: transition`` → a fix at the transition's position and a
  ``geofence_enter`` / ``geofence_leave`` event whose id is derived from the
  payload, so the retained copy that re-arrives on subscribe is the same event.
- ``_type: lwt`` → status ``offline``.
- ``_type: encrypted`` → ``unsupported_type`` (not yet decrypted, see docs).
- ``-1`` in ``vel``/``cog``/``batt``/``acc``/``alt`` is iOS's "unknown": absent.
- A transition at ``lat 0, lon 0`` (an iBeacon region has no position) keeps
  its event without a position and stores no fix.
- An empty payload is the app clearing its retained message: kind ``clear``,
  nothing stored, nothing rejected (counted as ``retained_clear``).
- Any other ``_type`` (card, waypoints, cmd …) is accounted as ``unsupported_type``.
"""

from __future__ import annotations

from typing import Any

from core.messages import (
    BAD_EVENT,
    BAD_TOPIC,
    DEVICE_MISMATCH,
    UNSUPPORTED_TYPE,
    Decoded,
    DeviceEvent,
    Fix,
    Reject,
)
from ingest.protocols.fields import device_id as check_device_id
from ingest.protocols.fields import integer, json_object, number, opt_number, text
from ingest.protocols.native import MAX_PACKET_BYTES

PROTOCOL = "owntracks"
# A location message is < 1 KiB; the limit is the broker's packet limit, so a
# message the broker PUBACKed is never refused here as oversized.
MAX_PAYLOAD_BYTES = MAX_PACKET_BYTES
KMH_TO_MS = 1 / 3.6
TRANSITIONS = {"enter": "geofence_enter", "leave": "geofence_leave"}


def parse_topic(topic: str) -> str:
    """The device id (the ``<user>`` level) of ``owntracks/<user>/<device>[/...]``."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "owntracks" or not parts[2]:
        raise Reject(BAD_TOPIC, topic[:200])
    return check_device_id(parts[1])


def decode(topic: str, payload: bytes) -> Decoded:
    """Decode one OwnTracks message; whole-message problems raise ``Reject``."""
    dev = parse_topic(topic)
    if not payload:
        return Decoded(PROTOCOL, dev, "clear", odd=("retained_clear",))
    obj = json_object(payload, MAX_PAYLOAD_BYTES, "message")
    claimed = obj.get("topic")  # HTTP mode and some relays include the topic
    if claimed is not None and (
        type(claimed) is not str or claimed.split("/")[1:2] != [dev]
    ):
        raise Reject(DEVICE_MISMATCH, str(claimed)[:200])
    kind = obj.get("_type")
    if kind == "location":
        fix, odd = decode_location(dev, obj)
        return Decoded(PROTOCOL, dev, fixes=[fix], carried=1, odd=odd)
    if kind == "transition":
        return decode_transition(dev, obj)
    if kind == "lwt":
        return Decoded(PROTOCOL, dev, "status", status="offline")
    raise Reject(UNSUPPORTED_TYPE, str(kind)[:40])


# iOS sends -1 for a value CoreLocation / UIDevice does not know
SENTINEL_FIELDS = ("vel", "cog", "batt", "acc", "alt")
SENTINEL = -1


def _known(m: dict[str, Any], key: str, odd: list[str]) -> float | None:
    """An optional number, None for the iOS "unknown" sentinel (counted in ``odd``)."""
    v = opt_number(m, key)
    if v == SENTINEL and key in SENTINEL_FIELDS and key != "alt":
        odd.append(f"sentinel:{key}")
        return None
    return v


def decode_location(dev: str, m: dict[str, Any]) -> tuple[Fix, tuple[str, ...]]:
    odd: list[str] = []
    vel = _known(m, "vel", odd)
    fix = Fix(
        dev,
        integer(m, "tst") * 1000,
        number(m, "lat"),
        number(m, "lon"),
        _known(m, "acc", odd),
        opt_number(m, "alt"),  # -1 m is a real altitude (below sea level)
        None if vel is None else vel * KMH_TO_MS,
        _known(m, "cog", odd),
        _known(m, "batt", odd),
        None,
        None,
        m.get("t") == "p",
    )
    return fix, tuple(odd)


def is_placeholder(lat: float, lon: float) -> bool:
    """The 0,0 an iBeacon transition carries instead of a position."""
    return lat == 0.0 and lon == 0.0


def decode_transition(dev: str, m: dict[str, Any]) -> Decoded:
    event = text(m, "event")
    kind = TRANSITIONS.get(event or "")
    if kind is None:
        raise Reject(BAD_EVENT, f"event {str(event)[:20]!r}")
    tst = m.get("tst")
    t_ms = integer(m, "tst") * 1000 if tst is not None else 0  # 0: bogus time
    lat: float | None = number(m, "lat")
    lon: float | None = number(m, "lon")
    acc = opt_number(m, "acc")
    fixes = [Fix(dev, t_ms, lat, lon, acc)]  # type: ignore[arg-type]
    odd: tuple[str, ...] = ()
    if is_placeholder(lat, lon):  # type: ignore[arg-type]
        lat = lon = acc = None
        fixes, odd = [], ("placeholder_position",)
    region = text(m, "rid", required=False) or text(m, "desc", required=False) or ""
    job = (text(m, "desc", required=False) or "")[:128]
    event_id = f"ot-{event}-{t_ms}-{region}"[:128]
    return Decoded(
        PROTOCOL,
        dev,
        "event",
        fixes=fixes,
        events=[DeviceEvent(dev, event_id, kind, t_ms, job, lat, lon, acc)],
        carried=len(fixes),
        odd=odd,
    )
