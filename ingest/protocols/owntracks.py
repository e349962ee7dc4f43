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
- ``_type: encrypted`` (the app's payload encryption, libsodium secretbox) is
  opened with the device's key (:func:`key_from_passphrase`) and the message
  inside is decoded as if sent in the clear; no key for the device →
  ``encrypted_without_key``, a key that does not open it → ``decrypt_failed``.
- ``-1`` in ``vel``/``cog``/``batt``/``acc``/``alt`` is iOS's "unknown": absent.
- A transition at ``lat 0, lon 0`` (an iBeacon region has no position) keeps
  its event without a position and stores no fix.
- An empty payload is the app clearing its retained message: kind ``clear``,
  nothing stored, nothing rejected (counted as ``retained_clear``).
- The apps' own housekeeping messages (:data:`IGNORED_TYPES`: ``status``,
  ``card``, ``steps``, ``waypoint(s)``, ``cmd``, ``configuration``…) carry no
  position or event for us: kind ``ignored``, nothing stored, nothing
  rejected (counted ``ignored_type:<type>``).
- A transition without ``lat``/``lon`` (an iBeacon region on some builds) keeps
  its event without a position (counted ``no_position``).
- Any other ``_type`` is accounted as ``unsupported_type``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from core.messages import (
    BAD_ENCODING,
    BAD_EVENT,
    BAD_SHAPE,
    BAD_TOPIC,
    DECRYPT_FAILED,
    DEVICE_MISMATCH,
    ENCRYPTED_WITHOUT_KEY,
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
# What the OwnTracks apps publish besides locations and transitions (their
# "JSON" booklet; iOS/Android ``status``, the ``steps`` report of the iOS
# pedometer, a ``card`` with name and face, region lists, command traffic).
IGNORED_TYPES = frozenset(
    {
        "status",
        "card",
        "steps",
        "waypoint",
        "waypoints",
        "cmd",
        "configuration",
        "beacon",
        "request",
        "dump",
    }
)
# A device's payload key (32 bytes) by device id; None = the device has none.
KeyLookup = Callable[[str], bytes | None]


def parse_topic(topic: str) -> str:
    """The device id (the ``<user>`` level) of ``owntracks/<user>/<device>[/...]``."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "owntracks" or not parts[2]:
        raise Reject(BAD_TOPIC, topic[:200])
    return check_device_id(parts[1])


def decode(topic: str, payload: bytes, keys: KeyLookup | None = None) -> Decoded:
    """Decode one OwnTracks message; whole-message problems raise ``Reject``.

    ``keys`` gives a device's payload key, for ``_type: encrypted``.
    """
    dev = parse_topic(topic)
    if not payload:
        return Decoded(PROTOCOL, dev, "clear", odd=("retained_clear",))
    obj = json_object(payload, MAX_PAYLOAD_BYTES, "message")
    if obj.get("_type") == "encrypted":
        key = keys(dev) if keys is not None else None
        obj = json_object(decrypt(obj, key), MAX_PAYLOAD_BYTES, "decrypted message")
        if obj.get("_type") == "encrypted":
            raise Reject(BAD_SHAPE, "encrypted inside encrypted")
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
    if kind in IGNORED_TYPES:
        return Decoded(PROTOCOL, dev, "ignored", odd=(f"ignored_type:{kind}",))
    raise Reject(UNSUPPORTED_TYPE, str(kind)[:40])


KEY_BYTES = SecretBox.KEY_SIZE  # 32
NONCE_BYTES = SecretBox.NONCE_SIZE  # 24


def key_from_passphrase(passphrase: str) -> bytes:
    """The secretbox key the apps make of the passphrase a user types.

    OwnTracks Android (``EncryptionProvider``) and iOS take the passphrase's
    UTF-8 bytes, zero-padded or truncated to 32 bytes; the recorder keeps the
    same 32 bytes per user and device. An empty passphrase turns encryption off
    in the apps, so it is no key here either.
    """
    raw = passphrase.encode("utf-8")
    if not raw:
        raise ValueError("an empty passphrase is no key (the app does not encrypt)")
    return raw[:KEY_BYTES].ljust(KEY_BYTES, b"\0")


def decrypt(obj: dict[str, Any], key: bytes | None) -> bytes:
    """The plaintext of ``{"_type": "encrypted", "data": base64(nonce + box)}``."""
    data = text(obj, "data") or ""
    if key is None:
        raise Reject(ENCRYPTED_WITHOUT_KEY, "no OwnTracks key set for this device")
    try:
        wire = base64.b64decode(data)  # the apps' standard alphabet, padded
    except (binascii.Error, ValueError):
        raise Reject(BAD_ENCODING, "data is not base64") from None
    if len(wire) <= NONCE_BYTES:
        raise Reject(DECRYPT_FAILED, f"{len(wire)} bytes, shorter than a nonce")
    try:
        return bytes(SecretBox(key).decrypt(wire[NONCE_BYTES:], wire[:NONCE_BYTES]))
    except CryptoError:
        raise Reject(DECRYPT_FAILED, "wrong key, or the payload was altered") from None


def encrypt(plaintext: bytes, key: bytes, nonce: bytes) -> bytes:
    """Encrypt a message the way the apps do (for tools and test fixtures)."""
    box = SecretBox(key).encrypt(plaintext, nonce)
    data = base64.b64encode(bytes(box)).decode()  # nonce + ciphertext, no wrap
    return b'{"_type":"encrypted","data":"' + data.encode() + b'"}'


# iOS sends -1 for a value CoreLocation / UIDevice does not know
SENTINEL_FIELDS = ("vel", "cog", "batt", "acc", "alt")
SENTINEL = -1


def _known(m: dict[str, Any], key: str, odd: list[str]) -> float | None:
    """An optional number, None for the iOS "unknown" sentinel (counted in ``odd``).

    An ``acc`` of 0 is unknown too: the apps omit a zero accuracy, and what
    sends one (old iOS builds, custom clients, Android's "no accuracy") does not
    mean a fix exact to the millimetre (counted ``zero_accuracy``).
    """
    v = opt_number(m, key)
    if v == SENTINEL and key in SENTINEL_FIELDS and key != "alt":
        odd.append(f"sentinel:{key}")
        return None
    if v == 0 and key == "acc":
        odd.append("zero_accuracy")
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
    lat = opt_number(m, "lat")
    lon = opt_number(m, "lon")
    acc = opt_number(m, "acc")
    odd: tuple[str, ...] = ()
    if lat is None or lon is None:
        fixes: list[Fix] = []
        lat = lon = acc = None
        odd = ("no_position",)
    elif is_placeholder(lat, lon):
        lat = lon = acc = None
        fixes, odd = [], ("placeholder_position",)
    else:
        fixes = [Fix(dev, t_ms, lat, lon, acc)]
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
