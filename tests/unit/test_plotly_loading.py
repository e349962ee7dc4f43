"""plotly.js deferred only while Dash still loads it as checked; else in the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from crewtrack.settings import SettingsError
from dashboard import plotly_loading as pl

GRAPH_LOADER = (
    "Promise.resolve(window.Plotly||new Promise(function(t,e){var n,r=document."
    'createElement("script");r.src=window._dashPlotlyJSURL,r.async=!0}))'
    ' {157:"async-dropdown",746:"async-graph"}'
)
RENDERER_URL = (
    'window._dashPlotlyJSURL = "".concat(config.requests_pathname_prefix, '
    '"_dash-component-suites/plotly/package_data/plotly.min.js");'
)


def _dash(tmp_path: Path, renderer: str, dcc: str) -> dict[str, Path]:
    files = {
        "renderer": tmp_path / "dash_renderer.min.js",
        "dcc": tmp_path / "dash_core_components.js",
        "dropdown_chunk": tmp_path / "async-dropdown.js",
    }
    files["renderer"].write_text(renderer)
    files["dcc"].write_text(dcc)
    files["dropdown_chunk"].write_text("/* chunk */")
    return files


def test_the_installed_dash_loads_plotly_as_checked_so_it_is_deferred() -> None:
    loading = pl.choose("auto")
    assert loading.mode == pl.DEFERRED, loading.reason
    assert loading.preload_dropdowns


def test_a_dash_that_loads_plotly_as_checked_defers_it(tmp_path: Path) -> None:
    files = _dash(tmp_path, RENDERER_URL, GRAPH_LOADER)
    loading = pl.choose("auto", "4.4.9", **files)
    assert (loading.mode, loading.preload_dropdowns) == (pl.DEFERRED, True)


@pytest.mark.parametrize(
    ("version", "renderer", "dcc", "why"),
    [
        ("4.5.0", RENDERER_URL, GRAPH_LOADER, "is not the checked 4.4 series"),
        ("3.4.1", RENDERER_URL, GRAPH_LOADER, "is not the checked 4.4 series"),
        ("4.4.1", "window._dashPlotlyJSURL = config.url", GRAPH_LOADER, "no longer"),
        ("4.4.1", RENDERER_URL, "r.src=window._dashPlotlyJSURL", "window.Plotly"),
    ],
)
def test_a_dash_that_changed_gets_plotly_in_the_page_and_says_why(
    tmp_path: Path, version: str, renderer: str, dcc: str, why: str
) -> None:
    loading = pl.choose("auto", version, **_dash(tmp_path, renderer, dcc))
    assert loading.mode == pl.IN_PAGE
    assert why in loading.reason


def test_the_setting_can_keep_plotly_in_the_page_and_refuses_other_values(
    tmp_path: Path,
) -> None:
    files = _dash(tmp_path, RENDERER_URL, GRAPH_LOADER)
    loading = pl.choose("in-page", "4.4.1", **files)
    assert loading.mode == pl.IN_PAGE
    assert loading.reason == "CREWTRACK_DASHBOARD_PLOTLY=in-page"
    with pytest.raises(SettingsError, match="CREWTRACK_DASHBOARD_PLOTLY='later'"):
        pl.choose("later", "4.4.1", **files)


def test_the_head_names_the_bundle_only_when_deferred_and_the_dropdown_chunk_when_known() -> (
    None
):
    deferred = pl.Loading(pl.DEFERRED, "", preload_dropdowns=True)
    links = pl.head_links(deferred, "/crew/")
    assert links == (
        '<link rel="preload" id="plotly-bundle" href="/crew/_dash-component-suites/'
        'plotly/package_data/plotly.min.js" as="script">'
        '<link rel="preload" href="/crew/_dash-component-suites/dash/dcc/'
        'async-dropdown.js" as="script">'
    )
    in_page = pl.Loading(pl.IN_PAGE, "", preload_dropdowns=False)
    assert pl.head_links(in_page, "/") == ""
    template = "<head>{%metas%}{%css%}</head>"
    assert pl.index_string(template, "<link>") == "<head>{%metas%}<link>{%css%}</head>"
    assert pl.index_string(template, "") == template
