"""The ingest heals itself: a broker that refuses it, then accepts it again.

Each test runs its own Mosquitto (the session's broker stays untouched), with
persistence, so a phone's fixes queue in the ingest's session while the
ingest is locked out, and arrive once it is let in - without restarting it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import psycopg
import pytest

from crewtrack.servers import MosquittoServer, PortAllocator
from crewtrack.settings import Settings
from ingest.broker_auth import BrokerAccount, hash_mqtt_password
from tests.conftest import INGEST_USER
from tests.integration.ingest.helpers import (
    Worker,
    count,
    device_client,
    wait_until,
)

FIXES = 200
# The old consumer gave up after ~5 s of refusals; stay locked out well past that.
LOCKED_OUT_S = 8.0


class OwnBroker:
    """A private Mosquitto whose accounts a test rewrites at will."""

    def __init__(self, datadir: Path) -> None:
        self.server = MosquittoServer(datadir, PortAllocator().free_port())
        self.accounts: dict[str, BrokerAccount] = {}

    @property
    def port(self) -> int:
        return self.server.port

    def set_password(self, user: str, password: str, *, service: bool = False) -> None:
        self.accounts[user] = BrokerAccount(user, hash_mqtt_password(password), service)
        self.server.write_accounts(self.accounts.values())
        if self.server.running:
            self.server.reload()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    b = OwnBroker(tmp_path / "mqtt")
    try:
        yield b
    finally:
        b.server.stop()


def test_an_ingest_locked_out_by_the_broker_recovers_without_a_restart(
    settings: Settings, own_broker: OwnBroker, tmp_path: Path
) -> None:
    ingest_password = secrets.token_urlsafe(12)
    own_broker.set_password(INGEST_USER, ingest_password, service=True)
    phone_password = secrets.token_urlsafe(12)
    own_broker.set_password("lockout-1", phone_password)
    own_broker.server.start()
    settings = settings.replace(
        mqtt_port=own_broker.port,
        mqtt_password=ingest_password,
        ingest_shared_subscription=False,  # a plain session survives the restart
        ingest_reconnect_max_s=1.0,
    )
    worker = Worker(settings, "ingest-0", tmp_path / "ingest-0.log").start()
    try:
        worker.wait_ready()
        pid = worker.pid

        # The broker restarts with another password for the ingest.
        own_broker.set_password(INGEST_USER, "not-" + ingest_password, service=True)
        own_broker.server.stop()
        own_broker.server.start()
        wait_until(lambda: worker.metric("crewtrack_ingest_connected") == 0)
        locked_out_at = time.monotonic()

        # A phone's fixes are PUBACKed and queue in the ingest's session.
        base_ms = int(time.time() * 1000) - 3600_000
        phone = device_client(own_broker.port, "lockout-1", phone_password)
        for i in range(FIXES):
            fix = {"t": base_ms + i * 1000, "lat": 48.1, "lon": 11.5, "acc": 5.0}
            phone.publish("crewtrack/v1/lockout-1/fix", msgpack.packb(fix))
        acked = phone.wait_acked()
        phone.close()
        assert len(acked) == FIXES
        assert not any(rc.is_failure for rc in acked.values())

        def refused_long_enough() -> bool:
            refusals = worker.metric(
                "crewtrack_ingest_connection_failures_total", reason="refused"
            )
            return (
                time.monotonic() - locked_out_at > LOCKED_OUT_S and (refusals or 0) >= 3
            )

        wait_until(refused_long_enough, timeout_s=60)
        assert worker.metric("crewtrack_ingest_connected") == 0
        assert count(settings.database_url, "SELECT count(*) FROM fixes") == 0

        # The password is fixed: the same process reconnects and stores all.
        own_broker.set_password(INGEST_USER, ingest_password, service=True)
        worker.wait_ready(timeout_s=60)
        wait_until(
            lambda: count(settings.database_url, "SELECT count(*) FROM fixes") >= FIXES,
            timeout_s=60,
        )
        assert worker.pid == pid
        with psycopg.connect(settings.database_url) as conn:
            rows = conn.execute(
                "SELECT (extract(epoch FROM time) * 1000)::bigint FROM fixes"
            ).fetchall()
            rejected = conn.execute("SELECT count(*) FROM rejected_messages").fetchone()
        assert sorted(r[0] for r in rows) == [base_ms + i * 1000 for i in range(FIXES)]
        assert rejected == (0,)
        assert worker.stop() == 0
    finally:
        worker.kill()
