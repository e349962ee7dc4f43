"""The dashboard's alerts panel against the harness's Redis and PostgreSQL.

The app is built with ``create_app`` and asked for the panel through Dash's
own endpoint, as the browser asks for it every few seconds.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dash
import psycopg
import pytest
import redis
from flask.testing import FlaskClient
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

import dashboard.app
from core.messages import Fix
from crewtrack.settings import Settings
from dashboard import queries
from jobs_domain.alarms import AlarmRaised
from jobs_domain.job import format_job_number
from jobs_domain.report import ReserveRaised
from storage import live, reports
from storage.alert_stream import entry_fields
from storage.users import create_user
from tests.integration.dashboard_login import log_in

#: The side panels' outputs: the alerts, the technician list and its pager.
PANEL_OUTPUTS = [
    ("alerts", "children"),
    ("tech-list", "children"),
    ("tech-page", "data"),
    ("tech-prev", "disabled"),
    ("tech-next", "disabled"),
    ("tech-pager", "hidden"),
]


def panels_request(changed: str, query: str = "", page: int = 0) -> dict[str, Any]:
    """The browser's request for the panels beside the map, ``changed`` being
    what asked (``slow-tick.n_intervals``: a tick of the slow interval)."""
    return {
        # Dash names a callback of several outputs "..a.x...b.y.."
        "output": f"..{'...'.join(f'{i}.{p}' for i, p in PANEL_OUTPUTS)}..",
        "outputs": [{"id": i, "property": p} for i, p in PANEL_OUTPUTS],
        "inputs": [
            {"id": "slow-tick", "property": "n_intervals", "value": 1},
            {"id": "ack-done", "property": "children", "value": None},
            {"id": "live-ready", "property": "data", "value": True},  # map drawn
            {"id": "tech-query", "property": "data", "value": query},
            {"id": "tech-prev", "property": "n_clicks", "value": 0},
            {"id": "tech-next", "property": "n_clicks", "value": 0},
        ],
        "changedPropIds": [changed],
        "state": [{"id": "tech-page", "property": "data", "value": page}],
    }


#: A tick of the slow interval.
ALERTS_REQUEST = panels_request("slow-tick.n_intervals")


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


def _logged_in(app: dash.Dash, dsn: str) -> FlaskClient:
    client = app.server.test_client()
    log_in(client, dsn)
    return client


def _alerts_panel(client: FlaskClient) -> str:
    response = client.post("/_dash-update-component", json=ALERTS_REQUEST)
    assert response.status_code == 200, response.text
    return json.dumps(
        response.get_json()["response"]["alerts"]["children"], ensure_ascii=False
    )


def _acknowledge(client: FlaskClient, key: str) -> None:
    """A click on the alert's Acknowledge button (the browser passes on its key)."""
    response = client.post(
        "/_dash-update-component",
        json={
            "output": "ack-done.children",
            "outputs": {"id": "ack-done", "property": "children"},
            "inputs": [
                {
                    "id": "ack-click",
                    "property": "data",
                    "value": {"key": key, "at": 1},
                }
            ],
            "changedPropIds": ["ack-click.data"],
            "state": [],
        },
    )
    assert response.status_code == 200, response.text


def _job_with_technician(dsn: str) -> tuple[str, str, str]:
    """A job of client "Café Müller" and technician Tess Meyer's user id."""
    suffix = uuid.uuid4().hex[:8]
    with psycopg.connect(dsn, autocommit=True) as conn:
        tess = create_user(
            conn, "Tess Meyer", "technician", f"tess-{suffix}@example.com", "pw-123456"
        )
        conn.execute(
            "INSERT INTO technicians (user_id, name) VALUES (%s, %s)",
            (tess.id, "Tess Meyer"),
        )
        client = conn.execute(
            "INSERT INTO clients (name) VALUES ('Café Müller') RETURNING id"
        ).fetchone()
        assert client is not None
        prop = conn.execute(
            "INSERT INTO properties (client_id, address, lat, lon) "
            "VALUES (%s, %s, 48.13, 11.57) RETURNING id",
            (client[0], Jsonb(["Marienplatz 8", "80331 München"])),
        ).fetchone()
        assert prop is not None
        row = conn.execute(
            "INSERT INTO jobs (id, number, status, client_id, property_id, doc, "
            "created_at, updated_at) VALUES (%s, "
            "(SELECT coalesce(max(number), 0) + 1 FROM jobs), 'in_progress', %s, %s, "
            "%s, now(), now()) RETURNING id::text, number",
            (
                uuid.uuid4().hex,
                client[0],
                prop[0],
                Jsonb({"description": "Boiler service"}),
            ),
        ).fetchone()
        assert row is not None
    return row[0], format_job_number(row[1]), str(tess.id)


def test_a_raised_reserve_shows_its_job_client_technician_field_and_comment(
    settings: Settings, redis_url: str, build_app: Any
) -> None:
    job_id, number, tess = _job_with_technician(settings.database_url)
    raised = ReserveRaised(
        job_id=job_id,
        client_id=str(uuid.uuid4()),
        site_id=None,
        reserve_id=str(uuid.uuid4()),
        field_key="flue",
        field_label="Flue condition",
        family_name="Safety",
        comment="Flue corroded, needs replacing",
        photo_count=2,
        raised_by=tess,
        raised_at=datetime.now(UTC),
    )
    stream = f"crewtrack:alerts:{uuid.uuid4().hex[:8]}"
    with redis.Redis.from_url(redis_url) as r:
        # exactly what the API's relay appends (api.alert_relay)
        r.xadd(stream, entry_fields(raised.to_json()))  # type: ignore[arg-type]
    app = build_app(settings.replace(alerts_stream=stream))
    panel = _alerts_panel(_logged_in(app, settings.database_url))
    assert f"Reserve on {number}: Safety \u203a Flue condition" in panel
    assert "Café Müller" in panel
    assert "raised by Tess Meyer" in panel
    assert "Flue corroded, needs replacing" in panel
    assert "2 photos" in panel
    assert job_id in panel  # "Show job" leads to the job on the map
    assert job_id not in panel.replace(f"job={job_id}", "")  # never shown as text


def test_an_acknowledged_alert_leaves_every_dispatchers_panel(
    settings: Settings, redis_url: str, build_app: Any
) -> None:
    job_id, number, tess = _job_with_technician(settings.database_url)
    stream = f"crewtrack:alerts:{uuid.uuid4().hex[:8]}"
    with redis.Redis.from_url(redis_url) as r:
        entry = r.xadd(
            stream,
            entry_fields(  # type: ignore[arg-type]
                {"type": "reserve.raised", "job_id": job_id, "raised_by": tess}
            ),
        )
    app = build_app(settings.replace(alerts_stream=stream))
    client = _logged_in(app, settings.database_url)
    assert f"Reserve on {number}" in _alerts_panel(client)
    _acknowledge(client, f"stream:{entry.decode()}")
    assert f"Reserve on {number}" not in _alerts_panel(client)


def _relayed_sos(dsn: str, redis_url: str, stream: str, job_id: str) -> str:
    """An SOS as the API delivers it: into the alerts outbox (``services.alarms``),
    then appended to the stream and marked delivered (``api.alert_relay``, with
    the storage calls it makes); the stream entry's id."""
    raised = AlarmRaised(
        device_id="tess-phone",
        event_id=f"osmand-alarm-sos-{uuid.uuid4().hex}",
        alarm="sos",
        technician_id=None,
        technician="Tess Meyer",
        job_id=job_id,
        lat=48.13,
        lon=11.57,
        accuracy=8.0,
        raised_at=datetime.now(UTC),
    )

    async def relay() -> str:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            assert await reports.insert_event_alert(conn, raised.key, raised.to_json())
            ((alert_id, payload, _, _),) = await reports.claim_pending_alerts(conn)
            with redis.Redis.from_url(redis_url) as r:
                entry = r.xadd(stream, entry_fields(payload))  # type: ignore[arg-type]
            await reports.record_alert_attempt(
                conn,
                alert_id,
                stream_id=entry.decode(),
                webhook_status=None,
                delivered=True,
                error=None,
            )
            return str(entry.decode())

    return asyncio.run(relay())


def test_an_open_sos_stays_on_top_however_many_alerts_came_after_until_acknowledged(
    settings: Settings, redis_url: str, build_app: Any
) -> None:
    job_id, number, tess = _job_with_technician(settings.database_url)
    stream = f"crewtrack:alerts:{uuid.uuid4().hex[:8]}"
    sos = _relayed_sos(settings.database_url, redis_url, stream, job_id)
    with redis.Redis.from_url(redis_url) as r:
        for i in range(45):  # more than the panel reads of the stream
            r.xadd(
                stream,
                entry_fields(  # type: ignore[arg-type]
                    {
                        "type": "reserve.raised",
                        "job_id": job_id,
                        "raised_by": tess,
                        "field_label": f"Field {i}",
                    }
                ),
            )
    app = build_app(settings.replace(alerts_stream=stream))
    client = _logged_in(app, settings.database_url)
    panel = _alerts_panel(client)
    assert panel.count("SOS: Tess Meyer") == 1
    assert panel.index("SOS: Tess Meyer") < panel.index(f"Reserve on {number}")
    assert "Field 44" in panel  # the newest
    assert "Field 14" not in panel  # the 31st newest: older than the panel reads
    # the newest 30 and the SOS are shown: the 15 older reserves are counted
    assert "15 older alerts not shown" in panel
    _acknowledge(client, f"stream:{sos}")
    panel = _alerts_panel(client)
    assert "SOS: Tess Meyer" not in panel
    assert "15 older alerts not shown" in panel


def test_a_tick_reads_the_live_view_once_for_the_alerts_and_the_technician_list(
    settings: Settings, redis_url: str, build_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    with redis.Redis.from_url(redis_url) as r:
        live.write_updates_sync(
            r,
            [
                live.fix_update(
                    Fix(f"dev-{i:02}", now_ms, 48.1, 11.5 + i / 100), now_ms
                )
                for i in range(40)
            ],
        )
    reads: list[int] = []
    real = queries.live_positions

    def counted(r: Any) -> Any:
        reads.append(1)
        return real(r)

    monkeypatch.setattr(queries, "live_positions", counted)
    client = _logged_in(build_app(settings), settings.database_url)
    response = client.post("/_dash-update-component", json=ALERTS_REQUEST)
    assert response.status_code == 200, response.text
    both = response.get_json()["response"]
    assert set(both) == {i for i, _ in PANEL_OUTPUTS}
    assert "1–30 of 40" in json.dumps(both["tech-list"], ensure_ascii=False)
    assert len(reads) == 1
    # a page turn redraws only the list; the alerts stay as they are
    response = client.post(
        "/_dash-update-component", json=panels_request("tech-next.n_clicks")
    )
    assert response.status_code == 200, response.text
    turned = response.get_json()["response"]
    assert "alerts" not in turned
    assert turned["tech-page"]["data"] == 1
    assert "31–40 of 40" in json.dumps(turned["tech-list"], ensure_ascii=False)
    assert len(reads) == 2
