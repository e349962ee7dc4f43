"""Ingest benchmark: our pipeline as ratios of raw ceilings measured in the same run.

Starts private PostgreSQL/Redis/Mosquitto, then measures (each consumer drains
the same pre-queued messages from its persistent session, so publishers do
not compete with it for the CPU):

1. bare paho QoS 1 subscriber draining N single-fix messages  (ceiling A)
2. our ingest worker draining the same                          → ratio to A
3. bare binary COPY of the same rows into the fixes hypertable  (ceiling B:
   the better of psycopg ``write_row`` and bytes the server encoded itself)
4. our ingest draining 500-fix batch messages                   → ratio to B

(rounds alternate ceiling and ours, C O C O … C; each of ours is divided by
the better of its neighbouring ceilings and the median round is reported)
5. publish → Redis pub/sub latency p50/p99 at a fixed 5,000 fixes/s offered for
   20 s (5,000 phones × 1 Hz), warm-up excluded. Publishers and the pub/sub
   listener are separate processes; the fix time ``t`` is the publish time
   (epoch ms, CLOCK_REALTIME), and the listener takes ``now - t`` with the same
   clock. One fix per phone per second means the live state (newest fix per
   device per flush) publishes every fix, so no slow fix hides behind a newer one.

The worker runs as ``crewtrack ingest --client-id …`` (the production entry
point). ``BENCH_PROFILE=<dir>`` records each worker with py-spy (raw collapsed
stacks, for ``bench/``-side analysis); ``BENCH_ONLY=single,batch,latency``
runs a subset; ``BENCH_STEPS=1`` prints the worker's mean time per flush step
after each drain; ``BENCH_ROUNDS`` (default 3) sets the rounds; ``BENCH_VACUUM=1`` runs VACUUM ANALYZE + CHECKPOINT before the
latency part (diagnosis: is a slow latency run the tables after the drains?).
Run by ``make bench`` (not by the tests); about 6 minutes.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
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
LATENCY_RATE = 5_000  # fixes/s offered, fixed (the latency target load)
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", 20))
LATENCY_WARMUP_S = 3.0  # first seconds excluded: connections, job look-ups, caches
LATENCY_DEVICES = 5_000  # 1 fix/s each: every fix reaches the pub/sub channel
LATENCY_PUBLISHERS = 2  # processes, each a share of the devices and of the rate
LATENCY_DRAIN_S = 5.0  # after the last publish, how long late fixes still count
LATENCY_TICK_S = 0.005  # publishers send what is due every 5 ms (≈25 msgs a tick)
PUBLISHERS = 4
DEVICES = 1000
SVC, BENCH = "crewtrack-ingest", "bench-publisher"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
PARTS = set(os.environ.get("BENCH_ONLY", "single,batch,latency").split(","))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} (1/5 min)"


def worker(settings: Settings, name: str, tmp: Path) -> subprocess.Popen[bytes]:
    """Start ``crewtrack ingest`` (optionally under py-spy) and wait until subscribed."""
    cmd = [
        sys.executable,
        "-m",
        "crewtrack",
        "ingest",
        "--client-id",
        settings.ingest_client_id,
    ]
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        out = Path(profile) / f"{name}.txt"
        spy = str(Path(sys.executable).with_name("py-spy"))
        cmd = [spy, "record", "-r", "250", "-f", "raw", "-o", str(out), "--", *cmd]
    env = {**os.environ, **settings.as_env(), "PYTHONPATH": str(ROOT)}
    log = (tmp / f"ingest-{name}.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{settings.ingest_metrics_port}/metrics"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ingest exited: see {tmp}/ingest-{name}.log")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if b"crewtrack_ingest_connected 1" in resp.read():
                    return proc
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError("ingest worker not subscribed within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy passes it on and writes its profile
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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
    port: int, password: str, client_id: str, shared: bool = False, on_message=None
) -> mqtt.Client:  # type: ignore[no-untyped-def]
    """A persistent QoS 1 session on the fix topics (plain, like one ingest worker)."""
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
    c = session(settings.mqtt_port, settings.mqtt_password, settings.ingest_client_id)
    c.disconnect()
    c.loop_stop()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE fixes, ingest_messages")
    publish(settings.mqtt_port, password_bench, kind, n_msgs)
    proc = worker(settings, kind, tmp)
    # Progress from the worker's own counter of committed fixes: a cheap HTTP
    # read every 20 ms, where polling count(*) cost the database (and so the
    # 2 shared cores) more the fuller the table got.
    url = f"http://127.0.0.1:{settings.ingest_metrics_port}/metrics"
    first = last = 0.0
    first_count = 0
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            count = stored_fixes(url)
            if count and not first:
                first = time.perf_counter()
                first_count = count
            if count >= fixes:
                last = time.perf_counter()
                break
            time.sleep(0.02)
        if os.environ.get("BENCH_STEPS"):
            print(f"    {flush_steps(settings.ingest_metrics_port)}")
    finally:
        stop(proc)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM fixes").fetchone()
    if row is None or row[0] != fixes:
        raise RuntimeError(f"expected {fixes} fixes stored, found {row}")
    return (fixes - first_count) / (last - first)


def stored_fixes(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - our http URL
        for line in resp.read().decode().splitlines():
            if line.startswith("crewtrack_ingest_fixes_stored_total "):
                return int(float(line.split()[1]))
    return 0


def bare_copy(db_url: str, fixes: int) -> float:
    """Rows/s of a bare binary COPY of the same rows into the fixes hypertable.

    Two ways, the better counts: psycopg's ``write_row`` of ready tuples, and
    the same rows as bytes the server itself encoded (``COPY … TO STDOUT``),
    so no client-side encoding is timed at all - the ingest streams bytes it
    encoded itself and must not be measured against a slower encoder.
    """
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
    cols = ", ".join(FIX_COLUMNS)
    copy_in = f"COPY fixes ({cols}) FROM STDIN (FORMAT BINARY)"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("TRUNCATE fixes")
        t0 = time.perf_counter()
        for i in range(0, fixes, chunk):
            with conn.transaction(), conn.cursor().copy(copy_in) as copy:
                copy.set_types(list(FIX_TYPES))
                for r in rows[i : i + chunk]:
                    copy.write_row(r)
        from_rows = fixes / (time.perf_counter() - t0)
        encoded = []
        for i in range(0, fixes, chunk):
            data = bytearray()
            with conn.cursor().copy(
                f"COPY (SELECT {cols} FROM fixes ORDER BY time LIMIT {chunk} "
                f"OFFSET {i}) TO STDOUT (FORMAT BINARY)"
            ) as copy:
                for block in copy:
                    data += block
            encoded.append(bytes(data))
        conn.execute("TRUNCATE fixes")
        t0 = time.perf_counter()
        for data in encoded:
            with conn.transaction(), conn.cursor().copy(copy_in) as copy:
                copy.write(data)
        from_bytes = fixes / (time.perf_counter() - t0)
    print(f"    (rows {from_rows:,.0f}/s, pre-encoded bytes {from_bytes:,.0f}/s)")
    return max(from_rows, from_bytes)


def latency_listener(
    redis_url: str,
    window: tuple[int, int],
    ready: mp.synchronize.Event,
    done: mp.synchronize.Event,
    out: mp.Queue[list[int]],
) -> None:
    """Own process: subscribe to the live channel, ``now - t`` per published fix.

    Only fixes published inside ``window`` (epoch ms, warm-up excluded) count.
    """
    r = redis.Redis.from_url(redis_url)
    ps = r.pubsub()
    ps.subscribe("crewtrack:live")
    ps.get_message(timeout=5)  # the subscribe confirmation
    ready.set()
    lo, hi = window
    samples: list[int] = []
    worst: dict[int, int] = {}  # second after warm-up -> worst latency (ms)
    seen: dict[int, int] = {}
    while not done.is_set():
        m = ps.get_message(timeout=0.2)
        if m is None or m["type"] != "message":
            continue
        now = now_ms()
        for d in json.loads(m["data"]):
            t = int(d["t"])
            if lo <= t < hi:
                samples.append(now - t)
                sec = (t - lo) // 1000
                worst[sec] = max(worst.get(sec, 0), now - t)
                seen[sec] = seen.get(sec, 0) + 1
    out.put(samples)
    out.put([x for sec in sorted(worst) for x in (sec, worst[sec], seen[sec])])


def bare_latency_listener(
    port: int,
    password: str,
    window: tuple[int, int],
    ready: mp.synchronize.Event,
    done: mp.synchronize.Event,
    out: mp.Queue[list[int]],
) -> None:
    """Own process: a bare paho QoS 1 subscriber, ``now - t`` per fix (the ceiling)."""
    lo, hi = window
    samples: list[int] = []
    unpack = msgpack.unpackb

    def on_message(_c, _u, m):  # type: ignore[no-untyped-def]
        now = now_ms()
        t = unpack(m.payload)["t"]
        if lo <= t < hi:
            samples.append(now - t)

    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bare-lat", protocol=mqtt.MQTTv5
    )
    c.username_pw_set(SVC, password)
    c.on_message = on_message
    c.on_subscribe = lambda *a: ready.set()
    c.on_connect = lambda c, u, f, rc, p: c.subscribe(
        "crewtrack/v1/+/fix", options=SubscribeOptions(qos=1)
    )
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait()
    c.disconnect()
    c.loop_stop()
    out.put(samples)
    out.put([])


def latency_publisher(
    port: int, password: str, start: float, proc: int, out: mp.Queue[list[float]]
) -> None:
    """Own process: offer ``LATENCY_RATE / LATENCY_PUBLISHERS`` fixes/s from ``start``.

    Message i is due at ``start + i / rate``; every tick sends what is due, so a
    slow tick is caught up instead of lowering the offered load. ``t`` is the
    moment of the publish call.
    """
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"lat-pub-{proc}", protocol=mqtt.MQTTv5
    )
    c.username_pw_set(BENCH, password)
    c.max_inflight_messages_set(0)  # QoS 1 like phones; never throttle the offer
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    rate = LATENCY_RATE / LATENCY_PUBLISHERS
    total = int(rate * LATENCY_SECONDS)
    devices = [f"lat{d}" for d in range(proc, LATENCY_DEVICES, LATENCY_PUBLISHERS)]
    topics = [f"crewtrack/v1/{d}/fix" for d in devices]
    pack = msgpack.packb
    worst_behind = 0.0
    i = 0
    while i < total:
        now = time.time()
        if now < start:
            time.sleep(min(start - now, LATENCY_TICK_S))
            continue
        due = min(total, int((now - start) * rate) + 1)
        worst_behind = max(worst_behind, (due - i) / rate)
        while i < due:
            t = now_ms()
            body = {"t": t, "lat": 48.1 + (i % 997) * 1e-5, "lon": 11.5, "acc": 5.0}
            c.publish(topics[i % len(topics)], pack(body), qos=1)
            i += 1
        time.sleep(LATENCY_TICK_S)
    elapsed = time.time() - start
    c.disconnect()
    c.loop_stop()
    out.put([float(total), elapsed, worst_behind])


def latency(settings: Settings, tmp: Path, *, bare: bool = False) -> dict[str, float]:
    """Publish → Redis pub/sub latency at a fixed offered load (separate processes).

    ``bare``: the same publishers and schedule, received by a bare paho
    subscriber process instead (publish → subscriber, the ceiling).
    """
    if not bare:
        # A fresh session: the drains' client id still holds a persistent
        # subscription, so the broker queued the bare run's 100,000 messages
        # for it - a worker under that id spent the first seconds draining them.
        settings = settings.replace(
            ingest_client_id=f"ingest-latency-{secrets.token_hex(3)}"
        )
    proc = None if bare else worker(settings, "latency", tmp)
    ctx = mp.get_context("spawn")
    start = time.time() + 1.5  # every process is up by then
    window = (
        int((start + LATENCY_WARMUP_S) * 1000),
        int((start + LATENCY_SECONDS) * 1000),
    )
    ready, done = ctx.Event(), ctx.Event()
    samples_q: mp.Queue[list[int]] = ctx.Queue()
    pubs_q: mp.Queue[list[float]] = ctx.Queue()
    if bare:
        listener = ctx.Process(
            target=bare_latency_listener,
            args=(
                settings.mqtt_port,
                settings.mqtt_password,
                window,
                ready,
                done,
                samples_q,
            ),
        )
    else:
        listener = ctx.Process(
            target=latency_listener,
            args=(settings.redis_url, window, ready, done, samples_q),
        )
    listener.start()
    ready.wait(30)
    pubs = [
        ctx.Process(
            target=latency_publisher,
            args=(settings.mqtt_port, password_bench, start, k, pubs_q),
        )
        for k in range(LATENCY_PUBLISHERS)
    ]
    poller_stop = threading.Event()
    polled: list[str] = []
    poller = threading.Thread(
        target=poll_worker,
        args=(settings.ingest_metrics_port, poller_stop, polled, window[0]),
    )
    if proc is not None:
        poller.start()
    for p in pubs:
        p.start()
    results = [pubs_q.get(timeout=LATENCY_SECONDS + 60) for _ in pubs]
    for p in pubs:
        p.join()
    time.sleep(LATENCY_DRAIN_S)  # the last fixes reach the listener
    done.set()
    samples = samples_q.get(timeout=30)
    timeline = samples_q.get(timeout=30)
    if proc is not None:
        poller_stop.set()
        poller.join()
    listener.join()
    steps = ""
    if proc is not None:
        steps = flush_steps(settings.ingest_metrics_port)
        stop(proc)
    samples.sort()
    offered = sum(r[0] for r in results)
    elapsed = max(r[1] for r in results)
    expected = LATENCY_RATE * (LATENCY_SECONDS - LATENCY_WARMUP_S)
    return {
        "rate": offered / elapsed,
        "behind_ms": max(r[2] for r in results) * 1000,
        "p50": float(statistics.median(samples)) if samples else float("nan"),
        "p99": float(samples[int(len(samples) * 0.99)]) if samples else float("nan"),
        "max": float(samples[-1]) if samples else float("nan"),
        "samples": float(len(samples)),
        "coverage": len(samples) / expected,
        "steps": steps,  # type: ignore[dict-item]
        "slow": "; ".join(  # type: ignore[dict-item]
            f"s{timeline[i]} max {timeline[i + 1]} ms ({timeline[i + 2]} fixes)"
            for i in range(0, len(timeline), 3)
            if timeline[i + 1] > 250
        ),
        "polled": polled,  # type: ignore[dict-item]
    }


def poll_worker(port: int, stop: threading.Event, out: list[str], lo: int) -> None:
    """Every 0.5 s: the worker's backlog (diagnosis of stalls)."""
    keys = (
        "crewtrack_ingest_pending_messages",
        "crewtrack_ingest_oldest_pending_seconds",
        "crewtrack_ingest_live_pending_devices",
        "crewtrack_ingest_flushes_total",
        "crewtrack_ingest_live_rounds_total",
        "crewtrack_ingest_messages_total",
    )
    while not stop.wait(0.5):
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as r:
                text = r.read().decode()
        except OSError as exc:
            out.append(f"{(now_ms() - lo) / 1000:6.1f}s metrics failed: {exc}")
            continue
        vals = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            base = name.split("{")[0]
            if base in keys:
                vals[base] = vals.get(base, 0.0) + float(value)
        out.append(
            f"{(now_ms() - lo) / 1000:6.1f}s "
            + " ".join(f"{k[18:]}={vals.get(k, 0):.0f}" for k in keys)
        )


def flush_steps(port: int) -> str:
    """Mean wall ms per flush step (from the worker's metrics), one line."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    steps: dict[str, float] = {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("crewtrack_ingest_flush_step_seconds_total{"):
            name = line.split('"')[1]
            steps[name] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("crewtrack_ingest_") and "{" not in line:
            name, _, value = line.partition(" ")
            values[name] = float(value)
    flushes = values.get("crewtrack_ingest_flushes_total", 0.0) or 1.0
    rounds = values.get("crewtrack_ingest_live_rounds_total", 0.0) or 1.0
    fixes = values.get("crewtrack_ingest_fixes_stored_total", 0.0)
    devices = values.get("crewtrack_ingest_live_devices_total", 0.0)
    parts = [
        f"{flushes:.0f} flushes of {fixes / flushes:,.0f} fixes",
        *(
            f"{k} {v / flushes * 1000:.1f}"
            for k, v in sorted(steps.items())
            if k != "redis_round"
        ),
        f"| {rounds:.0f} Redis rounds of {devices / rounds:,.0f} devices: "
        f"{steps.get('redis_round', 0.0) / rounds * 1000:.1f}",
    ]
    return "mean ms per flush: " + ", ".join(parts)


password_bench = secrets.token_urlsafe(12)


def rounds(
    ours_label: str,
    ceiling_label: str,
    short: str,
    ceiling: Callable[[], float],
    ours: Callable[[], float],
) -> float:
    """C O C O … C; print every figure, return the median of ours / ceiling."""
    ceilings = [ceiling()]
    print(f"  {ceiling_label}: {ceilings[-1]:10,.0f}/s   {load()}")
    ratios: list[float] = []
    for _ in range(ROUNDS):
        got = ours()
        ceilings.append(ceiling())
        ratios.append(got / max(ceilings[-2:]))
        print(f"  {ours_label}: {got:10,.0f} fixes/s = {ratios[-1]:.0%}   {load()}")
        print(f"  {ceiling_label}: {ceilings[-1]:10,.0f}/s   {load()}")
    mid = statistics.median(ratios)
    print(
        f"{ours_label}: median {mid:.0%} of {short} over {ROUNDS} rounds "
        f"(range {min(ratios):.0%}–{max(ratios):.0%})"
    )
    return mid


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
            # CREWTRACK_INGEST_MQTT_FAST_PATH=off measures paho's public path
            ingest_mqtt_fast_path=os.environ.get(
                "CREWTRACK_INGEST_MQTT_FAST_PATH", "auto"
            ),
        )
        print(
            f"machine: {os.cpu_count()} cores, {load()}; {SINGLE_MESSAGES} single-fix "
            f"messages, {BATCH_MESSAGES} × {BATCH_FIXES}-fix batches; batch size "
            f"{settings.ingest_batch_size}, flush {settings.ingest_flush_interval_ms} ms; "
            f"MQTT fast path {settings.ingest_mqtt_fast_path}"
        )
        # Rounds alternate ceiling and ours (C O C O … C) on the shared machine;
        # each of ours is divided by the better of its two neighbouring
        # ceilings (a load spike during a ceiling run must not flatter us) and
        # the median round counts. BENCH_ROUNDS sets how many.
        if "single" in PARTS:
            rounds(
                "ingest, single-fix messages",
                "bare paho QoS 1 subscriber",
                "bare subscriber",
                lambda: bare_subscriber(mq.port, svc_password, SINGLE_MESSAGES),
                lambda: ingest_drain(
                    settings, "single", SINGLE_MESSAGES, SINGLE_MESSAGES, tmp
                ),
            )
        if "batch" in PARTS:
            fixes = BATCH_MESSAGES * BATCH_FIXES
            rounds(
                "ingest, 500-fix batches",
                "bare binary COPY (8k chunks, best of two)",
                "bare COPY",
                lambda: bare_copy(settings.database_url, fixes),
                lambda: ingest_drain(settings, "batch", BATCH_MESSAGES, fixes, tmp),
            )
        if "latency" in PARTS:
            if os.environ.get("BENCH_VACUUM"):  # diagnosis: settle the tables first
                with psycopg.connect(settings.database_url, autocommit=True) as c:
                    c.execute("VACUUM ANALYZE")
                    c.execute("CHECKPOINT")
                print(f"VACUUM ANALYZE + CHECKPOINT done   {load()}")
            r = latency(settings, tmp, bare=True)
            print(
                f"publish → bare subscriber, {r['rate']:,.0f} fixes/s offered for "
                f"{LATENCY_SECONDS:.0f} s (publishers ≤ {r['behind_ms']:.0f} ms "
                f"behind schedule): p50 {r['p50']:.0f} ms  p99 {r['p99']:.0f} ms  "
                f"max {r['max']:.0f} ms  ({r['samples']:,.0f} samples, "
                f"{r['coverage']:.0%} of published)   {load()}"
            )
            r = latency(settings, tmp)
            print(
                f"publish → Redis, {r['rate']:,.0f} fixes/s offered for "
                f"{LATENCY_SECONDS:.0f} s (publishers ≤ {r['behind_ms']:.0f} ms "
                f"behind schedule): p50 {r['p50']:.0f} ms  p99 {r['p99']:.0f} ms  "
                f"max {r['max']:.0f} ms  ({r['samples']:,.0f} samples after "
                f"{LATENCY_WARMUP_S:.0f} s warm-up, {r['coverage']:.0%} of "
                f"published)   {load()}"
            )
            print(f"  {r['steps']}")
            if r["slow"]:
                print(f"  seconds over 250 ms (after warm-up): {r['slow']}")
                if os.environ.get("BENCH_TIMELINE"):
                    print("  " + "\n  ".join(r["polled"]))  # type: ignore[arg-type]
    finally:
        for s in (mq, rd, pg):
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
