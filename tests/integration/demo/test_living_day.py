"""The living day, compressed, against the real stack: the broker with the phones'
own credentials, a `crewtrack ingest` process, the API on a TCP port, PostgreSQL
+ TimescaleDB, Redis, and the derive pass.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestServer

from api.app import init_app
from crewtrack.demo.day import Day, DayParams
from crewtrack.demo.seed import fleet_path, seed_demo
from crewtrack.settings import Settings
from derive.worker import derive_pending
from ingest.broker_auth import device_accounts
from storage.devices import device_logins
from tests.conftest import INGEST_USER, Broker
from tests.integration.api.test_clock_in_over_mqtt import (  # the fixture
    ingest_worker,  # noqa: F401
)
from tests.integration.ingest.helpers import Phone

FAST = DayParams(
    rate_hz=4.0,
    speed_mps=30.0,
    dwell_s=(6.0, 8.0),
    finish_s=(3.0, 5.0),
    start_gap_m=(60.0, 120.0),
    offline_after_s=2.0,
    offline_s=5.0,
    hold_after_s=2.0,
)
DAY_S = 22.0
SETTLE_S = 15.0


@pytest.fixture
async def api_url(settings: Settings) -> AsyncIterator[str]:
    server = TestServer(init_app(settings), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/api/v1"))
    await server.close()


def clear_retained_status(settings: Settings, broker: Broker) -> None:
    """Take the phones' retained online/offline status off the session's broker,
    so later tests' subscribers do not receive it."""
    fleet = json.loads(fleet_path(settings).read_text())
    for device_id, entry in fleet.items():
        phone = Phone(broker.port, device_id, entry["mqtt_password"])
        try:
            phone.publish(f"crewtrack/v1/{device_id}/status", b"", retain=True)
            phone.wait_acked(10)
        finally:
            phone.close()


def one(db_url: str, query: str, *args: Any) -> Any:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


async def settled(db_url: str, query: str, *args: Any) -> Any:
    """The query's value once it is truthy (the ingest applies events after commit)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        value = one(db_url, query, *args)
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.3)


@pytest.mark.usefixtures("ingest_worker")
async def test_a_compressed_day_lives_the_schedule_through_mqtt_and_the_api(
    settings: Settings, broker: Broker, api_url: str
) -> None:
    db = settings.database_url
    await asyncio.to_thread(seed_demo, settings)
    with psycopg.connect(db) as conn:
        broker.write_accounts(device_accounts(device_logins(conn), [INGEST_USER]))
    alerts_before = one(db, "SELECT count(*) FROM report_alerts")
    started = datetime.now(UTC)

    day = Day(settings, api_url, FAST)
    try:
        stats = await asyncio.to_thread(day.run, DAY_S)
    finally:
        await asyncio.to_thread(clear_retained_status, settings, broker)
    assert stats.api_errors == 0

    # clocked in over MQTT: the job went In Progress from the phone's event
    assert await settled(
        db,
        "SELECT count(*) FROM job_history WHERE action = 'started' "
        "AND source LIKE 'device demo-%%' AND at >= %s",
        started,
    )
    # a job the phone completed: report filled (no blockers left), a part used
    assert stats.completed
    completed_live = await settled(
        db,
        "SELECT count(*) FROM jobs j WHERE j.status = 'completed' "
        "AND (j.doc->>'completed_at')::timestamptz >= %s "
        "AND EXISTS (SELECT 1 FROM job_parts p WHERE p.job_id = j.id "
        "            AND p.added_at >= %s)",
        started,
        started,
    )
    assert completed_live >= 1
    assert stats.reports >= 1
    assert stats.parts >= 1
    # a reserve raised by a technician's app
    assert one(db, "SELECT count(*) FROM report_alerts") > alerts_before
    # the late technician clocked in after the window
    assert await settled(
        db,
        "SELECT count(*) FROM job_sessions s JOIN jobs j ON j.id = s.job_id "
        "WHERE s.clocked_in_at > j.scheduled_end AND s.clocked_in_at >= %s",
        started,
    )
    # one job went On Hold from the app
    assert stats.held
    assert one(db, "SELECT count(*) FROM jobs WHERE status = 'on_hold'") >= 2
    # the offline phone: its fixes from the offline minutes arrived as a backlog,
    # and the clock-in it queued was applied at the time it happened
    ((device, (off_from, off_until)),) = stats.offline.items()
    assert stats.synced_backlogs >= 1
    assert stats.unacked == 0  # every fix and event acked end to end
    window = (
        datetime.fromtimestamp(off_from, UTC),
        datetime.fromtimestamp(off_until, UTC),
    )
    assert (
        await settled(
            db,
            "SELECT count(*) FROM fixes WHERE device_id = %s AND time >= %s AND time < %s",
            device,
            *window,
        )
        >= 10
    )
    assert await settled(
        db,
        "SELECT count(*) FROM job_sessions WHERE device_id = %s "
        "AND clocked_in_at >= %s AND clocked_in_at < %s",
        device,
        *window,
    )
    # the trail of the day so far and the live fixes give sessions derived visits
    await settled(db, "SELECT count(*) FROM derive_queue")
    with psycopg.connect(db, autocommit=True) as conn:
        stored = derive_pending(conn)
    assert stored >= 1
    assert (
        one(
            db,
            "SELECT count(*) FROM visit_derivations d "
            "WHERE jsonb_array_length(d.visits) >= 1",
        )
        >= 1
    )
    # the morning lived as booked: its records have nothing to flag (the synced
    # trail drives off after each clock-out, so each visit ends where it did)
    with psycopg.connect(db) as conn:
        flagged = conn.execute(
            "SELECT j.number, d.reconciliation->'flags' FROM visit_derivations d "
            "JOIN job_sessions s ON s.id = d.session_id JOIN jobs j ON j.id = s.job_id "
            "WHERE s.clocked_out_at < %s "
            "AND jsonb_array_length(d.reconciliation->'flags') > 0",
            (started,),
        ).fetchall()
    assert flagged == []
