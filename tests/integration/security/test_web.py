"""Web abuse limits and hardening (issue 13): each test is one finding, tried as an
attacker would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from api.app import init_app, server_options
from crewtrack.settings import Settings
from tests.integration.api.conftest import People, seed_people
from tests.integration.api.test_help_pages import (
    create_job,
    make_client_and_property,
    ok,
    post,
)


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


@pytest.fixture
def people(db_url: str) -> People:
    return seed_people(db_url)


@pytest.fixture
async def api(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(init_app(settings))
    return client


async def test_api_answers_carry_security_headers_and_no_server_version(
    api: TestClient[Any, Any], people: People
) -> None:
    answers = [
        await api.get("/api/v1/health"),
        await api.get("/api/v1/jobs", headers=people.auth("dispatcher")),
        await api.get("/api/v1/jobs"),  # 401 problem
        await api.get("/api/v1/no-such-thing"),  # the router's 404
    ]
    for answer in answers:
        headers = answer.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Server"] == "crewtrack"


@asynccontextmanager
async def _real_api(settings: Settings) -> AsyncIterator[int]:
    """The API on a real socket with the options ``crewtrack api`` serves it with."""
    runner = web.AppRunner(init_app(settings), **server_options(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        await runner.cleanup()


async def _seconds_until_closed(
    reader: asyncio.StreamReader, limit_s: float
) -> tuple[float, bytes]:
    started = time.monotonic()
    async with asyncio.timeout(limit_s):
        answer = await reader.read()  # up to EOF: the server closed
    return time.monotonic() - started, answer


async def test_a_client_that_never_finishes_its_request_head_is_cut_off(
    settings: Settings,
) -> None:
    async with _real_api(settings.replace(api_idle_timeout_s=1)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")  # no blank line
        await writer.drain()
        held, _ = await _seconds_until_closed(reader, 10)
        writer.close()
    assert held < 3


async def test_a_client_that_sends_its_body_too_slowly_gets_408_and_is_cut_off(
    settings: Settings,
) -> None:
    async with _real_api(settings.replace(api_body_timeout_s=1)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/v1/osmand?token=x HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1000\r\n\r\nid=slow&lat=1"
        )
        await writer.drain()
        held, answer = await _seconds_until_closed(reader, 10)
        writer.close()
    assert held < 3
    assert answer.startswith(b"HTTP/1.1 408 ")


async def _online_link(api: TestClient[Any, Any], people: People) -> str:
    client_id, _ = await make_client_and_property(api, people)
    job = await create_job(api, people, client_id, "Gutters")
    link = await ok(
        await post(api, f"/jobs/{job['id']}/online-links", people, "dispatcher"), 201
    )
    return str(link["url"])


async def test_an_online_link_older_than_its_lifetime_answers_404_like_a_revoked_one(
    api: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    url = await _online_link(api, people)
    assert (await api.get(url)).status == 200
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE job_online_links SET created_at = now() - interval '89 days'"
        )
    assert (await api.get(url)).status == 200  # default lifetime: 90 days
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE job_online_links SET created_at = now() - interval '91 days'"
        )

    expired = await api.get(url)

    assert expired.status == 404
    assert (await expired.json())["detail"] == "this link is unknown or was revoked"
