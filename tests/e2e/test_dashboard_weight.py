"""The dashboard's weight in a real browser: what the first load fetches, text
labels from our own glyphs, and the street basemap failing gracefully."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import plotly.graph_objects as go
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route
from plotly.offline import get_plotlyjs_version

from crewtrack.servers import PortAllocator
from crewtrack.settings import Settings
from dashboard import plotly_loading
from dashboard.maps import label_font, map_style
from tests.e2e.conftest import (
    DESKTOP,
    FLEET,
    OUTPUT,
    ROOT,
    SITE,
    Stack,
    _wait_http,
    login,
)
from tests.e2e.test_dashboard import RENDERED_CIRCLES, TECH_POSITION, _wait_for, drawn

pytestmark = pytest.mark.e2e

LOCAL = "127.0.0.1"
STREET_TILES = Settings().dashboard_tile_url  # the default: OpenStreetMap
FIRST_LOAD_BUDGET = 1_500_000  # bytes transferred (issue 14's target)

# What the browser fetched, as the Resource Timing API counts it on the wire.
TRANSFERRED = """() => {
  const nav = performance.getEntriesByType('navigation').map(e => e.transferSize);
  const res = performance.getEntriesByType('resource').map(e => e.transferSize);
  return nav.concat(res).reduce((a, b) => a + b, 0);
}"""

RENDERED_LABELS = """() => {
  const gd = document.getElementById('label-probe');
  if (!gd || !gd._fullLayout || !gd._fullLayout.map) return -1;
  const m = gd._fullLayout.map._subplot && gd._fullLayout.map._subplot.map;
  if (!m || !m.getStyle()) return -1;
  const ids = m.getStyle().layers.filter(l => l.type === 'symbol').map(l => l.id);
  return m.queryRenderedFeatures({layers: ids}).length;
}"""

STYLE_SOURCES = """(sel) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  const m = gd._fullLayout.map._subplot.map;
  return Object.values(m.getStyle().sources)
    .filter(s => s.type === 'raster').map(s => s.tiles[0]);
}"""

RENDERED_FILLS = """(sel) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  const m = gd._fullLayout.map._subplot.map;
  const ids = m.getStyle().layers.filter(l => l.type === 'fill').map(l => l.id);
  return m.queryRenderedFeatures({layers: ids}).length;
}"""


class Recorded:
    """A page whose requests are recorded and kept to the dashboard's host."""

    def __init__(self, page: Page, block_others: bool) -> None:
        self.page = page
        self.urls: list[str] = []
        self.failed: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        #: What each request asked for, in order: a callback's outputs, or the URL.
        self.asked: list[str] = []
        page.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        if block_others:
            page.route("**/*", self._local_only)

    def _request(self, req: Request) -> None:
        self.urls.append(req.url)
        if "/_dash-update-component" in req.url and req.post_data:
            self.asked.append(str(json.loads(req.post_data).get("output", "")))
        else:
            self.asked.append(req.url)

    def _failed(self, req: Request) -> None:
        self.failed.append(req.url)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)

    @staticmethod
    def _local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == LOCAL:
            route.continue_()
        else:
            route.abort()

    def hosts(self) -> set[str]:
        return {urlsplit(u).hostname or "" for u in self.urls if u.startswith("http")}


@pytest.fixture
def recorded(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Recorded]:
    context = browser.new_context(viewport=DESKTOP)
    rec = Recorded(context.new_page(), block_others=True)
    yield rec
    OUTPUT.mkdir(parents=True, exist_ok=True)
    rec.page.screenshot(path=str(OUTPUT / f"{request.node.name}.png"))
    context.close()


@pytest.fixture(scope="module")
def street_dashboard(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second dashboard on the same data with the default street basemap."""
    settings = stack.settings.replace(
        dashboard_port=PortAllocator().free_port(), dashboard_tile_url=STREET_TILES
    )
    with running_dashboard(settings, tmp_path_factory.mktemp("street")) as url:
        yield url


@contextmanager
def running_dashboard(settings: Settings, folder: Path) -> Iterator[str]:
    """``crewtrack dashboard`` with ``settings`` (log in ``folder``), its URL
    while it runs; stopped afterwards. The bench uses it too."""
    log_path = folder / "dashboard.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crewtrack", "dashboard"],
            env={**os.environ, **settings.as_env()},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{LOCAL}:{settings.dashboard_port}"
    try:
        _wait_http(url + "/healthz", proc, log_path)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def test_the_first_load_is_compressed_uses_the_partial_plotly_and_stays_on_the_dashboard(
    stack: Stack, recorded: Recorded
) -> None:
    p = recorded.page
    encodings: dict[str, str] = {}
    p.on(
        "response",
        lambda r: encodings.__setitem__(r.url, r.headers.get("content-encoding", "")),
    )
    login(p, stack.url, stack.dispatcher)
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
    assert p.evaluate("() => window.Plotly.version") == get_plotlyjs_version()
    # plotly.js once, from dcc.Graph's URL (deferred: dashboard/plotly_loading.py)
    plotly = [u for u in recorded.urls if "plotly" in u]
    assert [urlsplit(u).path for u in plotly] == ["/" + plotly_loading.DASH_PLOTLY_PATH]
    scripts = [u for u in encodings if urlsplit(u).path.endswith(".js")]
    assert scripts
    assert all(encodings[u] == "gzip" for u in scripts), encodings
    assert recorded.hosts() == {LOCAL}
    # nothing competes with the first figure: until it is fetched, the map's
    # callback is asked once; the tick, the technician list and the alerts
    # come after it (docs/performance.md, "Login to map painted")
    figure = next(i for i, a in enumerate(recorded.asked) if "/live-map/figure/" in a)
    before = recorded.asked[:figure]
    assert sum("live-figure.data" in a for a in before) == 1, before
    assert not [a for a in before if "tech-list" in a or "alerts.children" in a]
    transferred = p.evaluate(TRANSFERRED)
    print(f"first load: {transferred:,} bytes transferred")
    assert 0 < transferred < FIRST_LOAD_BUDGET
    assert recorded.failed == []
    assert recorded.page_errors == []


#: A dcc.Graph's plot has been drawn (its layout made) under ``sel``.
GRAPH_DRAWN = """(sel) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  return !!(gd && gd._fullLayout && gd._fullLayout._size);
}"""


def test_a_graph_page_opened_first_draws_with_the_partial_bundle_and_the_map_after_it(
    stack: Stack, recorded: Recorded
) -> None:
    """Deferred plotly.js: dcc.Graph loads it from Dash's URL, answered with
    our bundle; the jobs map, opened next, uses the same plotly.js."""
    p = recorded.page
    sizes: dict[str, int] = {}
    p.on(
        "requestfinished",
        lambda r: (
            sizes.__setitem__(r.url, r.sizes()["responseBodySize"])
            if "plotly" in r.url
            else None
        ),
    )
    login(p, stack.url, stack.dispatcher, next_path="/board")
    p.wait_for_function(GRAPH_DRAWN, arg="#board-graph", timeout=30_000)
    version = p.evaluate("() => window.Plotly.version")
    assert version == get_plotlyjs_version()
    graph_urls = [u for u in recorded.urls if plotly_loading.DASH_PLOTLY_PATH in u]
    assert len(graph_urls) == 1, recorded.urls
    p.click(".topbar .nav a[href='/']")
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
    # one plotly.js for both pages: the bundle, never fetched a second time
    assert [u for u in recorded.urls if "plotly" in u] == graph_urls
    assert p.evaluate("() => window.Plotly.version") == version
    bundle = (ROOT / "dashboard" / "assets" / plotly_loading.BUNDLE).stat().st_size
    gzipped = sizes[graph_urls[0]]
    assert 0 < gzipped < 0.5 * bundle  # compressed, and not the 4.8 MB plotly.min.js
    assert recorded.failed == []
    assert recorded.page_errors == []


def test_with_plotly_in_the_page_the_map_paints_as_before(
    stack: Stack, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = stack.settings.replace(
        dashboard_port=PortAllocator().free_port(), dashboard_plotly="in-page"
    )
    with running_dashboard(settings, tmp_path_factory.mktemp("in-page")) as url:
        context = browser.new_context(viewport=DESKTOP)
        rec = Recorded(context.new_page(), block_others=True)
        try:
            login(rec.page, url, stack.dispatcher)
            _wait_for(rec.page, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
            scripts = rec.page.evaluate(
                "() => [...document.scripts].map(s => s.src).filter(Boolean)"
            )
        finally:
            context.close()
    assert [u for u in scripts if plotly_loading.BUNDLE in u], scripts
    assert not [u for u in rec.urls if plotly_loading.DASH_PLOTLY_PATH in u]
    assert rec.failed == []
    assert rec.page_errors == []


def test_a_text_label_renders_from_the_dashboards_own_glyphs(
    stack: Stack, recorded: Recorded
) -> None:
    p = recorded.page
    glyphs: dict[str, int] = {}
    p.on(
        "response",
        lambda r: glyphs.__setitem__(r.url, r.status) if "/glyphs/" in r.url else None,
    )
    login(p, stack.url, stack.dispatcher)
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
    fig = go.Figure(
        go.Scattermap(
            lat=[SITE[0], SITE[0] + 0.002],
            lon=[SITE[1], SITE[1] + 0.003],
            mode="markers+text",
            text=["DD", "J-000042"],
            textposition="top center",
            textfont=label_font(size=14),
            marker={"size": 12},
        ),
        layout={
            "map": {
                "style": map_style("none"),
                "center": {"lat": SITE[0] + 0.001, "lon": SITE[1] + 0.0015},
                "zoom": 15,
            },
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        },
    )
    p.evaluate(
        """(fig) => {
          const div = document.createElement('div');
          div.id = 'label-probe';
          div.style.cssText = 'width:600px;height:400px';
          document.body.prepend(div);
          Plotly.newPlot(div, fig.data, fig.layout);
        }""",
        json.loads(fig.to_json()),
    )
    _wait_for(p, RENDERED_LABELS, None, 2)  # both labels placed
    # MapLibre 6 would fall back to the machine's own fonts if glyphs failed
    # (with an error per range): the answers show ours were used
    latin = f"http://{LOCAL}:{urlsplit(stack.url).port}/glyphs/DejaVu%20Sans%20Bold/0-255.pbf"
    assert glyphs == {latin: 200}
    assert recorded.hosts() == {LOCAL}
    assert recorded.failed == []
    assert recorded.console_errors == []
    p.locator("#label-probe").screenshot(path=str(OUTPUT / "map-text-labels.png"))


def test_with_the_street_tiles_unreachable_the_map_still_draws_and_updates(
    stack: Stack, street_dashboard: str, browser: Browser
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    rec = Recorded(context.new_page(), block_others=False)  # really try OSM
    p = rec.page
    try:
        login(p, street_dashboard, stack.dispatcher)
        _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
        assert p.evaluate(STYLE_SOURCES, "#live-map") == [STREET_TILES]
        # the job site's fence: a second request, once the markers are drawn
        p.wait_for_function(
            f"sel => ({RENDERED_FILLS})(sel) > 0", arg="#live-map", timeout=15_000
        )
        device = stack.fleet[7]
        target = (round(SITE[0] + 0.003, 6), round(SITE[1] - 0.004, 6))
        stack.publish_fix(device, target[0], target[1], datetime.now(UTC))
        _wait_for(p, TECH_POSITION, ["#live-map", device], list(target))
        p.wait_for_timeout(500)
        OUTPUT.mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(OUTPUT / "map-street-tiles-unreachable.png"))
    finally:
        context.close()
    tile_host = urlsplit(STREET_TILES).hostname
    assert rec.page_errors == []
    assert {urlsplit(u).hostname for u in rec.failed} <= {tile_host}
    # the browser's own line per failed tile; nothing from the page's scripts
    assert all(e.startswith("Failed to load resource") for e in rec.console_errors)
