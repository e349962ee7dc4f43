"""Decoders on captured payloads: native msgpack, OwnTracks JSON, Traccar OsmAnd."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from core.messages import InboundMessage, Processed, Reject
from ingest.pipeline import process, validate
from ingest.protocols import osmand
from ingest.validate import Limits

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
T = 1709539200000  # 2024-03-04T08:00:00Z, the captures' time
LIMITS = Limits()


def run(topic: str, name: str, received_ms: int = T + 60_000) -> Processed:
    return process(
        InboundMessage(topic, (PAYLOADS / name).read_bytes(), received_ms), LIMITS
    )


def test_a_full_native_fix_keeps_every_field_in_our_units() -> None:
    p = run("crewtrack/v1/van-1/fix", "native/single_fix.msgpack")
    assert p.rejections == []
    (f,) = p.fixes
    assert (f.device_id, f.t_ms, f.lat, f.lon) == ("van-1", T, 48.137154, 11.576124)
    assert (f.acc, f.alt, f.spd, f.hdg, f.bat, f.src, f.mock) == (
        6.5,
        519.0,
        0.4,
        182.0,
        87.0,
        "fused",
        False,
    )
    assert p.carried == 1


def test_a_minimal_native_fix_needs_only_time_and_position() -> None:
    (f,) = run("crewtrack/v1/van-1/fix", "native/minimal_fix.msgpack").fixes
    assert f.acc is None
    assert f.src is None


def test_an_offline_batch_yields_every_fix_in_order() -> None:
    p = run("crewtrack/v1/van-1/fix", "native/offline_batch.msgpack", T + 3_600_000)
    assert len(p.fixes) == p.carried == 120
    assert [f.t_ms for f in p.fixes] == [T + i * 5000 for i in range(120)]


def test_bad_fixes_in_a_batch_are_rejected_one_by_one_with_their_position() -> None:
    p = run("crewtrack/v1/van-1/fix", "native/batch_with_bad_fixes.msgpack")
    assert [f.t_ms for f in p.fixes] == [T, T + 4000]
    assert [(r.reason, r.item) for r in p.rejections] == [
        ("not_finite", 2),
        ("bad_type", 3),
        ("out_of_range", 1),
    ]


def test_a_clock_in_event_is_decoded_with_its_idempotency_key() -> None:
    p = run("crewtrack/v1/van-1/event", "native/clock_in.msgpack")
    (e,) = p.events
    assert (e.event_id, e.type, e.t_ms, e.job) == (
        "6f1c9a52-3b7e-4c1e-9a3d-2f8e7c1b0a11",
        "clock_in",
        T,
        "J-1042",
    )
    assert p.kind == "event"


def test_a_payload_naming_another_device_is_rejected() -> None:
    p = run("crewtrack/v1/van-1/fix", "native/other_device.msgpack")
    assert p.fixes == []
    assert [r.reason for r in p.rejections] == ["device_mismatch"]


def test_status_messages_are_online_or_offline() -> None:
    ok = process(InboundMessage("crewtrack/v1/van-1/status", b"offline", T), LIMITS)
    bad = process(InboundMessage("crewtrack/v1/van-1/status", b"sleepy", T), LIMITS)
    assert ok.status == "offline"
    assert [r.reason for r in bad.rejections] == ["bad_shape"]


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("crewtrack/v1/van 1/fix", "bad_device_id"),
        ("crewtrack/v1/van-1/fix/extra", "bad_topic"),
        ("crewtrack/v2/van-1/fix", "bad_topic"),
        ("crewtrack/v1/" + "x" * 65 + "/fix", "bad_device_id"),
        ("somewhere/else", "bad_topic"),
    ],
)
def test_topics_outside_the_protocol_are_rejected(topic: str, reason: str) -> None:
    p = run(topic, "native/minimal_fix.msgpack")
    assert [r.reason for r in p.rejections] == [reason]


def test_owntracks_location_converts_seconds_and_kmh() -> None:
    (f,) = run("owntracks/van-1/phone", "owntracks/location.json").fixes
    assert (f.device_id, f.t_ms, f.acc, f.alt, f.hdg, f.bat) == (
        "van-1",
        T,
        12,
        521,
        270,
        64,
    )
    assert f.spd == pytest.approx(10.0)
    assert f.ping is False


def test_owntracks_location_whose_topic_names_another_user_is_rejected() -> None:
    p = run("owntracks/van-2/phone", "owntracks/location.json")
    assert [r.reason for r in p.rejections] == ["device_mismatch"]


def test_an_owntracks_ping_is_stored_flagged() -> None:
    (f,) = run("owntracks/van-1/phone", "owntracks/ping.json").fixes
    assert f.ping is True


def test_an_owntracks_transition_becomes_a_fix_and_a_stable_geofence_event() -> None:
    a = run("owntracks/van-1/phone/event", "owntracks/transition_enter.json")
    b = run(
        "owntracks/van-1/phone/event", "owntracks/transition_enter.json", T + 99_000
    )
    (e,) = a.events
    assert (e.type, e.job, e.t_ms) == ("geofence_enter", "J-1042", T + 60_000)
    assert len(a.fixes) == 1
    assert b.events[0].event_id == e.event_id  # a retained copy is the same event


def test_owntracks_lwt_marks_the_device_offline_and_other_types_are_accounted() -> None:
    assert run("owntracks/van-1/phone", "owntracks/lwt.json").status == "offline"
    p = run("owntracks/van-1/phone/waypoints", "owntracks/waypoints.json")
    assert (p.kind, p.rejections, p.odd) == ("ignored", [], ("ignored_type:waypoints",))


def _osmand(
    params: str, dev: str = "van-1", received_ms: int = T + 60_000
) -> Processed:
    msg = InboundMessage(osmand.topic_for(dev), params.encode(), received_ms)
    decoded = osmand.decode_params(dev, dict(parse_qsl(params)))
    return validate(msg, decoded, b"", LIMITS)


def test_osmand_query_converts_knots_and_keeps_the_rest() -> None:
    (f,) = _osmand((PAYLOADS / "osmand/query.txt").read_text()).fixes
    assert (f.t_ms, f.lat, f.lon, f.acc, f.hdg, f.alt, f.bat) == (
        T,
        48.137154,
        11.576124,
        6.5,
        182.0,
        519.0,
        87.0,
    )
    assert f.spd == pytest.approx(10.5 * 0.514444)


def test_osmand_accepts_iso_timestamps() -> None:
    (f,) = _osmand((PAYLOADS / "osmand/iso_time.txt").read_text()).fixes
    assert f.t_ms == T


def test_osmand_json_reads_coords_and_battery_level() -> None:
    decoded = osmand.decode_json(
        "van-1", (PAYLOADS / "osmand/location.json").read_bytes()
    )
    (f,) = decoded.fixes
    assert (f.t_ms, f.lat, f.spd, f.bat) == (T, 48.137154, 5.4, 87.0)


def test_osmand_refuses_an_id_of_another_device() -> None:
    with pytest.raises(Reject) as exc:
        osmand.decode_params(
            "van-9", dict(parse_qsl("id=van-1&lat=1&lon=1&timestamp=1"))
        )
    assert exc.value.reason == "device_mismatch"


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (1709539200, T),
        (1709539200123, T + 123),
        ("1709539200", T),
        ("2024-03-04T09:00:00+01:00", T),
    ],
)
def test_osmand_timestamps_in_seconds_milliseconds_or_iso(
    value: object, ms: int
) -> None:
    assert osmand.parse_time(value) == ms


def test_fix_times_outside_the_window_are_rejected() -> None:
    future = run("crewtrack/v1/van-1/fix", "native/minimal_fix.msgpack", T - 601_000)
    old = run(
        "crewtrack/v1/van-1/fix", "native/minimal_fix.msgpack", T + 401 * 86_400_000
    )
    assert [r.reason for r in future.rejections] == ["future"]
    assert [r.reason for r in old.rejections] == ["too_old"]
