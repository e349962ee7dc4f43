"""Web abuse limits and hardening (issue 13): each test is one finding, tried as an
attacker would."""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import flask
import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from api.app import init_app, server_options
from crewtrack.settings import Settings
from dashboard import app as dashboard_app
from tests.integration.api.conftest import People, seed_people
from tests.integration.api.test_help_pages import (
    create_job,
    make_client_and_property,
    ok,
    post,
)
from tests.integration.dashboard_login import (
    COOKIE,
    PASSWORD,
    csrf_in,
    csrf_token,
    log_in,
    make_user,
    post_login,
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


# --- the dashboard ---------------------------------------------------------------


@pytest.fixture
def dashboard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FlaskClient]]:
    """A dashboard for the test's settings (with changes), as a Flask test client;
    the connection pools it opens are closed afterwards."""
    pools: list[ConnectionPool] = []

    class ClosedAfter(ConnectionPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(dashboard_app, "ConnectionPool", ClosedAfter)

    def build(settings: Settings) -> FlaskClient:
        server = dashboard_app.create_app(settings).server
        assert isinstance(server, flask.Flask)
        return server.test_client()

    yield build
    for pool in pools:
        pool.close()


def _session_cookie(answer: Any) -> str:
    cookies = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith(COOKIE)]
    assert len(cookies) == 1, answer.headers
    return str(cookies[0])


def test_wrong_passwords_lock_the_account_even_against_the_right_password(
    dashboard: Any, settings: Settings
) -> None:
    client = dashboard(settings.replace(dashboard_login_limit_per_account=3))
    user = make_user(settings.database_url)
    for _ in range(3):
        wrong = post_login(client, str(user.email), "guess")
        assert wrong.status_code == 200
        assert "Wrong e-mail or password" in wrong.get_data(as_text=True)

    locked = post_login(client, str(user.email))

    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 900
    assert "Too many login attempts" in locked.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not logged in


def test_one_address_trying_many_accounts_is_limited_too(
    dashboard: Any, settings: Settings
) -> None:
    user = make_user(settings.database_url)
    client = dashboard(settings.replace(dashboard_login_limit_per_ip=4))
    answers = [post_login(client, f"nobody{i}@example.test") for i in range(4)]

    answers.append(post_login(client, str(user.email)))

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]


def test_a_successful_login_starts_the_accounts_count_over(
    dashboard: Any, settings: Settings
) -> None:
    client = dashboard(settings.replace(dashboard_login_limit_per_account=3))
    user = make_user(settings.database_url)
    post_login(client, str(user.email), "typo")
    post_login(client, str(user.email), "typo")
    assert post_login(client, str(user.email)).status_code == 302
    client.get("/logout")
    post_login(client, str(user.email), "typo")
    post_login(client, str(user.email), "typo")
    assert post_login(client, str(user.email)).status_code == 302


def test_a_login_post_without_the_forms_csrf_token_is_refused(
    dashboard: Any, settings: Settings
) -> None:
    client = dashboard(settings)
    user = make_user(settings.database_url)
    client.get("/login")  # the browser has a form, but the post comes from elsewhere
    forged = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "next": "/"}
    )
    wrong = post_login(client, str(user.email), csrf="forged")

    assert (forged.status_code, wrong.status_code) == (400, 400)
    assert client.get("/").status_code == 302  # not logged in


def test_logging_in_from_a_job_pages_link_comes_back_to_the_same_tab(
    dashboard: Any, settings: Settings
) -> None:
    client = dashboard(settings)
    user = make_user(settings.database_url)
    link = "/job?number=J-000042&tab=invoice"

    bounced = client.get(link)
    login_page = client.get(bounced.headers["Location"]).get_data(as_text=True)
    found = re.search(r'name="next" value="([^"]*)"', login_page)
    assert found is not None, login_page
    back = post_login(client, str(user.email), next=html.unescape(found.group(1)))

    assert (back.status_code, back.headers["Location"]) == (302, link)


def test_the_session_cookie_is_httponly_samesite_and_lives_hours_not_days(
    dashboard: Any, settings: Settings
) -> None:
    client = dashboard(settings)
    user = make_user(settings.database_url)

    cookie = _session_cookie(post_login(client, str(user.email)))

    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    lifetime = expires - datetime.now(UTC)
    assert timedelta(hours=11) < lifetime <= timedelta(hours=12)


def test_the_session_cookie_is_secure_over_https_or_behind_a_trusted_https_proxy(
    dashboard: Any, settings: Settings
) -> None:
    user = make_user(settings.database_url)
    https = dashboard(settings)
    proxied = dashboard(settings.replace(dashboard_trusted_proxies=1))
    untrusted = dashboard(settings)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}

    form_page = https.get("/login", base_url="https://localhost").get_data(True)
    over_https = https.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf": csrf_in(form_page)},
        base_url="https://localhost",
    )
    via_proxy = proxied.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf": csrf_token(proxied)},
        headers=forwarded,
    )
    spoofed = untrusted.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf": csrf_token(untrusted)},
        headers=forwarded,
    )

    assert "Secure" in _session_cookie(over_https)
    assert "Secure" in _session_cookie(via_proxy)
    assert "Secure" not in _session_cookie(spoofed)


def test_after_logout_the_old_session_cookie_no_longer_works(
    dashboard: Any, settings: Settings
) -> None:
    client = dashboard(settings)
    log_in(client, settings.database_url)
    assert client.get("/").status_code == 200
    stolen = client.get_cookie(COOKIE)
    assert stolen is not None

    client.get("/logout")
    client.set_cookie(COOKIE, stolen.value)  # the cookie as it was before logout

    assert client.get("/").status_code == 302
    assert client.post("/_dash-update-component", json={}).status_code == 401


def test_a_role_change_or_disabling_the_user_ends_their_dashboard_sessions(
    dashboard: Any, settings: Settings
) -> None:
    demoted, disabled = dashboard(settings), dashboard(settings)
    first = log_in(demoted, settings.database_url, "dispatcher")
    second = log_in(disabled, settings.database_url, "billing")
    assert demoted.get("/").status_code == disabled.get("/").status_code == 200

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("UPDATE users SET role = 'admin' WHERE id = %s", (first.id,))
        conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (second.id,))

    assert demoted.get("/").status_code == 302  # even a promotion: log in again
    assert disabled.get("/").status_code == 302


def test_dashboard_answers_refuse_framing_and_sniffing(
    dashboard: Any, settings: Settings
) -> None:
    client = dashboard(settings)
    for answer in (client.get("/login"), client.get("/"), client.get("/healthz")):
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
