"""Benchmark: the live map with 2,000 technicians and 1,000 jobs, server and browser.

Starts a private PostgreSQL + Redis, registers 2,000 technicians with devices,
1,000 job sites, and writes their live state with the ingest's own Redis writer.
Then times ``dashboard.pages.live_map.callbacks.live_update`` (server time of
one map refresh, exactly what the Dash callback runs) and measures the bytes of
its JSON answer, for:

- first load / filter change (the whole figure: the callback's reference plus
  the figure's JSON the browser then fetches; the time includes serialising it),
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

Then in headless Chromium (Playwright, Debian's chromium) against a real
``crewtrack dashboard`` process on the same data (``BENCH_BROWSER=0`` skips it):

- **login → map painted**: from the click on "Log in" until MapLibre has drawn
  the markers (``queryRenderedFeatures``, at least 90 % of them: a few may fall
  outside the viewport), with the **bytes transferred** (Resource Timing) —
  *before* (as shipped until issue 14: no compression, the full 4.8 MB
  plotly.js, no cache header; the browser is sent ``Accept-Encoding: identity``
  and the partial bundle's URL is answered with plotly.py's full
  ``plotly.min.js`` of the same version, ``no-store``) and *after*; then a reload
  with the browser's cache (the fingerprinted files are not asked for again).
  Raw baseline: the same figure's JSON drawn by ``Plotly.newPlot`` on a bare
  page with the same bundle (no Dash, no login, no network).
- **fix → marker moved**: a fix written with the ingest's Redis writer until
  the marker is at its new place in the browser's figure (the ingest's own
  publish → Redis latency is bench/ingest.py's); baseline: the map's poll
  interval.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly
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
from crewtrack.settings import Settings  # noqa: E402
from dashboard.app import ASSETS  # noqa: E402
from dashboard.context import Context  # noqa: E402
from dashboard.pages.live_map import panels as side_panels_of  # noqa: E402
from dashboard.pages.live_map.callbacks import (  # noqa: E402
    current_alerts,
    everyone,
    live_update,
    side_panels,
    technician_list,
)
from dashboard.pages.live_map.layout import (  # noqa: E402
    LIVE_INTERVAL_MS,
    LIVE_TICK,
    SLOW_TICK,
)
from dashboard.plotly_loading import DASH_PLOTLY_PATH  # noqa: E402
from dashboard.queries import (  # noqa: E402
    MAP_FIELDS,
    Sources,
)
from dashboard.serving import DYNAMIC_LEVEL  # noqa: E402
from storage.alert_stream import entry_fields  # noqa: E402
from storage.live import (  # noqa: E402
    key,
    live_positions_sync,
    live_rows_sync,
    write_updates_sync,
)
from storage.migrate import migrate  # noqa: E402
from storage.users import create_user  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: E402
from tests.e2e.test_dashboard import RENDERED_CIRCLES, TECH_POSITION  # noqa: E402
from tests.e2e.test_dashboard_weight import running_dashboard  # noqa: E402

TECHNICIANS = 2000
SITES = 1000
RUNS = int(os.environ.get("BENCH_RUNS", "40"))  # server-side runs per case
BROWSER_RUNS = 2  # page loads per case (each up to 2 x PAINT_TIMEOUT_S)
MOVES = 5  # fixes published, one at a time
DISPATCHER = ("bench-dispatch@example.com", "bench password 1")
BUNDLE = "plotly-crewtrack.min.js"
#: The full plotly.js the dashboard shipped before its partial bundle (same version).
FULL_PLOTLY = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PAINTED = 0.9  # share of the markers MapLibre must have drawn
#: A map not painted by then never will be: when a full refresh takes longer
#: than the 1 s poll, Dash drops each answer for the newer request (livelock).
PAINT_TIMEOUT_S = 30
#: Between two looks at the map: queryRenderedFeatures over 3,000 features
#: runs on the page's main thread, and looking every 20 ms slowed the drawing.
POLL_MS = 200
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


TRANSFERRED = """() => performance.getEntriesByType('navigation')
  .concat(performance.getEntriesByType('resource'))
  .reduce((a, e) => a + e.transferSize, 0)"""

BARE_PLOT = """(fig) => {
  const div = document.createElement('div');
  div.id = 'live-map';
  div.style.cssText = 'width:1000px;height:700px';
  const inner = document.createElement('div');
  div.appendChild(inner);
  document.body.appendChild(div);
  Plotly.newPlot(inner, fig.data, fig.layout);
}"""


#: Alerts in the stream for the side-panel case (more than the panel reads).
BENCH_ALERTS = 200


def _side_panels(
    ctx: Context, r: redis.Redis, runs: int
) -> tuple[list[float], list[float]]:
    """Server time of one slow tick's side panels (alerts and technician list,
    first page): each reading the live view, as the two callbacks did, and
    the one callback that reads it once for both."""
    for i in range(BENCH_ALERTS):
        r.xadd(
            ctx.sources.alerts_stream,
            entry_fields({"type": "job.note", "message": f"note {i}"}),  # type: ignore[arg-type]
        )
    now = datetime.now(UTC)

    def each() -> Any:
        shown, older = current_alerts(ctx, everyone(ctx, now), now)
        alerts = side_panels_of.alerts_panel(shown, ctx.zone, older)
        return alerts, technician_list(ctx, everyone(ctx, now), "", now, SLOW_TICK)

    def shared() -> Any:
        return side_panels(ctx, SLOW_TICK, "", 0, now)

    each()
    before, _ = _timed(each, runs)
    after, _ = _timed(shared, runs)
    return before, after


def _dashboard_settings(dsn: str, redis_url: str, home: Path) -> Settings:
    """A dashboard on the bench's data, and its dispatcher account."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        create_user(conn, "Bench Dispatch", "dispatcher", *DISPATCHER)
    home.mkdir(parents=True, exist_ok=True)
    return Settings(
        home=home,
        database_url=dsn,
        redis_url=redis_url,
        start_servers=False,
        dashboard_port=PortAllocator().free_port(),
        dashboard_secret=secrets.token_hex(16),
        dashboard_tile_url="none",  # no street tiles: the bench has no internet
        log_json=False,
    )


def _poll(page: Any, script: str, arg: Any, done: Callable[[Any], bool]) -> float:
    """Seconds until ``done(page.evaluate(script, arg))`` (every ``POLL_MS``;
    :class:`TimeoutError` after ``PAINT_TIMEOUT_S``)."""
    from playwright.sync_api import Error

    t0 = time.perf_counter()
    value = None
    while time.perf_counter() - t0 < PAINT_TIMEOUT_S:
        try:
            value = page.evaluate(script, arg)
        except Error:  # the page is navigating (login → map)
            value = None
        if done(value):
            return time.perf_counter() - t0
        page.wait_for_timeout(POLL_MS)
    raise TimeoutError(f"not done after {PAINT_TIMEOUT_S} s (last value {value!r})")


def _painted(value: Any) -> bool:
    return isinstance(value, int) and value >= PAINTED * (TECHNICIANS + SITES)


#: ``BENCH_PROFILE=1``: a Chrome CPU profile (CDP ``Profiler``) of the first
#: login → painted, summarised as self time by script and by function, and its
#: requests in order (which callbacks, when: what waits on what).
PROFILE = os.environ.get("BENCH_PROFILE", "0") == "1"


def _profile_summary(profile: dict[str, Any], top: int = 12) -> None:
    """Print where the main thread's time went: self ms by script, by function."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_us: dict[int, float] = {}
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        self_us[sample] = self_us.get(sample, 0.0) + delta
    by_script: dict[str, float] = {}
    by_function: dict[str, float] = {}
    for node_id, us in self_us.items():
        frame = nodes[node_id]["callFrame"]
        script = frame.get("url", "").rsplit("/", 1)[-1].split("?")[0] or "(native)"
        name = frame.get("functionName") or "(anonymous)"
        by_script[script] = by_script.get(script, 0.0) + us
        where = f"{name} ({script}:{frame.get('lineNumber', 0) + 1})"
        by_function[where] = by_function.get(where, 0.0) + us
    total = sum(self_us.values())
    print(f"  CPU profile of login -> painted: {total / 1000:.0f} ms sampled")
    for title, table in (("script", by_script), ("function", by_function)):
        print(f"  self time by {title}:")
        for where, us in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {us / 1000:8.0f} ms  {us / total:5.1%}  {where}")


class _Waterfall:
    """``BENCH_PROFILE=1``: every request of a page load, with when it started
    and ended (ms from the click on "Log in") and, for a Dash callback, its
    outputs: where the load waits in series."""

    def __init__(self, page: Any) -> None:
        self.t0 = time.perf_counter()
        self.started: dict[Any, tuple[float, str]] = {}
        self.rows: list[tuple[float, float, str]] = []
        page.on("request", self._request)
        page.on("requestfinished", self._finished)

    def _request(self, request: Any) -> None:
        name = request.url.split("?")[0].rsplit("/", 2)
        label = "/".join(name[-2:])
        if "_dash-update-component" in request.url and request.post_data:
            outputs = json.loads(request.post_data).get("output", "")
            label = "callback " + outputs.strip(".").replace("...", " ")[:60]
        self.started[request] = ((time.perf_counter() - self.t0) * 1000, label)

    def _finished(self, request: Any) -> None:
        start, label = self.started.pop(request, (0.0, request.url))
        self.rows.append((start, (time.perf_counter() - self.t0) * 1000, label))

    def print(self, until_ms: float) -> None:
        print(f"  requests of login -> painted ({until_ms:.0f} ms), ms from the click:")
        for start, end, label in sorted(self.rows):
            if start <= until_ms:
                print(f"    {start:7.0f} {end:7.0f} {end - start:6.0f}  {label}")


def _load(browser: Any, url: str, before: bool) -> tuple[float, int, float, int] | None:
    """Login → painted (s) and bytes, then a reload from the browser's cache
    (None: never painted)."""
    global PROFILE
    context = browser.new_context(
        viewport={"width": 1400, "height": 900},
        extra_http_headers={"Accept-Encoding": "identity"} if before else None,
    )
    page = context.new_page()
    if before:  # the full plotly.js, uncompressed and uncached, as before
        # (answering the bundle empty, as this did while dcc.Graph drew the map,
        # now leaves live-map.js without Plotly: the map never painted)
        # the bundle's URL: an asset (in the page) or dcc.Graph's (deferred)
        for pattern in (f"**/assets/{BUNDLE}*", f"**/{DASH_PLOTLY_PATH}"):
            page.route(
                pattern,
                lambda route: route.fulfill(
                    path=str(FULL_PLOTLY),
                    content_type="text/javascript",
                    headers={"Cache-Control": "no-store"},
                ),
            )
    page.goto(url + "/login")
    page.fill("#email", DISPATCHER[0])
    page.fill("#password", DISPATCHER[1])
    cdp = None
    waterfall = None
    if PROFILE and not before:  # the first load that paints
        waterfall = _Waterfall(page)
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 1000})
        cdp.send("Profiler.start")
    t0 = time.perf_counter()
    if waterfall is not None:
        waterfall.t0 = t0
    page.click("#login")
    try:
        _poll(page, RENDERED_CIRCLES, "#live-map", _painted)
    except TimeoutError:
        context.close()
        return None
    painted = time.perf_counter() - t0  # from the click
    if waterfall is not None:
        PROFILE = False
        waterfall.print(painted * 1000)
    if cdp is not None:
        try:
            _profile_summary(cdp.send("Profiler.stop")["profile"])
        except Exception as exc:  # a side report: the load still counts
            print(f"  (no CPU profile: {exc})")
    print(f"  (load: painted in {painted:.2f} s)", flush=True)
    first = int(page.evaluate(TRANSFERRED))
    t0 = time.perf_counter()
    page.reload()
    try:
        _poll(page, RENDERED_CIRCLES, "#live-map", _painted)
        again = time.perf_counter() - t0
    except TimeoutError:  # a busy machine: the first load still counts
        again = float("nan")
    cached = int(page.evaluate(TRANSFERRED))
    context.close()
    return painted, first, again, cached


def _bare(browser: Any, url: str, figure: Any) -> float:
    """The same figure drawn by plotly.js on a bare page (no Dash, no network;
    on the dashboard's origin, so the style's relative URLs resolve)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    # logged in (the map's style and glyphs are behind the login), then a blank
    # page of the dashboard's origin: a page set with set_content never loads
    # the style (MapLibre stays not loaded), so it would never paint
    page.goto(url + "/login")
    page.fill("#email", DISPATCHER[0])
    page.fill("#password", DISPATCHER[1])
    page.click("#login")
    page.wait_for_url(url + "/")
    page.route(
        url + "/bench-bare",
        lambda route: route.fulfill(
            body="<html><body></body></html>", content_type="text/html"
        ),
    )
    page.goto(url + "/bench-bare")
    page.add_script_tag(path=str(ASSETS / BUNDLE))
    fig = json.loads(json.dumps(figure, cls=plotly.utils.PlotlyJSONEncoder))
    t0 = time.perf_counter()
    page.evaluate(BARE_PLOT, fig)
    _poll(page, RENDERED_CIRCLES, "#live-map", _painted)
    took = time.perf_counter() - t0
    context.close()
    return took


def _moves(
    browser: Any, url: str, r: redis.Redis, devices: list[str], t_ms: int
) -> list[float]:
    """Seconds from a fix written to Redis until its marker moved, ``MOVES``
    times (fixes newer than ``t_ms``, the last the bench wrote; None: not moved)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url + "/login")
    page.fill("#email", DISPATCHER[0])
    page.fill("#password", DISPATCHER[1])
    page.click("#login")
    try:
        _poll(page, RENDERED_CIRCLES, "#live-map", _painted)
    except TimeoutError:
        page.close()
        return []
    rng = random.Random(5)
    took = []
    for n in range(MOVES):
        device = devices[n * 97]
        fix = _positions([device], rng, t_ms + 1000 * (n + 1), 1.0)
        target = [round(fix[0]["lat"], 6), round(fix[0]["lon"], 6)]
        t0 = time.perf_counter()
        write_updates_sync(r, fix)
        try:
            _poll(
                page, TECH_POSITION, ["#live-map", device], lambda v, t=target: v == t
            )
        except TimeoutError:
            continue
        took.append(time.perf_counter() - t0)
        print(f"  (fix -> marker moved in {took[-1]:.2f} s)", flush=True)
    page.close()
    return took


def _browser_figures(
    dsn: str,
    redis_url: str,
    home: Path,
    figure: Any,
    r: redis.Redis,
    devices: list[str],
    t_ms: int,
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    settings = _dashboard_settings(dsn, redis_url, home)
    with running_dashboard(settings, home) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        out: dict[str, Any] = {"bare": [_bare(browser, url, figure)]}
        first = _load(browser, url, False)
        if first is None:  # never painted: nothing else to measure
            out.update(after=[], before=[], moves=[])
        else:
            out["after"] = [first] + [
                load
                for _ in range(BROWSER_RUNS - 1)
                if (load := _load(browser, url, False)) is not None
            ]
            out["before"] = [
                load
                for _ in range(BROWSER_RUNS)
                if (load := _load(browser, url, True)) is not None
            ]
            out["bare"] += [
                _bare(browser, url, figure) for _ in range(BROWSER_RUNS - 1)
            ]
            out["moves"] = _moves(browser, url, r, devices, t_ms)
        browser.close()
        return out


def _print_browser(b: dict[str, Any]) -> None:
    bare = statistics.median(b["bare"]) * 1000
    print(
        f"\nin headless Chromium, {TECHNICIANS} technicians + {SITES} job sites, "
        f"up to {BROWSER_RUNS} page loads each (median)"
    )
    print(f"{'case':52} {'ms':>8} {'x bare':>8} {'bytes':>12}")
    print(f"{'bare page: Plotly.newPlot of the same figure':52} {bare:8.0f} {1:8.2f}")
    if not b["after"]:
        print(
            f"login -> map painted: NOT PAINTED within {PAINT_TIMEOUT_S} s (each "
            "full refresh outlasts the 1 s poll, so Dash drops every answer)"
        )
        return
    for name, case in (
        ("after", "after"),
        ("before (identity, full plotly.js)", "before"),
    ):
        loads = b[case]
        if not loads:
            print(
                f"login -> map painted, {name}: not painted within {PAINT_TIMEOUT_S} s"
            )
            continue
        painted = statistics.median(x[0] for x in loads) * 1000
        first = int(statistics.median(x[1] for x in loads))
        again = statistics.median(x[2] for x in loads) * 1000
        cached = int(statistics.median(x[3] for x in loads))
        label = f"login -> map painted, {name}"
        print(f"{label:52} {painted:8.0f} {painted / bare:8.2f} {first:12,d}")
        label = f"  reload with the cache, {name}"
        print(f"{label:52} {again:8.0f} {again / bare:8.2f} {cached:12,d}")
    if b["before"]:
        before = statistics.median(x[1] for x in b["before"])
        after = statistics.median(x[1] for x in b["after"])
        print(f"first-load bytes after / before: {after / before:.2f}")
    moves = [m * 1000 for m in b["moves"]]
    if not moves:
        print(f"fix written -> marker moved: not within {PAINT_TIMEOUT_S} s")
        return
    print(
        f"fix written -> marker moved: p50 {statistics.median(moves):.0f} ms, "
        f"max {max(moves):.0f} ms ({len(moves)} of {MOVES} fixes; the map polls every "
        f"{LIVE_INTERVAL_MS} ms: x poll {statistics.median(moves) / LIVE_INTERVAL_MS:.2f})"
    )


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
            # the callback answers a reference; the figure is fetched beside it
            figure_body = ctx.figures.get(full_out[0]["key"])
            full_bytes = _size(full_out) + len(figure_body)
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
            panels_before, panels_after = _side_panels(ctx, r, RUNS)
            browser = None
            if os.environ.get("BENCH_BROWSER", "1") != "0":
                browser = _browser_figures(
                    dsn,
                    rs.url,
                    base / "home",
                    json.loads(figure_body),
                    r,
                    devices,
                    t_ms,
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
    print(f"side panels on one slow tick (alerts + technician list), {RUNS} runs")
    print(f"{'case':52} {'p50 ms':>8} {'p95 ms':>8} {'x read':>8}")
    lua_p95 = _p95(lua)
    for name, times in (
        ("raw: the live read alone (live_rows_sync)", lua),
        ("each panel reads the live view (as before)", panels_before),
        ("one read shared by both panels (side_panels)", panels_after),
    ):
        print(
            f"{name:52} {statistics.median(times):8.1f} {_p95(times):8.1f} "
            f"{_p95(times) / lua_p95:8.2f}"
        )
    body = figure_body if isinstance(figure_body, bytes) else figure_body.encode()
    print(
        f"full figure as served: {len(body):,} bytes of JSON, "
        f"{len(gzip.compress(body, compresslevel=DYNAMIC_LEVEL, mtime=0)):,} gzipped"
    )
    if browser is not None:
        _print_browser(browser)


if __name__ == "__main__":
    main()
