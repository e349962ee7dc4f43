"""Device events left unapplied are swept while the worker runs, not only at start."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from crewtrack.settings import Settings
from ingest import events, writer
from ingest.live_state import LiveState
from ingest.metrics import IngestMetrics


async def test_an_event_left_unapplied_after_start_is_applied_by_the_next_sweep(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "SWEEP_EVERY_S", 0.2)
    monkeypatch.setattr(events, "SWEEP_GRACE_S", 0)
    applied: list[str] = []

    def handler(_conn: psycopg.Connection[Any], device: str, event: Any) -> None:
        applied.append(f"{device}/{event.event_id}")

    metrics = IngestMetrics()
    live = LiveState(settings.redis_url, metrics)
    w = writer.BatchWriter(
        settings, metrics, live, lambda _batch: None, event_handlers=[handler]
    )
    try:
        w.start()
        await asyncio.sleep(0.5)  # the start-up sweep has run and found nothing
        assert applied == []
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO device_events (device_id, event_id, type, time, "
                "received_at, message_sha256) "
                "VALUES ('van-1', 'e-1', 'clock_in', now(), now(), '\\x00')"
            )
        for _ in range(50):
            if applied:
                break
            await asyncio.sleep(0.1)
        assert applied == ["van-1/e-1"]
        with psycopg.connect(settings.database_url) as conn:
            row = conn.execute(
                "SELECT applied_at IS NOT NULL FROM device_events"
            ).fetchone()
        assert row == (True,)
    finally:
        await w.close()
        await live.close()
