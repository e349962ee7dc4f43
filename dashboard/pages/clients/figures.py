"""The fence editor's map: the Job page's site map of the fence being typed,
under a grid of points that catch the clicks (see ``model.click_grid``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import plotly.graph_objects as go

from core.geofence import GeofenceError
from dashboard.maps import map_style_url
from dashboard.pages.clients.model import FenceForm, click_grid, preview
from dashboard.pages.job.figures import site_map
from storage.clients import PropertyRecord

#: The view the click grid covers: wider than the map gets on any screen (the
#: points beyond its edge are off the map).
GRID_VIEW = (1400.0, 360.0)
CLICK_GRID = "click-grid"


def fence_map(prop: PropertyRecord, form: FenceForm, tile_url: str) -> go.Figure:
    centre, fence = preview(form)
    shown = dataclasses.replace(
        prop,
        lat=None if centre is None else centre[0],
        lon=None if centre is None else centre[1],
        geofence=fence,
    )
    try:
        fig = site_map(shown, tile_url)
    except GeofenceError:  # a ring that crosses itself: the save says so
        fig = site_map(dataclasses.replace(shown, geofence=None), tile_url)
    if fig is None:
        fig = go.Figure()
        fig.update_layout(
            map={"style": map_style_url(tile_url), "center": {"lat": 0, "lon": 0}},
            margin={"l": 0, "r": 0, "t": 0, "b": 0},
        )
        fig.update_layout(map_zoom=1)
    view: Any = fig.layout.map
    lats, lons = click_grid(
        {"lat": view.center.lat, "lon": view.center.lon}, view.zoom, GRID_VIEW
    )
    fig.add_trace(
        go.Scattermap(
            lat=lats,
            lon=lons,
            mode="markers",
            marker={"size": 14, "opacity": 0.01, "color": "#fff"},  # 0: no clicks
            hovertemplate="%{lon:.5f}, %{lat:.5f}<extra>click to add</extra>",
            name=CLICK_GRID,
            showlegend=False,
        )
    )
    fig.update_layout(uirevision=f"fence-{prop.id}", clickmode="event")
    return fig
