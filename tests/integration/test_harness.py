"""The harness itself: real servers, migrated template, broker ACL."""

from __future__ import annotations

import subprocess
import time

import paho.mqtt.client as mqtt
import psycopg
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from crewtrack.servers import PostgresServer, RedisServer
from tests.conftest import INGEST_USER, Broker


def test_each_test_database_has_timescaledb_and_the_fixes_hypertable(
    db_url: str,
) -> None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables "
            "WHERE hypertable_name = 'fixes'"
        ).fetchone()
        assert row == ("fixes",)
        interval = conn.execute(
            "SELECT time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = 'fixes'"
        ).fetchone()
        assert interval is not None
        assert interval[0].days == 1


def test_a_table_made_in_one_test_database_is_not_in_a_new_one(
    db_url: str, pg_server: PostgresServer
) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE only_here (x int)")
    name = "sibling_" + db_url.rsplit("/", 1)[1]
    pg_server.psql(f"CREATE DATABASE {name} TEMPLATE crewtrack_template")
    try:
        with psycopg.connect(pg_server.dsn(name)) as conn:
            row = conn.execute("SELECT to_regclass('only_here')").fetchone()
            assert row == (None,)
    finally:
        pg_server.psql(f"DROP DATABASE {name} WITH (FORCE)")


# Run twice: whichever run comes second sees the key the first left behind,
# unless the fixture emptied Redis in between.
@pytest.mark.parametrize("run", ["first", "second"])
def test_redis_is_emptied_for_each_test(redis_url: str, run: str) -> None:
    with redis.Redis.from_url(redis_url) as r:
        assert r.dbsize() == 0
        r.set("left-behind", run)


def test_killed_postgres_restarts_with_its_data(
    db_url: str, pg_server: PostgresServer
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    pg_server.kill()
    assert not pg_server.running
    pg_server.start()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)


def test_killed_redis_restarts(redis_server: RedisServer) -> None:
    redis_server.kill()
    redis_server.start()
    with redis.Redis.from_url(redis_server.url) as r:
        assert r.ping()


def _publish(
    port: int, user: str, password: str, topic: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "mosquitto_pub",
            "-p",
            str(port),
            "-u",
            user,
            "-P",
            password,
            "-t",
            topic,
            "-m",
            "x",
            "-q",
            "1",
            "-V",
            "mqttv5",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def test_broker_accepts_a_device_publishing_under_its_own_id(broker: Broker) -> None:
    password = broker.add_device("harness-dev-1")
    result = _publish(
        broker.port, "harness-dev-1", password, "crewtrack/v1/harness-dev-1/fix"
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_broker_refuses_a_device_publishing_under_another_id(broker: Broker) -> None:
    password = broker.add_device("harness-dev-2")
    result = _publish(
        broker.port, "harness-dev-2", password, "crewtrack/v1/someone-else/fix"
    )
    # MQTT 5: the broker answers the QoS 1 publish with PUBACK "Not authorized".
    assert "Publish 1 failed: Not authorized" in result.stderr


def test_broker_refuses_a_wrong_password(broker: Broker) -> None:
    broker.add_device("harness-dev-3")
    result = _publish(
        broker.port, "harness-dev-3", "wrong", "crewtrack/v1/harness-dev-3/fix"
    )
    assert result.returncode != 0
    assert "Connection error: Not authorized" in result.stderr


def _ingest_session(broker: Broker, client_id: str) -> tuple[bool, list[bytes]]:
    """Connect as the ingest with a kept session: (session present, messages)."""
    got: list[bytes] = []
    present: list[bool] = []
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(INGEST_USER, broker.service_password)
    client.on_connect = lambda _c, _u, flags, _rc, _p: present.append(
        flags.session_present
    )
    client.on_message = lambda _c, _u, msg: got.append(msg.payload)
    client.connect(
        "127.0.0.1",
        broker.port,
        clean_start=False,
        properties=_expiry(3600),
    )
    client.loop_start()
    deadline = time.monotonic() + 10
    while not present and time.monotonic() < deadline:
        time.sleep(0.02)
    if not present[0]:
        client.subscribe("crewtrack/v1/+/fix", qos=1)
    time.sleep(0.5)  # queued messages arrive at once
    client.disconnect()
    client.loop_stop()
    return present[0], got


def _expiry(seconds: int) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = seconds
    return props


def test_an_ingest_session_a_test_leaves_on_the_broker_is_forgotten_with_it(
    broker: Broker,
) -> None:
    password = broker.add_device("harness-dev-4")
    since = broker.log_size()
    assert _ingest_session(broker, "ingest-left") == (False, [])
    _publish(broker.port, "harness-dev-4", password, "crewtrack/v1/harness-dev-4/fix")
    # without the harness's clean-up the next test's worker would get this fix
    assert _ingest_session(broker, "ingest-left") == (True, [b"x"])
    _publish(broker.port, "harness-dev-4", password, "crewtrack/v1/harness-dev-4/fix")

    assert broker.forget_service_sessions(since) == ["ingest-left"]

    assert _ingest_session(broker, "ingest-left") == (False, [])
    assert broker.forget_service_sessions(since) == ["ingest-left"]
