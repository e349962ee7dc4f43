"""The Clients page's model: a property's fence as a form.

The fence form is read into the body ``services.directory.update_property``
takes (the API's PATCH body): text that is not a number is answered here at its
field's pointer; everything else (radius range, polygon size, a ring that
crosses itself, a radius with no centre) is the domain's and the service's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobs_domain.errors import FieldProblem, InvalidInput
from storage.clients import PropertyRecord

CIRCLE = "circle"
POLYGON = "polygon"
#: The click grid over the fence map: points per side (a click snaps to one).
GRID = 60


def fence_text(prop: PropertyRecord) -> str:
    """What a list says of a site's fence."""
    fence = prop.geofence or {}
    if fence.get("radius_m") is not None:
        return f"circle, {float(fence['radius_m']):g} m"
    if fence.get("polygon"):
        return f"polygon, {len(fence['polygon'])} points"
    return "no fence"


@dataclass(frozen=True)
class FenceForm:
    """A property's fence as the editor shows it (all text, as typed)."""

    kind: str
    lat: str
    lon: str
    radius: str
    vertices: str  # one "lon, lat" a line

    @classmethod
    def of(cls, prop: PropertyRecord) -> FenceForm:
        fence = prop.geofence or {}
        polygon = fence.get("polygon") or []
        return cls(
            kind=POLYGON if polygon else CIRCLE,
            lat="" if prop.lat is None else f"{prop.lat:.6f}",
            lon="" if prop.lon is None else f"{prop.lon:.6f}",
            radius=""
            if fence.get("radius_m") is None
            else f"{float(fence['radius_m']):g}",
            vertices=vertices_text(polygon),
        )

    def changes(self) -> dict[str, Any]:
        """The PATCH body this form asks for (``InvalidInput`` at the field's
        pointer when a number is not one)."""
        problems: list[FieldProblem] = []

        def number(text: str, pointer: str) -> float | None:
            try:
                value = float(text.strip().replace(",", "."))
            except ValueError:
                problems.append(FieldProblem(pointer, "must be a number"))
                return None
            if not math.isfinite(value):
                problems.append(FieldProblem(pointer, "must be a number"))
                return None
            return value

        out: dict[str, Any] = {}
        if self.lat.strip() or self.lon.strip():
            lat = number(self.lat, "/location/lat")
            lon = number(self.lon, "/location/lon")
            out["location"] = {"lat": lat, "lon": lon}
        elif self.kind == CIRCLE:
            out["location"] = None  # the service answers "a radius needs a location"
        if self.kind == CIRCLE:
            out["geofence"] = {"radius_m": number(self.radius, "/geofence/radius_m")}
        else:
            out["geofence"] = {"polygon": parse_vertices(self.vertices, problems)}
        if problems:
            raise InvalidInput("not a number", problems)
        return out


def vertices_text(polygon: Sequence[Sequence[float]]) -> str:
    return "\n".join(f"{p[0]:.6f}, {p[1]:.6f}" for p in polygon)


def parse_vertices(text: str, problems: list[FieldProblem]) -> list[list[float]]:
    """The ``[lon, lat]`` points of the text (one "lon, lat" a line)."""
    points: list[list[float]] = []
    for index, line in enumerate(ln for ln in text.splitlines() if ln.strip()):
        parts = line.replace(";", ",").replace(" ", ",").split(",")
        parts = [p for p in parts if p]
        try:
            lon, lat = (float(p) for p in parts)
        except ValueError:
            problems.append(
                FieldProblem(f"/geofence/polygon/{index}", "write it as: lon, lat")
            )
            continue
        points.append([lon, lat])
    return points


def add_vertex(text: str | None, lon: float, lat: float) -> str:
    """The corners' text with one more ("lon, lat"; the last one again: unchanged)."""
    line = f"{lon:.6f}, {lat:.6f}"
    before = (text or "").rstrip()
    if before.splitlines()[-1:] == [line]:
        return before
    return f"{before}\n{line}" if before else line


def preview(
    form: FenceForm,
) -> tuple[tuple[float, float] | None, dict[str, Any] | None]:
    """What the map draws of a form being typed: the centre, and a fence it can
    draw (None where the text does not make one yet)."""
    try:
        changes = form.changes()
    except InvalidInput:
        return None, None
    loc = changes.get("location")
    centre = None if not loc else (loc["lat"], loc["lon"])
    fence = changes["geofence"]
    if fence.get("radius_m") is None and len(fence.get("polygon") or []) < 3:
        return centre, None
    return centre, fence


def click_grid(
    centre: Mapping[str, float], zoom: float, size: tuple[float, float]
) -> tuple[list[float], list[float]]:
    """Points spread over the map's view: a click on the map lands on one (Plotly
    maps only report clicks on a trace's points), so a vertex is where you click
    to within the grid's step."""
    width, height = size
    lon_span = width * 360.0 / (512.0 * 2**zoom)
    lat_span = lon_span * height / width * math.cos(math.radians(centre["lat"]))
    lats, lons = [], []
    for i in range(GRID):
        for j in range(GRID):
            lats.append(centre["lat"] + lat_span * (i / (GRID - 1) - 0.5))
            lons.append(centre["lon"] + lon_span * (j / (GRID - 1) - 0.5))
    return lats, lons
