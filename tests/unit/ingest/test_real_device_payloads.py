"""Issue 18: what real OwnTracks and Traccar Client builds send is kept, not rejected.

Each test goes through ``ingest.pipeline.process`` (what both MQTT paths, paho's
and ``ingest.mqtt_fast``, call per message) or the OsmAnd decoders the HTTP
endpoint calls, on captured-style payloads in tests/fixtures/payloads.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from core.messages import InboundMessage, Processed, Reject
from ingest.metrics import IngestMetrics
from ingest.pipeline import process, validate
from ingest.protocols import osmand
from ingest.validate import Limits

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
T = 1709539200000  # 2024-03-04T08:00:00Z, the captures' time
RECEIVED = T + 60_000
LIMITS = Limits()
TOPIC = "owntracks/van-1/iphone"


def run(name: str, topic: str = TOPIC, received_ms: int = RECEIVED) -> Processed:
    payload = (PAYLOADS / name).read_bytes()
    return process(InboundMessage(topic, payload, received_ms), LIMITS)


def test_ios_minus_one_sentinels_mean_absent_fields_and_the_fix_is_kept() -> None:
    p = run("owntracks/ios_sentinels.json")
    assert p.rejections == []
    (f,) = p.fixes
    assert (f.t_ms, f.lat, f.lon, f.acc, f.alt) == (
        T,
        48.137154,
        11.576124,
        65.0,
        519.0,
    )
    assert (f.spd, f.hdg, f.bat) == (None, None, None)
    assert f.flags is None  # absent is not uncertain


def test_an_implausible_battery_is_dropped_and_flagged_but_the_fix_is_kept() -> None:
    p = run("owntracks/implausible_battery.json")
    assert p.rejections == []
    (f,) = p.fixes
    assert (f.lat, f.lon, f.acc, f.bat) == (48.137154, 11.576124, 12.0, None)
    assert f.flags == "dropped:bat"


def test_an_out_of_range_position_still_rejects_the_fix() -> None:
    payload = b'{"_type":"location","lat":91.5,"lon":11.5,"tst":1709539200}'
    p = process(InboundMessage(TOPIC, payload, RECEIVED), LIMITS)
    assert p.fixes == []
    assert [r.reason for r in p.rejections] == ["out_of_range"]


def _osmand_query(params: str, received_ms: int = RECEIVED) -> Processed:
    msg = InboundMessage(osmand.topic_for("van-1"), params.encode(), received_ms)
    decoded = osmand.decode_params(
        # blank values kept, as aiohttp's request.query keeps them
        "van-1",
        dict(parse_qsl(params, keep_blank_values=True)),
        received_ms=received_ms,
    )
    return validate(msg, decoded, b"", LIMITS)


def test_an_osmand_query_without_timestamp_takes_the_receive_time_flagged() -> None:
    p = _osmand_query((PAYLOADS / "osmand/no_timestamp.txt").read_text())
    assert p.rejections == []
    (f,) = p.fixes
    assert (f.t_ms, f.lat, f.lon, f.bat) == (RECEIVED, 48.137154, 11.576124, 87.0)
    assert f.flags == "receive_time"


def test_an_osmand_json_location_without_timestamp_takes_the_receive_time_flagged() -> (
    None
):
    payload = (PAYLOADS / "osmand/no_timestamp.json").read_bytes()
    msg = InboundMessage(osmand.topic_for("van-1"), payload, RECEIVED)
    decoded = osmand.decode_json("van-1", payload, received_ms=RECEIVED)
    p = validate(msg, decoded, b"", LIMITS)
    assert p.rejections == []
    (f,) = p.fixes
    assert (f.t_ms, f.acc, f.hdg, f.flags) == (RECEIVED, 8.0, None, "receive_time")


def test_an_osmand_fix_with_its_own_timestamp_is_not_flagged() -> None:
    p = _osmand_query((PAYLOADS / "osmand/query.txt").read_text())
    (f,) = p.fixes
    assert (f.t_ms, f.flags) == (T, None)


def test_a_beacon_transition_at_0_0_keeps_the_event_and_stores_no_fix() -> None:
    p = run("owntracks/beacon_placeholder.json")
    assert p.rejections == []
    assert p.fixes == []
    (e,) = p.events
    assert (e.type, e.t_ms, e.lat, e.lon, e.acc) == (
        "geofence_leave",
        T + 60_000,
        None,
        None,
        None,
    )


def test_a_beacon_transition_without_a_real_time_takes_the_receive_time() -> None:
    p = run("owntracks/beacon_placeholder_no_time.json")
    assert p.rejections == []
    assert p.fixes == []
    (e,) = p.events
    assert (e.type, e.t_ms, e.lat) == ("geofence_enter", RECEIVED, None)
    # a redelivered retained copy is the same event, whenever it arrives
    again = run("owntracks/beacon_placeholder_no_time.json", received_ms=RECEIVED + 5)
    assert again.events[0].event_id == e.event_id


def test_a_transition_with_a_real_but_too_old_time_is_not_retimed_to_now() -> None:
    # only a missing time takes the receive time; a real one stays what it is
    old = RECEIVED - LIMITS.retention_ms - 86_400_000
    payload = (
        '{"_type":"transition","event":"enter","desc":"Site","lat":48.1,"lon":11.5,'
        f'"acc":10,"tst":{old // 1000},"wtst":1709400000,"t":"c","tid":"ip"}}'
    ).encode()
    p = process(InboundMessage(TOPIC, payload, RECEIVED), LIMITS)
    assert p.events == []
    assert {r.reason for r in p.rejections} == {"too_old"}


def test_a_geofence_transition_with_a_real_position_still_stores_its_fix() -> None:
    p = run("owntracks/transition_enter.json")
    assert len(p.fixes) == 1
    assert p.events[0].lat == 48.137154


def test_an_empty_retained_owntracks_message_is_a_quiet_clear() -> None:
    p = run("owntracks/retained_clear.json")
    assert (p.kind, p.rejections, p.fixes, p.events) == ("clear", [], [], [])


def test_odd_inputs_are_counted_per_reason() -> None:
    m = IngestMetrics()
    batch = [
        run("owntracks/retained_clear.json"),
        run("owntracks/implausible_battery.json"),
        _osmand_query((PAYLOADS / "osmand/no_timestamp.txt").read_text()),
        run("owntracks/beacon_placeholder.json"),
    ]
    for p in batch:
        m.count_odd_inputs(p)
    text = m.render()
    assert 'crewtrack_ingest_odd_inputs_total{reason="retained_clear"} 1' in text
    assert 'crewtrack_ingest_odd_inputs_total{reason="dropped:bat"} 1' in text
    assert 'crewtrack_ingest_odd_inputs_total{reason="receive_time"} 1' in text
    assert 'crewtrack_ingest_odd_inputs_total{reason="placeholder_position"} 1' in text
    sentinels = m.render()
    m.count_odd_inputs(run("owntracks/ios_sentinels.json"))
    assert 'odd_inputs_total{reason="sentinel:vel"} 1' in m.render()
    assert "sentinel:vel" not in sentinels


def _osmand_json(name: str) -> Processed:
    payload = (PAYLOADS / name).read_bytes()
    msg = InboundMessage(osmand.topic_for("van-1"), payload, RECEIVED)
    decoded = osmand.decode_json("van-1", payload, received_ms=RECEIVED)
    return validate(msg, decoded, b"", LIMITS)


def test_osmand_dash_empty_and_nan_values_are_absent_fields_and_counted() -> None:
    p = _osmand_query((PAYLOADS / "osmand/no_values.txt").read_text())
    assert p.rejections == []
    (f,) = p.fixes
    assert (f.t_ms, f.lat, f.lon, f.acc) == (T, 48.137154, 11.576124, 12.0)
    assert (f.spd, f.hdg, f.alt, f.bat, f.flags) == (None, None, None, None, None)
    assert sorted(p.odd) == [
        "no_value:altitude",
        "no_value:batt",
        "no_value:bearing",
        "no_value:speed",
    ]


def test_an_osmand_position_without_a_value_is_still_rejected() -> None:
    params = {"id": "van-1", "timestamp": "1709539200", "lat": "-", "lon": "11.5"}
    with pytest.raises(Reject) as rejected:
        osmand.decode_params("van-1", params)
    assert (rejected.value.reason, rejected.value.detail) == (
        "missing_field",
        "lat/lon",
    )


def test_an_infinite_optional_osmand_value_is_dropped_not_the_fix() -> None:
    p = _osmand_query("id=van-1&timestamp=1709539200&lat=48.1&lon=11.5&altitude=inf")
    (f,) = p.fixes
    assert (f.alt, f.flags) == (None, "dropped:alt")


def test_an_android_accuracy_of_zero_means_unknown_not_exact() -> None:
    p = _osmand_query((PAYLOADS / "osmand/android_no_accuracy.txt").read_text())
    (f,) = p.fixes
    assert (f.acc, f.spd, f.bat) == (None, 0.0, 64.0)
    assert p.odd == ("zero_accuracy",)
    heartbeat = _osmand_json("osmand/heartbeat_no_accuracy.json")
    (h,) = heartbeat.fixes
    assert (h.acc, h.spd, h.hdg, h.bat) == (None, None, None, None)
    assert heartbeat.odd == ("zero_accuracy",)
    owntracks = run("owntracks/zero_accuracy.json")
    (o,) = owntracks.fixes
    assert (o.acc, o.bat) == (None, 55.0)
    assert owntracks.odd == ("zero_accuracy",)


def test_a_mocked_traccar_client_location_is_kept_and_marked_mock() -> None:
    p = _osmand_query((PAYLOADS / "osmand/mock_location.txt").read_text())
    (f,) = p.fixes
    assert (f.mock, f.acc, f.alt) == (True, 3.9, 519.0)
    assert p.odd == ("mock_location",)
    plain = _osmand_query((PAYLOADS / "osmand/query.txt").read_text())
    assert plain.fixes[0].mock is None


def test_a_traccar_sos_alarm_at_a_placeholder_position_is_kept_as_an_event_without_a_fix() -> (
    None
):
    p = _osmand_query((PAYLOADS / "osmand/sos_placeholder.txt").read_text())
    assert (p.kind, p.fixes, p.rejections) == ("event", [], [])
    (e,) = p.events
    assert (e.type, e.t_ms, e.lat, e.lon, e.device_id) == (
        "alarm:sos",
        T,
        None,
        None,
        "van-1",
    )
    assert "placeholder_position" in p.odd


def test_a_traccar_sos_alarm_with_a_real_position_keeps_both_the_event_and_the_fix() -> (
    None
):
    p = _osmand_query((PAYLOADS / "osmand/sos.txt").read_text())
    (f,) = p.fixes
    (e,) = p.events
    assert (f.lat, f.acc, e.type, e.lat, e.acc) == (
        48.137154,
        5.0,
        "alarm:sos",
        48.137154,
        5.0,
    )


def test_a_traccar_alarm_without_any_time_takes_the_receive_time() -> None:
    p = _osmand_query("id=van-1&timestamp=0&lat=0&lon=0&alarm=sos")
    (e,) = p.events
    assert (e.t_ms, p.rejections) == (RECEIVED, [])
    assert "receive_time" in p.odd


def test_every_alarm_value_traccar_knows_is_an_event_and_junk_is_not() -> None:
    for alarm in ("general", "lowBattery", "fallDown", "sos"):
        p = _osmand_query(f"id=van-1&timestamp=1709539200&lat=0&lon=0&alarm={alarm}")
        assert [e.type for e in p.events] == [f"alarm:{alarm}"]
    junk = _osmand_query(
        "id=van-1&timestamp=1709539200&lat=48.1&lon=11.5&alarm=%3Cx%3E"
    )
    assert (junk.events, len(junk.fixes), junk.odd) == ([], 1, ("unknown_alarm",))


def test_a_traccar_fix_marked_not_valid_is_kept_flagged_and_extra_fields_are_ignored() -> (
    None
):
    p = _osmand_query((PAYLOADS / "osmand/not_valid.txt").read_text())
    assert p.rejections == []
    (f,) = p.fixes
    assert (f.lat, f.acc, f.bat, f.flags) == (48.137154, 1500.0, 40.0, "not_valid")
    assert p.odd == ("not_valid",)
    valid = _osmand_query("id=van-1&timestamp=1709539200&lat=48.1&lon=11.5&valid=true")
    assert valid.fixes[0].flags is None


def test_a_fix_flagged_not_valid_is_no_evidence_for_visits() -> None:
    import pandas as pd

    from core.fixes import fix_arrays

    frame = pd.DataFrame(
        {
            "time": pd.to_datetime([T, T + 1000, T + 2000], unit="ms", utc=True),
            "lat": [48.1, 48.2, 48.3],
            "lon": [11.5, 11.5, 11.5],
            "accuracy": [5.0, 5.0, 5.0],
            "fix_flags": [None, "receive_time,not_valid", "receive_time"],
        }
    )
    fx = fix_arrays(frame)
    assert (list(fx.lat), fx.dropped) == ([48.1, 48.3], 1)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("owntracks/status_ios.json", "status"),
        ("owntracks/status_android.json", "status"),
        ("owntracks/card.json", "card"),
        ("owntracks/steps.json", "steps"),
        ("owntracks/waypoints.json", "waypoints"),
    ],
)
def test_the_owntracks_apps_own_housekeeping_messages_are_ignored_quietly_and_counted(
    name: str, kind: str
) -> None:
    p = run(name)
    assert (p.kind, p.fixes, p.events, p.rejections) == ("ignored", [], [], [])
    assert p.odd == (f"ignored_type:{kind}",)


def test_an_owntracks_type_nobody_sends_is_still_unsupported() -> None:
    p = process(InboundMessage(TOPIC, b'{"_type": "bogus"}', RECEIVED), LIMITS)
    assert [r.reason for r in p.rejections] == ["unsupported_type"]


def test_an_owntracks_location_with_wifi_regions_and_monitoring_fields_is_a_plain_fix() -> (
    None
):
    p = run("owntracks/location_android_extras.json")
    (f,) = p.fixes
    assert (f.t_ms, f.acc, f.alt, f.spd, f.bat, f.ping, f.flags) == (
        T,
        12.0,
        519.0,
        0.0,
        71.0,
        False,
        None,
    )
    assert (p.rejections, p.odd) == ([], ())


@pytest.mark.parametrize("trigger", ["c", "b", "r", "u", "t", "v", "C", None])
def test_every_owntracks_trigger_but_ping_is_an_ordinary_fix(
    trigger: str | None,
) -> None:
    obj = {"_type": "location", "lat": 48.1, "lon": 11.5, "tst": T // 1000}
    if trigger is not None:
        obj["t"] = trigger
    p = process(InboundMessage(TOPIC, json.dumps(obj).encode(), RECEIVED), LIMITS)
    (f,) = p.fixes
    assert (f.ping, f.flags, p.rejections) == (False, None, [])


def test_a_beacon_transition_without_any_position_keeps_its_event() -> None:
    p = run("owntracks/transition_beacon_no_position.json")
    assert (p.fixes, p.rejections) == ([], [])
    (e,) = p.events
    assert (e.type, e.job, e.t_ms, e.lat, e.lon) == (
        "geofence_leave",
        "J-1042",
        T,
        None,
        None,
    )
    assert p.odd == ("no_position",)
