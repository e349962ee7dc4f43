"""Web abuse limits and hardening (issue 13): each test is one finding, tried as an
attacker would."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient

from api.app import init_app
from crewtrack.settings import Settings


def _unknown_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM rejected_messages WHERE reason = 'unknown_device'"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def _osmand_with_made_up_ids(client: TestClient[Any, Any], n: int) -> list[int]:
    now_s = int(time.time())
    statuses = []
    for i in range(n):
        q = f"id=fake-{i}&timestamp={now_s}&lat=48.1&lon=11.5&token=wrong"
        statuses.append((await client.get(f"/api/v1/osmand?{q}")).status)
    return statuses


async def test_changing_the_claimed_osmand_id_does_not_flood_unknown_device_rows(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = init_app(settings.replace(osmand_unknown_limit_per_ip=5))
    client: TestClient[Any, Any] = await aiohttp_client(app)

    statuses = await _osmand_with_made_up_ids(client, 40)

    assert statuses == [401] * 40  # the client is still told why
    assert _unknown_rows(settings.database_url) == 5


async def test_unknown_device_rows_are_capped_for_all_addresses_together(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = init_app(
        settings.replace(osmand_unknown_limit_per_ip=100, osmand_unknown_limit_total=3)
    )
    client: TestClient[Any, Any] = await aiohttp_client(app)

    statuses = await _osmand_with_made_up_ids(client, 10)

    assert statuses == [401] * 10
    assert _unknown_rows(settings.database_url) == 3
