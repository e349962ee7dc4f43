"""Nothing lost, nothing duplicated: ingest workers, broker, database and Redis fail.

Ten phones stream 50,000 fixes while the workers are SIGKILLed several times,
PostgreSQL is killed and restarted, Redis is stopped and the broker restarts.
Afterwards the database holds every published fix exactly once and the live
map shows each phone's newest fix.

Mosquitto 2.0 does not restore *shared* subscriptions after a restart
(measured: a message published before the subscriber reconnects is dropped,
while a plain persistent subscription keeps it). So the broker restart is
proven with one replica on a plain subscription
(``ingest_shared_subscription=false``), and the two-replica test covers
everything else.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import psycopg
import redis

from crewtrack.servers import PostgresServer, RedisServer
from crewtrack.settings import Settings
from storage.live import live_positions_sync
from tests.conftest import Broker
from tests.integration.ingest.helpers import Worker, device_client, wait_until, workers

DEVICES = 10
FIXES_PER_DEVICE = 5_000  # 50,000 in all
STREAM_SECONDS = 20.0


def _messages(device: str, base_ms: int, rng: random.Random) -> list[bytes]:
    """One phone's stream: single fixes and small batches, 5,000 fixes in all."""
    out: list[bytes] = []
    i = 0
    while i < FIXES_PER_DEVICE:
        n = min(rng.choice((1, 1, 5, 10, 20, 40)), FIXES_PER_DEVICE - i)
        fixes = [
            {
                "t": base_ms + (i + k) * 1000,
                "lat": 48.1 + (i + k) * 1e-5,
                "lon": 11.5 + rng.random() * 1e-3,
                "acc": 5.0,
            }
            for k in range(n)
        ]
        body = fixes[0] if n == 1 else {"fixes": fixes}
        out.append(msgpack.packb(body))
        i += n
    return out


def _stream(port: int, device: str, password: str, payloads: list[bytes]) -> None:
    phone = device_client(port, device, password)
    topic = f"crewtrack/v1/{device}/fix"
    pause = STREAM_SECONDS / len(payloads)
    for payload in payloads:
        phone.publish(topic, payload)
        time.sleep(pause)
    phone.wait_acked(timeout_s=90)
    phone.close()


def _stream_through_faults(
    settings: Settings,
    broker: Broker,
    redis_url: str,
    tmp_path: Path,
    ids: tuple[str, ...],
    prefix: str,
    faults: Callable[[list[Worker]], None],
) -> None:
    rng = random.Random(7)
    base_ms = int(time.time() * 1000) - 6 * 3600_000
    devices = {
        f"{prefix}-{n}": broker.add_device(f"{prefix}-{n}") for n in range(DEVICES)
    }
    streams = {d: _messages(d, base_ms, rng) for d in devices}
    errors: list[BaseException] = []

    def run(device: str) -> None:
        try:
            _stream(broker.port, device, devices[device], streams[device])
        except BaseException as exc:
            errors.append(exc)

    with workers(settings, tmp_path, ids) as running:
        threads = [threading.Thread(target=run, args=(d,)) for d in devices]
        for t in threads:
            t.start()
        try:
            faults(running)
        finally:
            for t in threads:
                t.join()
        assert not errors, errors

        def stored() -> bool:
            with psycopg.connect(settings.database_url) as conn:
                row = conn.execute("SELECT count(*) FROM fixes").fetchone()
            return row is not None and row[0] >= DEVICES * FIXES_PER_DEVICE

        try:
            wait_until(stored, timeout_s=60, interval_s=0.5)
        except TimeoutError:
            with psycopg.connect(settings.database_url) as conn:
                per_device = conn.execute(
                    "SELECT device_id, count(*) FROM fixes GROUP BY 1 ORDER BY 1"
                ).fetchall()
            logs = "".join(w.log()[-3000:] for w in running)
            raise AssertionError(f"stored per device: {per_device}\n{logs}") from None
        time.sleep(1)  # anything still in flight would show up as an extra row

        with psycopg.connect(settings.database_url) as conn:
            rows = conn.execute(
                "SELECT device_id, (extract(epoch FROM time) * 1000)::bigint FROM fixes"
            ).fetchall()
            rejected = conn.execute("SELECT count(*) FROM rejected_messages").fetchone()
        expected = {
            (d, base_ms + i * 1000) for d in devices for i in range(FIXES_PER_DEVICE)
        }
        assert len(rows) == len(expected) == 50_000
        assert set(rows) == expected
        assert rejected == (0,)

        with redis.Redis.from_url(redis_url) as r:

            def caught_up() -> bool:
                live = {p["device_id"]: p["t"] for p in live_positions_sync(r)}
                newest = base_ms + (FIXES_PER_DEVICE - 1) * 1000
                return all(live.get(d) == newest for d in devices)

            wait_until(caught_up, timeout_s=20)
        for w in running:
            assert w.stop() == 0  # a clean SIGTERM shutdown


def test_two_workers_store_every_fix_exactly_once_through_kills_and_outages(
    settings: Settings,
    broker: Broker,
    pg_server: PostgresServer,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    def faults(running: list[Worker]) -> None:
        w0, w1 = running
        time.sleep(2)
        w0.kill()  # SIGKILL mid-stream, restart with the same client id
        time.sleep(0.5)
        w0.start()
        time.sleep(1.5)
        w1.kill()
        w1.start()
        time.sleep(2)
        pg_server.kill()  # PostgreSQL dies (SIGKILL) and comes back
        time.sleep(0.5)
        pg_server.start()
        time.sleep(1.5)
        redis_server.stop()  # live state is unavailable for a while
        w0.kill()
        w0.start()
        time.sleep(2)
        w1.kill()
        time.sleep(1)
        w1.start()
        time.sleep(1)
        redis_server.start()

    _stream_through_faults(
        settings.replace(
            ingest_shared_subscription=True
        ),  # the replicas split the load
        broker,
        redis_server.url,
        tmp_path,
        ("ingest-0", "ingest-1"),
        "two",
        faults,
    )


def test_a_broker_restart_loses_nothing_with_a_persistent_plain_subscription(
    settings: Settings,
    broker: Broker,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    def faults(running: list[Worker]) -> None:
        (w0,) = running
        time.sleep(2)
        w0.kill()
        w0.start()
        time.sleep(2)
        broker.server.stop()  # graceful: Mosquitto saves its persistence file
        broker.server.start()
        time.sleep(3)
        w0.kill()
        w0.start()

    _stream_through_faults(
        settings.replace(ingest_shared_subscription=False),
        broker,
        redis_server.url,
        tmp_path,
        ("ingest-0",),
        "one",
        faults,
    )
