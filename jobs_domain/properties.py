"""Clients' properties: the address, the location, the geofence and the navigation link."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from jobs_domain.errors import FieldProblem, InvalidInput

MIN_RADIUS_M = 10.0  # below GPS accuracy a circle would never contain the phone
MAX_RADIUS_M = 5000.0  # a site larger than 5 km is a region, not a job site
MAX_POLYGON_VERTICES = 500


@dataclass(frozen=True)
class Geofence:
    """Either a circle (``radius_m`` around the property's location) or a polygon.

    Polygons are GeoJSON-ordered ``[lon, lat]`` rings, closed or not.
    """

    radius_m: float | None = None
    polygon: tuple[tuple[float, float], ...] | None = None

    @classmethod
    def parse(cls, raw: object, pointer: str = "/geofence") -> Geofence:
        """Build from ``{"radius_m": 80}`` or ``{"polygon": [[lon, lat], ...]}``."""
        if not isinstance(raw, dict):
            raise InvalidInput(
                "bad geofence", [FieldProblem(pointer, "must be an object")]
            )
        radius = raw.get("radius_m")
        polygon = raw.get("polygon")
        if (radius is None) == (polygon is None):
            raise InvalidInput(
                "bad geofence",
                [FieldProblem(pointer, "give exactly one of radius_m or polygon")],
            )
        if radius is not None:
            metres = _number(radius)
            if metres is None or not MIN_RADIUS_M <= metres <= MAX_RADIUS_M:
                raise InvalidInput(
                    "bad radius",
                    [
                        FieldProblem(
                            f"{pointer}/radius_m",
                            f"must be a number of metres in {MIN_RADIUS_M:g}..{MAX_RADIUS_M:g}",
                        )
                    ],
                )
            return cls(radius_m=metres)
        return cls(polygon=_ring(polygon, f"{pointer}/polygon"))

    def to_json(self) -> dict[str, object]:
        if self.radius_m is not None:
            return {"radius_m": self.radius_m}
        return {"polygon": [list(p) for p in self.polygon or ()]}


def _ring(raw: object, pointer: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list) or not 3 <= len(raw) <= MAX_POLYGON_VERTICES:
        raise InvalidInput(
            "bad polygon",
            [
                FieldProblem(
                    pointer, f"must list 3..{MAX_POLYGON_VERTICES} [lon, lat] points"
                )
            ],
        )
    points: list[tuple[float, float]] = []
    for index, point in enumerate(raw):
        lon, lat = (
            (_number(point[0]), _number(point[1]))
            if isinstance(point, list) and len(point) == 2
            else (None, None)
        )
        if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InvalidInput(
                "bad polygon point",
                [FieldProblem(f"{pointer}/{index}", "must be [lon, lat] in degrees")],
            )
        points.append((lon, lat))
    distinct = set(points)
    if len(distinct) < 3:
        raise InvalidInput(
            "bad polygon", [FieldProblem(pointer, "needs 3 distinct points")]
        )
    return tuple(points)


def _number(value: object) -> float | None:
    """A JSON number as a float (request bodies carry fractions as Decimal), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def navigation_url(address: Sequence[str], lat: float | None, lon: float | None) -> str:
    """A link that opens turn-by-turn navigation to the site on any phone.

    Coordinates win over the address text: they are what the geofence uses.
    """
    if lat is not None and lon is not None:
        destination = f"{lat:.6f},{lon:.6f}"
    else:
        destination = ", ".join(part for part in address if part)
    return "https://www.google.com/maps/dir/?api=1&destination=" + quote(
        destination, safe=","
    )
