"""A visit closes when the track ends with a technician driving off (issue 15).

The phone goes quiet as the technician walks out and sends one or two fixes from the
road before the data ends: too few to out-vote the visit fix by fix, but far away and
reached at a speed a van drives, so the visit must close.  When the data cannot decide
(a fix just outside, or one no vehicle could have reached), the departure is reported
as provisional with its window — or not at all for an impossible fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.geo import unproject_local
from core.visits import Visit, derive_visits
from tests.unit.core.builders import START, Leg, make_track, site

FENCE = site(100.0)


def _on_site_then(tail: list[tuple[float, float, float]]) -> pd.DataFrame:
    """Drive in, work 30 min near the centre, then only ``tail`` fixes (s after the
    last on-site fix, x, y metres)."""
    track = make_track([Leg(0, 0, 120), Leg(5, 5, 1800)], every_s=5.0, noise_m=3.0)
    last = track["time"].max()
    extra = pd.DataFrame(
        {
            "time": [last + pd.Timedelta(seconds=s) for s, _, _ in tail],
            "lat": [0.0] * len(tail),
            "lon": [0.0] * len(tail),
            "accuracy": [10.0] * len(tail),
        }
    )
    lat, lon = unproject_local(
        np.array([x for _, x, _ in tail], dtype=float),
        np.array([y for _, _, y in tail], dtype=float),
        FENCE.lat,
        FENCE.lon,
    )
    extra["lat"], extra["lon"] = lat, lon
    return pd.concat([track, extra], ignore_index=True)


def _only(points: pd.DataFrame) -> Visit:
    visits = derive_visits(points, FENCE)
    assert len(visits) == 1
    return visits[0]


def test_one_fix_kilometres_away_at_driving_speed_closes_the_visit() -> None:
    v = _only(_on_site_then([(240.0, 2500.0, 0.0)]))
    assert v.departure is not None
    assert not v.departure_provisional
    assert v.departure_window is not None
    lo, hi = v.departure_window
    assert lo is not None
    assert hi is not None
    assert lo <= v.departure <= hi
    assert hi == v.departure_evidence.after.time  # type: ignore[union-attr]


def test_two_fixes_driving_away_close_the_visit() -> None:
    v = _only(_on_site_then([(60.0, 500.0, 0.0), (120.0, 1100.0, 0.0)]))
    assert v.departure is not None
    assert not v.departure_provisional


def test_a_single_fix_just_outside_makes_a_provisional_departure_with_its_window() -> (
    None
):
    v = _only(_on_site_then([(90.0, 180.0, 0.0)]))
    assert v.departure is not None
    assert v.departure_provisional
    assert v.departure_window is not None
    lo, hi = v.departure_window
    assert lo is not None
    assert hi is not None
    assert lo < hi
    assert v.to_dict()["departure_provisional"] is True
    assert Visit.from_dict(v.to_dict()).departure_provisional


def test_two_fixes_that_do_not_agree_with_travel_leave_the_departure_provisional() -> (
    None
):
    # the second fix jumps back towards the site: not a van driving off
    v = _only(_on_site_then([(60.0, 1500.0, 0.0), (70.0, 300.0, 0.0)]))
    assert v.departure is not None
    assert v.departure_provisional


def test_a_fix_no_vehicle_could_reach_keeps_the_visit_open() -> None:
    # 5 km in 10 s is 500 m/s: a glitch, not a departure
    v = _only(_on_site_then([(10.0, 5000.0, 0.0)]))
    assert v.departure is None
    assert not v.departure_provisional


def test_data_ending_on_site_still_has_no_departure() -> None:
    v = _only(_on_site_then([]))
    assert v.is_open
    assert not v.departure_provisional
    assert v.arrival > START.to_pydatetime()
