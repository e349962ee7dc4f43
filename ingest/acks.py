"""End-to-end acks: after a commit, tell each native phone what is now stored.

A PUBACK only means "the broker has it", and Mosquitto can lose what it
PUBACKed (a SIGKILL before its next autosave: docs/operations.md
"Durability"). So after each commit the ingest publishes, per device, one
msgpack map on ``crewtrack/v1/<device>/ack`` (QoS 1, not retained) saying what
of that device's messages in the batch is stored or rejected
(docs/protocol.md "End-to-end ack"):

``{"fixes": [[t_from, t_to], ...], "events": [id, ...], "rejected": [...]}``

- ``fixes``: inclusive ranges of fix times (epoch ms). Each range covers
  consecutive fixes *of one message* that are stored, so it holds nothing the
  phone did not put in that message between those times (phones build a
  message from consecutive entries of their time-ordered outbox). Ranges of
  several messages are merged only where they overlap or touch, which keeps
  that property. Duplicates (already stored) are acked like new ones.
- ``events``: the ids of stored events.
- ``rejected``: ``{"t": fix time, "reason": r}`` for a rejected fix,
  ``{"id": event id, "reason": r}`` for a rejected event, and - when the
  payload names neither (it did not decode) - ``{"msg": <first 16 hex digits
  of the payload's sha256>, "item": index or -1, "reason": r}``.

Ranges and ids, never a watermark: replicas sharing the load through
``$share`` each ack what *they* stored, in any order. Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgpack

from core.messages import Processed, Rejection
from ingest.protocols import native

ACK_KIND = "ack"
# Entries (ranges + event ids + rejections) per ack message: a message far
# below the phone's packet limit even when every entry is a rejection
# (~40 bytes each), so an ack is never refused for its size.
MAX_ACK_ENTRIES = 2_000
MSG_ID_HEX = 16  # 64 bits of the payload's sha256 name a message among a phone's


def ack_topic(device_id: str) -> str:
    return f"{native.TOPIC_PREFIX}{device_id}/{ACK_KIND}"


def device_acks(batch: Iterable[Processed]) -> list[tuple[str, bytes]]:
    """The ack messages ``(topic, msgpack payload)`` for a committed batch.

    One per device (more only past :data:`MAX_ACK_ENTRIES`); only native fix
    and event messages are acked (OwnTracks and status messages are not).
    """
    per_device: dict[str, _DeviceAck] = {}
    protocol = native.PROTOCOL
    for p in batch:
        device = p.device_id
        if p.protocol != protocol or not device:
            continue  # not ours to ack, or no device to tell
        fixes = p.fixes
        if len(fixes) == 1 and not p.rejections and not p.events:
            ack = per_device.get(device)  # a live phone's single fix: most messages
            if ack is None:
                ack = per_device[device] = _DeviceAck()
            t = fixes[0].t_ms
            ack.ranges.append([t, t])
            continue
        if _kind(p) not in ("fix", "event"):
            continue  # status messages are retained state, not outbox items
        ack = per_device.get(device)
        if ack is None:
            ack = per_device[device] = _DeviceAck()
        ack.add(p)
    out: list[tuple[str, bytes]] = []
    for device, ack in per_device.items():
        topic = ack_topic(device)
        out += [(topic, payload) for payload in ack.payloads()]
    return out


class _DeviceAck:
    """What one device is told after one commit."""

    def __init__(self) -> None:
        self.ranges: list[list[int]] = []
        self.events: dict[str, None] = {}  # ordered set
        self.rejected: list[dict[str, Any]] = []

    def add(self, p: Processed) -> None:
        rejected_t: list[int] = []
        if p.rejections:
            entries = _rejections(p)
            self.rejected += entries
            rejected_t = [e["t"] for e in entries if "t" in e]
        self.ranges += _runs(sorted({f.t_ms for f in p.fixes}), rejected_t)
        for e in p.events:
            self.events[e.event_id] = None

    def payloads(self) -> list[bytes]:
        ranges = _merge(self.ranges)
        if len(ranges) + len(self.events) + len(self.rejected) <= MAX_ACK_ENTRIES:
            whole = {"fixes": ranges, "events": list(self.events)}
            return [msgpack.packb({**whole, "rejected": self.rejected})]
        entries: list[tuple[str, Any]] = [("fixes", r) for r in ranges]
        entries += [("events", e) for e in self.events]
        entries += [("rejected", r) for r in self.rejected]
        out: list[bytes] = []
        for i in range(0, len(entries), MAX_ACK_ENTRIES):
            body: dict[str, list[Any]] = {"fixes": [], "events": [], "rejected": []}
            for key, value in entries[i : i + MAX_ACK_ENTRIES]:
                body[key].append(value)
            out.append(msgpack.packb(body, use_bin_type=True))
        return out


def _runs(times: Sequence[int], breaks: Sequence[int]) -> list[list[int]]:
    """Sorted distinct ``times`` as ranges, split wherever a rejected time lies."""
    if not times:
        return []
    cuts = sorted(b for b in breaks if times[0] < b < times[-1])
    runs: list[list[int]] = []
    start = prev = times[0]
    j = 0
    for t in times[1:]:
        while j < len(cuts) and cuts[j] <= prev:
            j += 1
        if j < len(cuts) and cuts[j] < t:
            runs.append([start, prev])
            start = t
        prev = t
    runs.append([start, prev])
    return runs


def _merge(ranges: list[list[int]]) -> list[list[int]]:
    """Merge overlapping or touching ranges (each stays exact: see the module doc)."""
    if len(ranges) == 1:
        return ranges
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def _kind(p: Processed) -> str:
    """The topic's kind (``fix``/``event``/…): a message rejected whole says no more."""
    return p.message.topic.rsplit("/", 1)[-1]


def _rejections(p: Processed) -> list[dict[str, Any]]:
    """Each rejection as the phone can match it: fix time, event id, or message."""
    items = _payload_items(p)
    out: list[dict[str, Any]] = []
    for r in p.rejections:
        out.append(_rejection_entry(p, r, items))
    return out


def _rejection_entry(
    p: Processed, r: Rejection, items: list[Any] | None
) -> dict[str, Any]:
    index = r.item
    if index < 0 and items is not None and len(items) == 1 and p.carried <= 1:
        index = 0  # a single-fix or event message: the rejection is its item
    kind = _kind(p)
    if items is not None and 0 <= index < len(items):
        item = items[index]
        if type(item) is dict:
            if kind == "event" and type(item.get("id")) is str:
                return {"id": item["id"], "reason": r.reason}
            if kind == "fix" and type(item.get("t")) is int:
                return {"t": item["t"], "reason": r.reason}
    return {"msg": p.sha256.hex()[:MSG_ID_HEX], "item": r.item, "reason": r.reason}


def _payload_items(p: Processed) -> list[Any] | None:
    """The fix or event maps the payload carried, in order; None if it did not decode.

    Only read for messages with a rejection (rare), so the common path never
    decodes a payload twice.
    """
    try:
        obj = msgpack.unpackb(p.message.payload, raw=False, strict_map_key=True)
    except Exception:  # hostile bytes: the message is named by its hash instead
        return None
    if type(obj) is not dict:
        return None
    if _kind(p) == "fix" and "fixes" in obj:
        items = obj["fixes"]
        return items if type(items) is list else None
    return [obj]
