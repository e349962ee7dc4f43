"""The maps' building blocks: style (basemap, glyphs) and fence layers."""

from __future__ import annotations

import json

from core.geofence import Geofence
from crewtrack.settings import Settings
from dashboard.maps import (
    ATTRIBUTION,
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
    assert len(ring) == len(circle["coordinates"][0])
    assert all(len(repr(v).split(".")[1]) <= 6 for point in ring for v in point)
    assert len(json.dumps(layers)) < len(json.dumps(circle)) * 2 * 0.7
