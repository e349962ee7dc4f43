"""Map building blocks every page's figures share. Pure functions; no queries, no Dash.

Maps are ``go.Scattermap`` (MapLibre) with the job sites, fences and positions
drawn from our own data as markers, text labels and GeoJSON layers.

- :func:`map_style` is the style for ``layout.map.style``: a white background,
  the street basemap (raster tiles of ``dashboard_tile_url``, OpenStreetMap by
  default) unless the URL says offline (:data:`OFFLINE`), and ``glyphs`` from
  the dashboard's own ``/glyphs/`` route, so text labels (``mode="markers+text"``
  with ``textfont=label_font()``) need no network. When tiles cannot load,
  MapLibre leaves the background white and draws everything else.
- Markers stay circles: other ``marker.symbol`` values make plotly.js fetch
  icons from a CDN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

FENCE_COLOUR = "rgba(107, 70, 193, 0.15)"
FENCE_LINE = "#6b46c1"

COORD_DECIMALS = 6  # 0.1 m: finer than any phone fix, and keeps the payload small


def round_coords(values: Sequence[float]) -> list[float]:
    """Coordinates at the precision the maps draw (``COORD_DECIMALS``)."""
    return [round(v, COORD_DECIMALS) for v in values]


#: ``dashboard_tile_url`` values that mean "no basemap" (offline mode).
OFFLINE = frozenset({"", "none", "off", "offline"})
ATTRIBUTION = (
    '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
#: Where the dashboard serves glyph ranges (``dashboard.serving``), for MapLibre.
GLYPHS_URL = "/glyphs/{fontstack}/{range}.pbf"
#: The font the glyphs are built from (scripts/build-glyphs.js); any other
#: font stack asked of the route is answered with it too.
LABEL_FONT = "DejaVu Sans Bold"
BACKGROUND = "#ffffff"
TILE_MAXZOOM = 19  # OpenStreetMap's standard tiles stop at 19


def has_basemap(tile_url: str) -> bool:
    """Whether ``tile_url`` names a tile server (not :data:`OFFLINE`)."""
    return tile_url.strip().lower() not in OFFLINE


def map_style(tile_url: str, glyphs_url: str = GLYPHS_URL) -> dict[str, Any]:
    """A MapLibre style: background, the street basemap if any, our own glyphs.

    Its ``id`` changes with the basemap, so plotly.js swaps the style only
    when the basemap does (not on every figure update).
    """
    style: dict[str, Any] = {
        "version": 8,
        "id": "crewtrack-streets" if has_basemap(tile_url) else "crewtrack-plain",
        "glyphs": glyphs_url,
        "sources": {},
        "layers": [
            {
                "id": "background",
                "type": "background",
                "paint": {"background-color": BACKGROUND},
            }
        ],
    }
    if has_basemap(tile_url):
        style["sources"]["streets"] = {
            "type": "raster",
            "tiles": [tile_url.strip()],
            "tileSize": 256,
            "maxzoom": TILE_MAXZOOM,
            "attribution": ATTRIBUTION,
        }
        style["layers"].append({"id": "streets", "type": "raster", "source": "streets"})
    return style


def label_font(size: int = 11, color: str = "#1a202c") -> dict[str, Any]:
    """``textfont`` of a Scattermap trace whose labels use our glyphs."""
    return {"family": LABEL_FONT, "size": size, "color": color}


def base_layers(tile_url: str) -> list[dict[str, Any]]:
    """The raster basemap as a plotly layer (for figures on a named style such
    as ``white-bg``; :func:`map_style` carries it itself), else nothing."""
    if not has_basemap(tile_url):
        return []
    return [
        {
            "sourcetype": "raster",
            "source": [tile_url.strip()],
            "below": "traces",
            "sourceattribution": ATTRIBUTION,
        }
    ]


def _drawn(geometry: dict[str, Any]) -> dict[str, Any]:
    """A (multi)polygon as the map draws it: coordinates at ``COORD_DECIMALS``,
    nothing else (a circle's ``circle`` member is for storage, not drawing).
    numpy rounds a ring at once: 1,000 fences of 65 vertices in ~15 ms, where
    ``round()`` per number took 120 ms."""
    polygons: Any = geometry.get("coordinates", [])
    single = geometry.get("type") == "Polygon"
    if single:
        polygons = [polygons]
    rounded = [
        [
            np.round(np.asarray(ring, dtype=float), COORD_DECIMALS).tolist()
            for ring in poly
        ]
        for poly in polygons
    ]
    if single:
        return {"type": "Polygon", "coordinates": rounded[0]}
    return {"type": "MultiPolygon", "coordinates": rounded}


def fence_layers(fences: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One filled, outlined layer of GeoJSON (multi)polygons (local source).

    One layer, not a fill and a line layer: each plotly layer carries its own
    copy of the source, and 1,000 job sites' fences were 5.7 MB of the
    figure's JSON twice over (docs/performance.md, "Dashboard weight").
    """
    if not fences:
        return []
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": _drawn(g), "properties": {}} for g in fences
        ],
    }
    return [
        {
            "sourcetype": "geojson",
            "source": collection,
            "type": "fill",
            "color": FENCE_COLOUR,
            "fill": {"outlinecolor": FENCE_LINE},
            "below": "traces",
        }
    ]


def fit_view(
    lats: Sequence[float], lons: Sequence[float]
) -> tuple[dict[str, float], float]:
    """Centre and zoom that show every point (Web Mercator, ~900 px wide map)."""
    if not lats:
        return {"lat": 0.0, "lon": 0.0}, 1.0
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    span = max(lat1 - lat0, (lon1 - lon0) * math.cos(math.radians((lat0 + lat1) / 2)))
    zoom = 15.0 if span < 1e-4 else max(1.0, min(17.0, math.log2(360 / span) - 0.8))
    return {"lat": (lat0 + lat1) / 2, "lon": (lon0 + lon1) / 2}, zoom


def fence_points(fence: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Latitudes and longitudes of a GeoJSON (multi)polygon's vertices."""
    coords: Any = fence.get("coordinates", [])
    if fence.get("type") == "Polygon":
        coords = [coords]
    lats = [p[1] for poly in coords for ring in poly for p in ring]
    lons = [p[0] for poly in coords for ring in poly for p in ring]
    return lats, lons
