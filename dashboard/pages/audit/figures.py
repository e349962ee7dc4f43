"""The audit page's figures: the location-history map and the edge timeline.

Pure functions; no queries, no Dash. The map is drawn from our own data with
the building blocks of :mod:`dashboard.maps` (no tiles needed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.clock import wall
from dashboard.maps import (
    fence_layers,
    fence_points,
    fit_view,
    map_style_url,
    round_coords,
)
from dashboard.pages.audit.model import fix_flag_words

#: A less certain fix (its ``fix_flags``) on the map and the timeline.
FLAGGED_COLOUR = "#dd6b20"
#: The booked window's band on the timeline.
BOOKED_COLOUR = "#a0aec0"

#: Audit map trace order.
AUDIT_TRAIL, AUDIT_FIXES, AUDIT_GAPS, AUDIT_EDGES, AUDIT_CLOCK, AUDIT_REPLAY = range(6)


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


UTC_ZONE = ZoneInfo("UTC")


def audit_map(
    trail: pd.DataFrame,
    all_fixes: pd.DataFrame,
    fence: dict[str, Any] | None,
    edges: Sequence[dict[str, Any]],
    clock: Sequence[dict[str, Any]],
    gaps: Sequence[tuple[int, int]],
    show_accuracy: bool,
    tile_url: str,
    size: tuple[float, float] = (900.0, 500.0),
    zone: ZoneInfo = UTC_ZONE,
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
            lat=round_coords(trail["lat"].tolist()),
            lon=round_coords(trail["lon"].tolist()),
            line={"width": 3, "color": "#2b6cb0"},
            hoverinfo="skip",
        )
    )
    times = [f"{wall(t, zone):%H:%M:%S}" for t in all_fixes["time"]]
    acc = all_fixes["accuracy"].tolist()
    raw_flags = (
        all_fixes["fix_flags"].tolist()
        if "fix_flags" in all_fixes
        else [None] * len(times)
    )
    flags = [fix_flag_words(f) for f in raw_flags]
    fig.add_trace(
        go.Scattermap(
            name="Fixes (orange: less certain)",
            mode="markers",
            lat=round_coords(all_fixes["lat"].tolist()),
            lon=round_coords(all_fixes["lon"].tolist()),
            marker={
                "size": [9 if f else 6 for f in flags],
                "color": [FLAGGED_COLOUR if f else "#1a365d" for f in flags],
            },
            hovertext=[
                (f"{t} · ±{a:.0f} m" if a == a else f"{t} · accuracy unknown")
                + (f" · {f}" if f else "")
                for t, a, f in zip(times, acc, flags, strict=True)
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
    layers: list[dict[str, Any]] = []
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
        lats, lons = fence_points(fence)
    center, zoom = fit_view(lats, lons, *size)
    fig.update_layout(
        map={
            "style": map_style_url(tile_url),
            "center": center,
            "zoom": zoom,
            "layers": layers,
        },
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        uirevision="audit-map",
    )
    return fig


def audit_timeline(
    times: Sequence[datetime],
    distance_m: Sequence[float],
    windows: Sequence[dict[str, Any]],
    clock: Sequence[dict[str, Any]],
    zone: ZoneInfo = UTC_ZONE,
    booked: tuple[datetime | None, datetime | None] | None = None,
) -> go.Figure:
    """Distance to the fence edge over time, edge windows shaded, clock events marked.

    Negative distance is inside the site: the reader sees the crossing, its
    uncertainty window and the clock time on one time axis. ``booked`` (the
    job's scheduled start and end) is a grey band labelled "booked"; a
    provisional departure is a dotted line.
    """
    fig = go.Figure()
    if booked is not None and booked[0] is not None and booked[1] is not None:
        fig.add_vrect(
            x0=wall(booked[0], zone),
            x1=wall(booked[1], zone),
            fillcolor=BOOKED_COLOUR,
            opacity=0.18,
            line={"color": BOOKED_COLOUR, "width": 1, "dash": "dot"},
            annotation_text="booked",
            annotation_position="top left",
            layer="below",
        )
    fig.add_trace(
        go.Scatter(
            x=[wall(t, zone) for t in times],
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
                x0=wall(w["earliest"], zone),
                x1=wall(w["latest"], zone),
                fillcolor=w["colour"],
                opacity=0.2,
                line_width=0,
            )
        dash = "dot" if w.get("provisional") else "solid"
        fig.add_vline(
            x=wall(w["at"], zone), line={"color": w["colour"], "width": 2, "dash": dash}
        )
    for c in clock:
        fig.add_vline(
            x=wall(c["at"], zone),
            line={"color": "#805ad5", "width": 2, "dash": "dash"},
        )
    fig.add_hline(y=0, line={"color": "#6b46c1", "width": 1})
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 30},
        height=220,
        showlegend=False,
        yaxis_title="m from edge",
        xaxis_title=zone.key,
    )
    return fig
