"""End-to-end acks through the real broker, on both MQTT read paths.

After its commit the ingest publishes on ``crewtrack/v1/<device>/ack`` what it
stored of that device's messages; the broker ACL lets only that device read it.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgpack

from crewtrack.settings import Settings
from tests.conftest import Broker
from tests.integration.ingest.helpers import (
    count,
    device_client,
    wait_until,
    workers,
)

T0 = int(time.time() * 1000) - 3_600_000


def test_a_phone_hears_on_its_ack_topic_what_was_committed(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    password = broker.add_device("ack-1")
    with workers(settings, tmp_path) as (worker,):
        phone = device_client(broker.port, "ack-1", password)
        phone.subscribe("crewtrack/v1/ack-1/ack")
        fixes = [{"t": T0 + i * 1000, "lat": 48.1, "lon": 11.5} for i in range(10)]
        fixes[4]["lat"] = 123.0  # out of range: rejected, and acked as such
        phone.publish("crewtrack/v1/ack-1/fix", msgpack.packb({"fixes": fixes}))
        phone.publish(
            "crewtrack/v1/ack-1/event",
            msgpack.packb({"id": "ev-1", "type": "clock_in", "t": T0, "job": "J-7"}),
        )
        acks: list[dict[str, list[object]]] = []

        def heard() -> bool:
            for topic, payload in phone.received:
                assert topic == "crewtrack/v1/ack-1/ack"
                ack = msgpack.unpackb(payload)
                if ack not in acks:
                    # told only after the commit: the rows are there already
                    stored = count(
                        settings.database_url,
                        "SELECT count(*) FROM fixes WHERE device_id = 'ack-1'",
                    )
                    assert stored == 9
                    acks.append(ack)
            return sum(len(a["fixes"]) + len(a["events"]) for a in acks) >= 3

        wait_until(heard, timeout_s=15)
        assert sorted(r for a in acks for r in a["fixes"]) == [
            [T0, T0 + 3000],
            [T0 + 5000, T0 + 9000],
        ]
        assert [e for a in acks for e in a["events"]] == ["ev-1"]
        assert [r for a in acks for r in a["rejected"]] == [
            {"t": T0 + 4000, "reason": "out_of_range"}
        ]
        assert worker.metric(
            "crewtrack_ingest_device_acks_total", outcome="published"
        ) == len(acks)

        # a duplicate is acked too: the phone may have missed the first ack
        phone.received.clear()
        phone.publish("crewtrack/v1/ack-1/fix", msgpack.packb(fixes[0]))
        wait_until(lambda: phone.received, timeout_s=15)
        assert msgpack.unpackb(phone.received[0][1])["fixes"] == [[T0, T0]]
        phone.close()


def test_a_device_cannot_read_another_devices_acks(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    passwords = {d: broker.add_device(d) for d in ("ack-a", "ack-b")}
    with workers(settings, tmp_path):
        a = device_client(broker.port, "ack-a", passwords["ack-a"])
        b = device_client(broker.port, "ack-b", passwords["ack-b"])
        a.subscribe("crewtrack/v1/ack-a/ack")
        b.subscribe("crewtrack/v1/ack-b/ack")
        b.subscribe("crewtrack/v1/ack-a/ack")  # granted, but never delivered
        b.subscribe("crewtrack/v1/+/ack")
        a.publish(
            "crewtrack/v1/ack-a/fix", msgpack.packb({"t": T0, "lat": 1, "lon": 2})
        )
        wait_until(lambda: a.received, timeout_s=15)
        # b's own ack comes after a's (one worker, in order): then b heard all
        b.publish(
            "crewtrack/v1/ack-b/fix", msgpack.packb({"t": T0, "lat": 1, "lon": 2})
        )
        wait_until(lambda: b.received, timeout_s=15)
        time.sleep(0.3)
        assert {t for t, _ in b.received} == {"crewtrack/v1/ack-b/ack"}
        assert [t for t, _ in a.received] == ["crewtrack/v1/ack-a/ack"]
        a.close()
        b.close()
