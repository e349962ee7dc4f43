"""API users read where every device is now, the same live state the jobs map shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from core.messages import Fix
from crewtrack.settings import Settings
from storage import live
from tests.integration.api.conftest import People

V1 = "/api/v1"


async def test_the_live_positions_read_names_each_devices_newest_fix_in_api_terms(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    t_ms = 1_764_000_000_000
    fix = Fix("van-live-1", t_ms, 53.8, -1.55, acc=8.0, spd=1.5, hdg=90.0, bat=71.0)
    redis = aioredis.from_url(settings.redis_url)
    try:
        await live.write_updates(redis, [live.fix_update(fix, t_ms + 900)])
    finally:
        await redis.aclose()
    response = await client.get(
        f"{V1}/live/positions", headers=people.auth("dispatcher")
    )
    body = await response.json()
    assert response.status == 200, body
    mine = [p for p in body["items"] if p["device_id"] == "van-live-1"]
    assert mine == [
        {
            "device_id": "van-live-1",
            "lat": 53.8,
            "lon": -1.55,
            "accuracy_m": 8.0,
            "fix_time": datetime.fromtimestamp(t_ms / 1000, UTC).isoformat(),
            "speed_mps": 1.5,
            "heading_deg": 90.0,
            "battery_pct": 71.0,
            "job_id": None,
            "received_at": datetime.fromtimestamp((t_ms + 900) / 1000, UTC).isoformat(),
            "status": "online",
        }
    ]
    technician = await client.get(f"{V1}/live/positions", headers=people.auth("tess"))
    assert technician.status == 403, "a technician does not see the fleet"
