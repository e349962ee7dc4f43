"""Issue 18 end to end: real phones' odd payloads through the real broker and API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg_pool import ConnectionPool

from api.app import init_app
from core.fixes import fix_arrays
from crewtrack.servers import PortAllocator
from crewtrack.settings import Settings
from dashboard import queries
from ingest.broker_auth import hash_mqtt_password
from ingest.metrics import sample, samples
from storage.devices import add_device
from storage.visits import load_fixes
from tests.conftest import Broker
from tests.integration.ingest.helpers import (
    count,
    device_client,
    publish_all,
    wait_until,
    workers,
)

_ports = PortAllocator()
PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads" / "owntracks"


def _now(name: str, tst: int) -> bytes:
    """A captured payload with its time moved to now (the broker path checks it)."""
    obj = json.loads((PAYLOADS / name).read_text())
    obj["tst"] = tst
    return json.dumps(obj).encode()


def _raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


@pytest.mark.parametrize("fast_path", ["auto", "off"])
def test_owntracks_odd_payloads_are_kept_cleared_and_counted_on_both_mqtt_paths(
    settings: Settings, broker: Broker, tmp_path: Path, fast_path: str
) -> None:
    password = broker.add_device("ip-1")
    now_s = int(time.time())
    settings = settings.replace(ingest_mqtt_fast_path=fast_path)
    with workers(settings, tmp_path) as (worker,):
        phone = device_client(broker.port, "ip-1", password)
        publish_all(
            phone,
            [
                ("owntracks/ip-1/iphone", _now("ios_sentinels.json", now_s - 30)),
                ("owntracks/ip-1/iphone", _now("implausible_battery.json", now_s - 20)),
                ("owntracks/ip-1/iphone", _now("beacon_placeholder.json", now_s - 10)),
                ("owntracks/ip-1/iphone/status", _raw("status_ios.json")),
                ("owntracks/ip-1/iphone/info", _raw("card.json")),
                ("owntracks/ip-1/iphone/event", b""),
            ],
        )
        wait_until(
            lambda: worker.metric(
                "crewtrack_ingest_odd_inputs_total", reason="retained_clear"
            )
        )
        wait_until(
            lambda: count(settings.database_url, "SELECT count(*) FROM device_events")
        )
        odd = {
            reason: worker.metric("crewtrack_ingest_odd_inputs_total", reason=reason)
            for reason in (
                "sentinel:vel",
                "dropped:bat",
                "placeholder_position",
                "retained_clear",
                "ignored_type:status",
                "ignored_type:card",
            )
        }
        phone.close()
    assert odd == dict.fromkeys(odd, 1.0)
    with psycopg.connect(settings.database_url) as conn:
        fixes = conn.execute(
            "SELECT speed, heading, battery, fix_flags FROM fixes ORDER BY time"
        ).fetchall()
        events = conn.execute("SELECT type, lat FROM device_events").fetchall()
        rejected = conn.execute("SELECT reason FROM rejected_messages").fetchall()
    assert fixes == [
        (None, None, None, None),
        (pytest.approx(3 / 3.6), None, None, "dropped:bat"),
    ]
    assert events == [("geofence_leave", None)]
    assert rejected == []


async def _traccar(
    aiohttp_client: Any, settings: Settings, device: str, app_settings: Settings
) -> tuple[Any, str]:
    """A Traccar Client device and an API test client: (client, upload base URL)."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        creds = add_device(conn, device, hash_password=hash_mqtt_password)
    client = await aiohttp_client(init_app(app_settings))
    return client, f"/api/v1/osmand?id={device}&token={creds.http_token}"


async def test_a_traccar_upload_without_timestamp_is_stored_at_receive_time_and_the_audit_sees_it(
    aiohttp_client: Any, settings: Settings
) -> None:
    client, base = await _traccar(aiohttp_client, settings, "tc-9", settings)
    before = datetime.now(UTC)
    r = await client.get(f"{base}&lat=48.1&lon=11.5")
    assert r.status == 200
    pool = ConnectionPool(settings.database_url, open=True)
    sources = queries.Sources(pool=pool, redis=redis.Redis(port=1))
    try:
        frame = queries.fixes(
            sources,
            "tc-9",
            before - timedelta(minutes=1),
            before + timedelta(minutes=1),
        )
    finally:
        sources.close()
    assert list(frame["fix_flags"]) == ["receive_time"]
    assert frame["time"].iloc[0] >= before - timedelta(seconds=1)


async def test_a_traccar_sos_at_a_placeholder_is_an_event_and_a_not_valid_fix_is_kept_flagged(
    aiohttp_client: Any, settings: Settings
) -> None:
    client, url = await _traccar(aiohttp_client, settings, "tc-sos", settings)
    now = int(time.time())
    base = f"{url}&timestamp={now}"
    sos = await client.get(f"{base}&lat=0.0&lon=0.0&alarm=sos")
    assert (sos.status, await sos.json()) == (
        200,
        {"stored": 0, "events": 1, "rejected": 0},
    )
    invalid = await client.get(f"{base}&lat=48.1&lon=11.5&valid=false&hdop=9")
    assert invalid.status == 200
    valid = await client.get(f"{url}&timestamp={now + 5}&lat=48.2&lon=11.5")
    assert valid.status == 200
    with psycopg.connect(settings.database_url) as conn:
        events = conn.execute(
            "SELECT type, lat, extract(epoch FROM time)::bigint FROM device_events "
            "WHERE device_id = 'tc-sos'"
        ).fetchall()
        fixes = conn.execute(
            "SELECT lat, fix_flags FROM fixes WHERE device_id = 'tc-sos' ORDER BY time"
        ).fetchall()
        rejected = conn.execute(
            "SELECT count(*) FROM rejected_messages WHERE device_id = 'tc-sos'"
        ).fetchone()
        start = datetime.fromtimestamp(now - 60, UTC)
        evidence = fix_arrays(
            load_fixes(conn, "tc-sos", start, start + timedelta(minutes=2))
        )
    assert events == [("alarm:sos", None, now)]
    assert fixes == [(48.1, "not_valid"), (48.2, None)]
    assert rejected == (0,)
    assert list(evidence.lat) == [48.2]  # what visits derive from


async def test_odd_http_uploads_are_counted_on_the_api_metrics_port_with_the_ingest_names(
    aiohttp_client: Any, settings: Settings
) -> None:
    port = _ports.free_port()
    client, base = await _traccar(
        aiohttp_client, settings, "tc-odd", settings.replace(api_metrics_port=port)
    )
    now = int(time.time())
    for query in (
        f"&timestamp={now}&lat=48.1&lon=11.5&accuracy=0&altitude=-&mock=true",
        "&lat=48.1&lon=11.5",  # no timestamp: receive time
        f"&timestamp={now}&lat=0&lon=0&alarm=sos",
        f"&timestamp={now}&lat=91&lon=11.5",  # rejected: out of range
    ):
        await client.get(base + query)
    await client.get("/api/v1/osmand?id=tc-gone&lat=1&lon=1&token=revoked")
    async with client.session.get(f"http://127.0.0.1:{port}/metrics") as r:
        assert r.status == 200
        text = await r.text()
    odd = samples(text, "crewtrack_ingest_odd_inputs_total")
    assert {
        k: odd.get(k)
        for k in (
            "zero_accuracy",
            "no_value:altitude",
            "mock_location",
            "receive_time",
            "placeholder_position",
        )
    } == {
        "zero_accuracy": 1,
        "no_value:altitude": 1,
        "mock_location": 1,
        "receive_time": 1,
        "placeholder_position": 1,
    }
    assert samples(text, "crewtrack_ingest_rejected_total") == {
        "out_of_range": 1,
        "unknown_device": 1,
    }
    assert samples(text, "crewtrack_ingest_rejected_by_protocol_total") == {"osmand": 2}
    assert sample(text, "crewtrack_ingest_messages_total", protocol="osmand") == 5
    assert sample(text, "crewtrack_ingest_fixes_stored_total") == 2
