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

from dashboard.clock import hhmm
from dashboard.maps import (
    fence_layers,
    fit_view,
    label_font,
    map_style_url,
    round_coords,
)
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


def site_fence_layers(sites: Sequence[JobSite]) -> list[dict[str, Any]]:
    """The map layer of the sites' geofences (the same for the same sites: the
    callbacks keep it per sites signature, it costs ~100 ms at 1,000 sites)."""
    return fence_layers([f for f in (_site_fence(s) for s in sites) if f is not None])


@dataclass(frozen=True)
class Markers:
    """The technician trace's arrays, in trace order (by device id)."""

    ids: tuple[str, ...]
    lat: list[float]
    lon: list[float]
    colour: list[str]
    hover: list[str]
    label: list[str]


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
        label=[initials(t.name) for t in ordered],
    )


def initials(name: str) -> str:
    """``Anna Berger`` → ``AB``: the label beside a technician's marker."""
    parts = [p for p in name.replace("-", " ").split() if p[:1].isalpha()]
    if not parts:
        return name[:2].upper()
    return (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")).upper()


#: Above this many markers of a kind the map drops their text labels: a city of
#: labels is unreadable and costs the browser more than the markers.
LABEL_LIMIT = 400


def tech_trace_data(m: Markers) -> dict[str, Any]:
    """Every array of the technician trace (first load, or the set of markers changed)."""
    return {
        "lat": m.lat,
        "lon": m.lon,
        "customdata": [["tech", d] for d in m.ids],
        "hovertext": m.hover,
        "text": m.label if len(m.ids) <= LABEL_LIMIT else [],
        "marker": {"size": 12, "color": m.colour},
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
    fences: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The dispatcher's map: job sites (numbered) and fences, technicians by
    state (with their initials) on top, over the street basemap.

    A plain figure dict, not a ``go.Figure``: plotly.py validates and deep-copies
    every array and layer it is given, which was most of a first load's time at
    2,000 technicians and 1,000 job sites (docs/performance.md, "Dashboard
    weight"). Dash sends a dict as it is; the browser validates.
    """
    site_data = sites_trace_data(sites, zone)
    # an empty trace in "markers+text" mode keeps its old points on the map
    # (plotly.js 4.1): text only when there is some
    labelled_sites = 0 < len(sites) <= LABEL_LIMIT
    halo = {
        "type": "scattermap",
        "name": "halo",
        "mode": "markers",
        "lat": site_data["lat"],
        "lon": site_data["lon"],
        "marker": {"size": 21, "color": "#ffffff"},
        "hoverinfo": "skip",
        "showlegend": False,
    }
    job_sites = {
        "type": "scattermap",
        "name": "Job sites",
        "mode": "markers+text" if labelled_sites else "markers",
        "hoverinfo": "text",
        "showlegend": False,
        "text": [s.number for s in sites] if labelled_sites else [],
        "textposition": "bottom center",
        "textfont": label_font(10, "#44337a"),
        **site_data,
    }
    markers = tech_markers(techs, site_briefs(sites))
    technicians = {
        "type": "scattermap",
        "name": "Technicians",
        "mode": "markers+text" if 0 < len(markers.ids) <= LABEL_LIMIT else "markers",
        "hoverinfo": "text",
        "showlegend": False,
        "textposition": "top right",
        "textfont": label_font(11, "#1a202c"),
        **tech_trace_data(markers),
    }
    if fences is None:
        fences = site_fence_layers(sites)
    center, zoom = fit_view(
        [t.lat for t in techs] + [s.lat for s in sites],
        [t.lon for t in techs] + [s.lon for s in sites],
        *size,
    )
    return {
        "data": [halo, job_sites, technicians],
        "layout": {
            "map": {
                "style": map_style_url(tile_url),
                "center": center,
                "zoom": zoom,
                "layers": fences,
            },
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "uirevision": UI_REVISION,  # keep the dispatcher's pan/zoom across updates
            "clickmode": "event",
        },
    }
