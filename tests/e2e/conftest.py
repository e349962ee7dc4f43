"""A running stack for the browser tests: data, ingest, dashboard, Chromium.

The database is a clone of the session's migrated template on the harness's
PostgreSQL. Redis and Mosquitto are private to this package (started here),
so the ingest worker's persistent MQTT session and the live keys cannot
collide with other tests that flush Redis or run their own ingest. The
ingest (``crewtrack ingest``) and the dashboard (``crewtrack dashboard``) run
as subprocesses, exactly as ``crewtrack up`` runs them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    ViewportSize,
    expect,
    sync_playwright,
)
from psycopg import sql
from psycopg.types.json import Jsonb

from crewtrack.servers import (
    MosquittoServer,
    PortAllocator,
    PostgresServer,
    RedisServer,
)
from crewtrack.settings import Settings
from derive.worker import derive_session
from ingest.broker_auth import BrokerAccount, hash_mqtt_password
from ingest.metrics import sample
from ingest.protocols.native import encode_fixes
from jobs_domain.job import CrewMember, CrewRole, Job
from storage.devices import add_device
from storage.jobs import document
from storage.users import create_user
from tests.fakes.smtp import SmtpServer, run_smtp_server
from tests.fakes.stripe_server import StripeFake

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "correct horse battery"
FLEET = 12
SITE = (48.8570, 2.3520)  # the seeded job site (Paris), fence radius 60 m
FENCE_RADIUS_M = 60.0
LATE_SITE = (48.8520, 2.3600)  # the scheduled job nobody has reached


STRIPE_KEY = "sk_test_crewtrack_e2e"
STRIPE_SECRET = "whsec_test_crewtrack_e2e"


class LocalStripe:
    """The local server speaking Stripe's API (tests/fakes/stripe_server.py) on
    its own event loop in a thread, for the synchronous browser tests: the
    dashboard creates payment pages on it, and ``pay`` completes one as the
    customer would, posting the webhook signed as Stripe signs it."""

    def __init__(self) -> None:
        self.fake = StripeFake(STRIPE_KEY, STRIPE_SECRET)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.base_url = self._run(self.fake.start())

    def _run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)

    def pay(self, session_id: str, webhook_url: str) -> int:
        """The customer pays; the webhook's answer status."""
        self.fake.webhook_url = webhook_url
        return int(self._run(self.fake.pay(session_id)))

    def close(self) -> None:
        self._run(self.fake.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@dataclass
class Stack:
    """What the tests need to drive and check the running stack."""

    url: str
    settings: Settings
    mqtt_port: int
    device_passwords: dict[str, str]
    session_id: str
    job_number: str
    dispatcher: str = "dispatch@example.com"
    billing: str = "billing@example.com"
    technician: str = "tech0@example.com"
    fleet: list[str] = field(default_factory=list)
    session_fixes: list[tuple[datetime, float, float, float]] = field(
        default_factory=list
    )
    smtp: SmtpServer | None = None  # the mail relay the dashboard sends invoices to
    stripe: LocalStripe | None = None  # where sent invoices' payment pages are

    def publish_fix(self, device: str, lat: float, lon: float, t: datetime) -> None:
        """Publish one fix as the phone does (its own credentials, QoS 1)."""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{device}-{secrets.token_hex(3)}",
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(device, self.device_passwords[device])
        client.connect("127.0.0.1", self.mqtt_port)
        client.loop_start()
        payload = encode_fixes(
            [{"t": int(t.timestamp() * 1000), "lat": lat, "lon": lon, "acc": 8.0}]
        )
        info = client.publish(f"crewtrack/v1/{device}/fix", payload, qos=1)
        info.wait_for_publish(timeout=10)
        client.loop_stop()
        client.disconnect()


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


def _job_doc(description: str, manager: uuid.UUID) -> Jsonb:
    """A job's document as the API stores it (its Job Manager on the crew)."""
    job = Job(
        id="",
        number=0,
        client_id="",
        description=description,
        created_at=datetime.now(UTC),
        crew=[CrewMember(str(manager), CrewRole.JOB_MANAGER)],
    )
    return Jsonb(document(job))


def _wait_subscribed(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the ingest is connected and subscribed: a fix published before
    its first subscription has no subscriber and is dropped by the broker."""
    deadline = time.monotonic() + 60
    url = f"http://127.0.0.1:{port}/metrics"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ingest exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if sample(resp.read().decode(), "crewtrack_ingest_connected") == 1:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"ingest not subscribed:\n{log.read_text()[-3000:]}")


def _seed(
    dsn: str,
) -> tuple[dict[str, str], str, str, list[tuple[datetime, float, float, float]]]:
    """Users, a fleet of technicians with devices, a job site, a closed session.

    Rows are written as the API writes them (a property's address is the API's
    object), so the API started on this stack (test_techapp) can read them."""
    now = datetime.now(UTC).replace(microsecond=0)
    passwords: dict[str, str] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        create_user(
            conn, "Dana Dispatch", "dispatcher", "dispatch@example.com", PASSWORD
        )
        create_user(conn, "Bea Billing", "billing", "billing@example.com", PASSWORD)
        tech_ids = []
        for i in range(FLEET):
            user = create_user(
                conn, f"Tech {i:02d}", "technician", f"tech{i}@example.com", PASSWORD
            )
            row = conn.execute(
                "INSERT INTO technicians (user_id, name) VALUES (%s, %s) RETURNING id",
                (user.id, f"Tech {i:02d}"),
            ).fetchone()
            assert row is not None
            tech_ids.append(row[0])
            conn.execute(
                "UPDATE technicians SET team = %s WHERE id = %s",
                ("North" if i % 2 == 0 else "South", row[0]),
            )
            device = f"dev{i:02d}"
            creds = add_device(
                conn,
                device,
                hash_password=hash_mqtt_password,
                user_id=user.id,
                label=f"Phone {i:02d}",
            )
            passwords[device] = creds.mqtt_password
        client = conn.execute(
            "INSERT INTO clients (name) VALUES ('Café Müller') RETURNING id"
        ).fetchone()
        assert client is not None
        prop = conn.execute(
            "INSERT INTO properties (client_id, address, lat, lon, geofence) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (
                client[0],
                Jsonb(
                    {"line1": "12 Rue de Rivoli", "postcode": "75004", "city": "Paris"}
                ),
                SITE[0],
                SITE[1],
                Jsonb({"radius_m": FENCE_RADIUS_M}),
            ),
        ).fetchone()
        assert prop is not None
        job_id = secrets.token_hex(16)
        start = now - timedelta(hours=4)  # its window (± 2 h) ends before now
        conn.execute(
            "INSERT INTO jobs (id, number, status, client_id, property_id, "
            "scheduled_start, scheduled_end, technician_ids, doc, created_at, updated_at) "
            "VALUES (%s, 42, 'completed', %s, %s, %s, %s, %s, %s, now(), now())",
            (
                job_id,
                client[0],
                prop[0],
                start,
                start + timedelta(hours=1),
                [tech_ids[0]],
                _job_doc("Boiler service", tech_ids[0]),
            ),
        )
        # a second job, due half an hour ago, nobody there yet: a late arrival
        prop2 = conn.execute(
            "INSERT INTO properties (client_id, address, lat, lon, geofence) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (
                client[0],
                Jsonb(
                    {"line1": "3 Quai de Bourbon", "postcode": "75004", "city": "Paris"}
                ),
                LATE_SITE[0],
                LATE_SITE[1],
                Jsonb({"radius_m": 50}),
            ),
        ).fetchone()
        assert prop2 is not None
        conn.execute(
            "INSERT INTO jobs (id, number, status, client_id, property_id, "
            "scheduled_start, scheduled_end, technician_ids, doc, created_at, updated_at) "
            "VALUES (%s, 43, 'scheduled', %s, %s, %s, %s, %s, %s, now(), now())",
            (
                secrets.token_hex(16),
                client[0],
                prop2[0],
                now - timedelta(minutes=30),
                now + timedelta(minutes=30),
                [tech_ids[1]],
                _job_doc("Leak repair", tech_ids[1]),
            ),
        )
        # dev00's afternoon: walks in from 400 m east, stays 40 min, walks away.
        fixes: list[tuple[datetime, float, float, float]] = []
        t = start
        for k in range(20):  # approach, one fix every 30 s
            fixes.append((t, SITE[0], SITE[1] + 0.0055 * (1 - k / 20), 10.0))
            t += timedelta(seconds=30)
        for k in range(80):  # on site
            fixes.append((t, SITE[0] + 0.00005 * (k % 3), SITE[1], 8.0))
            t += timedelta(seconds=30)
        for k in range(20):  # leaving
            fixes.append((t, SITE[0], SITE[1] - 0.0055 * (k + 1) / 20, 10.0))
            t += timedelta(seconds=30)
        clock_in = start + timedelta(minutes=2)  # clocked in before arriving
        clock_out = start + timedelta(minutes=65)  # and out 15 min after leaving
        session_id = secrets.token_hex(16)
        conn.execute(
            "INSERT INTO job_sessions (id, job_id, technician_id, device_id, state, "
            "clocked_in_at, clocked_out_at, intervals, evidence) "
            "VALUES (%s, %s, %s, 'dev00', 'closed', %s, %s, %s, %s)",
            (
                session_id,
                job_id,
                tech_ids[0],
                clock_in,
                clock_out,
                Jsonb([[clock_in.isoformat(), clock_out.isoformat()]]),
                Jsonb(
                    [
                        {
                            "kind": "clock_in",
                            "at": clock_in.isoformat(),
                            "event_id": "e1",
                            "position": {
                                "lat": SITE[0],
                                "lon": SITE[1] + 0.004,
                                "accuracy_m": 12,
                            },
                        },
                        {
                            "kind": "clock_out",
                            "at": clock_out.isoformat(),
                            "event_id": "e2",
                            "position": None,
                        },
                    ]
                ),
            ),
        )
        # the derive worker's two versions: v1 before the phone synced its last
        # 10 minutes (the visit still open), v2 after (arrival and departure)
        insert = (
            "INSERT INTO fixes (time, device_id, lat, lon, accuracy) "
            "VALUES (%s, 'dev00', %s, %s, %s)"
        )
        with conn.cursor() as cur:
            cur.executemany(insert, fixes[:100])
        assert derive_session(conn, uuid.UUID(session_id)) is not None
        with conn.cursor() as cur:
            cur.executemany(insert, fixes[100:])
        assert derive_session(conn, uuid.UUID(session_id)) is not None
    return passwords, str(uuid.UUID(session_id)), "J-000042", fixes


@pytest.fixture(scope="package")
def stack(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("e2e")
    ports = PortAllocator()
    redis_server = RedisServer(base / "redis", ports.free_port(), persist=False)
    broker = MosquittoServer(base / "mqtt", ports.free_port())
    dbname = f"e2e_{secrets.token_hex(3)}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE crewtrack_template").format(
                sql.Identifier(dbname)
            )
        )
    dsn = pg_server.dsn(dbname)
    procs: list[subprocess.Popen[bytes]] = []
    mail_server = run_smtp_server()  # the office sends invoices to it
    mail = next(mail_server)
    stripe = LocalStripe()  # sent invoices get a payment link, as in production
    redis_server.start()
    try:
        passwords, session_id, job_number, fixes = _seed(dsn)
        service_password = secrets.token_urlsafe(12)
        broker.write_accounts(
            [
                BrokerAccount(
                    "crewtrack-ingest", hash_mqtt_password(service_password), True
                ),
                *(
                    BrokerAccount(d, hash_mqtt_password(p))
                    for d, p in passwords.items()
                ),
            ]
        )
        broker.start()
        dash_port = ports.free_port()
        settings = Settings(
            home=base / "home",
            database_url=dsn,
            redis_url=redis_server.url,
            mqtt_port=broker.port,
            mqtt_password=service_password,
            start_servers=False,
            ingest_client_id="ingest-e2e",
            ingest_metrics_port=ports.free_port(),
            dashboard_port=dash_port,
            dashboard_secret=secrets.token_hex(16),
            # offline mode: this machine cannot reach the default street tiles
            # (their fallback is tested in test_dashboard_weight.py)
            dashboard_tile_url="none",
            log_json=False,
            smtp_host=mail.host,
            smtp_port=mail.port,
            smtp_from="billing@crewtrack.example",
            stripe_api_key=STRIPE_KEY,
            stripe_api_base=stripe.base_url,
            stripe_webhook_secret=STRIPE_SECRET,
        )
        env = {**os.environ, **settings.as_env()}
        commands = {
            "ingest": ["ingest", "--client-id", settings.ingest_client_id],
            "dashboard": ["dashboard"],
        }
        for name, command in commands.items():
            with (base / f"{name}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "crewtrack", *command],
                        env=env,
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        url = f"http://127.0.0.1:{dash_port}"
        _wait_http(url + "/healthz", procs[1], base / "dashboard.log")
        _wait_subscribed(settings.ingest_metrics_port, procs[0], base / "ingest.log")
        s = Stack(
            url=url,
            settings=settings,
            mqtt_port=broker.port,
            device_passwords=passwords,
            session_id=session_id,
            job_number=job_number,
            fleet=sorted(passwords),
            session_fixes=fixes,
            smtp=mail,
            stripe=stripe,
        )
        # the fleet reports in over MQTT, through the ingest, into Redis
        now = datetime.now(UTC)
        for i, device in enumerate(s.fleet):
            s.publish_fix(
                device, SITE[0] + 0.002 * (i % 4), SITE[1] + 0.003 * (i // 4), now
            )
        yield s
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, 15)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, 9)
                    p.wait()
        broker.stop()
        redis_server.stop()
        mail_server.close()
        stripe.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield b
        b.close()


@dataclass
class Watched:
    """A page with its console errors and failed requests recorded."""

    page: Page
    errors: list[str]

    def assert_clean(self) -> None:
        assert self.errors == []


#: How long a step may wait for the page (a loaded 2-core machine renders
#: slowly; what is measured is asserted separately, e.g. marker latency).
BROWSER_WAIT_MS = 20_000
DESKTOP: ViewportSize = {"width": 1400, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}  # a current phone's CSS pixels


@contextmanager
def _watched(browser: Browser, viewport: ViewportSize, name: str) -> Iterator[Watched]:
    """A page of the given size; a full-page screenshot ``<name>.png`` at the end."""
    phone = viewport["width"] < 500
    context = browser.new_context(
        viewport=viewport,
        accept_downloads=True,
        # a phone lays the page out at the width its viewport meta tag asks for
        is_mobile=phone,
        has_touch=phone,
    )
    # a 2-core machine shared with the rest of the suite: waits, not budgets
    context.set_default_timeout(BROWSER_WAIT_MS)
    expect.set_options(timeout=BROWSER_WAIT_MS)
    p = context.new_page()
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(f"console: {msg.text}")

    in_flight: set[Request] = set()
    superseded: set[Request] = set()  # in flight while the page navigated away
    navigating = [False]

    def on_request(req: Request) -> None:
        if req.is_navigation_request():
            navigating[0] = True
            superseded.update(in_flight)
        elif navigating[0]:
            superseded.add(req)  # the old page's last callbacks, cancelled by it
        in_flight.add(req)

    def on_loaded(_page: Any) -> None:
        navigating[0] = False

    def on_failed(req: Request) -> None:
        in_flight.discard(req)
        if req in superseded and "ERR_ABORTED" in str(req.failure):
            return  # a reload or a link cancels the old page's requests
        errors.append(f"request failed: {req.url} {req.failure}")

    def on_response(resp: Any) -> None:
        # the login page answers 401/403 on purpose; anything else is a failure
        if resp.status >= 400 and not resp.url.endswith("/login"):
            errors.append(f"HTTP {resp.status}: {resp.url}")

    p.on("console", on_console)
    p.on("request", on_request)
    p.on("domcontentloaded", on_loaded)
    p.on("requestfinished", lambda req: in_flight.discard(req))
    p.on("requestfailed", on_failed)
    p.on("response", on_response)
    yield Watched(p, errors)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Watched]:
    with _watched(browser, DESKTOP, request.node.name) as watched:
        yield watched


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Watched]:
    """As ``page``, at a phone's width (390 px)."""
    with _watched(browser, PHONE, request.node.name) as watched:
        yield watched


def login(
    page: Page, url: str, email: str, password: str = PASSWORD, next_path: str = "/"
) -> None:
    page.goto(f"{url}/login?next={next_path}")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login")
