"""A phone's outbox: every fix and clock event stays until the end-to-end ack.

The phone side of docs/protocol.md "End-to-end ack", used by ``crewtrack
simulate`` and the fault tests, and meant as the model for app writers. A
PUBACK only means the broker holds a message, and a broker can lose what it
PUBACKed; only the ingest's ack on ``crewtrack/v1/<device>/ack``, sent after
its commit, lets the phone forget an item.

Use::

    box = Outbox()
    box.add_fix({"t": 1709539200000, "lat": 48.13, "lon": 11.57})
    box.add_event({"id": "…", "type": "clock_in", "t": …, "job": "J-1"})
    for kind, payload in box.outgoing(now):      # never sent yet: send now
        client.publish(f"crewtrack/v1/{dev}/{kind}", payload, qos=1)
    box.on_ack(message.payload)                  # from crewtrack/v1/<dev>/ack
    if box.due_for_resend(now):                  # and after every reconnect:
        for kind, payload in box.resend(now): ...

Rules that keep the ack's fix-time ranges exact (see ``ingest.acks``):
fix times only increase (:meth:`Outbox.add_fix` refuses a fix that is not
newer than the newest one added), and every fix message is a run of
consecutive outbox entries in time order, so a range ``[a, b]`` covers only
fixes that were in the acked message or are gone already.

Memory: fixes are kept packed (msgpack bytes, ~250 bytes each with the
bookkeeping), at most ``max_fixes`` (100,000 by default: ~25 MB, a day at one
fix a second); past that the *oldest* fix is dropped and counted in
``dropped``, as is the oldest event past ``max_events``. A real app keeps the
same structure in a database on the phone instead and has no such cap.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgpack

from ingest.acks import MSG_ID_HEX
from ingest.protocols.native import MAX_BATCH_FIXES, MAX_PAYLOAD_BYTES

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 30.0  # no ack for this long: resend (an ack takes ~0.1 s normally)
# Each resend that brings no ack doubles the wait, up to this: a phone whose
# ingest is down for hours does not resend its whole backlog every 30 s.
MAX_ACK_TIMEOUT_S = 600.0
MAX_FIXES = 100_000
MAX_EVENTS = 10_000
# Messages remembered by payload hash, for a rejection that names a message
# (it did not decode) rather than a fix time or event id.
MAX_TRACKED_MESSAGES = 10_000
_BATCH_KEY = msgpack.packb("fixes")
_BATCH_OVERHEAD = 1 + len(_BATCH_KEY) + 5  # map header, key, array header

Key = tuple[str, Any]  # ("fix", t) or ("event", id)


class Pending(NamedTuple):
    """What the outbox holds: items not yet acked end to end."""

    fixes: int
    events: int

    @property
    def total(self) -> int:
        return self.fixes + self.events


class _Entry:
    __slots__ = ("packed", "sent_at")

    def __init__(self, packed: bytes) -> None:
        self.packed = packed
        self.sent_at: float | None = None


class Outbox:
    """Fixes and events of one device until their end-to-end ack (not thread-safe)."""

    def __init__(
        self,
        *,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        max_ack_timeout_s: float = MAX_ACK_TIMEOUT_S,
        max_fixes: int = MAX_FIXES,
        max_events: int = MAX_EVENTS,
        max_batch_fixes: int = MAX_BATCH_FIXES,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self.base_timeout_s = ack_timeout_s
        self.max_timeout_s = max(ack_timeout_s, max_ack_timeout_s)
        self.timeout_s = ack_timeout_s
        self.max_fixes = max_fixes
        self.max_events = max_events
        self.max_batch_fixes = max_batch_fixes
        self.max_payload_bytes = max_payload_bytes
        self._times: list[int] = []  # fix times held, ascending
        self._fixes: dict[int, _Entry] = {}
        self._events: OrderedDict[str, _Entry] = OrderedDict()
        self._new: list[Key] = []  # added, never sent (in order)
        self._sent_log: deque[tuple[float, Key]] = deque()  # in send order
        self._messages: OrderedDict[str, list[Key]] = OrderedDict()
        self._newest_t: int | None = None
        # what happened, for logs and tests
        self.acked = 0
        self.rejected: Counter[str] = Counter()
        self.dropped = 0  # oldest items dropped because the outbox was full
        self.refused = 0  # fixes not newer than the newest one (add_fix)

    # --- adding -----------------------------------------------------------
    def add_fix(self, fix: Mapping[str, Any]) -> bool:
        """Hold a fix (a protocol fix map) until acked; False if refused.

        A fix whose ``t`` is not after the newest fix added is refused: the
        ack's ranges rely on fix times increasing (the platform's location
        API delivers them so; the database keeps one fix per time anyway).
        """
        t = fix["t"]
        if self._newest_t is not None and t <= self._newest_t:
            self.refused += 1
            return False
        self._newest_t = t
        self._times.append(t)
        self._fixes[t] = _Entry(msgpack.packb(dict(fix), use_bin_type=True))
        self._new.append(("fix", t))
        if len(self._times) > self.max_fixes:
            oldest = self._times.pop(0)
            del self._fixes[oldest]
            self.dropped += 1
        return True

    def add_event(self, event: Mapping[str, Any]) -> None:
        """Hold a clock event (a protocol event map with an ``id``) until acked."""
        event_id = event["id"]
        if event_id in self._events:
            return  # the same event twice: one is enough
        self._events[event_id] = _Entry(msgpack.packb(dict(event), use_bin_type=True))
        self._new.append(("event", event_id))
        if len(self._events) > self.max_events:
            self._events.popitem(last=False)
            self.dropped += 1

    def unacked(self) -> Pending:
        return Pending(len(self._fixes), len(self._events))

    # --- sending ----------------------------------------------------------
    def outgoing(self, now: float) -> list[tuple[str, bytes]]:
        """Messages ``(kind, payload)`` for items never sent; marks them sent."""
        keys = [k for k in self._new if self._holds(k)]
        self._new = []
        return self._messages_for(keys, now)

    def due_for_resend(self, now: float) -> bool:
        """Whether a sent item has waited longer than the ack timeout."""
        log_ = self._sent_log
        while log_:
            sent_at, key = log_[0]
            entry = self._entry(key)
            if entry is None or entry.sent_at != sent_at:
                log_.popleft()  # acked since, or sent again later
                continue
            return now - sent_at >= self.timeout_s
        return False

    def resend(self, now: float) -> list[tuple[str, bytes]]:
        """Messages for everything unacked (after a reconnect or a timeout).

        Each resend doubles the ack timeout (up to ``max_ack_timeout_s``);
        an ack sets it back.
        """
        self.timeout_s = min(self.timeout_s * 2, self.max_timeout_s)
        self._new = []
        keys: list[Key] = [("fix", t) for t in self._times]
        keys += [("event", e) for e in self._events]
        return self._messages_for(keys, now)

    def _messages_for(self, keys: list[Key], now: float) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        batch: list[Key] = []
        size = _BATCH_OVERHEAD
        for key in keys:
            entry = self._entry(key)
            if entry is None:
                continue
            entry.sent_at = now
            self._sent_log.append((now, key))
            if key[0] == "event":
                if batch:  # keep the order: the fixes before the event first
                    out.append(self._fix_message(batch))
                    batch, size = [], _BATCH_OVERHEAD
                out.append(self._message("event", [key], entry.packed))
                continue
            if batch and (
                len(batch) >= self.max_batch_fixes
                or size + len(entry.packed) > self.max_payload_bytes
            ):
                out.append(self._fix_message(batch))
                batch, size = [], _BATCH_OVERHEAD
            batch.append(key)
            size += len(entry.packed)
        if batch:
            out.append(self._fix_message(batch))
        return out

    def _fix_message(self, keys: list[Key]) -> tuple[str, bytes]:
        parts = [self._fixes[k[1]].packed for k in keys]
        if len(parts) == 1:
            return self._message("fix", keys, parts[0])
        header = msgpack.Packer().pack_map_header(1) + _BATCH_KEY
        header += msgpack.Packer().pack_array_header(len(parts))
        return self._message("fix", keys, header + b"".join(parts))

    def _message(self, kind: str, keys: list[Key], payload: bytes) -> tuple[str, bytes]:
        msg_id = hashlib.sha256(payload).hexdigest()[:MSG_ID_HEX]
        self._messages[msg_id] = keys
        self._messages.move_to_end(msg_id)
        if len(self._messages) > MAX_TRACKED_MESSAGES:
            self._messages.popitem(last=False)
        return kind, payload

    # --- acks -------------------------------------------------------------
    def on_ack(self, payload: bytes) -> int:
        """Forget what an ack names; returns how many items that was.

        Only items already sent are forgotten. An ack that does not decode is
        ignored (the items are resent and acked again).
        """
        try:
            ack = msgpack.unpackb(payload, raw=False, strict_map_key=True)
        except Exception:
            log.warning("an ack that does not decode: ignored")
            return 0
        if type(ack) is not dict:
            return 0
        n = 0
        for pair in _list(ack.get("fixes")):
            if type(pair) is list and len(pair) == 2:
                lo, hi = pair
                if type(lo) is int and type(hi) is int:
                    n += self._drop_range(lo, hi)
        for event_id in _list(ack.get("events")):
            if type(event_id) is str:
                n += self._drop(("event", event_id))
        for r in _list(ack.get("rejected")):
            if type(r) is dict:
                n += self._drop_rejected(r)
        if n:
            self.acked += n
            self.timeout_s = self.base_timeout_s
        return n

    def _drop_rejected(self, r: dict[str, Any]) -> int:
        reason = str(r.get("reason", ""))
        if type(r.get("t")) is int:
            keys: list[Key] = [("fix", r["t"])]
        elif type(r.get("id")) is str:
            keys = [("event", r["id"])]
        else:
            sent = self._messages.get(str(r.get("msg")), [])
            item = r.get("item", -1)
            if type(item) is int and 0 <= item < len(sent):
                keys = [sent[item]]
            else:
                keys = list(sent)
        n = sum(self._drop(k) for k in keys)
        if n:
            log.warning("the ingest rejected %d item(s): %s", n, reason)
            self.rejected[reason] += n
        return n

    def _drop_range(self, lo: int, hi: int) -> int:
        times = self._times
        i, j = bisect.bisect_left(times, lo), bisect.bisect_right(times, hi)
        if i >= j:
            return 0
        kept: list[int] = []
        for t in times[i:j]:
            entry = self._fixes[t]
            if entry.sent_at is None:
                kept.append(t)
            else:
                del self._fixes[t]
        times[i:j] = kept
        return j - i - len(kept)

    def _drop(self, key: Key) -> int:
        entry = self._entry(key)
        if entry is None or entry.sent_at is None:
            return 0
        if key[0] == "event":
            del self._events[key[1]]
            return 1
        t = key[1]
        del self._fixes[t]
        del self._times[bisect.bisect_left(self._times, t)]
        return 1

    def _entry(self, key: Key) -> _Entry | None:
        if key[0] == "event":
            return self._events.get(key[1])
        return self._fixes.get(key[1])

    def _holds(self, key: Key) -> bool:
        return self._entry(key) is not None


def _list(value: Any) -> list[Any]:
    return value if type(value) is list else []
