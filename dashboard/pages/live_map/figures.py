"""The jobs map's figure: technicians by state, job sites and their fences.

Pure functions; no queries, no Dash. Drawn from our own data with the building
blocks of :mod:`dashboard.maps` (no tiles needed). Besides the whole figure,
the technician markers as arrays and the delta between two views of them, for
the live callback's in-place updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from dashboard.maps import base_layers, fence_layers, fit_view, round_coords
from dashboard.pages.live_map.model import LiveTech
from dashboard.queries import JobSite, site_geofence

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

#: Live map trace order: every technician in one trace (coloured per marker, so
#: a state change is a colour change, not a move between traces), the job
#: sites. The state colours' legend is the counts panel beside the map (with
#: the number in each state). The live callback updates the technician trace in
#: place by index (see :func:`marker_delta`).
TECH_TRACE = 0
SITES_TRACE = 1


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
        lat=round_coords([t.lat for t in ordered]),
        lon=round_coords([t.lon for t in ordered]),
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
        "lat": round_coords([s.lat for s in sites]),
        "lon": round_coords([s.lon for s in sites]),
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
