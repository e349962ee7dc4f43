"""End-to-end acks: what the ingest tells a phone after a commit, and the phone's outbox.

The ingest side (``ingest.acks``) is fed real pipeline output; the phone side
(``crewtrack.outbox.Outbox``) consumes exactly those acks, so the two halves
of the protocol are checked against each other.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import msgpack
import pytest

from core.messages import InboundMessage, Processed
from crewtrack.outbox import Outbox
from ingest.acks import MAX_ACK_ENTRIES, ack_topic, device_acks
from ingest.pipeline import process
from ingest.protocols.native import MAX_BATCH_FIXES, MAX_PAYLOAD_BYTES
from ingest.validate import Limits

T = 1_709_539_200_000
RECEIVED = T + 3_600_000
LIMITS = Limits()


def fix(t: int, **extra: Any) -> dict[str, Any]:
    return {"t": t, "lat": 48.1, "lon": 11.5, **extra}


def event(event_id: str, kind: str = "clock_in", t: int = T) -> dict[str, Any]:
    return {"id": event_id, "type": kind, "t": t, "job": "J-1"}


def msg(device: str, kind: str, body: Any, *, raw: bytes | None = None) -> Processed:
    payload = raw if raw is not None else msgpack.packb(body)
    return process(
        InboundMessage(f"crewtrack/v1/{device}/{kind}", payload, RECEIVED), LIMITS
    )


def acks(batch: list[Processed]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for topic, payload in device_acks(batch):
        out.setdefault(topic, []).append(msgpack.unpackb(payload))
    return out


def only_ack(batch: list[Processed], device: str) -> dict[str, Any]:
    (ack,) = acks(batch)[ack_topic(device)]
    return ack


# --- the ingest side ----------------------------------------------------------


def test_a_stored_batch_is_acked_as_one_range_of_its_fix_times() -> None:
    p = msg("van-1", "fix", {"fixes": [fix(T + i * 1000) for i in range(50)]})
    assert only_ack([p], "van-1") == {
        "fixes": [[T, T + 49_000]],
        "events": [],
        "rejected": [],
    }


def test_each_device_gets_one_ack_per_commit_on_its_own_topic() -> None:
    batch = [
        msg("van-1", "fix", fix(T)),
        msg("van-2", "fix", fix(T + 5)),
        msg("van-1", "fix", fix(T + 1000)),
        msg("van-1", "event", event("e-1")),
    ]
    got = acks(batch)
    assert set(got) == {"crewtrack/v1/van-1/ack", "crewtrack/v1/van-2/ack"}
    assert got["crewtrack/v1/van-1/ack"] == [
        {"fixes": [[T, T], [T + 1000, T + 1000]], "events": ["e-1"], "rejected": []}
    ]
    assert got["crewtrack/v1/van-2/ack"] == [
        {"fixes": [[T + 5, T + 5]], "events": [], "rejected": []}
    ]


def test_ranges_of_separate_messages_merge_only_where_they_overlap_or_touch() -> None:
    # a resent backlog overlapping the original, plus a live fix further on:
    # merging across the gap would claim fixes another replica may still hold
    batch = [
        msg("van-1", "fix", {"fixes": [fix(T), fix(T + 1), fix(T + 2)]}),
        msg("van-1", "fix", {"fixes": [fix(T + 2), fix(T + 3)]}),
        msg("van-1", "fix", fix(T + 4)),
        msg("van-1", "fix", fix(T + 60_000)),
    ]
    assert only_ack(batch, "van-1")["fixes"] == [[T, T + 4], [T + 60_000, T + 60_000]]


def test_a_rejected_fix_is_acked_with_its_time_and_reason_and_splits_the_range() -> (
    None
):
    p = msg(
        "van-1",
        "fix",
        {"fixes": [fix(T), fix(T + 1000, lat=91.0), fix(T + 2000), fix(T + 3000)]},
    )
    assert only_ack([p], "van-1") == {
        "fixes": [[T, T], [T + 2000, T + 3000]],
        "events": [],
        "rejected": [{"t": T + 1000, "reason": "out_of_range"}],
    }


def test_a_fix_rejected_while_decoding_is_named_by_its_time_when_it_has_one() -> None:
    single = msg("van-1", "fix", {"t": T, "lat": "north", "lon": 11.5})
    assert only_ack([single], "van-1")["rejected"] == [{"t": T, "reason": "bad_type"}]
    future = msg("van-1", "fix", fix(RECEIVED + 86_400_000))
    assert only_ack([future], "van-1")["rejected"] == [
        {"t": RECEIVED + 86_400_000, "reason": "future"}
    ]


def test_a_message_that_does_not_decode_is_named_by_its_payload_hash() -> None:
    raw = b"\xc1 not msgpack"
    p = msg("van-1", "fix", None, raw=raw)
    assert only_ack([p], "van-1")["rejected"] == [
        {
            "msg": hashlib.sha256(raw).hexdigest()[:16],
            "item": -1,
            "reason": "bad_encoding",
        }
    ]


def test_events_are_acked_by_id_stored_or_rejected() -> None:
    batch = [
        msg("van-1", "event", event("e-1")),
        msg("van-1", "event", event("e-2", kind="lunch")),
    ]
    ack = only_ack(batch, "van-1")
    assert ack["events"] == ["e-1"]
    assert ack["rejected"] == [{"id": "e-2", "reason": "bad_event"}]


def test_owntracks_and_status_messages_get_no_ack() -> None:
    owntracks = process(
        InboundMessage(
            "owntracks/van-1/phone",
            b'{"_type":"location","lat":48.1,"lon":11.5,"tst":1709539200}',
            RECEIVED,
        ),
        LIMITS,
    )
    status = process(
        InboundMessage("crewtrack/v1/van-1/status", b"online", RECEIVED), LIMITS
    )
    assert owntracks.fixes
    assert status.status == "online"
    assert device_acks([owntracks, status]) == []


def test_an_ack_too_long_for_one_message_is_split() -> None:
    n = MAX_ACK_ENTRIES + 10
    batch = [msg("van-1", "fix", fix(T + i * 2)) for i in range(n)]
    parts = acks(batch)[ack_topic("van-1")]
    assert [len(a["fixes"]) for a in parts] == [MAX_ACK_ENTRIES, 10]


# --- the phone side -----------------------------------------------------------


def published(box: Outbox, now: float, device: str = "van-1") -> list[Processed]:
    """What the ingest makes of the messages the outbox sends now."""
    return [msg(device, kind, None, raw=payload) for kind, payload in box.outgoing(now)]


def deliver(box: Outbox, batch: list[Processed], device: str = "van-1") -> int:
    return sum(
        box.on_ack(payload)
        for topic, payload in device_acks(batch)
        if topic == ack_topic(device)
    )


def test_items_stay_in_the_outbox_until_the_end_to_end_ack() -> None:
    box = Outbox()
    for i in range(3):
        box.add_fix(fix(T + i * 1000))
    box.add_event(event("e-1"))
    sent = published(box, now=0.0)
    assert box.unacked() == (3, 1)  # sent (and PUBACKed) is not acked
    assert deliver(box, sent) == 4
    assert box.unacked() == (0, 0)
    assert box.outgoing(1.0) == []
    assert not box.due_for_resend(1_000.0)


def test_two_replicas_each_ack_what_they_stored() -> None:
    box = Outbox()
    messages: list[Processed] = []
    for i in range(6):
        box.add_fix(fix(T + i * 1000))
        if i == 2:
            box.add_event(event("e-1"))
        messages += published(box, now=float(i))
    assert len(messages) == 7
    # round-robin between two replicas, as a shared subscription splits them
    first, second = messages[0::2], messages[1::2]
    deliver(box, first)
    assert box.unacked().total == len(second)
    assert set(box._fixes) == {f.t_ms for m in second for f in m.fixes}
    deliver(box, second)
    assert box.unacked() == (0, 0)


def test_a_rejected_item_leaves_the_outbox_with_its_reason() -> None:
    box = Outbox()
    box.add_fix(fix(T))
    box.add_fix(fix(T + 1000, lat=95.0))
    box.add_event(event("e-9", kind="nap"))
    box.resend(0.0)  # one batch and one event
    batch = [msg("van-1", kind, None, raw=p) for kind, p in box.resend(1.0)]
    deliver(box, batch)
    assert box.unacked() == (0, 0)
    assert box.rejected == {"out_of_range": 1, "bad_event": 1}


def test_a_message_rejected_as_a_whole_is_found_by_its_hash() -> None:
    # a phone built with a wrong batch limit: the batch is refused whole
    box = Outbox(max_batch_fixes=MAX_BATCH_FIXES + 1)
    for i in range(MAX_BATCH_FIXES + 1):
        box.add_fix(fix(T + i))
    (sent,) = published(box, 0.0)
    ack = only_ack([sent], "van-1")
    assert ack["rejected"] == [
        {
            "msg": hashlib.sha256(sent.message.payload).hexdigest()[:16],
            "item": -1,
            "reason": "too_many_fixes",
        }
    ]
    assert box.on_ack(msgpack.packb(ack)) == MAX_BATCH_FIXES + 1
    assert box.unacked() == (0, 0)
    assert box.rejected == {"too_many_fixes": MAX_BATCH_FIXES + 1}


def test_unacked_items_are_resent_after_the_timeout_with_growing_waits() -> None:
    box = Outbox(ack_timeout_s=10, max_ack_timeout_s=40)
    box.add_fix(fix(T))
    box.outgoing(0.0)
    assert not box.due_for_resend(9.9)
    assert box.due_for_resend(10.0)
    box.resend(10.0)
    assert not box.due_for_resend(29.9)  # no ack came: the wait doubled
    assert box.due_for_resend(30.0)
    box.resend(30.0)
    box.resend(70.0)
    box.resend(110.0)
    assert box.timeout_s == 40  # capped
    box.add_fix(fix(T + 1000))
    deliver(box, published(box, 111.0))
    assert box.timeout_s == 10  # an ack sets it back
    assert box.unacked() == (1, 0)


def test_a_resend_is_batched_within_the_protocol_limits_in_time_order() -> None:
    box = Outbox()
    n = MAX_BATCH_FIXES * 2 + 7
    for i in range(n):
        box.add_fix(fix(T + i * 1000, acc=5.0, src="gps"))
    box.outgoing(0.0)
    messages = box.resend(60.0)
    assert all(kind == "fix" and len(p) <= MAX_PAYLOAD_BYTES for kind, p in messages)
    batches = [msgpack.unpackb(p)["fixes"] for _, p in messages]
    assert all(len(b) <= MAX_BATCH_FIXES for b in batches)
    times = [f["t"] for b in batches for f in b]
    assert times == [T + i * 1000 for i in range(n)]
    small = Outbox(max_payload_bytes=1_000)
    for i in range(100):
        small.add_fix(fix(T + i))
    assert all(len(p) <= 1_000 for _, p in small.outgoing(0.0))


def test_a_range_never_forgets_a_fix_that_was_not_sent() -> None:
    box = Outbox()
    box.add_fix(fix(T))
    box.outgoing(0.0)
    box.add_fix(fix(T + 1000))  # held offline, not sent yet
    assert box.on_ack(msgpack.packb({"fixes": [[T, T + 5000]]})) == 1
    assert box.unacked() == (1, 0)


def test_fixes_must_be_newer_than_the_newest_one_held() -> None:
    box = Outbox()
    assert box.add_fix(fix(T + 1000))
    assert not box.add_fix(fix(T + 1000))
    assert not box.add_fix(fix(T))
    assert box.refused == 2
    assert box.unacked() == (1, 0)


def test_a_full_outbox_drops_its_oldest_items_and_counts_them() -> None:
    box = Outbox(max_fixes=3, max_events=1)
    for i in range(5):
        box.add_fix(fix(T + i))
    box.add_event(event("e-1"))
    box.add_event(event("e-2"))
    assert box.dropped == 3
    sent = [msgpack.unpackb(p) for _, p in box.outgoing(0.0)]
    assert sent == [{"fixes": [fix(T + 2), fix(T + 3), fix(T + 4)]}, event("e-2")]


@pytest.mark.parametrize(
    "junk",
    [
        b"\xc1",
        msgpack.packb([1]),
        msgpack.packb({"fixes": [[1, "x"], 3], "events": [7], "rejected": ["x"]}),
    ],
)
def test_an_ack_that_makes_no_sense_forgets_nothing(junk: bytes) -> None:
    box = Outbox()
    box.add_fix(fix(T))
    box.outgoing(0.0)
    assert box.on_ack(junk) == 0
    assert box.unacked() == (1, 0)


def test_the_same_event_added_twice_is_sent_once() -> None:
    box = Outbox()
    box.add_event(event("e-1"))
    box.add_event(event("e-1"))
    assert [k for k, _ in box.outgoing(0.0)] == ["event"]


def test_outbox_and_ingest_agree_on_a_long_mixed_history() -> None:
    """Live fixes, an offline stretch, lost acks and resends: nothing is forgotten early."""
    box = Outbox(ack_timeout_s=5)
    stored: set[int] = set()
    lost_acks = itertools.cycle([False, False, True])
    clock = 0.0
    for i in range(300):
        clock += 1
        box.add_fix(fix(T + i * 1000))
        if 100 <= i < 150:
            continue  # offline: nothing sent
        messages = box.resend(clock) if box.due_for_resend(clock) else []
        messages += box.outgoing(clock)
        batch = [msg("van-1", k, None, raw=p) for k, p in messages]
        stored |= {f.t_ms for p in batch for f in p.fixes}
        if not next(lost_acks):
            deliver(box, batch)
        held = {t for t in range(T, T + (i + 1) * 1000, 1000)} - stored
        assert held <= set(box._fixes), "a fix left the outbox before it was stored"
    while box.unacked().total:
        clock += 60
        deliver(box, [msg("van-1", k, None, raw=p) for k, p in box.resend(clock)])
    assert box.unacked() == (0, 0)
