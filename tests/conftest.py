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
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
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
def settings(db_url: str, redis_url: str, broker: Broker, tmp_path: Path) -> Settings:
    """Settings pointing every component at this test's servers."""
    return Settings(
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
