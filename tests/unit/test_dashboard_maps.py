"""The maps' building blocks: style (basemap, glyphs) and fence layers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.geo import project_local
from core.geofence import Geofence
from crewtrack.settings import Settings
from dashboard.maps import (
    ATTRIBUTION,
    DRAW_TOLERANCE_M,
    GLYPHS_URL,
    fence_layers,
    label_font,
    map_style,
)


def test_the_default_tile_url_draws_the_street_basemap_with_attribution() -> None:
    tiles = Settings().dashboard_tile_url
    style = map_style(tiles)
    assert style["glyphs"] == GLYPHS_URL
    assert style["sources"]["streets"]["tiles"] == [tiles]
    assert style["sources"]["streets"]["attribution"] == ATTRIBUTION
    assert [layer["id"] for layer in style["layers"]] == ["background", "streets"]


def test_none_or_empty_is_offline_mode_with_the_glyphs_still_local() -> None:
    for offline in ("none", "", " OFF "):
        style = map_style(offline)
        assert style["sources"] == {}
        assert [layer["id"] for layer in style["layers"]] == ["background"]
        assert style["glyphs"] == GLYPHS_URL
    assert map_style("none")["id"] != map_style(Settings().dashboard_tile_url)["id"]


def test_labels_use_the_font_the_glyphs_are_built_from() -> None:
    assert label_font()["family"] == "DejaVu Sans Bold"


def test_fences_are_one_outlined_layer_with_coordinates_at_map_precision() -> None:
    circle = Geofence.circle(51.5, -0.12, 80).to_geojson()
    layers = fence_layers([circle, circle])
    assert len(layers) == 1
    assert layers[0]["type"] == "fill"
    assert layers[0]["fill"]["outlinecolor"]
    features = layers[0]["source"]["features"]
    assert len(features) == 2
    geometry = features[0]["geometry"]
    assert set(geometry) == {"type", "coordinates"}  # no storage-only members
    ring = geometry["coordinates"][0]
    assert all(len(repr(v).split(".")[1]) <= 5 for point in ring for v in point)
    assert len(json.dumps(layers)) < len(json.dumps(circle)) * 2 * 0.4


def _ring(fence: dict[str, object]) -> list[list[float]]:
    layer = fence_layers([fence])[0]
    return layer["source"]["features"][0]["geometry"]["coordinates"][0]  # type: ignore[no-any-return]


def test_a_city_sized_circle_fence_is_drawn_with_a_few_dozen_vertices_not_65() -> None:
    ring = _ring(Geofence.circle(51.5, -0.12, 80).to_geojson())
    assert 16 <= len(ring) - 1 <= 32
    assert ring[0] == ring[-1]  # still a closed ring
    small = _ring(Geofence.circle(51.5, -0.12, 25).to_geojson())
    assert len(small) < len(ring)  # fewer still for a small fence


@pytest.mark.parametrize("radius", [20.0, 80.0, 300.0, 500.0])
@pytest.mark.parametrize("lat", [0.0, 51.5, 64.1])
def test_a_drawn_circle_stays_within_the_tolerance_of_the_true_fence(
    radius: float, lat: float
) -> None:
    """Every vertex and every edge's middle, after rounding, lies within
    ``DRAW_TOLERANCE_M`` of the circle the derive worker tests against."""
    lon = 10.75
    ring = np.asarray(_ring(Geofence.circle(lat, lon, radius).to_geojson()))
    middles = (ring[:-1] + ring[1:]) / 2
    for points in (ring, middles):
        x, y = project_local(points[:, 1], points[:, 0], lat, lon)
        off = np.abs(np.hypot(x, y) - radius)
        assert off.max() <= DRAW_TOLERANCE_M, (radius, lat, off.max())


def test_a_polygon_fence_keeps_every_vertex_within_the_tolerance() -> None:
    square = [
        [13.4, 52.5],
        [13.401234567, 52.5],
        [13.401234567, 52.50098765],
        [13.4, 52.50098765],
        [13.4, 52.5],
    ]
    fence = {"type": "Polygon", "coordinates": [square]}
    ring = np.asarray(_ring(fence))
    assert len(ring) == len(square)
    x, y = project_local(ring[:, 1], ring[:, 0], 52.5, 13.4)
    x0, y0 = project_local(
        np.asarray(square)[:, 1], np.asarray(square)[:, 0], 52.5, 13.4
    )
    assert np.hypot(x - x0, y - y0).max() <= DRAW_TOLERANCE_M
