"""Traccar Client's OsmAnd protocol (HTTP): query/form parameters or JSON.

Parameters: ``id``/``deviceid``, ``timestamp`` (epoch s, epoch ms or ISO 8601),
``lat``, ``lon`` (or ``location=lat,lon``), ``speed`` (knots), ``bearing``/
``heading``, ``altitude``, ``accuracy`` (m), ``batt`` (%).
JSON (Traccar Client 9+): ``{"device_id", "location": {"timestamp": ISO,
"coords": {latitude, longitude, accuracy, speed (m/s), heading, altitude},
"battery": {"level": 0-1}}}``; ``location`` may also be a list (a synced backlog).

What real clients put in optional fields when they know no value is read as
absent, never as a bad fix (counted per parameter in ``Decoded.odd``):
``-``, an empty value, ``NaN``, ``null`` (``no_value:<param>``), and an
``accuracy`` of 0 - Android's ``Location.getAccuracy()`` when the location has
none; no real fix is exact to the millimetre (``zero_accuracy``). ``mock=true``
(Traccar Client, when the OS reports a mocked location) is kept on the fix.

``alarm=<value>`` (Traccar Client's SOS button sends ``sos``; Traccar's alarm
names are camelCase words) is kept as a device event ``alarm:<value>``, even
when its position is the 0,0 placeholder (then without position and without a
fix). ``valid=false`` (Traccar: the device has no current fix) keeps the fix,
flagged ``not_valid``: it is shown, never evidence for visits. Other Traccar
Client fields (``hdop``, ``charge``, ``motion``, ``activity``, ``event``,
``driverUniqueId``, ``odometer``…) are ignored on purpose (:data:`IGNORED`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.messages import (
    BAD_SHAPE,
    BAD_TYPE,
    DEVICE_MISMATCH,
    MISSING_FIELD,
    NOT_FINITE,
    NOT_VALID_FLAG,
    TOO_MANY_FIXES,
    Decoded,
    DeviceEvent,
    Fix,
    Reject,
    Rejection,
)
from ingest.protocols.fields import json_object, number, opt_number

PROTOCOL = "osmand"
MAX_PAYLOAD_BYTES = 256 * 1024  # as the native protocol: a synced backlog
MAX_BATCH_FIXES = 5000
KNOTS_TO_MS = 0.514444
EPOCH_MS_THRESHOLD = 100_000_000_000  # larger numbers are ms (year 1973 in s)


def topic_for(device_id: str) -> str:
    """The pseudo-topic recorded as provenance of an HTTP upload."""
    return f"http/osmand/{device_id}"


RECEIVE_TIME = "receive_time"  # the fix flag of a fix timed by its arrival


def fix_time(value: object, received_ms: int | None) -> tuple[int, str | None]:
    """The fix time and its flag: the device's, or (as Traccar does) the receive time.

    Older Traccar Clients, firmware and hand-made ``curl`` tests send no
    ``timestamp``; the fix is kept at its receive time, flagged ``receive_time``.
    """
    if (value is None or value == "") and received_ms is not None:
        return received_ms, RECEIVE_TIME
    return parse_time(value), None


def parse_time(value: object) -> int:
    """Epoch ms from epoch s, epoch ms or ISO 8601 (with zone; naive = UTC)."""
    if value is None or value == "":
        raise Reject(MISSING_FIELD, "timestamp")
    if type(value) is int:
        return value if abs(value) >= EPOCH_MS_THRESHOLD else value * 1000
    if type(value) is float:
        if not math.isfinite(value):
            raise Reject(NOT_FINITE, "timestamp")
        return round(value if abs(value) >= EPOCH_MS_THRESHOLD else value * 1000)
    if type(value) is not str:
        raise Reject(BAD_TYPE, "timestamp")
    try:
        num = float(value)
    except ValueError:
        num = None
    if num is not None:
        if not math.isfinite(num) or abs(num) > 1e15:
            raise Reject(NOT_FINITE, "timestamp")
        return round(num if abs(num) >= EPOCH_MS_THRESHOLD else num * 1000)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Reject(BAD_TYPE, "timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Traccar Client sends UTC
    return round(parsed.timestamp() * 1000)


NO_VALUE = frozenset({"", "-", "nan", "null", "none", "undefined"})


def _float_param(params: Mapping[str, str], *keys: str) -> float | None:
    """A required number (``lat``, ``lon``): no value is None, junk a rejection."""
    for key in keys:
        raw = params.get(key)
        if raw is None or raw.strip().lower() in NO_VALUE:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise Reject(BAD_TYPE, key) from None
        if not math.isfinite(value):
            raise Reject(NOT_FINITE, key)
        return value
    return None


def _optional_param(
    params: Mapping[str, str], odd: list[str], *keys: str
) -> float | None:
    """An optional number: no value (``-``, empty, ``NaN``…) is None, counted.

    An infinite value passes: validation drops it like any implausible optional
    field (the fix is kept, flagged ``dropped:<field>``).
    """
    for key in keys:
        raw = params.get(key)
        if raw is None:
            continue
        if raw.strip().lower() in NO_VALUE:
            odd.append(f"no_value:{key}")
            continue
        try:
            return float(raw)
        except ValueError:
            raise Reject(BAD_TYPE, key) from None
    return None


def _accuracy(value: float | None, odd: list[str]) -> float | None:
    """Android reports 0 for a location without accuracy: that is unknown."""
    if value == 0:
        odd.append("zero_accuracy")
        return None
    return value


MOCK_TRUE = frozenset({"true", "1"})
NOT_VALID = frozenset({"false", "0"})
ALARM = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")  # sos, lowBattery, fallDown…
# Sent by Traccar Client or OsmAnd-speaking firmware and deliberately not stored:
# nothing in crewtrack reads them (battery charging, motion and activity state,
# the client's own event name, HDOP next to a real accuracy, a driver id).
IGNORED = (
    "hdop",
    "charge",
    "motion",
    "activity",
    "event",
    "driverUniqueId",
    "odometer",
    "distance",
    "cell",
    "wifi",
)


def check_id(claimed: object, dev: str) -> None:
    if claimed is not None and claimed != "" and str(claimed) != dev:
        raise Reject(DEVICE_MISMATCH, str(claimed)[:80])


def decode_params(
    dev: str, params: Mapping[str, str], *, received_ms: int | None = None
) -> Decoded:
    """Query-string / form upload of one fix by the authenticated device ``dev``."""
    check_id(params.get("id", params.get("deviceid")), dev)
    lat = _float_param(params, "lat")
    lon = _float_param(params, "lon")
    if (lat is None or lon is None) and params.get("location"):
        parts = params["location"].split(",")
        if len(parts) != 2:
            raise Reject(BAD_SHAPE, "location")
        lat, lon = (
            _float_param({"v": parts[0]}, "v"),
            _float_param({"v": parts[1]}, "v"),
        )
    if lat is None or lon is None:
        raise Reject(MISSING_FIELD, "lat/lon")
    odd: list[str] = []
    speed = _optional_param(params, odd, "speed")
    hdg = _optional_param(params, odd, "bearing", "heading")
    t_ms, flags = fix_time(params.get("timestamp"), received_ms)
    mocked = (params.get("mock") or "").lower() in MOCK_TRUE
    if mocked:
        odd.append("mock_location")
    fix = Fix(
        dev,
        t_ms,
        lat,
        lon,
        _accuracy(_optional_param(params, odd, "accuracy"), odd),
        _optional_param(params, odd, "altitude"),
        None if speed is None or speed < 0 else speed * KNOTS_TO_MS,
        None if hdg is None or hdg < 0 else hdg,
        _optional_param(params, odd, "batt"),
        mock=True if mocked else None,
        flags=flags,
    )
    if (params.get("valid") or "").strip().lower() in NOT_VALID:
        fix = fix._replace(flags=",".join(filter(None, [fix.flags, NOT_VALID_FLAG])))
        odd.append(NOT_VALID_FLAG)
    alarm = params.get("alarm")
    if alarm is None or alarm == "":
        return Decoded(PROTOCOL, dev, fixes=[fix], carried=1, odd=tuple(odd))
    if not ALARM.fullmatch(alarm):
        odd.append("unknown_alarm")
        return Decoded(PROTOCOL, dev, fixes=[fix], carried=1, odd=tuple(odd))
    return _alarm(dev, alarm, fix, odd)


def _alarm(dev: str, alarm: str, fix: Fix, odd: list[str]) -> Decoded:
    """An alarm (SOS…) is an event; a 0,0 placeholder is never used as a fix."""
    fixes = [fix]
    lat: float | None = fix.lat
    lon: float | None = fix.lon
    acc = fix.acc
    if fix.lat == 0.0 and fix.lon == 0.0:
        fixes, lat, lon, acc = [], None, None, None
        odd.append("placeholder_position")
    event = DeviceEvent(
        dev,
        f"osmand-alarm-{alarm}-{fix.t_ms}",
        f"alarm:{alarm}",
        fix.t_ms,
        "",
        lat,
        lon,
        acc,
    )
    return Decoded(
        PROTOCOL,
        dev,
        "event",
        fixes=fixes,
        events=[event],
        carried=len(fixes),
        odd=tuple(odd),
    )


def decode_json(dev: str, payload: bytes, *, received_ms: int | None = None) -> Decoded:
    """JSON upload (``{"location": {...} | [...], "device_id": ...}``)."""
    obj = json_object(payload, MAX_PAYLOAD_BYTES, "body")
    check_id(obj.get("device_id"), dev)
    loc = obj.get("location")
    items = loc if type(loc) is list else [loc]
    if len(items) > MAX_BATCH_FIXES:
        raise Reject(TOO_MANY_FIXES, str(len(items)))
    if not items:
        raise Reject(MISSING_FIELD, "location")
    fixes: list[Fix] = []
    rejections: list[Rejection] = []
    odd: list[str] = []
    for i, item in enumerate(items):
        try:
            fixes.append(_json_fix(dev, item, received_ms, odd))
        except Reject as r:
            rejections.append(
                Rejection(r.reason, r.detail, i if len(items) > 1 else -1)
            )
    return Decoded(
        PROTOCOL,
        dev,
        fixes=fixes,
        rejections=rejections,
        carried=len(items),
        odd=tuple(odd),
    )


def _json_fix(dev: str, loc: Any, received_ms: int | None, odd: list[str]) -> Fix:
    if type(loc) is not dict:
        raise Reject(BAD_SHAPE if loc is not None else MISSING_FIELD, "location")
    coords = loc.get("coords")
    if type(coords) is not dict:
        raise Reject(MISSING_FIELD if coords is None else BAD_SHAPE, "coords")
    battery = loc.get("battery")
    level = opt_number(battery, "level") if type(battery) is dict else None
    speed = opt_number(coords, "speed")
    hdg = opt_number(coords, "heading")
    t_ms, flags = fix_time(loc.get("timestamp"), received_ms)
    return Fix(
        dev,
        t_ms,
        number(coords, "latitude"),
        number(coords, "longitude"),
        _accuracy(opt_number(coords, "accuracy"), odd),
        opt_number(coords, "altitude"),
        None if speed is None or speed < 0 else speed,
        None if hdg is None or hdg < 0 else hdg,
        None if level is None or level < 0 else level * 100.0,
        None,
        loc.get("mock") if type(loc.get("mock")) is bool else None,
        flags=flags,
    )
