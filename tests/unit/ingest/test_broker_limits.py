"""The broker's limits and the device protocol's agree, in every config we ship."""

from __future__ import annotations

from pathlib import Path

from crewtrack.servers import MOSQUITTO_DURABILITY, mosquitto_limits
from ingest.mqtt_fast import publish_packet
from ingest.protocols.native import MAX_PACKET_BYTES, MAX_PAYLOAD_BYTES

ROOT = Path(__file__).parents[3]


def test_the_docker_compose_broker_has_the_same_limits_as_the_one_up_starts() -> None:
    lines = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text().splitlines()
    for line in mosquitto_limits():
        assert line in lines
    assert lines.index("listener 1883") < lines.index(mosquitto_limits()[-1])


def test_a_payload_at_the_protocol_limit_fits_the_broker_packet_limit_on_any_topic() -> (
    None
):
    longest_id = "d" * 64  # docs/protocol.md: [A-Za-z0-9_-]{1,64}
    for kind in ("fix", "event", "status"):
        topic = f"crewtrack/v1/{longest_id}/{kind}".encode()
        packet = publish_packet(topic, b"\0" * MAX_PAYLOAD_BYTES, qos=1, mid=65535)
        assert len(packet) <= MAX_PACKET_BYTES


def test_the_documented_size_limit_is_the_one_the_code_enforces() -> None:
    protocol = (ROOT / "docs/protocol.md").read_text()
    assert f"{MAX_PAYLOAD_BYTES // 1024} KiB" in protocol
    assert f"{MAX_PACKET_BYTES:,} bytes" in protocol


def test_the_docker_compose_broker_saves_its_queue_as_often_as_the_one_up_starts() -> (
    None
):
    lines = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text().splitlines()
    for line in MOSQUITTO_DURABILITY:
        assert line in lines
    autosave = [ln for ln in lines if ln.startswith("autosave")]
    assert sorted(autosave) == sorted(MOSQUITTO_DURABILITY)
