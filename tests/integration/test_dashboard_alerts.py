"""The dashboard's alerts panel against the harness's Redis and PostgreSQL.

The app is built with ``create_app`` and asked for the panel through Dash's
own endpoint, as the browser asks for it every few seconds.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dash
import pytest
import redis
from psycopg_pool import ConnectionPool

import dashboard.app
from crewtrack.settings import Settings
from tests.integration.dashboard_login import log_in

#: The browser's request for the alerts panel (a tick of the slow interval).
ALERTS_REQUEST = {
    "output": "alerts.children",
    "outputs": {"id": "alerts", "property": "children"},
    "inputs": [{"id": "slow-tick", "property": "n_intervals", "value": 1}],
    "changedPropIds": ["slow-tick.n_intervals"],
    "state": [],
}


@pytest.fixture
def build_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``create_app``, with the connection pools it opens closed afterwards."""
    pools: list[ConnectionPool] = []

    class ClosedAfter(ConnectionPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(dashboard.app, "ConnectionPool", ClosedAfter)
    yield dashboard.app.create_app
    for pool in pools:
        pool.close()


def _alerts_panel(app: dash.Dash, dsn: str) -> str:
    client = app.server.test_client()
    log_in(client, dsn)
    response = client.post("/_dash-update-component", json=ALERTS_REQUEST)
    assert response.status_code == 200, response.text
    return json.dumps(response.get_json()["response"]["alerts"]["children"])


def test_alerts_panel_reads_the_configured_alerts_stream(
    settings: Settings, redis_url: str, build_app: Any
) -> None:
    stream = f"crewtrack:alerts:{uuid.uuid4().hex[:8]}"
    with redis.Redis.from_url(redis_url) as r:
        r.xadd(
            stream,
            {
                "type": "reserve",
                "message": "Reserve on the boiler flue",
                "job": "J-000042",
                "device": "tech-07",
                "at": int(time.time() * 1000),
            },
        )
    app = build_app(settings.replace(alerts_stream=stream))
    panel = _alerts_panel(app, settings.database_url)
    assert "Reserve raised" in panel
    assert "Reserve on the boiler flue" in panel
