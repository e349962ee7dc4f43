"""Benchmark: the live-map refresh callback with 2,000 technicians.

Starts a private PostgreSQL + Redis, registers 2,000 technicians with devices,
40 job sites, and writes their live state with the ingest's own Redis writer.
Then times ``dashboard.pages.live_map.callbacks.live_update`` (server time of
one map refresh, exactly what the Dash callback runs) and measures the bytes of
its JSON answer, for:

- first load / filter change (the whole figure),
- a tick where every technician moved since the browser's last tick (worst case),
- a tick where 10 % moved (a realistic 1 s tick at one fix per 10 s),
- a tick where nothing changed (nothing is sent).

Each tick is measured against the view the previous tick left in the browser
(its store is chained), as in a real session. Bytes are the JSON of every
output of the callback (figure or delta, store, counts; ``no_update`` = 0).

Raw baselines measured in the same run: a bare pipelined HMGET of the same six
fields of the same 2,000 keys (what any Python reader of the hashes pays), the
server-side read the dashboard uses (``storage.live.live_rows_sync``), the old
read (pipelined HGETALL + parse, ``live_positions_sync``), and a bare
``json.dumps`` of the same 2,000 rows (the floor for serialising them).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.utils
import psycopg
import redis
from dash import Patch, no_update
from dash._callback import NoUpdate
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crewtrack.servers import PortAllocator, PostgresServer, RedisServer  # noqa: E402
from dashboard.context import Context  # noqa: E402
from dashboard.pages.live_map.callbacks import live_update  # noqa: E402
from dashboard.pages.live_map.layout import LIVE_TICK  # noqa: E402
from dashboard.queries import (  # noqa: E402
    MAP_FIELDS,
    Sources,
)
from storage.live import (  # noqa: E402
    key,
    live_positions_sync,
    live_rows_sync,
    write_updates_sync,
)
from storage.migrate import migrate  # noqa: E402

TECHNICIANS = 2000
SITES = 40
RUNS = 40
CENTRE = (51.5074, -0.1278)  # a city-sized fleet


def _seed_db(dsn: str) -> list[str]:
    devices = [f"bench{i:04d}" for i in range(TECHNICIANS)]
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO users (name, role) VALUES (%s, 'technician')",
            [(f"Technician {i:04d}",) for i in range(TECHNICIANS)],
        )
        cur.execute(
            "INSERT INTO technicians (user_id, name, team) "
            "SELECT id, name, 'Team ' || (abs(hashtext(name)) % 8) FROM users"
        )
        cur.execute(
            "INSERT INTO devices (id, user_id, label, mqtt_password_hash) "
            "SELECT 'bench' || lpad((row_number() OVER (ORDER BY name) - 1)::text, 4, '0'), "
            "id, name, 'x' FROM users"
        )
        cur.execute("INSERT INTO clients (name) VALUES ('Bench client') RETURNING id")
        row = cur.fetchone()
        assert row is not None
        client = row[0]
        rng = random.Random(7)
        for n in range(SITES):
            lat = CENTRE[0] + rng.uniform(-0.1, 0.1)
            lon = CENTRE[1] + rng.uniform(-0.15, 0.15)
            cur.execute(
                "INSERT INTO properties (client_id, address, lat, lon, geofence) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (client, Jsonb([f"{n} Bench St"]), lat, lon, Jsonb({"radius_m": 80})),
            )
            prop = cur.fetchone()
            assert prop is not None
            cur.execute(
                "INSERT INTO jobs (id, number, status, client_id, property_id, "
                "scheduled_start, doc, created_at, updated_at) VALUES "
                "(gen_random_uuid(), %s, 'scheduled', %s, %s, now(), '{}', now(), now())",
                (n + 1, client, prop[0]),
            )
    return devices


def _positions(
    devices: list[str], rng: random.Random, t_ms: int, share: float
) -> list[dict[str, Any]]:
    out = []
    for d in devices:
        if rng.random() > share:
            continue
        out.append(
            {
                "device_id": d,
                "t": t_ms,
                "lat": CENTRE[0] + rng.uniform(-0.12, 0.12),
                "lon": CENTRE[1] + rng.uniform(-0.18, 0.18),
                "acc": rng.uniform(3, 30),
                "spd": rng.uniform(0, 15),
                "hdg": rng.uniform(0, 360),
                "bat": rng.uniform(10, 100),
                "received_at": t_ms,
            }
        )
    return out


def _size(outputs: tuple[Any, ...]) -> int:
    """Bytes of the JSON Dash sends for these outputs (``no_update`` sends nothing)."""
    total = 0
    for result in outputs:
        if isinstance(result, Patch):
            body: Any = result.to_plotly_json()
        elif isinstance(result, go.Figure):
            body = result.to_plotly_json()
        elif result is no_update or isinstance(result, NoUpdate):
            continue
        else:
            body = result
        total += len(json.dumps(body, cls=plotly.utils.PlotlyJSONEncoder).encode())
    return total


def _hmget_all(r: redis.Redis, devices: list[str]) -> list[Any]:
    with r.pipeline(transaction=False) as pipe:
        for d in devices:
            pipe.hmget(key(d), MAP_FIELDS)
        return pipe.execute()


def _timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ports = PortAllocator()
        pg = PostgresServer(base / "pg", ports.free_port(), for_tests=True)
        rs = RedisServer(base / "redis", ports.free_port(), persist=False)
        pg.start()
        rs.start()
        try:
            pg.psql("CREATE DATABASE bench")
            dsn = pg.dsn("bench")
            migrate(dsn)
            devices = _seed_db(dsn)
            r = redis.Redis.from_url(rs.url)
            rng = random.Random(11)
            t_ms = int(time.time() * 1000)
            write_updates_sync(r, _positions(devices, rng, t_ms, 1.0))
            pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True)
            ctx = Context(Sources(pool=pool, redis=r), tile_url="")
            args: tuple[Any, ...] = (None, None, None, None)

            old_read, positions = _timed(lambda: live_positions_sync(r), RUNS)
            assert len(positions) == TECHNICIANS
            hmget, _ = _timed(lambda: _hmget_all(r, devices), RUNS)
            lua, rows = _timed(lambda: live_rows_sync(r, MAP_FIELDS), RUNS)
            assert len(rows) == TECHNICIANS
            dumps, _ = _timed(lambda: json.dumps(rows), RUNS)

            full_times, full_out = _timed(
                lambda: live_update(ctx, None, *args, None), RUNS
            )
            full_bytes = _size(full_out)
            store = full_out[2]

            def moved(share: float) -> tuple[list[float], int]:
                nonlocal t_ms, store
                times: list[float] = []
                size = 0
                for _ in range(RUNS):
                    t_ms += 1000
                    write_updates_sync(r, _positions(devices, rng, t_ms, share))
                    t0 = time.perf_counter()
                    out = live_update(ctx, LIVE_TICK, *args, store, t_ms)
                    times.append((time.perf_counter() - t0) * 1000)
                    if out[2] is not no_update:
                        store = out[2]
                    size = max(size, _size(out))
                return times, size

            all_times, all_bytes = moved(1.0)
            tenth_times, tenth_bytes = moved(0.1)
            # nothing new since the last tick: the store's signature matches
            idle_times, idle_out = _timed(
                lambda: live_update(ctx, LIVE_TICK, *args, store, t_ms), RUNS
            )
            pool.close()
            r.close()
        finally:
            rs.stop()
            pg.stop()

    hmget_p95 = _p95(hmget)
    rows_out = [
        ("first load / filter change (full figure)", full_times, full_bytes),
        ("tick, all 2,000 moved (delta)", all_times, all_bytes),
        ("tick, 10 % moved (delta)", tenth_times, tenth_bytes),
        ("tick, nothing new (no_update)", idle_times, _size(idle_out)),
    ]
    print(
        f"live map refresh, {TECHNICIANS} technicians, {SITES} job sites, {RUNS} runs each"
    )
    print(f"{'baseline':52} {'p50 ms':>8} {'p95 ms':>8}")
    for name, times in (
        ("bare pipelined HMGET of 6 fields x 2,000 keys", hmget),
        ("server-side read (live_rows_sync, one round trip)", lua),
        ("old read: pipelined HGETALL + parse", old_read),
        ("bare json.dumps of the 2,000 rows", dumps),
    ):
        print(f"{name:52} {statistics.median(times):8.1f} {_p95(times):8.1f}")
    print(f"{'case':44} {'p50 ms':>8} {'p95 ms':>8} {'x HMGET':>8} {'bytes':>10}")
    for name, times, size in rows_out:
        p95 = _p95(times)
        print(
            f"{name:44} {statistics.median(times):8.1f} {p95:8.1f} "
            f"{p95 / hmget_p95:8.2f} {size:10,d}"
        )


if __name__ == "__main__":
    main()
