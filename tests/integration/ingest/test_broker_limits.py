"""The broker's limits: size before PUBACK, keepalive, connections (docs/protocol.md).

A phone deletes what the broker PUBACKed. So a message too big to store must
be refused by the broker itself - the sender is disconnected with "Packet too
large" (MQTT 5) and keeps the message - and anything the broker PUBACKs fits
the limit the ingest applies.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import time
from pathlib import Path
from typing import Any

import msgpack
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from crewtrack.servers import MQTT_MAX_KEEPALIVE_S, MosquittoServer, PortAllocator
from crewtrack.settings import Settings
from ingest.broker_auth import BrokerAccount, hash_mqtt_password
from ingest.protocols.native import MAX_PAYLOAD_BYTES
from tests.conftest import Broker
from tests.integration.ingest.helpers import count, device_client, wait_until, workers


def _fixes(device: str, n: int, base_ms: int) -> list[dict[str, Any]]:
    return [
        {
            "t": base_ms + i * 1000,
            "lat": 48.1 + i * 1e-5,
            "lon": 11.5 + i * 1e-5,
            "acc": 4.5,
            "alt": 520.25,
            "spd": 1.25,
            "hdg": 90.5,
            "bat": 77.0,
            "src": "gps",
            "dev": device,
        }
        for i in range(n)
    ]


def _batch_of_exactly(size: int, fixes: list[dict[str, Any]]) -> bytes:
    """``{"fixes": …}`` padded with a key the ingest does not read to ``size`` bytes."""
    bare = len(msgpack.packb({"fixes": fixes, "note": ""}))
    if bare > size:
        raise AssertionError("fixes alone are larger than the size asked for")
    # the padding's own length header grows by up to 4 bytes (fixstr → str32)
    for pad in range(max(0, size - bare - 4), size - bare + 1):
        payload: bytes = msgpack.packb({"fixes": fixes, "note": "x" * pad})
        if len(payload) == size:
            return payload
    raise AssertionError(f"no padding makes exactly {size} bytes")


def _refused_as_too_large(phone: Any) -> bool:
    return any(getattr(rc, "value", None) == 0x95 for rc in phone.disconnects)


def _too_big(device: str, v5: bool) -> tuple[str, bytes]:
    """A 300 KB message: a native batch (MQTT 5) or an OwnTracks one (MQTT 3.1.1)."""
    if v5:
        base_ms = int(time.time() * 1000) - 3600_000
        batch = msgpack.packb({"fixes": _fixes(device, 2500, base_ms)})
        return f"crewtrack/v1/{device}/fix", batch
    location = {"_type": "location", "lat": 48.1, "lon": 11.5, "tst": 1_700_000_000}
    padded = json.dumps({**location, "pad": "x" * 300_000}).encode()
    return f"owntracks/{device}/phone", padded


@pytest.mark.parametrize("v5", [True, False], ids=["mqtt5_batch", "mqtt3_owntracks"])
def test_a_300_kb_message_is_refused_by_the_broker_before_puback(
    v5: bool, settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    device = f"big-{int(v5)}"
    password = broker.add_device(device)
    topic, payload = _too_big(device, v5)
    assert len(payload) >= 300_000
    with workers(settings, tmp_path):
        phone = device_client(broker.port, device, password, v5=v5)
        try:
            mid = phone.publish(topic, payload)
            wait_until(lambda: phone.disconnects, timeout_s=30)
            assert mid not in phone.acked  # the phone still holds the message
            if v5:  # MQTT 5 says why
                assert _refused_as_too_large(phone)
        finally:
            phone.client.disconnect()
            phone.client.loop_stop()
        assert count(settings.database_url, "SELECT count(*) FROM fixes") == 0
        assert (
            count(settings.database_url, "SELECT count(*) FROM rejected_messages") == 0
        )


def test_a_batch_at_the_size_limit_is_acked_and_every_fix_stored(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    password = broker.add_device("big-3")
    base_ms = int(time.time() * 1000) - 3600_000
    fixes = _fixes("big-3", 1800, base_ms)
    payload = _batch_of_exactly(MAX_PAYLOAD_BYTES, fixes)
    with workers(settings, tmp_path):
        phone = device_client(broker.port, "big-3", password)
        try:
            mid = phone.publish("crewtrack/v1/big-3/fix", payload)
            acked = phone.wait_acked(timeout_s=60)
        finally:
            phone.close()
        assert not acked[mid].is_failure
        assert not _refused_as_too_large(phone)
        wait_until(
            lambda: (
                count(settings.database_url, "SELECT count(*) FROM fixes") >= len(fixes)
            ),
            timeout_s=60,
        )
        assert count(settings.database_url, "SELECT count(*) FROM fixes") == len(fixes)
        assert (
            count(settings.database_url, "SELECT count(*) FROM rejected_messages") == 0
        )


def _connect_with_keepalive(
    port: int,
    device: str,
    password: str,
    keepalive: int,
    protocol: int,
    client_id: str | None = None,
) -> tuple[mqtt.Client, dict[str, Any]]:
    seen: dict[str, Any] = {}
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"ka-{device}",
        protocol=protocol,
    )
    client.username_pw_set(device, password)
    client.reconnect_delay_set(60, 60)  # one connection each, no retries here

    def on_connect(_c: Any, _u: Any, _f: Any, rc: Any, props: Any) -> None:
        seen["connack"] = (rc, getattr(props, "ServerKeepAlive", None))

    def on_disconnect(_c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        seen.setdefault("disconnect", rc)

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.connect("127.0.0.1", port, keepalive)
    client.loop_start()
    return client, seen


def test_an_mqtt_5_client_asking_for_no_keepalive_is_told_the_brokers_maximum(
    broker: Broker,
) -> None:
    password = broker.add_device("ka-5")
    client, seen = _connect_with_keepalive(broker.port, "ka-5", password, 0, 5)
    try:
        wait_until(lambda: "connack" in seen, timeout_s=20)
        rc, server_keepalive = seen["connack"]
        assert not rc.is_failure
        assert server_keepalive == MQTT_MAX_KEEPALIVE_S
    finally:
        client.disconnect()
        client.loop_stop()


def _answered(seen: dict[str, Any]) -> bool:
    return "connack" in seen or "disconnect" in seen


def test_connections_beyond_the_brokers_limit_are_closed_at_once(
    tmp_path: Path,
) -> None:
    server = MosquittoServer(
        tmp_path / "mqtt", PortAllocator().free_port(), max_connections=3
    )
    password = "pw-" + "x" * 8
    server.write_accounts([BrokerAccount("conn-1", hash_mqtt_password(password))])
    server.start()
    held: list[tuple[mqtt.Client, dict[str, Any]]] = []
    try:
        # Three sessions get in (the start-up probe's socket may count for a
        # moment: a client closed before its CONNACK simply tries again).
        while len(held) < 3:
            client, seen = _connect_with_keepalive(
                server.port, "conn-1", password, 30, 5, client_id=f"c{len(held)}"
            )
            wait_until(functools.partial(_answered, seen))
            if "connack" in seen and "disconnect" not in seen:
                held.append((client, seen))
            else:
                client.loop_stop()
        # Mosquitto 2.0.11 counts a client that left before CONNECT (the
        # probe) loosely, so one more may get in; after that, none.
        extra: list[socket.socket] = []
        for _ in range(2):
            extra.append(socket.create_connection(("127.0.0.1", server.port)))
        closed = 0
        for sock in extra:
            sock.settimeout(5)
            with contextlib.suppress(TimeoutError):  # held open: awaits a CONNECT
                closed += sock.recv(1) == b""
            sock.close()
        assert closed >= 1
        assert all("disconnect" not in seen for _, seen in held)
    finally:
        for client, _ in held:
            client.disconnect()
            client.loop_stop()
        server.stop()
