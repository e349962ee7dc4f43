"""A geofence parsed from a request body, where fractions arrive as Decimal."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from jobs_domain.errors import InvalidInput
from jobs_domain.properties import Geofence


def body(text: str) -> object:
    return json.loads(text, parse_float=Decimal)


def test_fractional_polygon_points_and_radii_become_canonical_floats() -> None:
    fence = Geofence.parse(
        body('{"polygon": [[2.3521, 48.8566], [2.3541, 48.8566], [2.3541, 48.8581]]}')
    )
    assert fence.to_json() == {
        "polygon": [[2.3521, 48.8566], [2.3541, 48.8566], [2.3541, 48.8581]]
    }
    assert Geofence.parse(body('{"radius_m": 80.5}')).to_json() == {"radius_m": 80.5}


def test_points_that_are_not_two_numbers_in_range_are_still_refused() -> None:
    for point in ("[2.5, 91.0]", "[2.5]", '["2.5", 48.1]', "[true, 48.1]"):
        with pytest.raises(InvalidInput) as bad:
            Geofence.parse(body(f'{{"polygon": [{point}, [2.1, 48.1], [2.2, 48.2]]}}'))
        assert bad.value.problems[0].pointer == "/geofence/polygon/0"
