"""A device speaks only for itself: the broker and the ingest both enforce it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgpack
import psycopg
from aiohttp.test_utils import TestClient

from api.app import init_app
from crewtrack.settings import Settings
from ingest.broker_auth import hash_mqtt_password
from storage.devices import add_device
from tests.conftest import Broker
from tests.integration.ingest.helpers import (
    count,
    device_client,
    publish_all,
    wait_until,
    workers,
)


def test_the_broker_refuses_a_publish_under_another_devices_id(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    password = broker.add_device("thief-1")
    broker.add_device("victim-1")
    now = int(time.time() * 1000)
    fix = msgpack.packb({"t": now, "lat": 1.0, "lon": 1.0})
    with workers(settings, tmp_path):
        phone = device_client(broker.port, "thief-1", password)
        codes = publish_all(
            phone,
            [("crewtrack/v1/victim-1/fix", fix), ("owntracks/victim-1/phone", b"{}")],
        )
        named = msgpack.packb({"dev": "victim-1", "t": now, "lat": 1.0, "lon": 1.0})
        publish_all(phone, [("crewtrack/v1/thief-1/fix", named)])
        wait_until(
            lambda: count(
                settings.database_url, "SELECT count(*) FROM rejected_messages"
            )
        )
        phone.close()
    assert [c.value for c in codes.values()][:2] == [0x87, 0x87]  # Not authorized
    assert count(settings.database_url, "SELECT count(*) FROM fixes") == 0
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute("SELECT device_id, reason FROM rejected_messages").fetchone()
    assert row == ("thief-1", "device_mismatch")


async def test_traccar_client_uploads_are_stored_before_the_answer(
    aiohttp_client: Any, settings: Settings
) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        creds = add_device(conn, "tc-1", hash_password=hash_mqtt_password)
        add_device(conn, "tc-2", hash_password=hash_mqtt_password)
    client: TestClient[Any, Any] = await aiohttp_client(init_app(settings))
    now_s = int(time.time())
    q = f"id=tc-1&timestamp={now_s}&lat=48.1&lon=11.5&speed=10&accuracy=5"
    ok = await client.get(f"/api/v1/osmand?{q}&token={creds.http_token}")
    again = await client.post(
        "/api/v1/osmand",
        data=q,
        headers={
            "Authorization": f"Bearer {creds.http_token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    body = {
        "device_id": "tc-1",
        "location": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_s + 5)),
            "coords": {"latitude": 48.2, "longitude": 11.6, "accuracy": 4, "speed": 3},
            "battery": {"level": 0.5},
        },
    }
    js = await client.post(f"/api/v1/osmand?token={creds.http_token}", json=body)
    other = await client.get(
        f"/api/v1/osmand?id=tc-2&timestamp={now_s}&lat=1&lon=1&token={creds.http_token}"
    )
    bad = await client.get(
        f"/api/v1/osmand?id=tc-1&timestamp={now_s}&lat=95&lon=1&token={creds.http_token}"
    )
    anon = await client.get(f"/api/v1/osmand?{q}&token=nope")
    anon_again = await client.get(f"/api/v1/osmand?{q}")  # within the minute
    assert [r.status for r in (ok, again, js, other, bad, anon, anon_again)] == [
        200,
        200,
        200,
        403,
        400,
        401,
        401,
    ]
    with psycopg.connect(settings.database_url) as conn:
        fixes = conn.execute(
            "SELECT device_id, speed, battery FROM fixes ORDER BY time"
        ).fetchall()
        reasons = conn.execute(
            "SELECT reason FROM rejected_messages ORDER BY id"
        ).fetchall()
        stored_query = conn.execute("SELECT topic FROM ingest_messages").fetchall()
    assert [f[0] for f in fixes] == ["tc-1", "tc-1"]  # the resend is stored once
    assert fixes[1][2] == 50.0
    assert reasons == [("device_mismatch",), ("out_of_range",), ("unknown_device",)]
    with psycopg.connect(settings.database_url) as conn:
        anon_row = conn.execute(
            "SELECT device_id, topic, detail, payload FROM rejected_messages "
            "WHERE reason = 'unknown_device'"
        ).fetchone()
    assert anon_row is not None
    device, topic, detail, payload = anon_row
    assert (device, topic) == (None, "http/osmand/tc-1")  # claimed, not trusted
    assert detail == "unknown or revoked device token; id='tc-1'"
    assert b"lat=48.1" in payload
    assert b"nope" not in payload  # the token is never kept
    assert ("http/osmand/tc-1",) in stored_query
