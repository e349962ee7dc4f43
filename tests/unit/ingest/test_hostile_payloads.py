"""A hypothesis-driven corpus of >10,000 malformed or hostile payloads.

Whatever arrives, ``process`` never raises, and every message is accounted
for: what it carried is either kept (fixes, events, status) or rejected with
a reason code - a bad fix inside a batch by its own position. And whatever
validation keeps fits the rows the writer encodes (``float4`` columns, text)
without an error.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.messages import REASONS, InboundMessage, Processed
from ingest.pipeline import process
from ingest.protocols.native import MAX_PACKET_BYTES
from ingest.validate import Limits
from storage.fixes import encode_message

NOW = 1_709_539_200_000
LIMITS = Limits()
EXAMPLES = 2_600  # × 4 tests > 10,000 payloads
FAST = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

INTS = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # msgpack's range
scalars = st.one_of(
    st.none(),
    st.booleans(),
    INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=5), inner, max_size=5),
    ),
    max_leaves=10,
)
times = st.one_of(
    st.integers(min_value=NOW - 500 * 86_400_000, max_value=NOW + 3_600_000),
    INTS,
    st.floats(),
    st.text(max_size=5),
    st.none(),
)
coords = st.one_of(
    st.floats(min_value=-200, max_value=200),
    st.floats(),
    INTS,
    st.text(max_size=3),
    st.none(),
)
fix_maps = st.fixed_dictionaries(
    {"t": times, "lat": coords, "lon": coords},
    optional={
        "acc": st.one_of(st.floats(), st.integers(-10, 10**6)),
        "alt": st.one_of(st.floats(), st.floats(min_value=-2e5, max_value=2e6)),
        "spd": st.floats(),
        "hdg": st.floats(min_value=-10, max_value=400),
        "bat": st.one_of(st.floats(), INTS),
        "src": st.sampled_from(["gps", "network", "fused", "psychic", 3]),
        "mock": st.one_of(st.booleans(), INTS),
        "dev": st.sampled_from(["van-1", "van-2", 7]),
        "junk": anything,
    },
)
native_topics = st.one_of(
    st.sampled_from(
        [
            "crewtrack/v1/van-1/fix",
            "crewtrack/v1/van-1/event",
            "crewtrack/v1/van-1/status",
            "crewtrack/v1/van-1/nope",
        ]
    ),
    st.text(max_size=40).map(lambda s: f"crewtrack/v1/{s}/fix"),
)


def check_accounted(p: Processed) -> None:
    assert all(r.reason in (*REASONS, "store_error") for r in p.rejections)
    # a quiet kind (a retained clear, an app's housekeeping message) is counted
    quiet = p.kind in ("clear", "ignored") and bool(p.odd)
    assert p.accepted or p.rejections or quiet, "a message vanished without a trace"
    if p.kind == "fix" and p.carried > 1:
        per_item = [r.item for r in p.rejections if r.item >= 0]
        assert len(p.fixes) + len(per_item) == p.carried
        assert len(set(per_item)) == len(per_item)
    for f in p.fixes:
        assert math.isfinite(f.lat)
        assert math.isfinite(f.lon)
        assert -90 <= f.lat <= 90
        assert -180 <= f.lon <= 180
        assert NOW - LIMITS.retention_ms <= f.t_ms <= NOW + LIMITS.max_future_ms


def run(topic: str, payload: bytes) -> Processed:
    p = process(InboundMessage(topic, payload, NOW), LIMITS)
    check_accounted(p)
    rows = encode_message(p)  # raises if validation let through what rows cannot hold
    assert rows.fixes == len({(f.device_id, f.t_ms) for f in p.fixes})
    return p


@FAST
@given(topic=native_topics, payload=st.binary(max_size=300))
def test_random_bytes_never_crash_the_pipeline(topic: str, payload: bytes) -> None:
    run(topic, payload)


@FAST
@given(topic=native_topics, obj=anything)
def test_arbitrary_msgpack_structures_are_stored_or_rejected(
    topic: str, obj: Any
) -> None:
    run(topic, msgpack.packb(obj, use_bin_type=True))


@FAST
@given(
    fixes=st.lists(st.one_of(fix_maps, anything), min_size=0, max_size=30),
    single=st.booleans(),
)
def test_fix_shaped_batches_account_for_every_fix(
    fixes: list[Any], single: bool
) -> None:
    body: Any = fixes[0] if single and fixes else {"fixes": fixes}
    run("crewtrack/v1/van-1/fix", msgpack.packb(body, use_bin_type=True))


owntracks_docs = st.one_of(
    anything,
    st.fixed_dictionaries(
        {
            "_type": st.sampled_from(["location", "transition", "lwt", "card", 5]),
            "lat": coords,
            "lon": coords,
            "tst": st.one_of(
                st.integers(
                    min_value=NOW // 1000 - 10**8, max_value=NOW // 1000 + 10**4
                ),
                times,
            ),
        },
        optional={
            "vel": st.one_of(st.floats(), INTS),
            "event": st.sampled_from(["enter", "leave", "dance", None]),
            "t": st.sampled_from(["p", "u", 1]),
            "topic": st.sampled_from(["owntracks/van-1/x", "owntracks/van-2/x", 3]),
            "desc": st.one_of(st.text(max_size=200), INTS),
        },
    ),
)


@FAST
@given(
    topic=st.sampled_from(
        [
            "owntracks/van-1/phone",
            "owntracks/van-1/phone/event",
            "owntracks/x y/p",
            "owntracks/van-1",
        ]
    ),
    doc=owntracks_docs,
    raw=st.booleans(),
)
def test_owntracks_json_of_any_shape_is_stored_or_rejected(
    topic: str, doc: Any, raw: bool
) -> None:
    try:
        text = json.dumps(doc, default=lambda b: b.hex(), allow_nan=True)
    except (ValueError, OverflowError):
        text = "{"
    run(topic, (text if not raw else text[: len(text) // 2]).encode())


def test_an_oversized_message_is_rejected_without_decoding() -> None:
    p = run("crewtrack/v1/van-1/fix", b"\x80" * (MAX_PACKET_BYTES + 1))
    assert [r.reason for r in p.rejections] == ["oversized"]


def test_a_batch_longer_than_the_protocol_allows_is_rejected_whole() -> None:
    body = {"fixes": [{"t": NOW, "lat": 1.0, "lon": 1.0}] * 5001}
    p = run("crewtrack/v1/van-1/fix", msgpack.packb(body))
    assert [r.reason for r in p.rejections] == ["too_many_fixes"]
