"""Data → Plotly figures. Pure functions; no queries, no Dash.

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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.pages.live_map.model import LiveTech, site_geofence
from dashboard.queries import JobSite

STATE_COLOURS = {
    "clocked_in": "#1a9850",
    "travelling": "#2b6cb0",
    "on_hold": "#e08214",
    "offline": "#8c8c8c",
}
JOB_COLOURS = {
    "pending": "#b794f4",
    "scheduled": "#6b46c1",
    "in_progress": "#1a9850",
    "on_hold": "#e08214",
    "completed": "#4a5568",
    "cancelled": "#a0aec0",
}
FENCE_COLOUR = "rgba(107, 70, 193, 0.15)"
FENCE_LINE = "#6b46c1"

#: Live map trace order: every technician in one trace (coloured per marker, so
#: a state change is a colour change, not a move between traces), the job
#: sites. The state colours' legend is the counts panel beside the map (with
#: the number in each state). The live callback updates the technician trace in
#: place by index (see :func:`marker_delta`).
TECH_TRACE = 0
SITES_TRACE = 1

#: Audit map trace order.
AUDIT_TRAIL, AUDIT_FIXES, AUDIT_GAPS, AUDIT_EDGES, AUDIT_CLOCK, AUDIT_REPLAY = range(6)

COORD_DECIMALS = 6  # 0.1 m: finer than any phone fix, and keeps the payload small


def _round(values: Sequence[float]) -> list[float]:
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


def _site_fence(site: JobSite) -> dict[str, Any] | None:
    fence = site_geofence(site)
    return None if fence is None else fence.to_geojson()


@dataclass(frozen=True)
class Markers:
    """The technician trace's arrays, in trace order (by device id)."""

    ids: tuple[str, ...]
    lat: list[float]
    lon: list[float]
    colour: list[str]
    hover: list[str]


def tech_markers(techs: Sequence[LiveTech]) -> Markers:
    """What the technician trace shows, marker by marker."""
    ordered = sorted(techs, key=lambda t: t.device_id)
    return Markers(
        ids=tuple(t.device_id for t in ordered),
        lat=_round([t.lat for t in ordered]),
        lon=_round([t.lon for t in ordered]),
        colour=[STATE_COLOURS[t.state] for t in ordered],
        hover=[f"{t.name} · {t.job or 'no job'}" for t in ordered],
    )


def tech_trace_data(m: Markers) -> dict[str, Any]:
    """Every array of the technician trace (first load, or the set of markers changed)."""
    return {
        "lat": m.lat,
        "lon": m.lon,
        "customdata": [["tech", d] for d in m.ids],
        "hovertext": m.hover,
        "marker": {"size": 11, "color": m.colour},
    }


def marker_delta(old: Markers, new: Markers) -> dict[str, Any]:
    """What changed between two views of the same markers, by index.

    ``i``/``lat``/``lon``: markers that moved; ``si``/``c``/``h``: markers
    whose colour (state) or hover text changed; ``n``: the trace length both
    views share (the browser applies the delta only to a trace that long).
    """
    assert old.ids == new.ids
    moved = [
        j
        for j, (a, b, c, d) in enumerate(
            zip(old.lat, old.lon, new.lat, new.lon, strict=True)
        )
        if a != c or b != d
    ]
    styled = [
        j
        for j, (a, b, c, d) in enumerate(
            zip(old.colour, old.hover, new.colour, new.hover, strict=True)
        )
        if a != c or b != d
    ]
    return {
        "trace": TECH_TRACE,
        "n": len(new.ids),
        "i": moved,
        "lat": [new.lat[j] for j in moved],
        "lon": [new.lon[j] for j in moved],
        "si": styled,
        "c": [new.colour[j] for j in styled],
        "h": [new.hover[j] for j in styled],
    }


def sites_trace_data(sites: Sequence[JobSite]) -> dict[str, Any]:
    return {
        "lat": _round([s.lat for s in sites]),
        "lon": _round([s.lon for s in sites]),
        "customdata": [["job", s.job_id] for s in sites],
        "hovertext": [
            f"{s.number or s.title} · {s.status.replace('_', ' ')} · {s.client}"
            for s in sites
        ],
        "marker": {
            "size": 16,
            "color": [JOB_COLOURS.get(s.status, "#4a5568") for s in sites],
            "opacity": 0.85,
        },
    }


def live_map(
    techs: Sequence[LiveTech], sites: Sequence[JobSite], tile_url: str
) -> go.Figure:
    """The dispatcher's map: technicians by state, job sites and fences."""
    fig = go.Figure()
    fig.add_trace(
        go.Scattermap(
            name="Technicians",
            mode="markers",
            hoverinfo="text",
            showlegend=False,
            **tech_trace_data(tech_markers(techs)),
        )
    )
    fig.add_trace(
        go.Scattermap(
            name="Job sites",
            mode="markers",
            hoverinfo="text",
            **sites_trace_data(sites),
        )
    )

    fences = [f for f in (_site_fence(s) for s in sites) if f is not None]
    center, zoom = fit_view(
        [t.lat for t in techs] + [s.lat for s in sites],
        [t.lon for t in techs] + [s.lon for s in sites],
    )
    fig.update_layout(
        map={
            "style": "white-bg",
            "center": center,
            "zoom": zoom,
            "layers": base_layers(tile_url) + fence_layers(fences),
        },
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        uirevision="live-map",  # keep the dispatcher's pan/zoom across updates
        clickmode="event",
    )
    return fig


# -------------------------------------------------------------- audit map
def accuracy_circles(
    lats: Sequence[float],
    lons: Sequence[float],
    acc: Sequence[float],
    vertices: int = 24,
) -> list[dict[str, Any]]:
    """Each fix's accuracy radius as a GeoJSON polygon (metres → degrees locally)."""
    out: list[dict[str, Any]] = []
    angles = np.linspace(0, 2 * np.pi, vertices + 1)
    for lat, lon, r in zip(lats, lons, acc, strict=True):
        if r is None or not np.isfinite(r) or r <= 0:
            continue
        dlat = r / 111_320.0 * np.sin(angles)
        dlon = r / (111_320.0 * max(math.cos(math.radians(lat)), 1e-6)) * np.cos(angles)
        ring = [
            [round(lon + x, 7), round(lat + y, 7)]
            for x, y in zip(dlon, dlat, strict=True)
        ]
        out.append({"type": "Polygon", "coordinates": [ring]})
    return out


def audit_map(
    trail: pd.DataFrame,
    all_fixes: pd.DataFrame,
    fence: dict[str, Any] | None,
    edges: Sequence[dict[str, Any]],
    clock: Sequence[dict[str, Any]],
    gaps: Sequence[tuple[int, int]],
    show_accuracy: bool,
    tile_url: str,
) -> go.Figure:
    """The location-history map: trail, fixes, gaps, fence, edges, clock events.

    ``trail`` is the (possibly simplified) line; ``all_fixes`` every fix as a dot
    (with accuracy circles on demand); ``gaps`` index pairs into ``all_fixes``.
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scattermap(
            name="Trail",
            mode="lines",
            lat=_round(trail["lat"].tolist()),
            lon=_round(trail["lon"].tolist()),
            line={"width": 3, "color": "#2b6cb0"},
            hoverinfo="skip",
        )
    )
    times = [t.strftime("%H:%M:%S") for t in all_fixes["time"]]
    acc = all_fixes["accuracy"].tolist()
    fig.add_trace(
        go.Scattermap(
            name="Fixes",
            mode="markers",
            lat=_round(all_fixes["lat"].tolist()),
            lon=_round(all_fixes["lon"].tolist()),
            marker={"size": 6, "color": "#1a365d"},
            hovertext=[
                f"{t} UTC · ±{a:.0f} m" if a == a else f"{t} UTC · accuracy unknown"
                for t, a in zip(times, acc, strict=True)
            ],
            hoverinfo="text",
        )
    )
    gap_lat: list[float | None] = []
    gap_lon: list[float | None] = []
    fix_lat, fix_lon = all_fixes["lat"].tolist(), all_fixes["lon"].tolist()
    for i, j in gaps:
        gap_lat += [fix_lat[i], fix_lat[j], None]
        gap_lon += [fix_lon[i], fix_lon[j], None]
    fig.add_trace(
        go.Scattermap(
            name="Gaps (no fix)",
            mode="lines",
            lat=gap_lat,
            lon=gap_lon,
            line={"width": 4, "color": "#c53030"},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scattermap(
            name="Arrival / departure (GPS)",
            mode="markers",
            lat=[e["lat"] for e in edges],
            lon=[e["lon"] for e in edges],
            marker={"size": 16, "color": [e["colour"] for e in edges]},
            hovertext=[e["label"] for e in edges],
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scattermap(
            name="Clock events",
            mode="markers",
            lat=[c["lat"] for c in clock],
            lon=[c["lon"] for c in clock],
            marker={"size": 13, "color": "#805ad5"},
            hovertext=[c["label"] for c in clock],
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scattermap(
            name="Replay",
            mode="markers",
            lat=[],
            lon=[],
            marker={"size": 18, "color": "#d69e2e"},
            hoverinfo="skip",
        )
    )
    layers = base_layers(tile_url)
    if show_accuracy and len(all_fixes):
        circles = accuracy_circles(
            all_fixes["lat"].tolist(), all_fixes["lon"].tolist(), acc
        )
        if circles:
            layers.append(
                {
                    "sourcetype": "geojson",
                    "source": {
                        "type": "FeatureCollection",
                        "features": [
                            {"type": "Feature", "geometry": c, "properties": {}}
                            for c in circles
                        ],
                    },
                    "type": "line",
                    "color": "rgba(43, 108, 176, 0.45)",
                    "below": "traces",
                }
            )
    if fence is not None:
        layers += fence_layers([fence])
    lats = all_fixes["lat"].tolist()
    lons = all_fixes["lon"].tolist()
    if fence is not None and not lats:
        lats, lons = _fence_points(fence)
    center, zoom = fit_view(lats, lons)
    fig.update_layout(
        map={"style": "white-bg", "center": center, "zoom": zoom, "layers": layers},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        uirevision="audit-map",
    )
    return fig


def _fence_points(fence: dict[str, Any]) -> tuple[list[float], list[float]]:
    coords: Any = fence.get("coordinates", [])
    if fence.get("type") == "Polygon":
        coords = [coords]
    lats = [p[1] for poly in coords for ring in poly for p in ring]
    lons = [p[0] for poly in coords for ring in poly for p in ring]
    return lats, lons


def audit_timeline(
    times: Sequence[datetime],
    distance_m: Sequence[float],
    windows: Sequence[dict[str, Any]],
    clock: Sequence[dict[str, Any]],
) -> go.Figure:
    """Distance to the fence edge over time, edge windows shaded, clock events marked.

    Negative distance is inside the site: the reader sees the crossing, its
    uncertainty window and the clock time on one time axis.
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=list(times),
            y=[round(d, 1) for d in distance_m],
            mode="lines+markers",
            name="Distance to fence edge (m, < 0 inside)",
            marker={"size": 4},
            line={"color": "#2b6cb0"},
        )
    )
    for w in windows:
        if w["earliest"] is not None and w["latest"] is not None:
            fig.add_vrect(
                x0=w["earliest"],
                x1=w["latest"],
                fillcolor=w["colour"],
                opacity=0.2,
                line_width=0,
            )
        fig.add_vline(x=w["at"], line={"color": w["colour"], "width": 2})
    for c in clock:
        fig.add_vline(x=c["at"], line={"color": "#805ad5", "width": 2, "dash": "dash"})
    fig.add_hline(y=0, line={"color": "#6b46c1", "width": 1})
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 30},
        height=220,
        showlegend=False,
        yaxis_title="m from edge",
        xaxis_title="UTC",
    )
    return fig
