"""Ingest benchmark: our pipeline as ratios of raw ceilings measured in the same run.

Starts private PostgreSQL/Redis/Mosquitto, then measures (each consumer drains
the same pre-queued messages from its persistent session, so publishers do
not compete with it for the CPU):

1. bare paho QoS 1 subscriber draining N single-fix messages  (ceiling A)
2. our ingest worker draining the same                          → ratio to A
3. bare binary COPY of the same rows into the fixes hypertable  (ceiling B)
4. our ingest draining 500-fix batch messages                   → ratio to B
5. publish → Redis pub/sub latency p50/p99 at 5,000 fixes/s (500 phones × 10 Hz)

Run by ``make bench`` (not by the tests); about 1-2 minutes.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgpack
import paho.mqtt.client as mqtt
import psycopg
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crewtrack.servers import (  # noqa: E402
    MosquittoServer,
    PortAllocator,
    PostgresServer,
    RedisServer,
)
from crewtrack.settings import Settings  # noqa: E402
from ingest.broker_auth import BrokerAccount, hash_mqtt_password  # noqa: E402
from storage.fixes import FIX_COLUMNS, FIX_TYPES  # noqa: E402
from storage.migrate import migrate  # noqa: E402

SINGLE_MESSAGES = int(os.environ.get("BENCH_SINGLE", 60_000))
BATCH_MESSAGES = int(os.environ.get("BENCH_BATCHES", 400))  # × 500 fixes
BATCH_FIXES = 500
LATENCY_RATE = 5_000  # fixes/s
LATENCY_SECONDS = 10
LATENCY_DEVICES = 500
PUBLISHERS = 4
DEVICES = 1000
SVC, BENCH = "crewtrack-ingest", "bench-publisher"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def payloads(kind: str, n: int, proc: int) -> list[tuple[str, bytes]]:
    out = []
    base = now_ms() - 3_600_000
    for i in range(proc, n, PUBLISHERS):
        dev = f"b{i % DEVICES}"
        if kind == "single":
            body = {"t": base + i, "lat": 48.1 + i * 1e-7, "lon": 11.5, "acc": 5.0}
        else:
            body = {
                "fixes": [
                    {
                        "t": base + i * BATCH_FIXES + k,
                        "lat": 48.1,
                        "lon": 11.5,
                        "acc": 5.0,
                    }
                    for k in range(BATCH_FIXES)
                ]
            }
        out.append((f"crewtrack/v1/{dev}/fix", msgpack.packb(body)))
    return out


def publisher(port: int, password: str, kind: str, n: int, proc: int) -> None:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"pub-{proc}", protocol=mqtt.MQTTv5
    )
    c.username_pw_set(BENCH, password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = [c.publish(t, p, qos=1) for t, p in payloads(kind, n, proc)]
    for info in infos:
        info.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


def publish(port: int, password: str, kind: str, n: int) -> None:
    procs = [
        mp.Process(target=publisher, args=(port, password, kind, n, k))
        for k in range(PUBLISHERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()


def session(
    port: int, password: str, client_id: str, shared: bool, on_message=None
) -> mqtt.Client:  # type: ignore[no-untyped-def]
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    c.username_pw_set(SVC, password)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    topic = "crewtrack/v1/+/fix"
    subscribed = threading.Event()
    c.on_connect = lambda c, u, f, rc, p: c.subscribe(
        f"$share/ingest/{topic}" if shared else topic, options=SubscribeOptions(qos=1)
    )
    c.on_subscribe = lambda *a: subscribed.set()
    if on_message:
        c.on_message = on_message
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    subscribed.wait(10)
    return c


def bare_subscriber(port: int, password: str, n: int) -> float:
    """Fixes/s of a bare paho QoS 1 subscriber draining n pre-queued messages."""
    c = session(port, password, "bare-sub", False)
    c.disconnect()
    c.loop_stop()
    publish(port, password_bench, "single", n)
    got = 0
    done = threading.Event()
    t = [0.0, 0.0]

    def on_message(_c, _u, m):  # type: ignore[no-untyped-def]
        nonlocal got
        got += 1
        if got == 1:
            t[0] = time.perf_counter()
        if got == n:
            t[1] = time.perf_counter()
            done.set()

    c = session(port, password, "bare-sub", False, on_message)
    done.wait(300)
    c.disconnect()
    c.loop_stop()
    return (n - 1) / (t[1] - t[0])


def ingest_drain(
    settings: Settings, kind: str, n_msgs: int, fixes: int, tmp: Path
) -> float:
    """Fixes/s of our ingest draining pre-queued messages (first row → last row)."""
    # create the session (subscription) once, stopped, then queue messages for it
    c = session(
        settings.mqtt_port, settings.mqtt_password, settings.ingest_client_id, True
    )
    c.disconnect()
    c.loop_stop()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE fixes, ingest_messages")
    publish(settings.mqtt_port, password_bench, kind, n_msgs)
    env = {**os.environ, **settings.as_env(), "PYTHONPATH": str(ROOT)}
    log = (tmp / f"ingest-{kind}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    first = last = 0.0
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(*) FROM fixes").fetchone()
                count = row[0] if row else 0
                if count and not first:
                    first = time.perf_counter()
                    first_count = count
                if count >= fixes:
                    last = time.perf_counter()
                    break
                time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(30)
    return (fixes - first_count) / (last - first)


def bare_copy(db_url: str, fixes: int) -> float:
    """Rows/s of a bare binary COPY of the same rows into the fixes hypertable."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    base = now_ms() - 7_200_000
    received = datetime.now(UTC)
    sha = secrets.token_bytes(32)
    rows = [
        (
            epoch + timedelta(milliseconds=base + i),
            f"b{i % DEVICES}",
            48.1,
            11.5,
            5.0,
            None,
            None,
            None,
            None,
            None,
            None,
            False,
            received,
            sha,
        )
        for i in range(fixes)
    ]
    chunk = 8000  # the writer's largest flush (4 × the 2,000-fix batch)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("TRUNCATE fixes")
        t0 = time.perf_counter()
        for i in range(0, fixes, chunk):
            with (
                conn.transaction(),
                conn.cursor().copy(
                    f"COPY fixes ({', '.join(FIX_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(list(FIX_TYPES))
                for r in rows[i : i + chunk]:
                    copy.write_row(r)
        return fixes / (time.perf_counter() - t0)


def latency(settings: Settings, tmp: Path) -> tuple[float, float, int]:
    env = {**os.environ, **settings.as_env(), "PYTHONPATH": str(ROOT)}
    log = (tmp / "ingest-latency.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    samples: list[int] = []
    r = redis.Redis.from_url(settings.redis_url)
    ps = r.pubsub()
    ps.subscribe("crewtrack:live")
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            m = ps.get_message(timeout=0.1)
            if m and m["type"] == "message":
                t = now_ms()
                samples.extend(t - int(float(d["t"])) for d in json.loads(m["data"]))

    time.sleep(2)  # worker connected
    th = threading.Thread(target=listen)
    th.start()
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="lat-pub", protocol=mqtt.MQTTv5
    )
    c.username_pw_set(BENCH, password_bench)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", settings.mqtt_port)
    c.loop_start()
    interval = 1 / LATENCY_RATE
    start = time.perf_counter()
    for i in range(LATENCY_RATE * LATENCY_SECONDS):
        target = start + i * interval
        while time.perf_counter() < target:
            time.sleep(0.0005)
        dev = f"lat{i % LATENCY_DEVICES}"
        c.publish(
            f"crewtrack/v1/{dev}/fix",
            msgpack.packb({"t": now_ms(), "lat": 48.1, "lon": 11.5}),
            qos=1,
        )
    time.sleep(2)
    stop.set()
    th.join()
    c.disconnect()
    c.loop_stop()
    proc.terminate()
    proc.wait(30)
    samples.sort()
    warm = samples[len(samples) // 10 :]  # skip the first second's connection warm-up
    warm.sort()
    return statistics.median(warm), warm[int(len(warm) * 0.99)], len(samples)


password_bench = secrets.token_urlsafe(12)


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="crewtrack-bench-"))
    ports = PortAllocator()
    pg = PostgresServer(tmp / "pg", ports.free_port(), for_tests=True)
    rd = RedisServer(tmp / "redis", ports.free_port(), persist=False)
    mq = MosquittoServer(tmp / "mqtt", ports.free_port())
    svc_password = secrets.token_urlsafe(12)
    mq.write_accounts(
        [
            BrokerAccount(SVC, hash_mqtt_password(svc_password), True),
            BrokerAccount(BENCH, hash_mqtt_password(password_bench)),
        ]
    )
    # the bench publisher writes for many device ids (a real phone writes only its own)
    with mq.acl_file.open("a") as fh:
        fh.write(f"\nuser {BENCH}\ntopic write crewtrack/v1/#\n")
    for s in (pg, rd, mq):
        s.start()
    try:
        pg.psql("CREATE DATABASE bench")
        migrate(pg.dsn("bench"))
        settings = Settings(
            home=tmp / "home",
            database_url=pg.dsn("bench"),
            redis_url=rd.url,
            mqtt_port=mq.port,
            mqtt_password=svc_password,
            ingest_metrics_port=ports.free_port(),
            log_json=False,
            log_level="WARNING",
        )
        cores = os.cpu_count()
        print(
            f"machine: {cores} cores; {SINGLE_MESSAGES} single-fix messages, "
            f"{BATCH_MESSAGES} × {BATCH_FIXES}-fix batches"
        )
        bare = bare_subscriber(mq.port, svc_password, SINGLE_MESSAGES)
        print(f"bare paho QoS 1 subscriber:   {bare:10,.0f} msgs/s")
        ours = ingest_drain(settings, "single", SINGLE_MESSAGES, SINGLE_MESSAGES, tmp)
        print(
            f"ingest, single-fix messages:  {ours:10,.0f} fixes/s  = {ours / bare:.0%} of bare subscriber"
        )
        fixes = BATCH_MESSAGES * BATCH_FIXES
        copy = bare_copy(settings.database_url, fixes)
        print(f"bare binary COPY (8k chunks): {copy:10,.0f} rows/s")
        batched = ingest_drain(settings, "batch", BATCH_MESSAGES, fixes, tmp)
        print(
            f"ingest, 500-fix batches:      {batched:10,.0f} fixes/s  = {batched / copy:.0%} of bare COPY"
        )
        p50, p99, n = latency(settings, tmp)
        print(
            f"publish → Redis at {LATENCY_RATE:,}/s:  p50 {p50:.0f} ms  p99 {p99:.0f} ms  ({n} samples)"
        )
    finally:
        for s in (mq, rd, pg):
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
