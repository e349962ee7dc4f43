"""Ad-hoc presence: "was technician X at this place between T1 and T2?"

No job, session or fence needs to exist beforehand. The place is a property's
stored fence (its address as the office entered it), a circle (lat, lon,
radius) or a GeoJSON polygon; crewtrack has no offline geocoder, so a free
address string is not accepted (docs/api.md). The technician's fixes, from
every device of their user, are read over ``[T1 - margin, T2 + margin]`` (the
derive worker's session margin, so an edge just outside the range is placed
with its evidence) and handed to :func:`core.presence.presence`: the same
windows and edge evidence as a job session's visits, and one plain sentence in
the company's time zone.

One use case for the API (``POST /api/v1/presence``) and the audit page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg

from core.geofence import Geofence, GeofenceError
from core.presence import Presence, presence
from jobs_domain.errors import FieldProblem, InvalidInput, NotFound
from services.evidence import EVIDENCE_ROLES
from storage import clients
from storage.visits import (
    SESSION_MARGIN,
    aload_fixes,
    atechnician_devices,
    fence_of,
    input_digest,
)

Conn = psycopg.AsyncConnection[Any]

#: Who may ask: the people who settle a billing dispute (as for evidence bundles).
PRESENCE_ROLES = EVIDENCE_ROLES
#: The longest range one question may cover.
MAX_RANGE = dt.timedelta(days=31)
#: Fixes read beyond each end of the range (the derive worker's session margin).
MARGIN = SESSION_MARGIN
#: The largest circle asked about, metres (a "place", not a district).
MAX_RADIUS_M = 5000.0


@dataclass(frozen=True)
class Place:
    """Where the question is about: a fence and how people name it."""

    fence: Geofence
    label: str
    property_id: str | None = None


@dataclass(frozen=True)
class PresenceAnswer:
    """The answer with what it rests on."""

    technician_id: str
    technician: str
    place: Place
    presence: Presence
    fixes: pd.DataFrame  # every fix read, margins included (time, lat, lon, accuracy)
    sentence: str

    @property
    def input_digest(self) -> str:
        """The digest of the fixes used, as the derive worker and audit record it."""
        return input_digest(self.fixes)


def _invalid(pointer: str, message: str) -> InvalidInput:
    return InvalidInput(message, [FieldProblem(pointer, message)])


def _number(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _invalid(f"/place/{key}", "must be a number")
    return float(value)


def circle_place(lat: float, lon: float, radius_m: float) -> Place:
    """A circle asked about by coordinates."""
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise _invalid("/place/radius_m", f"must be in (0, {MAX_RADIUS_M:g}] metres")
    try:
        fence = Geofence.circle(lat, lon, radius_m)
    except GeofenceError as exc:
        raise _invalid("/place", str(exc)) from exc
    return Place(fence, f"{lat:.5f}, {lon:.5f} (within {radius_m:g} m)")


async def property_place(conn: Conn, property_id: str) -> Place:
    """A property's stored fence, labelled with its address."""
    try:
        UUID(property_id)
    except ValueError as exc:
        raise _invalid("/place/property_id", "must be a UUID") from exc
    try:
        prop = await clients.get_property(conn, property_id)
    except NotFound as exc:
        raise _invalid("/place/property_id", "no such property") from exc
    fence = fence_of(prop.lat, prop.lon, prop.geofence)
    if fence is None:
        raise _invalid(
            "/place/property_id",
            "this property has no fence (give it one, or ask by lat, lon, radius_m)",
        )
    label = ", ".join(line for line in prop.address_lines() if line)
    return Place(fence, label or f"property {property_id}", str(prop.id))


async def parse_place(conn: Conn, raw: object) -> Place:
    """``{"property_id"}``, ``{"lat", "lon", "radius_m"}`` or ``{"polygon"}`` (a
    GeoJSON Polygon), with an optional ``label`` for the sentence."""
    if not isinstance(raw, Mapping):
        raise _invalid("/place", "must be an object")
    if raw.get("property_id") is not None:
        place = await property_place(conn, str(raw["property_id"]))
    elif raw.get("polygon") is not None:
        try:
            fence = Geofence.from_geojson(raw["polygon"])
        except (GeofenceError, TypeError, AttributeError) as exc:
            raise _invalid("/place/polygon", f"not a usable polygon: {exc}") from exc
        place = Place(fence, "the drawn area")
    elif "lat" in raw or "lon" in raw or "radius_m" in raw:
        lat, lon = _number(raw, "lat"), _number(raw, "lon")
        place = circle_place(lat, lon, _number(raw, "radius_m"))
    else:
        raise _invalid("/place", "give property_id, lat+lon+radius_m or polygon")
    label = raw.get("label")
    if isinstance(label, str) and label.strip():
        place = Place(place.fence, label.strip()[:200], place.property_id)
    return place


def check_range(start: dt.datetime, end: dt.datetime) -> None:
    """T1 < T2, both with a zone, at most :data:`MAX_RANGE` apart."""
    if start.tzinfo is None or end.tzinfo is None:
        raise _invalid("/start", "times need a UTC offset")
    if end <= start:
        raise _invalid("/end", "must be after start")
    if end - start > MAX_RANGE:
        raise _invalid("/end", f"the range may cover at most {MAX_RANGE.days} days")


async def ask(
    conn: Conn,
    technician_id: str,
    place: Place,
    start: dt.datetime,
    end: dt.datetime,
    zone: ZoneInfo,
) -> PresenceAnswer:
    """Was the technician at ``place`` between ``start`` and ``end``?"""
    check_range(start, end)
    try:
        UUID(technician_id)
    except ValueError as exc:
        raise _invalid("/technician_id", "must be a UUID") from exc
    found = await atechnician_devices(conn, technician_id)
    if found is None:
        raise NotFound(f"no technician {technician_id}")
    name, devices = found
    fixes = await aload_fixes(conn, devices, start - MARGIN, end + MARGIN)
    result = presence(fixes, place.fence, start, end)
    return PresenceAnswer(
        technician_id=technician_id,
        technician=name,
        place=place,
        presence=result,
        fixes=fixes,
        sentence=result.answer(name, place.label, zone),
    )
