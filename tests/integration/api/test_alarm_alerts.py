"""A phone's SOS reaches the dispatcher's alerts the way a reserve does.

Traccar Client's SOS button uploads ``alarm=sos`` over HTTP (the API's OsmAnd
route); the alarm is raised into the alerts outbox, and the API's relay appends
it to the Redis stream the jobs map reads and posts it to the webhook.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import redis.asyncio as aioredis

from ingest.broker_auth import hash_mqtt_password
from services.device_events import apply_stored_event
from storage.alert_stream import decode_entry
from storage.device_events import StoredEvent
from storage.devices import add_device
from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import make_job, seed, wait_for_alert


def _tess_phone(w: World) -> str:
    """Tess's phone (a Traccar Client device of hers): its upload token."""
    with psycopg.connect(w.settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT user_id FROM technicians WHERE id = %s",
            (w.people.technician_ids["tess"],),
        ).fetchone()
        assert row is not None
        creds = add_device(
            conn, "tess-phone", hash_password=hash_mqtt_password, user_id=row[0]
        )
    return creds.http_token


def _stored(w: World, device_id: str) -> StoredEvent:
    with psycopg.connect(w.settings.database_url) as conn:
        row = conn.execute(
            "SELECT device_id, event_id, type, time, job_id, lat, lon, accuracy, "
            "received_at FROM device_events WHERE device_id = %s",
            (device_id,),
        ).fetchone()
    assert row is not None
    return StoredEvent(*row)


async def test_a_traccar_sos_reaches_the_alerts_stream_at_once_naming_who_and_their_job(
    world: World,
) -> None:
    w = world
    s = await seed(w)
    job_id = await make_job(w, s, "Boiler repair", auxiliary=False)
    await w.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/sessions",
        201,
        {"event": "clock_in", "at": datetime.now(UTC).isoformat()},
    )
    token = _tess_phone(w)
    now = int(time.time())
    sos = (
        f"/api/v1/osmand?id=tess-phone&token={token}&timestamp={now}"
        "&lat=48.857&lon=2.3465&accuracy=8&alarm=sos"
    )
    r = await w.api.get(sos)
    assert r.status == 200
    assert (await r.json())["events"] == 1
    ((entry_id, fields),) = await wait_for_alert(w, 1)  # the relay's, within 10 s
    alert = decode_entry(entry_id, fields)
    assert alert.type == "alarm.raised"
    want: dict[str, Any] = {
        "type": "alarm.raised",
        "alarm": "sos",
        "device_id": "tess-phone",
        "technician_id": w.people.technician_ids["tess"],
        "technician": "Tess",
        "job_id": job_id,
        "lat": 48.857,
        "lon": 2.3465,
        "accuracy": 8.0,
    }
    assert {k: alert.payload.get(k) for k in want} == want
    assert alert.at_ms == now * 1000  # when the button was pressed
    assert [a["type"] for a in w.alerts.received] == ["alarm.raised"]  # the webhook
    # the same upload again (Traccar resends what it saw no answer for), and the
    # ingest's sweep applying the stored event later: still one alert
    assert (await w.api.get(sos)).status == 200
    async with await psycopg.AsyncConnection.connect(
        w.settings.database_url, autocommit=True
    ) as conn:
        assert await apply_stored_event(conn, _stored(w, "tess-phone")) is None
    await asyncio.sleep(1.0)
    client = aioredis.from_url(w.redis_url)
    try:
        assert len(await client.xrange(w.settings.alerts_stream)) == 1
    finally:
        await client.aclose()
