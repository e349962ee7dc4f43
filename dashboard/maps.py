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

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.geo import unproject_local

FENCE_COLOUR = "rgba(107, 70, 193, 0.15)"
FENCE_LINE = "#6b46c1"

COORD_DECIMALS = 6  # 0.1 m: finer than any phone fix, and keeps the payload small
#: How far a drawn fence may stray from the true one: under a pixel at street
#: zoom (z16 is ~1.5 m a pixel at 51°N). The fences are most of the first
#: load's bytes (docs/performance.md, "Dashboard weight").
DRAW_TOLERANCE_M = 1.5
#: Fences are drawn at 5 decimals (a step of 1.1 m, so at most ~0.7 m off).
FENCE_DECIMALS = 5
#: A circle's chords may cut inside it by this much (the rest of the
#: tolerance is the rounding): 29 vertices for an 80 m fence, not 64.
CIRCLE_SAGITTA_M = 0.5
CIRCLE_MIN_VERTICES = 12
CIRCLE_MAX_VERTICES = 64


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


#: Where the dashboard serves :func:`map_style` for its configured basemap.
STYLE_PATH = "/map-style.json"


def map_style_url(tile_url: str) -> str:
    """What the figures name as their map style: the URL of :func:`map_style`.

    A URL, not the style object itself: plotly.js 4.1 compares a style object
    with the one it first gave MapLibre (which MapLibre has changed since), so
    an object looks new on every update and the map's style is reloaded each
    time, leaving the old points of an emptied trace on the map. A string
    compares equal. The query names the style (and changes with the basemap).
    """
    return f"{STYLE_PATH}?v={map_style(tile_url)['id']}"


def label_font(size: int = 11, color: str = "#1a202c") -> dict[str, Any]:
    """``textfont`` of a Scattermap trace whose labels use our glyphs."""
    return {"family": LABEL_FONT, "size": size, "color": color}


def circle_vertices(radius_m: float) -> int:
    """How many vertices draw a circle of ``radius_m`` with its chords within
    ``CIRCLE_SAGITTA_M`` of it (sagitta r·(1 − cos(π/n)))."""
    if radius_m <= CIRCLE_SAGITTA_M:
        return CIRCLE_MIN_VERTICES
    n = math.ceil(math.pi / math.acos(1.0 - CIRCLE_SAGITTA_M / radius_m))
    return min(max(n, CIRCLE_MIN_VERTICES), CIRCLE_MAX_VERTICES)


@functools.cache
def _unit_circle(n: int) -> tuple[Any, Any]:
    """cos and sin of ``n`` + 1 angles around the circle (the ring's closing
    point repeats the first): shared by every circle of ``n`` vertices."""
    ang = np.linspace(0.0, 2.0 * np.pi, n + 1)
    return np.cos(ang), np.sin(ang)


def _circle_ring(circle: dict[str, Any]) -> list[list[float]]:
    """A stored circle (``{center: [lon, lat], radius_m}``) as a closed ring of
    :func:`circle_vertices` points on it."""
    lon0, lat0 = (float(v) for v in circle["center"])
    radius = float(circle["radius_m"])
    cos, sin = _unit_circle(circle_vertices(radius))
    lat, lon = unproject_local(radius * cos, radius * sin, lat0, lon0)
    ring = np.column_stack((lon, lat))
    ring[-1] = ring[0]
    return ring.tolist()  # type: ignore[no-any-return]


def _drawn(geometry: dict[str, Any]) -> dict[str, Any]:
    """A (multi)polygon as the map draws it: a circle with only the vertices it
    needs (:func:`circle_vertices`), coordinates at ``FENCE_DECIMALS``, nothing
    else (a circle's ``circle`` member is for storage, not drawing). numpy
    rounds a ring at once: 1,000 fences of 65 vertices in ~15 ms, where
    ``round()`` per number took 120 ms."""
    circle = geometry.get("circle")
    if isinstance(circle, dict) and "center" in circle and "radius_m" in circle:
        geometry = {"type": "Polygon", "coordinates": [_circle_ring(circle)]}
    polygons: Any = geometry.get("coordinates", [])
    single = geometry.get("type") == "Polygon"
    if single:
        polygons = [polygons]
    rounded = [
        [
            np.round(np.asarray(ring, dtype=float), FENCE_DECIMALS).tolist()
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


#: MapLibre's world is 512 px wide at zoom 0.
WORLD_PX = 512.0
#: The share of the map the fitted points may cover (a margin around them).
FIT_SHARE = 0.8


def _mercator_y(lat: float) -> float:
    lat = max(-85.0, min(85.0, lat))
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def fit_view(
    lats: Sequence[float],
    lons: Sequence[float],
    width_px: float = 900.0,
    height_px: float = 600.0,
) -> tuple[dict[str, float], float]:
    """Centre and zoom that show every point on a map of that size (Web Mercator)."""
    if not lats:
        return {"lat": 0.0, "lon": 0.0}, 1.0
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    zooms = [17.0]  # a single point (or all on one spot): streets-level
    if lon1 - lon0 > 1e-9:
        zooms.append(math.log2(width_px * FIT_SHARE * 360 / (WORLD_PX * (lon1 - lon0))))
    dy = _mercator_y(lat1) - _mercator_y(lat0)
    if dy > 1e-12:
        zooms.append(math.log2(height_px * FIT_SHARE * 2 * math.pi / (WORLD_PX * dy)))
    zoom = 15.0 if len(zooms) == 1 else max(1.0, min(zooms))
    return {"lat": (lat0 + lat1) / 2, "lon": (lon0 + lon1) / 2}, zoom


def map_size(
    viewport: dict[str, Any] | None,
    beside_px: float,
    height_share: float,
    stack_below_px: float,
) -> tuple[float, float]:
    """The size a map gets in a browser window (``viewport`` = {w, h} from the
    shell's store): the window width less the panels beside it, unless the
    window is narrower than ``stack_below_px`` and the panels stack under it."""
    w = float((viewport or {}).get("w") or 1400)
    h = float((viewport or {}).get("h") or 900)
    width = w - 32 if w < stack_below_px else w - beside_px
    return max(width, 200.0), max(h * height_share, 200.0)


def fence_points(fence: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Latitudes and longitudes of a GeoJSON (multi)polygon's vertices."""
    coords: Any = fence.get("coordinates", [])
    if fence.get("type") == "Polygon":
        coords = [coords]
    lats = [p[1] for poly in coords for ring in poly for p in ring]
    lons = [p[0] for poly in coords for ring in poly for p in ring]
    return lats, lons
