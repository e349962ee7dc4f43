"""Geofence geometry: signed distances, containment, GeoJSON and digests."""

from __future__ import annotations

import numpy as np
import pytest

from core.geo import unproject_local
from core.geofence import Geofence, GeofenceError

LAT, LON = 40.0, -3.7


def square(half_m: float = 50.0) -> Geofence:
    xs = np.array([-half_m, half_m, half_m, -half_m, -half_m])
    ys = np.array([-half_m, -half_m, half_m, half_m, -half_m])
    lat, lon = unproject_local(xs, ys, LAT, LON)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    return Geofence.from_geojson({"type": "Polygon", "coordinates": [ring]})


def at(x: list[float], y: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return unproject_local(np.array(x), np.array(y), LAT, LON)


def test_circle_distance_is_negative_inside_and_metric() -> None:
    fence = Geofence.circle(LAT, LON, 100)
    lat, lon = at([0, 50, 100, 250], [0, 0, 0, 0])
    d = fence.signed_distance_m(lat, lon)
    assert np.allclose(d, [-100, -50, 0, 150], atol=0.2)
    assert fence.contains(lat, lon).tolist() == [True, True, True, False]


def test_polygon_distance_measures_to_the_nearest_edge() -> None:
    fence = square(50)
    lat, lon = at([0, 40, 60, 80], [0, 0, 0, 80])
    d = fence.signed_distance_m(lat, lon)
    assert np.allclose(d, [-50, -10, 10, np.hypot(30, 30)], atol=0.2)
    assert fence.contains(lat, lon).tolist() == [True, True, False, False]


def test_a_hole_in_a_polygon_is_outside() -> None:
    outer = square(100).to_geojson()["coordinates"][0]
    inner = square(20).to_geojson()["coordinates"][0]
    fence = Geofence.from_geojson({"type": "Polygon", "coordinates": [outer, inner]})
    lat, lon = at([0, 50], [0, 0])
    d = fence.signed_distance_m(lat, lon)
    assert d[0] == pytest.approx(20, abs=0.2)
    assert d[1] == pytest.approx(-30, abs=0.2)


def test_large_polygons_give_the_same_distances_via_geos() -> None:
    ring = Geofence.circle(LAT, LON, 100).to_geojson()["coordinates"]  # 64 edges
    fence = Geofence.from_geojson({"type": "Polygon", "coordinates": ring})
    lat, lon = at([0, 50, 150], [0, 0, 0])
    assert np.allclose(fence.signed_distance_m(lat, lon), [-100, -50, 50], atol=0.5)


def test_a_circle_round_trips_through_geojson_exactly() -> None:
    fence = Geofence.circle(LAT, LON, 75)
    gj = fence.to_geojson()
    assert gj["type"] == "Polygon"
    assert len(gj["coordinates"][0]) == 65
    assert Geofence.from_geojson(gj) == fence


def test_the_digest_ignores_ring_start_and_orientation_but_not_shape() -> None:
    ring = square(50).to_geojson()["coordinates"][0]
    rotated = [*ring[1:], ring[1]]
    reversed_ring = ring[::-1]
    digests = {
        Geofence.from_geojson({"type": "Polygon", "coordinates": [r]}).digest
        for r in (ring, rotated, reversed_ring)
    }
    assert len(digests) == 1
    assert square(51).digest not in digests
    assert Geofence.circle(LAT, LON, 75).digest != Geofence.circle(LAT, LON, 76).digest


def test_a_feature_wrapping_a_polygon_is_accepted() -> None:
    gj = square().to_geojson()
    assert Geofence.from_geojson({"type": "Feature", "geometry": gj}) == square()


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "Point", "coordinates": [0, 0]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 95], [1, 0], [1, 1], [0, 95]]]},
    ],
)
def test_unusable_geojson_is_refused_with_a_reason(bad: dict[str, object]) -> None:
    with pytest.raises(GeofenceError):
        Geofence.from_geojson(bad)


def test_a_circle_needs_a_positive_radius() -> None:
    with pytest.raises(GeofenceError, match="radius"):
        Geofence.circle(LAT, LON, 0)


def test_fences_are_frozen() -> None:
    fence = Geofence.circle(LAT, LON, 75)
    with pytest.raises(AttributeError):
        fence.radius_m = 10  # type: ignore[misc]
