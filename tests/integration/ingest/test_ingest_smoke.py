"""A worker stores what phones publish, acks it, and shows it on the live map."""

from __future__ import annotations

import time
from pathlib import Path

import msgpack
import redis

from crewtrack.settings import Settings
from storage.live import live_positions_sync
from tests.conftest import Broker
from tests.integration.ingest.helpers import (
    count,
    device_client,
    publish_all,
    wait_until,
    workers,
)


def test_a_fix_published_by_a_phone_is_stored_once_and_shown_live(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    password = broker.add_device("van-1")
    now = int(time.time() * 1000)
    with workers(settings, tmp_path):
        phone = device_client(broker.port, "van-1", password)
        single = msgpack.packb({"t": now - 1000, "lat": 52.5, "lon": 13.4, "acc": 8.0})
        batch = msgpack.packb(
            {
                "fixes": [
                    {"t": now - 60_000 + i, "lat": 52.0, "lon": 13.0} for i in range(50)
                ]
            }
        )
        publish_all(
            phone,
            [
                ("crewtrack/v1/van-1/fix", single),
                ("crewtrack/v1/van-1/fix", batch),
                ("crewtrack/v1/van-1/fix", single),  # a resend: stored once
            ],
        )
        wait_until(
            lambda: count(settings.database_url, "SELECT count(*) FROM fixes") == 51
        )
        with redis.Redis.from_url(settings.redis_url) as r:
            live = wait_until(lambda: live_positions_sync(r))
        phone.close()
    assert live[0]["device_id"] == "van-1"
    assert live[0]["t"] == now - 1000
    assert live[0]["lat"] == 52.5
    assert count(settings.database_url, "SELECT count(*) FROM ingest_messages") == 2
