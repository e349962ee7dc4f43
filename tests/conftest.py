"""The test harness: real PostgreSQL + TimescaleDB, Redis and Mosquitto.

Servers start once per test session, on free ports, with their data in a
temporary folder, and stop at the end. Each test that asks for ``db_url`` gets
a fresh database cloned from a migrated template (about 0.1 s). Fixtures are
lazy: unit tests that ask for none of them start no server.

The servers are locked down as under ``crewtrack up``: PostgreSQL takes SCRAM
passwords only and Redis requires one (each server generates its own); the
password travels in ``pg_server.dsn()``, ``db_url``, ``redis_server.url`` and
``redis_url``, so tests connect exactly like the stack does.

A missing server binary fails the test with the reason; nothing here skips.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import sql

from crewtrack.servers import (
    MosquittoServer,
    PortAllocator,
    PostgresServer,
    RedisServer,
    Stack,
)
from crewtrack.settings import Settings
from ingest.broker_auth import BrokerAccount, hash_mqtt_password
from storage.migrate import migrate

TEMPLATE_DB = "crewtrack_template"
INGEST_USER = "crewtrack-ingest"


@dataclass
class Broker:
    """The test session's Mosquitto and its accounts."""

    server: MosquittoServer
    service_password: str
    devices: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.server.port

    def _write(self) -> None:
        accounts = [
            BrokerAccount(INGEST_USER, hash_mqtt_password(self.service_password), True)
        ]
        accounts += [
            BrokerAccount(dev, hash_mqtt_password(pw))
            for dev, pw in self.devices.items()
        ]
        self.server.write_accounts(accounts)

    def add_device(self, device_id: str, password: str | None = None) -> str:
        """Give a device broker credentials (reloaded without a restart)."""
        password = password or secrets.token_urlsafe(12)
        self.devices[device_id] = password
        self._write()
        self.server.reload()
        return password

    def write_accounts(self, accounts: list[BrokerAccount]) -> None:
        """Replace device accounts with registry-generated ones, keep the service."""
        self.server.write_accounts(
            [
                BrokerAccount(
                    INGEST_USER, hash_mqtt_password(self.service_password), True
                ),
                *accounts,
            ]
        )
        self.server.reload()

    def log_size(self) -> int:
        return self.server.log_path.stat().st_size

    def forget_service_sessions(self, since: int) -> list[str]:
        """End the persistent sessions the service account opened after ``since``.

        An ingest worker's session outlives its test: the broker goes on
        queueing fixes for it (and hands it a share of a shared subscription),
        and the next test's worker with the same client id would receive what
        an earlier test sent. Each id the broker logged as connecting with a
        kept session (``c0``) is connected once more with a clean start, which
        drops its session and queue; the ids are returned.
        """
        with self.server.log_path.open("rb") as f:
            f.seek(since)
            logged = f.read().decode(errors="replace")
        ids = sorted(set(_SERVICE_SESSION.findall(logged)))
        for client_id in ids:
            _connect_clean(self.port, client_id, INGEST_USER, self.service_password)
        return ids


_SERVICE_SESSION = re.compile(
    r" as (\S+) \(p\d, c0, k\d+, u'" + re.escape(INGEST_USER) + r"'\)"
)


def _connect_clean(port: int, client_id: str, user: str, password: str) -> None:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(user, password)
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect("127.0.0.1", port, clean_start=True)  # session expiry 0
    client.loop_start()
    try:
        if not connected.wait(10):
            raise RuntimeError(f"cannot reach the test broker to forget {client_id}")
    finally:
        client.disconnect()
        client.loop_stop()


def pytest_configure(config: pytest.Config) -> None:
    """Each pytest-xdist worker (gw0, gw1, ...) hands out ports from its own block.

    Without it two workers could give the same port to two servers: one
    worker's fault test stops its broker to restart it on that port, and the
    other worker's next server takes the port meanwhile.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    PortAllocator.use_block(int(worker.removeprefix("gw")))


@pytest.fixture(scope="session")
def server_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("servers")
    ports = PortAllocator()
    stack = Stack(
        PostgresServer(base / "pg", ports.free_port(), for_tests=True),
        RedisServer(base / "redis", ports.free_port(), persist=False),
        MosquittoServer(base / "mqtt", ports.free_port()),
    )
    stack.start()
    try:
        stack.pg.psql(f"CREATE DATABASE {TEMPLATE_DB}")
        migrate(stack.pg.dsn(TEMPLATE_DB))
        # TimescaleDB's scheduler connects to every database and would block
        # CREATE DATABASE … TEMPLATE; a template nobody may connect to is safe.
        stack.pg.psql(
            f"ALTER DATABASE {TEMPLATE_DB} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false;"
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{TEMPLATE_DB}' AND pid <> pg_backend_pid();"
        )
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def pg_server(server_stack: Stack) -> PostgresServer:
    """The session's PostgreSQL (kill/start it in fault tests)."""
    return server_stack.pg


@pytest.fixture(scope="session")
def redis_server(server_stack: Stack) -> RedisServer:
    return server_stack.redis


@pytest.fixture(scope="session")
def broker(server_stack: Stack) -> Broker:
    b = Broker(server_stack.mqtt, secrets.token_urlsafe(12))
    b._write()
    server_stack.mqtt.reload()
    return b


_db_counter = itertools.count()


@pytest.fixture
def db_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh, migrated database for this test only."""
    name = f"t{next(_db_counter)}_{secrets.token_hex(3)}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE_DB)
            )
        )
    yield pg_server.dsn(name)
    if not pg_server.running:
        return  # a fault test left the server down; the session teardown copes
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    import redis

    if redis_server.running:
        with redis.Redis.from_url(redis_server.url) as r:
            r.flushall()
    return redis_server.url


@pytest.fixture
def settings(
    db_url: str, redis_url: str, broker: Broker, tmp_path: Path
) -> Iterator[Settings]:
    """Settings pointing every component at this test's servers.

    The ingest sessions this test leaves on the session's broker end with it.
    """
    since = broker.log_size()
    yield Settings(
        home=tmp_path / "home",
        database_url=db_url,
        redis_url=redis_url,
        mqtt_host="127.0.0.1",
        mqtt_port=broker.port,
        mqtt_username=INGEST_USER,
        mqtt_password=broker.service_password,
        start_servers=False,
        attachments_dir=tmp_path / "attachments",
        log_json=False,
    )
    if broker.server.running:  # a fault test may leave it stopped
        broker.forget_service_sessions(since)
