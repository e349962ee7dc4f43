"""Job-site geofences: a circle or a polygon, with vectorised signed distances.

A :class:`Geofence` is an immutable value.  Its :attr:`Geofence.digest` names the exact
geometry, so a visit derived against it can record which fence version it used and be
re-derived when the office redraws the site.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely

from core.geo import (
    FloatArray,
    as_float_array,
    haversine_m,
    project_local,
    unproject_local,
)

#: Vertices used when a circle is drawn as a GeoJSON polygon. 64 keeps the drawn edge
#: within 0.12 % of the radius (0.12 m on a 100 m site), well under map resolution.
CIRCLE_DRAW_VERTICES = 64

#: Coordinates are rounded to 1e-7 degrees (about 1 cm) before hashing so that a
#: round-trip through JSON or the database never changes the digest.
DIGEST_DECIMALS = 7

#: Polygons with at most this many edges measure boundary distance with plain numpy
#: (one pass per edge); larger ones hand the work to GEOS, which wins beyond it.
NUMPY_EDGE_LIMIT = 48

Ring = tuple[tuple[float, float], ...]
PolygonRings = tuple[Ring, ...]


class GeofenceError(ValueError):
    """Raised when a fence definition is not a usable circle or polygon."""


def _check_lat_lon(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise GeofenceError("coordinates must be finite numbers")
    if not -90.0 <= lat <= 90.0:
        raise GeofenceError(f"latitude {lat} outside [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise GeofenceError(f"longitude {lon} outside [-180, 180]")


def _parse_ring(raw: Any) -> Ring:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise GeofenceError("a polygon ring must be a list of [lon, lat] positions")
    ring: list[tuple[float, float]] = []
    for pos in raw:
        if (
            not isinstance(pos, Sequence)
            or isinstance(pos, str | bytes)
            or len(pos) < 2
        ):
            raise GeofenceError("a position must be [lon, lat]")
        try:
            lon, lat = float(pos[0]), float(pos[1])
        except (TypeError, ValueError) as exc:
            raise GeofenceError("a position must hold numbers") from exc
        _check_lat_lon(lat, lon)
        ring.append((lon, lat))
    if len(ring) < 4:
        raise GeofenceError("a linear ring needs at least 4 positions")
    if ring[0] != ring[-1]:
        raise GeofenceError("a linear ring must be closed (first == last position)")
    return tuple(ring)


@dataclass(frozen=True)
class Geofence:
    """A job-site boundary: a circle or a (multi)polygon.

    Build one with :meth:`circle` or :meth:`from_geojson`; do not call the constructor
    directly.

    Attributes
    ----------
    kind : {"circle", "polygon"}
        The shape.
    lat, lon : float
        Degrees.  The centre for a circle; the centre of the polygon's bounding box
        (the projection origin) for a polygon.
    radius_m : float
        Metres.  The radius for a circle; for a polygon, the distance from
        ``(lat, lon)`` to its farthest vertex.
    polygons : tuple
        For polygons: each polygon as rings of ``(lon, lat)`` positions, shell first.
        Empty for circles.
    """

    kind: Literal["circle", "polygon"]
    lat: float
    lon: float
    radius_m: float
    polygons: tuple[PolygonRings, ...] = field(default=())

    # ------------------------------------------------------------------ builders
    @classmethod
    def circle(cls, lat: float, lon: float, radius_m: float) -> Geofence:
        """Return a circular fence.

        Parameters
        ----------
        lat, lon : float
            Centre in degrees (WGS84).
        radius_m : float
            Radius in metres, > 0.
        """
        lat, lon, radius_m = float(lat), float(lon), float(radius_m)
        _check_lat_lon(lat, lon)
        if not (math.isfinite(radius_m) and radius_m > 0):
            raise GeofenceError("radius_m must be a positive number of metres")
        return cls(kind="circle", lat=lat, lon=lon, radius_m=radius_m)

    @classmethod
    def from_geojson(cls, obj: Mapping[str, Any]) -> Geofence:
        """Build a fence from a GeoJSON Polygon or MultiPolygon (``[lon, lat]`` order).

        A Feature wrapping one of those is accepted too.  A polygon written by
        :meth:`to_geojson` for a circle carries a ``circle`` member and comes back as
        the exact circle.
        """
        if not isinstance(obj, Mapping):
            raise GeofenceError("GeoJSON must be an object")
        if obj.get("type") == "Feature":
            geometry = obj.get("geometry")
            if not isinstance(geometry, Mapping):
                raise GeofenceError("Feature has no geometry")
            return cls.from_geojson(geometry)
        circle = obj.get("circle")
        if isinstance(circle, Mapping):
            center = circle.get("center")
            if not isinstance(center, Sequence) or len(center) != 2:
                raise GeofenceError("circle.center must be [lon, lat]")
            return cls.circle(float(center[1]), float(center[0]), circle["radius_m"])
        gtype = obj.get("type")
        coords = obj.get("coordinates")
        if gtype == "Polygon":
            raw_polys = [coords]
        elif gtype == "MultiPolygon":
            if not isinstance(coords, Sequence):
                raise GeofenceError("MultiPolygon coordinates must be a list")
            raw_polys = list(coords)
        else:
            raise GeofenceError(f"unsupported GeoJSON type {gtype!r}")
        polys: list[PolygonRings] = []
        for raw in raw_polys:
            if not isinstance(raw, Sequence) or not raw:
                raise GeofenceError("a polygon needs at least its outer ring")
            polys.append(tuple(_parse_ring(r) for r in raw))
        geom = shapely.MultiPolygon([shapely.Polygon(p[0], p[1:]) for p in polys])
        if not shapely.is_valid(geom):
            reason = shapely.is_valid_reason(geom)
            raise GeofenceError(f"invalid polygon: {reason}")
        # normalised form: ring start and orientation no longer change the digest
        norm = shapely.normalize(geom)
        polys = [
            tuple(
                tuple((float(x), float(y)) for x, y in ring.coords)
                for ring in (p.exterior, *p.interiors)
            )
            for p in norm.geoms
        ]
        xmin, ymin, xmax, ymax = (float(v) for v in norm.bounds)
        lon0, lat0 = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
        all_lon = np.array([x for p in polys for r in p for x, _ in r])
        all_lat = np.array([y for p in polys for r in p for _, y in r])
        reach = float(np.max(haversine_m(lat0, lon0, all_lat, all_lon)))
        return cls(
            kind="polygon", lat=lat0, lon=lon0, radius_m=reach, polygons=tuple(polys)
        )

    # ------------------------------------------------------------------ identity
    def _canonical(self) -> dict[str, Any]:
        r = DIGEST_DECIMALS
        if self.kind == "circle":
            return {
                "kind": "circle",
                "lat": round(self.lat, r),
                "lon": round(self.lon, r),
                "radius_m": round(self.radius_m, 3),
            }
        return {
            "kind": "polygon",
            "polygons": [
                [[[round(x, r), round(y, r)] for x, y in ring] for ring in poly]
                for poly in self.polygons
            ],
        }

    @cached_property
    def digest(self) -> str:
        """Stable version string of the geometry (``gf1-`` + 20 hex digits)."""
        blob = json.dumps(self._canonical(), sort_keys=True, separators=(",", ":"))
        return "gf1-" + hashlib.sha256(blob.encode()).hexdigest()[:20]

    def to_geojson(self) -> dict[str, Any]:
        """Return GeoJSON (``[lon, lat]``) for maps and storage.

        Polygons come back as Polygon/MultiPolygon.  A circle is drawn as a
        64-vertex Polygon so any map can show it, with a ``circle`` foreign member
        (``center``, ``radius_m``) that :meth:`from_geojson` reads back exactly.
        """
        if self.kind == "circle":
            ang = np.linspace(0.0, 2.0 * np.pi, CIRCLE_DRAW_VERTICES + 1)
            lat, lon = unproject_local(
                self.radius_m * np.cos(ang),
                self.radius_m * np.sin(ang),
                self.lat,
                self.lon,
            )
            # numpy builds the ring's lists (10x a Python loop: 1,000 circles
            # took 160 ms of a jobs map's first load)
            ring: list[list[float]] = np.column_stack((lon, lat)).tolist()
            ring[-1] = ring[0]
            return {
                "type": "Polygon",
                "coordinates": [ring],
                "circle": {"center": [self.lon, self.lat], "radius_m": self.radius_m},
            }
        polys = [[[list(pos) for pos in ring] for ring in p] for p in self.polygons]
        if len(polys) == 1:
            return {"type": "Polygon", "coordinates": polys[0]}
        return {"type": "MultiPolygon", "coordinates": polys}

    # ------------------------------------------------------------------ geometry
    @cached_property
    def _local(self) -> Any:
        """The polygon in local metres (shapely geometry), prepared for fast lookups."""
        parts = []
        for poly in self.polygons:
            rings = []
            for ring in poly:
                arr = np.asarray(ring)
                x, y = project_local(arr[:, 1], arr[:, 0], self.lat, self.lon)
                rings.append(np.column_stack([x, y]))
            parts.append(shapely.Polygon(rings[0], rings[1:]))
        geom = shapely.MultiPolygon(parts)
        shapely.prepare(geom)
        return geom

    @cached_property
    def _edges(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Boundary edges in local metres: (x0, y0, dx, dy) per edge."""
        x0s, y0s, dxs, dys = [], [], [], []
        for poly in self._local.geoms:
            for ring in (poly.exterior, *poly.interiors):
                c = np.asarray(ring.coords)
                x0s.append(c[:-1, 0])
                y0s.append(c[:-1, 1])
                dxs.append(np.diff(c[:, 0]))
                dys.append(np.diff(c[:, 1]))
        return (
            np.concatenate(x0s),
            np.concatenate(y0s),
            np.concatenate(dxs),
            np.concatenate(dys),
        )

    def _boundary_distance_local(self, x: FloatArray, y: FloatArray) -> FloatArray:
        x0, y0, dx, dy = self._edges
        if len(x0) > NUMPY_EDGE_LIMIT:
            pts = shapely.points(x, y)
            out: FloatArray = shapely.distance(self._local.boundary, pts)
            return out
        best = np.full(x.shape, np.inf)
        for i in range(len(x0)):
            # distance to a segment: project onto it, clamp to its ends
            px = x - x0[i]
            py = y - y0[i]
            seg2 = dx[i] * dx[i] + dy[i] * dy[i]
            t = np.clip((px * dx[i] + py * dy[i]) / seg2, 0.0, 1.0) if seg2 else 0.0
            ex = px - t * dx[i]
            ey = py - t * dy[i]
            np.minimum(best, ex * ex + ey * ey, out=best)
        result: FloatArray = np.sqrt(best)
        return result

    def signed_distance_m(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> FloatArray:
        """Distance from each point to the fence boundary, negative inside.

        Parameters
        ----------
        lat, lon : array_like
            Degrees (WGS84), same shape.

        Returns
        -------
        ndarray
            Metres; ``< 0`` inside, ``> 0`` outside, 0 on the boundary.
        """
        lat_a, lon_a = as_float_array(lat), as_float_array(lon)
        if self.kind == "circle":
            out: FloatArray = haversine_m(self.lat, self.lon, lat_a, lon_a)
            out -= self.radius_m
            return out
        x, y = project_local(lat_a, lon_a, self.lat, self.lon)
        dist = self._boundary_distance_local(x, y)
        inside = shapely.contains_xy(self._local, x, y)
        result: FloatArray = np.where(inside, -dist, dist)
        return result

    def contains(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Return True where a point lies inside the fence (boundary counts as in)."""
        lat_a, lon_a = as_float_array(lat), as_float_array(lon)
        if self.kind == "circle":
            inside: npt.NDArray[np.bool_] = (
                haversine_m(self.lat, self.lon, lat_a, lon_a) <= self.radius_m
            )
            return inside
        x, y = project_local(lat_a, lon_a, self.lat, self.lon)
        result: npt.NDArray[np.bool_] = shapely.intersects_xy(self._local, x, y)
        return result
