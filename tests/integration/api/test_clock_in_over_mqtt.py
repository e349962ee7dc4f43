"""The help page's field flow over the real wire: a phone clocks in over MQTT and
the job goes In Progress; clocking out closes the session; the map knows the job.

Everything is real: the broker with per-device credentials, an ingest worker
started as `crewtrack ingest` (the composition root that wires device events
to job sessions), PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
import psycopg
import pytest
import redis
from aiohttp.test_utils import TestClient

from crewtrack.settings import Settings
from derive.worker import derive_pending
from ingest.broker_auth import hash_mqtt_password
from storage.devices import add_device
from tests.conftest import Broker
from tests.integration.api.conftest import People
from tests.integration.api.test_help_pages import (
    create_job,
    make_client_and_property,
    ok,
    post,
    window,
)
from tests.integration.ingest.helpers import Phone, Worker

V1 = "/api/v1"
READY_TIMEOUT_S = 30.0
APPLY_TIMEOUT_S = 20.0


@pytest.fixture
def ingest_worker(settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    """One `crewtrack ingest` process, ready when its metrics say it is connected."""
    worker = Worker(settings, "ingest-clock-test", tmp_path / "ingest.log").start()
    try:
        worker.wait_ready(READY_TIMEOUT_S)
        yield worker
    finally:
        try:
            worker.stop()  # SIGTERM, then waits up to 40 s
        except subprocess.TimeoutExpired:
            worker.kill()
            pytest.fail("ingest ignored SIGTERM:\n" + worker.log()[-3000:])


async def _status_becomes(
    client: TestClient[Any, Any], people: People, jid: str, status: str
) -> dict[str, Any]:
    deadline = time.monotonic() + APPLY_TIMEOUT_S
    while True:
        job = await ok(
            await client.get(f"{V1}/jobs/{jid}", headers=people.auth("admin"))
        )
        if job["status"] == status or time.monotonic() > deadline:
            return dict(job)
        await asyncio.sleep(0.2)


def _event(event_id: str, kind: str, job: str) -> bytes:
    at_ms = int(datetime.now(UTC).timestamp() * 1000)
    payload = {
        "id": event_id,
        "type": kind,
        "t": at_ms,
        "job": job,
        "lat": 53.8,
        "lon": -1.55,
        "acc": 8.0,
    }
    return msgpack.packb(payload)


async def _scheduled_job_with_phone(
    client: TestClient[Any, Any],
    people: People,
    db_url: str,
    broker: Broker,
    device_id: str,
) -> tuple[str, Phone]:
    """A job scheduled for Tess, and her phone registered and connected."""
    client_id, property_id = await make_client_and_property(client, people)
    tess = people.technician_ids["tess"]
    job = await create_job(client, people, client_id, "Boiler", property_id=property_id)
    start, end = window()
    await ok(
        await post(
            client,
            f"/jobs/{job['id']}/schedule",
            people,
            "dispatcher",
            {"start": start, "end": end, "technician_id": tess},
        )
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT user_id FROM technicians WHERE id = %s", (tess,)
        ).fetchone()
        assert row is not None
        creds = add_device(
            conn, device_id, hash_password=hash_mqtt_password, user_id=row[0]
        )
    broker.add_device(device_id, creds.mqtt_password)
    return str(job["id"]), Phone(broker.port, device_id, creds.mqtt_password)


async def test_a_phone_clocking_in_over_mqtt_puts_the_job_in_progress_once(
    client: TestClient[Any, Any],
    people: People,
    db_url: str,
    broker: Broker,
    ingest_worker: Worker,
) -> None:
    jid, phone = await _scheduled_job_with_phone(
        client, people, db_url, broker, "tess-phone"
    )
    try:
        topic = "crewtrack/v1/tess-phone/event"
        phone.publish(topic, _event("ev-in-1", "clock_in", jid))
        in_progress = await _status_becomes(client, people, jid, "in_progress")
        assert in_progress["status"] == "in_progress"

        # The phone resends the same event (it never saw the ack): no second session.
        phone.publish(topic, _event("ev-in-1", "clock_in", jid))
        phone.publish(topic, _event("ev-out-1", "clock_out", jid))
        deadline = time.monotonic() + APPLY_TIMEOUT_S
        while True:
            sessions = await ok(
                await client.get(
                    f"{V1}/jobs/{jid}/sessions", headers=people.auth("admin")
                )
            )
            items = sessions["items"]
            if (
                items and items[-1]["state"] == "closed"
            ) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert len(items) == 1
        assert items[0]["state"] == "closed"
    finally:
        phone.close()

    with psycopg.connect(db_url) as conn:
        applied = conn.execute(
            "SELECT count(*) FROM device_events WHERE device_id = 'tess-phone' "
            "AND applied_at IS NOT NULL"
        ).fetchone()
    assert applied == (2,)


async def test_the_live_map_shows_the_job_a_phone_is_clocked_into(
    client: TestClient[Any, Any],
    people: People,
    db_url: str,
    redis_url: str,
    broker: Broker,
    ingest_worker: Worker,
) -> None:
    jid, phone = await _scheduled_job_with_phone(
        client, people, db_url, broker, "tess-phone-2"
    )
    try:
        phone.publish(
            "crewtrack/v1/tess-phone-2/event", _event("ev-1", "clock_in", jid)
        )
        await _status_becomes(client, people, jid, "in_progress")
        fix = {
            "t": int(datetime.now(UTC).timestamp() * 1000),
            "lat": 53.8,
            "lon": -1.55,
            "acc": 6,
        }
        phone.publish("crewtrack/v1/tess-phone-2/fix", msgpack.packb(fix))
        deadline = time.monotonic() + APPLY_TIMEOUT_S
        live: dict[str, str] = {}
        with redis.Redis.from_url(redis_url, decode_responses=True) as r:
            while time.monotonic() < deadline:
                live = r.hgetall("crewtrack:live:tess-phone-2")
                if live.get("job"):
                    break
                await asyncio.sleep(0.2)
        assert live.get("job") == jid, json.dumps(live)
    finally:
        phone.close()


async def test_fixes_stored_by_the_ingest_queue_their_session_for_re_derivation(
    client: TestClient[Any, Any],
    people: People,
    db_url: str,
    broker: Broker,
    ingest_worker: Worker,
) -> None:
    jid, phone = await _scheduled_job_with_phone(
        client, people, db_url, broker, "tess-phone-3"
    )
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    try:
        phone.publish(
            "crewtrack/v1/tess-phone-3/event", _event("ev-1", "clock_in", jid)
        )
        await _status_becomes(client, people, jid, "in_progress")
        with psycopg.connect(db_url, autocommit=True) as conn:
            assert derive_pending(conn) == 1  # first version: the session is new
            assert derive_pending(conn) == 0
        # An offline backlog of five minutes on site arrives (one sync message):
        # a visit appears, so the record says something new (a new version).
        backlog = [
            {"t": now_ms - 300_000 + i * 5_000, "lat": 53.8, "lon": -1.55, "acc": 6}
            for i in range(60)
        ]
        phone.publish(
            "crewtrack/v1/tess-phone-3/fix", msgpack.packb({"fixes": backlog})
        )
        phone.wait_acked(30)
        deadline = time.monotonic() + APPLY_TIMEOUT_S
        stored = 0
        while time.monotonic() < deadline:
            with psycopg.connect(db_url, autocommit=True) as conn:
                stored = derive_pending(conn)
            if stored:
                break
            await asyncio.sleep(0.2)
        assert stored == 1
        with psycopg.connect(db_url) as conn:
            versions = conn.execute(
                "SELECT version, fix_count FROM visit_derivations ORDER BY version"
            ).fetchall()
        assert [v[0] for v in versions] == [1, 2]
        assert versions[-1][1] == 60
    finally:
        phone.close()
