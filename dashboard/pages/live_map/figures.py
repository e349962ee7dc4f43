"""The jobs map's figure: technicians by state, job sites and their fences.

Pure functions; no queries, no Dash. Drawn from our own data with the building
blocks of :mod:`dashboard.maps` (no tiles needed). Besides the whole figure,
the technician markers as arrays and the delta between two views of them, for
the live callback's in-place updates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboard.clock import hhmm
from dashboard.maps import base_layers, fence_layers, fit_view, round_coords
from dashboard.pages.live_map.model import (
    STATE_LABELS,
    LiveTech,
    job_label,
    site_briefs,
)
from dashboard.queries import JobBrief, JobSite, site_geofence

UTC_ZONE = ZoneInfo("UTC")

STATE_COLOURS = {
    "clocked_in": "#1a9850",
    "travelling": "#2b6cb0",
    "on_hold": "#e08214",
    "offline": "#8c8c8c",
}
#: Job sites: another family of colours than the technicians' (an in-progress
#: site is not the green of a clocked-in technician), drawn bigger, on a white
#: halo, below the technicians.
JOB_COLOURS = {
    "pending": "#d6bcfa",
    "scheduled": "#805ad5",
    "in_progress": "#d53f8c",
    "on_hold": "#b7791f",
    "completed": "#2d3748",
    "cancelled": "#a0aec0",
}
JOB_LABELS = {
    "pending": "Pending",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "on_hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
}

#: Live map trace order: the job sites' halo, the job sites, then every
#: technician in one trace on top (so a technician standing on a site is what a
#: click there picks). Technicians are coloured per marker, so a state change
#: is a colour change, not a move between traces; the state colours' legend is
#: the counts panel beside the map. The live callback updates the technician
#: trace in place by index (see :func:`marker_delta`).
#: The map's ui revision: while it stays, updates keep the dispatcher's pan and
#: zoom (panning to a picked technician or job sets a new one).
UI_REVISION = "live-map"
HALO_TRACE = 0
SITES_TRACE = 1
TECH_TRACE = 2


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


def tech_markers(
    techs: Sequence[LiveTech], jobs: Mapping[str, JobBrief] | None = None
) -> Markers:
    """What the technician trace shows, marker by marker (jobs by number)."""
    ordered = sorted(techs, key=lambda t: t.device_id)
    briefs = jobs or {}
    return Markers(
        ids=tuple(t.device_id for t in ordered),
        lat=round_coords([t.lat for t in ordered]),
        lon=round_coords([t.lon for t in ordered]),
        colour=[STATE_COLOURS[t.state] for t in ordered],
        hover=[
            f"{t.name} · {STATE_LABELS[t.state]}"
            + (f" · {job_label(t.job, briefs)}" if t.job else "")
            for t in ordered
        ],
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


def _window(site: JobSite, zone: ZoneInfo) -> str:
    if site.scheduled_start is None:
        return "not scheduled"
    return f"{hhmm(site.scheduled_start, zone)}–{hhmm(site.scheduled_end, zone)}"


def sites_trace_data(sites: Sequence[JobSite], zone: ZoneInfo) -> dict[str, Any]:
    return {
        "lat": round_coords([s.lat for s in sites]),
        "lon": round_coords([s.lon for s in sites]),
        "customdata": [["job", s.job_id] for s in sites],
        "hovertext": [
            f"{s.number} · {JOB_LABELS.get(s.status, s.status)} · {s.client}"
            f" · {_window(s, zone)} · {s.technician or 'unassigned'}"
            for s in sites
        ],
        "marker": {
            "size": 15,
            "color": [JOB_COLOURS.get(s.status, "#4a5568") for s in sites],
        },
    }


def live_map(
    techs: Sequence[LiveTech],
    sites: Sequence[JobSite],
    tile_url: str,
    zone: ZoneInfo = UTC_ZONE,
    size: tuple[float, float] = (900.0, 600.0),
) -> go.Figure:
    """The dispatcher's map: job sites and fences, technicians by state on top."""
    fig = go.Figure()
    site_data = sites_trace_data(sites, zone)
    fig.add_trace(
        go.Scattermap(
            name="halo",
            mode="markers",
            lat=site_data["lat"],
            lon=site_data["lon"],
            marker={"size": 21, "color": "#ffffff"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scattermap(
            name="Job sites",
            mode="markers",
            hoverinfo="text",
            showlegend=False,
            **site_data,
        )
    )
    fig.add_trace(
        go.Scattermap(
            name="Technicians",
            mode="markers",
            hoverinfo="text",
            showlegend=False,
            **tech_trace_data(tech_markers(techs, site_briefs(sites))),
        )
    )

    fences = [f for f in (_site_fence(s) for s in sites) if f is not None]
    center, zoom = fit_view(
        [t.lat for t in techs] + [s.lat for s in sites],
        [t.lon for t in techs] + [s.lon for s in sites],
        *size,
    )
    fig.update_layout(
        map={
            "style": "white-bg",
            "center": center,
            "zoom": zoom,
            "layers": base_layers(tile_url) + fence_layers(fences),
        },
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        uirevision=UI_REVISION,  # keep the dispatcher's pan/zoom across updates
        clickmode="event",
    )
    return fig
