"""API test fixtures: the app on a real server over the test's own database.

``world`` is that app configured for billing as well: invoice e-mail to a real
SMTP server (aiosmtpd), payments through a local server speaking Stripe's API,
reserve alerts to a webhook receiver that checks their signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.app import init_app
from crewtrack.settings import Settings
from storage.users import create_user, issue_token
from tests.fakes.smtp import SmtpServer, run_smtp_server
from tests.fakes.stripe_server import StripeFake


@dataclass
class People:
    """One user per role, plus two technicians with technician records."""

    tokens: dict[str, str]
    technician_ids: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def seed_people(db_url: str) -> People:
    tokens: dict[str, str] = {}
    technician_ids: dict[str, str] = {}
    with psycopg.connect(db_url) as conn:
        for who, role in [
            ("admin", "admin"),
            ("dispatcher", "dispatcher"),
            ("billing", "billing"),
            ("tess", "technician"),
            ("alex", "technician"),
            ("sam", "technician"),
        ]:
            user = create_user(conn, who.title(), role, email=f"{who}@example.test")
            tokens[who] = issue_token(conn, user.id, "test")
            if role == "technician":
                row = conn.execute(
                    "INSERT INTO technicians (user_id, name, hourly_cost) "
                    "VALUES (%s, %s, 40) RETURNING id",
                    (user.id, who.title()),
                ).fetchone()
                assert row is not None
                technician_ids[who] = str(row[0])
    return People(tokens, technician_ids)


@pytest.fixture
def people(db_url: str) -> People:
    return seed_people(db_url)


ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, settings: Settings
) -> TestClient[Any, Any]:
    return await aiohttp_client(init_app(settings))


STRIPE_KEY = "sk_test_crewtrack"
STRIPE_SECRET = "whsec_test_crewtrack"
ALERT_SECRET = "alert-secret"


@dataclass
class AlertReceiver:
    """The back office's webhook endpoint: keeps each verified alert."""

    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        header = request.headers.get("X-Crewtrack-Signature", "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        expected = hmac.new(
            ALERT_SECRET.encode(), f"{parts.get('t')}.".encode() + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            self.bad_signatures += 1
            return web.Response(status=400)
        self.received.append(json.loads(body))
        return web.Response(status=204)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    yield from run_smtp_server()


@pytest.fixture
async def stripe_fake() -> AsyncIterator[StripeFake]:
    fake = StripeFake(STRIPE_KEY, STRIPE_SECRET)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def alerts() -> AsyncIterator[tuple[AlertReceiver, str]]:
    receiver = AlertReceiver()
    app = web.Application()
    app.router.add_post("/alerts", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    yield receiver, str(server.make_url("/alerts"))
    await server.close()


@dataclass
class World:
    """The API under test with everything it talks to."""

    api: TestClient[Any, Any]
    people: People
    settings: Settings
    smtp: SmtpServer
    stripe: StripeFake
    alerts: AlertReceiver
    redis_url: str

    async def call(
        self, who: str, method: str, path: str, status: int, body: Any = None, **kw: Any
    ) -> Any:
        response = await self.api.request(
            method, "/api/v1" + path, json=body, headers=self.people.auth(who), **kw
        )
        text = await response.text()
        assert response.status == status, f"{method} {path}: {response.status} {text}"
        if response.content_type in ("application/json", "application/problem+json"):
            return json.loads(text)
        return text


@pytest.fixture
async def world(
    settings: Settings,
    aiohttp_client: ClientFactory,
    people: People,
    smtp: SmtpServer,
    stripe_fake: StripeFake,
    alerts: tuple[AlertReceiver, str],
    redis_url: str,
) -> World:
    receiver, alert_url = alerts
    configured = settings.replace(
        alerts_stream=f"crewtrack:alerts:{uuid.uuid4().hex[:8]}",
        reserve_webhook_url=alert_url,
        reserve_webhook_secret=ALERT_SECRET,
        company_name="Dépannage Dupont SARL",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_from="factures@dupont.example",
        stripe_api_key=STRIPE_KEY,
        stripe_api_base=stripe_fake.base_url,
        stripe_webhook_secret=STRIPE_SECRET,
    )
    client = await aiohttp_client(init_app(configured))
    stripe_fake.webhook_url = str(client.make_url("/api/v1/payments/stripe/webhook"))
    return World(client, people, configured, smtp, stripe_fake, receiver, redis_url)
