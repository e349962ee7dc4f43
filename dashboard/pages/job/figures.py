"""The Job page's small map: the property's pin and its fence."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from dashboard.maps import (
    fence_layers,
    fence_points,
    fit_view,
    map_style_url,
)
from storage.clients import PropertyRecord
from storage.visits import fence_of

MAP_SIZE = (520.0, 240.0)  # px the fit is computed for (the panel's map)


def site_map(prop: PropertyRecord, tile_url: str) -> go.Figure | None:
    """The site and its fence (circle or polygon), or None without a location."""
    fence = fence_of(prop.lat, prop.lon, prop.geofence)
    geometry = None if fence is None else fence.to_geojson()
    if (prop.lat is None or prop.lon is None) and geometry is None:
        return None
    lats, lons = ([], []) if geometry is None else fence_points(geometry)
    if prop.lat is not None and prop.lon is not None:
        lats, lons = [*lats, prop.lat], [*lons, prop.lon]
    center, zoom = fit_view(lats, lons, *MAP_SIZE)
    fig = go.Figure()
    if prop.lat is not None and prop.lon is not None:
        fig.add_trace(
            go.Scattermap(
                lat=[prop.lat],
                lon=[prop.lon],
                mode="markers",
                marker={"size": 12, "color": "#2b6cb0"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    layout: dict[str, Any] = {
        "style": map_style_url(tile_url),
        "center": center,
        "zoom": zoom,
        "layers": [] if geometry is None else fence_layers([geometry]),
    }
    fig.update_layout(
        map=layout, margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision="job-map"
    )
    return fig
