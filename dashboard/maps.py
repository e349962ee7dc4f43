"""Map building blocks every page's figures share. Pure functions; no queries, no Dash.

Maps are ``go.Scattermap`` (MapLibre) on the ``white-bg`` style with the job
sites, fences and positions drawn from our own data as circle markers and
GeoJSON layers, so they render with no tile server and no internet. A tile URL
(``dashboard_tile_url``) adds a raster street basemap underneath when set.
Only circle markers are used: text labels and other symbols make MapLibre
fetch glyphs and sprites from the network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

FENCE_COLOUR = "rgba(107, 70, 193, 0.15)"
FENCE_LINE = "#6b46c1"

COORD_DECIMALS = 6  # 0.1 m: finer than any phone fix, and keeps the payload small


def round_coords(values: Sequence[float]) -> list[float]:
    """Coordinates at the precision the maps draw (``COORD_DECIMALS``)."""
    return [round(v, COORD_DECIMALS) for v in values]


def base_layers(tile_url: str) -> list[dict[str, Any]]:
    """The raster basemap layer when a tile URL is configured, else nothing."""
    if not tile_url:
        return []
    return [
        {
            "sourcetype": "raster",
            "source": [tile_url],
            "below": "traces",
            "sourceattribution": "Map data © OpenStreetMap contributors",
        }
    ]


def fence_layers(fences: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill + outline layers for a list of GeoJSON geometries (local source)."""
    if not fences:
        return []
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": g, "properties": {}} for g in fences
        ],
    }
    return [
        {
            "sourcetype": "geojson",
            "source": collection,
            "type": "fill",
            "color": FENCE_COLOUR,
            "below": "traces",
        },
        {
            "sourcetype": "geojson",
            "source": collection,
            "type": "line",
            "color": FENCE_LINE,
            "line": {"width": 2},
            "below": "traces",
        },
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
