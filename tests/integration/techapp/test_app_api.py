"""The technician app's own endpoints on the real API server: password login and
logout, the device's HTTP batch of native fixes, and the app's static shell."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack
import psycopg
import pytest
from aiohttp.test_utils import TestClient

from api.app import init_app
from api.techapp import DIST
from crewtrack.settings import Settings
from ingest.broker_auth import hash_mqtt_password
from storage.devices import add_device
from storage.users import create_user

PASSWORD = "correct horse battery"
ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


def seed(db_url: str) -> dict[str, str]:
    """A technician with a password and a phone, and a dispatcher with a password."""
    with psycopg.connect(db_url) as conn:
        tess = create_user(conn, "Tess", "technician", "tess@example.test", PASSWORD)
        conn.execute(
            "INSERT INTO technicians (user_id, name) VALUES (%s, 'Tess')", (tess.id,)
        )
        add_device(
            conn,
            "tess-phone",
            hash_password=hash_mqtt_password,
            user_id=tess.id,
            label="Tess's phone",
        )
        other = create_user(conn, "Alex", "technician", "alex@example.test", PASSWORD)
        add_device(
            conn, "alex-phone", hash_password=hash_mqtt_password, user_id=other.id
        )
        create_user(conn, "Dana", "dispatcher", "dana@example.test", PASSWORD)
    return {"tess": str(tess.id)}


async def log_in(
    api: TestClient[Any, Any], email: str, password: str = PASSWORD
) -> tuple[int, dict[str, Any], Any]:
    response = await api.post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    return response.status, await response.json(content_type=None), response


@pytest.fixture
async def api(
    aiohttp_client: ClientFactory, settings: Settings, db_url: str
) -> TestClient[Any, Any]:
    seed(db_url)
    limited = settings.replace(
        dashboard_login_limit_per_ip=6, dashboard_login_limit_per_account=3
    )
    return await aiohttp_client(init_app(limited))


async def test_a_technician_logs_in_with_email_and_password_and_gets_a_working_token(
    api: TestClient[Any, Any],
) -> None:
    status, body, _ = await log_in(api, "tess@example.test")
    assert status == 200, body
    assert body["token"].startswith("ct_")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    assert body["me"]["name"] == "Tess"
    assert body["me"]["role"] == "technician"
    assert body["me"]["technician_id"] is not None
    assert body["me"]["devices"] == [{"id": "tess-phone", "label": "Tess's phone"}]
    auth = {"Authorization": f"Bearer {body['token']}"}
    me = await api.get("/api/v1/me", headers=auth)
    assert me.status == 200
    assert (await me.json())["devices"][0]["id"] == "tess-phone"
    jobs = await api.get("/api/v1/sync/changes", headers=auth)
    assert jobs.status == 200


async def test_a_wrong_password_is_a_401_problem_and_an_office_user_is_refused(
    api: TestClient[Any, Any],
) -> None:
    status, body, response = await log_in(api, "tess@example.test", "wrong")
    assert status == 401
    assert response.content_type == "application/problem+json"
    assert body["detail"] == "wrong e-mail or password"
    status, body, _ = await log_in(api, "nobody@example.test")
    assert status == 401
    status, body, _ = await log_in(api, "dana@example.test")
    assert status == 403
    assert "dashboard" in body["detail"]


async def test_logging_out_revokes_the_token_at_once(api: TestClient[Any, Any]) -> None:
    _, body, _ = await log_in(api, "tess@example.test")
    auth = {"Authorization": f"Bearer {body['token']}"}
    out = await api.post("/api/v1/auth/logout", headers=auth)
    assert out.status == 204
    after = await api.get("/api/v1/me", headers=auth)
    assert after.status == 401


async def test_guessing_one_accounts_password_is_stopped_with_429_and_retry_after(
    api: TestClient[Any, Any],
) -> None:
    for _ in range(3):
        status, _, _ = await log_in(api, "tess@example.test", "guess")
        assert status == 401
    status, body, response = await log_in(api, "TESS@example.test", PASSWORD)
    assert status == 429, "over the account's limit even with the right password"
    assert 1 <= int(response.headers["Retry-After"]) <= 900
    assert body["type"] == "https://crewtrack.dev/problems/too-many-requests"
    # another account from the same address still gets in, until the address limit
    status, _, _ = await log_in(api, "alex@example.test")
    assert status == 200
    status, _, _ = await log_in(api, "alex@example.test")
    assert status == 200
    status, _, _ = await log_in(api, "alex@example.test")
    assert status == 429, "the seventh attempt from one address is over its limit"


async def test_a_success_starts_the_accounts_count_over(
    api: TestClient[Any, Any],
) -> None:
    for _ in range(2):
        assert (await log_in(api, "tess@example.test", "typo"))[0] == 401
    assert (await log_in(api, "tess@example.test"))[0] == 200
    for _ in range(2):
        assert (await log_in(api, "tess@example.test", "typo"))[0] == 401
    assert (await log_in(api, "tess@example.test"))[0] == 200


# -- the device's HTTP batch ------------------------------------------------------------


async def token_of(api: TestClient[Any, Any], email: str) -> dict[str, str]:
    _, body, _ = await log_in(api, email)
    return {"Authorization": f"Bearer {body['token']}"}


def fixes_payload(start_ms: int, n: int, **extra: Any) -> bytes:
    fixes = [
        {"t": start_ms + i * 5000, "lat": 48.85 + i * 1e-4, "lon": 2.35, "acc": 7.5}
        for i in range(n)
    ]
    fixes[-1].update(extra)
    return bytes(msgpack.packb({"fixes": fixes}))


async def test_a_native_fix_batch_over_http_is_stored_once_and_acked_like_mqtt(
    api: TestClient[Any, Any], db_url: str
) -> None:
    auth = await token_of(api, "tess@example.test")
    t0 = (int(datetime.now(UTC).timestamp()) - 600) * 1000
    payload = fixes_payload(t0, 3)
    headers = {**auth, "Content-Type": "application/msgpack"}
    for _ in range(2):  # the phone did not see the first answer and resends
        response = await api.post(
            "/api/v1/devices/tess-phone/fixes", data=payload, headers=headers
        )
        assert response.status == 200, await response.text()
        assert await response.json() == {
            "fixes": [[t0, t0 + 10_000]],
            "events": [],
            "rejected": [],
        }
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT time, accuracy FROM fixes WHERE device_id = 'tess-phone' "
            "ORDER BY time"
        ).fetchall()
    assert len(rows) == 3
    assert [r[1] for r in rows] == [7.5, 7.5, 7.5]


async def test_a_bad_fix_in_a_batch_is_rejected_alone_and_named_in_the_ack(
    api: TestClient[Any, Any], db_url: str
) -> None:
    auth = await token_of(api, "tess@example.test")
    t0 = (int(datetime.now(UTC).timestamp()) - 600) * 1000
    response = await api.post(
        "/api/v1/devices/tess-phone/fixes",
        data=fixes_payload(t0, 2, lat=123.0),
        headers={**auth, "Content-Type": "application/msgpack"},
    )
    assert response.status == 200
    ack = await response.json()
    assert ack["fixes"] == [[t0, t0]]
    assert ack["rejected"] == [{"t": t0 + 5000, "reason": "out_of_range"}]
    with psycopg.connect(db_url) as conn:
        reasons = conn.execute(
            "SELECT reason FROM rejected_messages WHERE device_id = 'tess-phone'"
        ).fetchall()
    assert reasons == [("out_of_range",)]


async def test_another_users_device_is_404_and_json_is_415(
    api: TestClient[Any, Any],
) -> None:
    auth = await token_of(api, "tess@example.test")
    t0 = (int(datetime.now(UTC).timestamp()) - 60) * 1000
    other = await api.post(
        "/api/v1/devices/alex-phone/fixes",
        data=fixes_payload(t0, 1),
        headers={**auth, "Content-Type": "application/msgpack"},
    )
    assert other.status == 404
    as_json = await api.post(
        "/api/v1/devices/tess-phone/fixes",
        json={"t": t0, "lat": 1, "lon": 2},
        headers=auth,
    )
    assert as_json.status == 415
    anonymous = await api.post(
        "/api/v1/devices/tess-phone/fixes",
        data=fixes_payload(t0, 1),
        headers={"Content-Type": "application/msgpack"},
    )
    assert anonymous.status == 401


# -- the app's shell ----------------------------------------------------------------------


async def test_the_app_shell_is_served_with_its_cache_headers_and_csp(
    api: TestClient[Any, Any],
) -> None:
    index = await api.get("/app/")
    assert index.status == 200
    html = await index.text()
    assert '<link rel="manifest"' in html
    assert index.headers["Cache-Control"] == "no-cache"
    assert "default-src 'self'" in index.headers["Content-Security-Policy"]
    assert index.headers["X-Frame-Options"] == "DENY"
    sw = await api.get("/app/sw.js")
    assert sw.status == 200
    assert sw.headers["Cache-Control"] == "no-cache"
    assert sw.headers["Service-Worker-Allowed"] == "/app/"
    manifest = await api.get("/app/manifest.webmanifest")
    assert manifest.content_type == "application/manifest+json"
    body = await manifest.json(content_type=None)
    assert body["start_url"] == "/app/"
    assert body["display"] == "standalone"
    asset = next(p.name for p in (DIST / "assets").iterdir() if p.suffix == ".js")
    hashed = await api.get(f"/app/assets/{asset}")
    assert hashed.status == 200
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (await api.get("/app/assets/..%2F..%2Fpyproject.toml")).status == 404
    assert (await api.get(f"/app/{uuid.uuid4()}.js")).status == 404
    # the API keeps its own, stricter policy
    health = await api.get("/api/v1/health")
    assert (
        health.headers["Content-Security-Policy"]
        == "default-src 'none'; frame-ancestors 'none'"
    )
