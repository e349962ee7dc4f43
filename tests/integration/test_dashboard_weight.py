"""The dashboard's first load: compressed, cacheable files and the partial plotly bundle."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from flask.testing import FlaskClient

from crewtrack.settings import Settings
from dashboard import plotly_loading, serving
from dashboard.app import ASSETS
from dashboard.maps import LABEL_FONT
from tests.integration.dashboard_login import log_in
from tests.integration.security.test_web import dashboard  # noqa: F401  (fixture)

GZIP = {"Accept-Encoding": "gzip, deflate, br"}
_SCRIPT = re.compile(r'<script src="([^"]+)"')
_PRELOAD = re.compile(r'<link rel="preload"[^>]* href="([^"]+)"')
BUNDLE = "plotly-crewtrack.min.js"


def _logged_in(dashboard: Any, settings: Settings) -> FlaskClient:  # noqa: F811
    client: FlaskClient = dashboard(settings)
    log_in(client, settings.database_url)
    return client


def _scripts(client: FlaskClient) -> list[str]:
    page = client.get("/", headers=GZIP, buffered=True)
    assert page.status_code == 200
    html = gzip.decompress(page.get_data()).decode()
    return _SCRIPT.findall(html)


def test_every_script_of_the_first_load_is_gzipped_and_fingerprinted_ones_kept_a_year(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    client = _logged_in(dashboard, settings)
    scripts = _scripts(client)
    assert scripts, "the page names its scripts"
    for url in scripts:
        answer = client.get(url, headers=GZIP, buffered=True)
        assert answer.status_code == 200, url
        assert answer.headers["Content-Encoding"] == "gzip", url
        assert "Accept-Encoding" in answer.headers["Vary"]
        plain = client.get(url, buffered=True).get_data()  # the same file, uncompressed
        assert gzip.decompress(answer.get_data()) == plain, url
        assert answer.headers["Cache-Control"] == serving.IMMUTABLE, url


def test_the_page_loads_the_partial_plotly_bundle_and_never_the_full_one(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    """Deferred (the default): the page names the bundle in a preload link, not
    among its scripts, and dcc.Graph's plotly.js URL answers the bundle too."""
    client = _logged_in(dashboard, settings)
    page = client.get("/").get_data(as_text=True)
    assert not [u for u in _SCRIPT.findall(page) if BUNDLE in u or "plotly" in u]
    links = _PRELOAD.findall(page)
    # the bundle under dcc.Graph's URL: one download for the map and the graphs
    assert links == [
        "/" + plotly_loading.DASH_PLOTLY_PATH,
        "/" + plotly_loading.DROPDOWN_CHUNK_PATH,
    ]
    assert '<link rel="preload" id="plotly-bundle"' in page
    for_graph = client.get(links[0], buffered=True)
    assert for_graph.status_code == 200
    assert for_graph.get_data() == (ASSETS / BUNDLE).read_bytes()
    chunk = client.get(links[1], buffered=True)
    assert chunk.status_code == 200
    assert chunk.get_data() == plotly_loading.DROPDOWN_CHUNK.read_bytes()


def test_with_plotly_in_the_page_the_bundle_is_one_of_its_scripts(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    client = _logged_in(dashboard, settings.replace(dashboard_plotly="in-page"))
    scripts = _scripts(client)
    bundles = [u for u in scripts if BUNDLE in u]
    assert len(bundles) == 1, scripts
    assert not any("package_data/plotly.min.js" in u for u in scripts)
    page = client.get("/").get_data(as_text=True)
    assert 'id="plotly-bundle"' not in page
    body = client.get(bundles[0], buffered=True).get_data()
    assert body == (ASSETS / BUNDLE).read_bytes()
    full = client.get("/" + plotly_loading.DASH_PLOTLY_PATH, buffered=True)
    assert len(body) < 0.7 * len(full.get_data())  # Dash's own: the full 4.8 MB


def test_a_file_without_fingerprint_is_revalidated_and_answers_304_when_unchanged(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    client = _logged_in(dashboard, settings)
    url = "/_dash-component-suites/plotly/package_data/plotly.min.js"
    first = client.get(url, headers=GZIP, buffered=True)
    assert first.headers["Cache-Control"] == "no-cache"
    assert first.headers["Content-Encoding"] == "gzip"
    etag = first.headers["ETag"]
    again = client.get(url, headers={**GZIP, "If-None-Match": etag}, buffered=True)
    assert again.status_code == 304
    assert again.get_data() == b""
    asset = client.get(
        f"/assets/{BUNDLE}", headers=GZIP, buffered=True
    )  # no ?m= fingerprint
    assert asset.headers["Cache-Control"] == "no-cache"
    again = client.get(
        f"/assets/{BUNDLE}",
        headers={**GZIP, "If-None-Match": asset.headers["ETag"]},
        buffered=True,
    )
    assert again.status_code == 304


def test_a_callback_answer_is_gzipped_and_never_cached_for_others(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    client = _logged_in(dashboard, settings)
    layout = client.get("/_dash-layout", headers=GZIP, buffered=True)
    assert layout.status_code == 200
    assert layout.headers["Content-Encoding"] == "gzip"
    assert layout.headers["Cache-Control"] == serving.PER_USER
    assert json.loads(gzip.decompress(layout.get_data()))["type"]
    plain = client.get("/_dash-layout", buffered=True)
    assert "Content-Encoding" not in plain.headers  # a client that did not ask
    assert json.loads(plain.get_data())["type"]


def test_the_bundle_is_the_pinned_plotly_js_that_python_plotly_writes_figures_for() -> (
    None
):
    from plotly.offline import get_plotlyjs_version

    root = ASSETS.parents[1]
    pinned = json.loads((root / "package.json").read_text())
    assert pinned["devDependencies"]["plotly.js"] == get_plotlyjs_version()
    head = (ASSETS / BUNDLE).read_bytes()[:300].decode()
    assert f"plotly.js {get_plotlyjs_version()}" in head


def test_every_trace_type_the_dashboard_draws_is_in_the_bundle() -> None:
    root = ASSETS.parents[1]
    used = set()
    for source in (root / "dashboard").rglob("*.py"):
        used |= {
            m.lower() for m in re.findall(r"\bgo\.([A-Z]\w+)\(", source.read_text())
        }
    used -= {"figure"}
    traces = json.loads((root / "package.json").read_text())["plotlyTraces"]
    assert used, "the dashboard draws something"
    assert used <= set(traces), used - set(traces)


GLYPHS = ASSETS / "glyphs"


def test_the_glyph_route_answers_any_font_stack_with_the_built_font(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    client = _logged_in(dashboard, settings)
    built = (GLYPHS / LABEL_FONT / "0-255.pbf").read_bytes()
    ours = client.get("/glyphs/DejaVu%20Sans%20Bold/0-255.pbf", buffered=True)
    assert ours.status_code == 200
    assert ours.mimetype == "application/x-protobuf"
    assert ours.get_data() == built
    # plotly.js' default stack for text: answered with ours, not a 404
    default = "/glyphs/Open%20Sans%20Regular,Arial%20Unicode%20MS%20Regular/0-255.pbf"
    other = client.get(default, headers=GZIP, buffered=True)
    assert other.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(other.get_data()) == built
    assert other.headers["Cache-Control"] == "no-cache"


def test_a_range_the_font_lacks_is_an_empty_pbf_and_a_malformed_one_404(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    client = _logged_in(dashboard, settings)
    assert not (GLYPHS / LABEL_FONT / "19968-20223.pbf").exists()  # CJK
    cjk = client.get("/glyphs/DejaVu%20Sans%20Bold/19968-20223.pbf", buffered=True)
    assert cjk.status_code == 200
    assert cjk.get_data() == b""
    bad = client.get("/glyphs/DejaVu%20Sans%20Bold/0-255x.pbf", buffered=True)
    assert bad.status_code == 404


def test_a_font_stack_never_names_a_path_outside_the_glyphs() -> None:
    found = serving.glyph_file(GLYPHS, "../../../etc", "0-255")
    assert found == GLYPHS / LABEL_FONT / "0-255.pbf"  # the default font, not a path
    assert serving.glyph_file(GLYPHS, "DejaVu Sans Bold", "../x") is None


#: The browser's first request for the jobs map (page load: no tick yet).
MAP_REQUEST = {
    "output": (
        "..live-figure.data...live-delta.data...live-signature.data"
        "...live-counts.children.."
    ),
    "outputs": [
        {"id": "live-figure", "property": "data"},
        {"id": "live-delta", "property": "data"},
        {"id": "live-signature", "property": "data"},
        {"id": "live-counts", "property": "children"},
    ],
    "inputs": [
        {"id": "live-tick", "property": "n_intervals", "value": None},
        {"id": "filter-states", "property": "value", "value": None},
        {"id": "filter-job-status", "property": "value", "value": None},
        {"id": "filter-technicians", "property": "value", "value": None},
        {"id": "filter-teams", "property": "value", "value": None},
        {"id": "viewport", "property": "data", "value": {"w": 1400, "h": 900}},
    ],
    "state": [
        {"id": "focus", "property": "data", "value": None},
        {"id": "live-signature", "property": "data", "value": None},
    ],
}


def test_the_map_callback_answers_a_reference_and_the_browser_fetches_the_figure(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    client = _logged_in(dashboard, settings)
    answer = client.post("/_dash-update-component", json=MAP_REQUEST)
    assert answer.status_code == 200, answer.text
    ref = answer.get_json()["response"]["live-figure"]["data"]
    signature = answer.get_json()["response"]["live-signature"]["data"]
    # Dash carries only the reference; the figure is fetched beside it, and the
    # fences after it (they were most of a first load's bytes)
    assert set(ref) == {"key", "url", "sig", "fences"}
    assert ref["sig"] == signature["sig"]
    fetched = client.get("/" + ref["url"], buffered=True)
    assert fetched.status_code == 200
    # named by its digest: the browser may keep it, nobody else may
    assert fetched.headers["Cache-Control"] == "private, max-age=86400, immutable"
    figure = json.loads(fetched.get_data())
    assert [t["name"] for t in figure["data"]] == ["halo", "Job sites", "Technicians"]
    assert figure["layout"]["map"]["style"].startswith("/map-style.json")
    fences = client.get("/" + ref["fences"], buffered=True)
    assert fences.status_code == 200
    assert fences.headers["Cache-Control"] == "private, max-age=86400, immutable"
    again = client.post("/_dash-update-component", json=MAP_REQUEST)
    assert again.get_json()["response"]["live-figure"]["data"]["key"] == ref["key"]
    assert client.get("/live-map/figure/" + "0" * 32 + ".json").status_code == 404


def test_a_figure_is_only_for_a_logged_in_user(
    dashboard: Any,  # noqa: F811
    settings: Settings,
) -> None:
    client = _logged_in(dashboard, settings)
    answer = client.post("/_dash-update-component", json=MAP_REQUEST)
    url = "/" + answer.get_json()["response"]["live-figure"]["data"]["url"]
    stranger: FlaskClient = dashboard(settings)
    refused = stranger.get(url)
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith("/login")
