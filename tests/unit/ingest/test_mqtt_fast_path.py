"""The MQTT fast path decodes PUBLISH packets exactly as paho does, or leaves them to paho.

Packets are built with paho's own encoder (a client publishing into a stand-in
socket) or, for malformed ones, by editing such bytes as the MQTT 5 spec lays
them out. Each goes through paho's public path (``loop_read``/``on_message``/
``ack``) and through the fast path as the consumer reads it, and the outcomes
(messages, PUBACK bytes written, how reading ended) must be equal; the fast
decoder itself must produce paho's message, or decline.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from core.messages import InboundMessage
from crewtrack.settings import Settings, SettingsError
from ingest import mqtt_fast
from ingest.mqtt import MqttConsumer

FIX = b"\x84\xa1t\xcf\x00\x00\x01\x90\x00\x00\x00\x00\xa3lat\xcb@H\x0c\xcc"
TOPIC = "crewtrack/v1/dev-1/fix"


def paho_encoded(
    topic: str | bytes,
    payload: bytes,
    *,
    qos: int = 0,
    mid: int = 0,
    retain: bool = False,
    dup: bool = False,
    props: Callable[[Properties], None] | None = None,
) -> bytes:
    """The PUBLISH packet paho itself writes for these fields (MQTT 5)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sock = mqtt_fast.ProbeSocket(b"", 1)
    client._sock = sock
    properties = None
    if props is not None:
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props(properties)
    raw = topic.encode() if isinstance(topic, str) else topic
    info = mqtt.MQTTMessageInfo(mid)
    client._send_publish(mid, raw, payload, qos, retain, dup, info, properties)
    return bytes(sock.sent)


def split(packet: bytes) -> tuple[int, bytes]:
    """Fixed header byte and everything after the remaining length."""
    pos = 1
    while packet[pos] & 0x80:
        pos += 1
    return packet[0], packet[pos + 1 :]


def with_body(command: int, body: bytes) -> bytes:
    """A packet around ``body``, its remaining length recomputed."""
    return bytes([command]) + mqtt_fast._remaining_length(len(body)) + body


def decoded(packet: bytes) -> InboundMessage | None:
    command, body = split(packet)
    return mqtt_fast.decode_publish(command, body, 0, 1)


def both_paths(packet: bytes, piece: int = 1 << 20) -> mqtt_fast.Outcome:
    """Read ``packet`` through both paths; they must agree. Returns the outcome."""
    public = mqtt_fast.read_public(packet, piece)
    fast = mqtt_fast.read_fast(packet, piece)
    assert fast == public
    return public


def assert_fast_path_decodes_like_paho(packet: bytes) -> InboundMessage:
    messages, _acks, end = both_paths(packet)
    assert end == "ok"
    assert len(messages) == 1
    assert decoded(packet) == messages[0]
    return messages[0]


def assert_left_to_paho(packet: bytes) -> mqtt_fast.Outcome:
    assert decoded(packet) is None
    return both_paths(packet)


def content_type_user_property_and_expiry(p: Properties) -> None:
    p.ContentType = "application/msgpack"
    p.UserProperty = [("app", "crewtrack"), ("app", "second value")]
    p.MessageExpiryInterval = 3600
    p.PayloadFormatIndicator = 0
    p.CorrelationData = b"\x00\x01"
    p.ResponseTopic = "crewtrack/v1/dev-1/reply"


# --- packets the fast decoder takes ------------------------------------------


def test_a_qos0_publish_becomes_the_message_paho_delivers() -> None:
    msg = assert_fast_path_decodes_like_paho(paho_encoded(TOPIC, FIX))
    assert msg == InboundMessage(TOPIC, FIX, 0, 0, 0, False, False, 1)


def test_a_qos1_publish_keeps_its_packet_id_and_is_acked_with_the_same_bytes() -> None:
    packet = paho_encoded(TOPIC, FIX, qos=1, mid=4242)
    msg = assert_fast_path_decodes_like_paho(packet)
    assert (msg.qos, msg.mid) == (1, 4242)
    _messages, acks, _end = both_paths(packet)
    assert acks == b"\x40\x02\x10\x92"


def test_content_type_user_properties_and_message_expiry_are_skipped_as_paho_does() -> (
    None
):
    packet = paho_encoded(
        TOPIC, FIX, qos=1, mid=65535, props=content_type_user_property_and_expiry
    )
    assert assert_fast_path_decodes_like_paho(packet).payload == FIX


def test_retained_and_dup_flags_are_carried_over() -> None:
    retained = assert_fast_path_decodes_like_paho(paho_encoded(TOPIC, FIX, retain=True))
    dup = assert_fast_path_decodes_like_paho(
        paho_encoded(TOPIC, FIX, qos=1, mid=9, retain=True, dup=True)
    )
    assert (retained.retain, retained.dup) == (True, False)
    assert (dup.retain, dup.dup) == (True, True)


def test_a_topic_with_an_alias_to_set_up_is_decoded_by_its_topic() -> None:
    def alias(p: Properties) -> None:
        p.TopicAlias = 3

    assert assert_fast_path_decodes_like_paho(
        paho_encoded(TOPIC, FIX, qos=1, mid=2, props=alias)
    ).topic == (TOPIC)


def test_an_empty_payload_and_a_non_ascii_topic_decode_like_paho() -> None:
    assert_fast_path_decodes_like_paho(paho_encoded("owntracks/jörg/phone", b""))


def test_a_payload_larger_than_one_read_ahead_chunk_decodes_like_paho() -> None:
    payload = bytes(range(256)) * (mqtt_fast.RECV_CHUNK // 256 + 7)
    assert len(
        assert_fast_path_decodes_like_paho(paho_encoded(TOPIC, payload)).payload
    ) == len(payload)


def test_a_stream_read_a_byte_at_a_time_gives_the_same_messages_and_acks() -> None:
    stream = b"".join(
        [
            paho_encoded(TOPIC, FIX),
            paho_encoded(TOPIC, FIX, qos=1, mid=1),
            paho_encoded("owntracks/u/d", b"{}", qos=1, mid=2, retain=True),
            paho_encoded(
                TOPIC, FIX, qos=1, mid=3, props=content_type_user_property_and_expiry
            ),
            b"\xd0\x00",  # PINGRESP between them
            paho_encoded(TOPIC, b"last"),
        ]
    )
    messages, acks, end = both_paths(stream, piece=1)
    assert end == "ok"
    assert [m.mid for m in messages] == [0, 1, 2, 3, 0]
    assert acks == b"\x40\x02\x00\x01\x40\x02\x00\x02\x40\x02\x00\x03"


def test_our_probe_encoder_writes_what_pahos_encoder_writes() -> None:
    def props(p: Properties) -> None:
        p.ContentType = "application/msgpack"

    prop_bytes = paho_encoded(TOPIC, b"", props=props)[2 + 2 + len(TOPIC) :]
    assert mqtt_fast.publish_packet(
        TOPIC.encode(), FIX, qos=1, mid=77, retain=True, dup=True
    ) == paho_encoded(TOPIC, FIX, qos=1, mid=77, retain=True, dup=True)
    assert mqtt_fast.publish_packet(
        TOPIC.encode(), FIX, properties=prop_bytes
    ) == paho_encoded(TOPIC, FIX, props=props)


# --- packets left to paho ------------------------------------------------------


def test_a_topic_alias_without_a_topic_is_left_to_paho() -> None:
    def alias(p: Properties) -> None:
        p.TopicAlias = 3

    messages, _acks, end = assert_left_to_paho(
        paho_encoded(b"", FIX, qos=1, mid=5, props=alias)
    )
    assert end == "ok"
    assert [m.topic for m in messages] == [""]  # what paho delivers


def test_qos2_is_left_to_paho_which_answers_pubrec() -> None:
    messages, acks, end = assert_left_to_paho(paho_encoded(TOPIC, FIX, qos=2, mid=6))
    assert (messages, end) == ([], "ok")
    assert acks.startswith(b"\x50")  # PUBREC


def test_other_packet_types_are_left_to_paho() -> None:
    assert mqtt_fast.decode_publish(0xD0, b"", 0, 1) is None  # PINGRESP
    assert mqtt_fast.decode_publish(0x40, b"\x00\x01", 0, 1) is None  # PUBACK


MALFORMED = {
    "a body of one byte": with_body(0x30, b"\x00"),
    "a topic length beyond the packet": with_body(0x30, b"\x00\x40abc\x00"),
    "a qos1 packet without its packet id": with_body(0x32, b"\x00\x03abc\x00"),
    "no properties length": with_body(0x30, b"\x00\x03abc"),
    "a properties length beyond the packet": with_body(0x30, b"\x00\x03abc\x20\x01"),
    "a five-byte properties length": with_body(
        0x30, b"\x00\x03abc\xff\xff\xff\xff\x01"
    ),
    "an unknown property": with_body(0x30, b"\x00\x03abc\x02\x7f\x00payload"),
    "a property given twice": with_body(
        0x30, b"\x00\x03abc\x04\x01\x00\x01\x01payload"
    ),
    "a topic that is not UTF-8": with_body(0x30, b"\x00\x02\xff\xfe\x00payload"),
    "a topic with a UTF-16 surrogate": with_body(
        0x30, b"\x00\x03\xed\xa0\x80\x00payload"
    ),
}


@pytest.mark.parametrize("packet", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_publish_is_left_to_paho_and_delivers_nothing(
    packet: bytes,
) -> None:
    messages, _acks, end = assert_left_to_paho(packet)
    assert messages == []
    assert end != "ok"  # paho refuses it: closes, or raises as it always has


def test_a_remaining_length_of_five_bytes_closes_the_connection_on_both_paths() -> None:
    packet = b"\x30\xff\xff\xff\xff\x01" + b"\x00" * 16
    assert both_paths(packet) == ([], b"", "closed")


def test_a_remaining_length_longer_than_the_data_waits_on_both_paths() -> None:
    packet = paho_encoded(TOPIC, FIX)
    assert both_paths(packet[:-3]) == ([], b"", "ok")


def test_a_remaining_length_shorter_than_the_packet_agrees_on_both_paths() -> None:
    good = paho_encoded(TOPIC, FIX)
    command, body = split(good)
    short = bytes([command, len(body) - 5]) + body
    messages, _acks, _end = both_paths(short)
    assert [m.payload for m in messages] == [FIX[:-5]]


# --- the start-up check ----------------------------------------------------------


def test_the_installed_paho_passes_the_self_test() -> None:
    fast, reason = mqtt_fast.check("auto")
    assert fast, reason
    assert reason == (
        f"paho-mqtt {importlib.metadata.version('paho-mqtt')}, self-test passed"
    )


def test_off_forces_pahos_public_path() -> None:
    assert mqtt_fast.check("off") == (False, "CREWTRACK_INGEST_MQTT_FAST_PATH=off")


def test_an_unknown_mode_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="CREWTRACK_INGEST_MQTT_FAST_PATH='on'"):
        mqtt_fast.check("on")


@pytest.mark.parametrize("version", ["2.3.0", "3.0.0", "2.1.9", "2.2rc1"])
def test_a_paho_outside_the_checked_series_uses_the_public_path(
    monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    monkeypatch.setattr(mqtt_fast.importlib.metadata, "version", lambda _n: version)
    assert mqtt_fast.check("auto") == (
        False,
        f"paho-mqtt {version} is not the checked 2.2 series",
    )


def public_path_reason() -> str:
    """Why ``auto`` chose paho's public path (it must have)."""
    fast, reason = mqtt_fast.check("auto")
    assert not fast
    return reason


def test_a_paho_without_the_private_reader_uses_the_public_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(mqtt.Client, "_packet_read")
    reason = public_path_reason()
    assert reason.startswith("self-test failed")
    assert "_packet_read" in reason


def test_a_fast_decoder_that_differs_from_paho_uses_the_public_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = mqtt_fast.decode_publish

    def off_by_one(
        command: int, data: bytes | bytearray, received_ms: int, generation: int
    ) -> InboundMessage | None:
        msg = real(command, data, received_ms, generation)
        return None if msg is None else msg._replace(mid=msg.mid + 1)

    monkeypatch.setattr(mqtt_fast, "decode_publish", off_by_one)
    reason = public_path_reason()
    assert reason.startswith("self-test on paho-mqtt")
    assert "the fast path gave" in reason


def test_a_changed_public_decoding_uses_the_public_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If paho itself starts delivering differently, the probes' expectations fail."""
    real = mqtt_fast.from_paho

    def changed(
        m: mqtt.MQTTMessage, received_ms: int, generation: int
    ) -> InboundMessage:
        return real(m, received_ms, generation)._replace(retain=True)

    monkeypatch.setattr(mqtt_fast, "from_paho", changed)
    reason = public_path_reason()
    assert "paho's public path gave" in reason


def test_a_device_ack_is_written_as_the_qos1_publish_paho_would_write() -> None:
    topic, payload = "crewtrack/v1/van-1/ack", b"\x83\xa5fixes\x91\x92\x01\x02"
    public, mid = mqtt_fast.publish_public(topic, payload)
    assert public[0] == 0x32  # PUBLISH, QoS 1, not retained
    assert mqtt_fast.publish_fast(topic, payload, mid) == public


def test_the_brokers_puback_of_a_device_ack_is_read_and_delivers_nothing() -> None:
    puback = mqtt_fast.publish_packet(b"crewtrack/v1/x/fix", b"{}", qos=1, mid=9)
    puback += bytes([0x40, 2, 0, 77])  # PUBACK for an id paho does not track
    messages, acks, end = mqtt_fast.read_fast(puback, piece=3)
    assert [m.mid for m in messages] == [9]
    assert end == "ok"
    assert acks == bytes([0x40, 2, 0, 9])


def test_a_fast_ack_publisher_that_differs_from_paho_uses_the_public_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mqtt_fast, "_QOS1_PUBLISH", b"\x33")  # retained
    reason = public_path_reason()
    assert "a device ack's PUBLISH is" in reason


@pytest.mark.parametrize(
    ("mode", "line", "on"),
    [
        ("auto", "MQTT fast path on: paho-mqtt ", True),
        (
            "off",
            "MQTT fast path off, using paho's public path: "
            "CREWTRACK_INGEST_MQTT_FAST_PATH=off",
            False,
        ),
    ],
)
async def test_the_consumer_logs_which_path_it_reads_with(
    caplog: pytest.LogCaptureFixture, mode: str, line: str, on: bool
) -> None:
    with caplog.at_level(logging.INFO, logger="ingest.mqtt"):
        consumer = MqttConsumer(Settings(ingest_mqtt_fast_path=mode), lambda _m: None)
    lines = [r.getMessage() for r in caplog.records if "fast path" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith(line)
    assert consumer.fast_path is on
    assert (consumer._fast is not None) is on
    # the hooks are instance attributes; the public path leaves paho untouched
    hooked = vars(consumer.client).keys() & {"_packet_handle", "_sock_recv"}
    assert hooked == ({"_packet_handle", "_sock_recv"} if on else set())
