"""Behaviour of derive_visits on hand-built tracks (one situation per test)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from core.fixes import FixesError
from core.visits import VisitParams, derive_visits
from tests.unit.core.builders import Leg, fix, make_track, seconds_after_start, site

# walk in from 300 m east at 1.5 m/s: the edge (100 m) is crossed at t = 133.3 s
WALK_IN = [Leg(300, 0, 0), Leg(0, 0, 200)]
CROSS_IN_S = 200 / 300 * 200
OUTSIDE = [Leg(300, 0, 300)]  # stay out there for five minutes


def _stay(seconds: float) -> list[Leg]:
    return [Leg(0, 0, seconds)]


def _walk_out(at_s: float) -> tuple[list[Leg], float]:
    return [Leg(300, 0, 200)], at_s + 100 / 1.5


def test_a_plain_visit_is_found_with_arrival_back_dated_to_the_crossing() -> None:
    legs = WALK_IN + _stay(3600)
    out, cross_out = _walk_out(200 + 3600)
    visits = derive_visits(make_track(legs + out + OUTSIDE), site())
    assert len(visits) == 1
    v = visits[0]
    assert abs(seconds_after_start(v.arrival) - CROSS_IN_S) < 5
    assert v.departure is not None
    assert abs(seconds_after_start(v.departure) - cross_out) < 5
    # the algorithm became sure later than the crossing, and says so
    assert v.arrival_evidence.confirmed_at is not None
    assert v.arrival_evidence.confirmed_at > v.arrival


def test_the_reported_windows_bracket_the_estimates() -> None:
    legs = WALK_IN + _stay(1800) + _walk_out(2000)[0] + OUTSIDE
    v = derive_visits(make_track(legs, noise_m=4, seed=3), site())[0]
    assert v.arrival_window.earliest is not None
    assert v.arrival_window.latest is not None
    assert v.arrival_window.earliest <= v.arrival <= v.arrival_window.latest
    assert v.departure_window is not None
    assert v.departure is not None
    lo, hi = v.departure_window
    assert lo is not None
    assert hi is not None
    assert lo <= v.departure <= hi


def test_a_drive_past_the_site_is_not_a_visit() -> None:
    legs = [Leg(-1000, 0, 100), Leg(-1000, 0, 300)]  # through the middle at 20 m/s
    assert derive_visits(make_track(legs), site()) == []


def test_a_stay_shorter_than_the_minimum_dwell_is_not_a_visit() -> None:
    legs = [Leg(0, 0, 60), Leg(0, 0, 120), Leg(1000, 0, 60), Leg(1000, 0, 600)]
    assert derive_visits(make_track(legs), site()) == []
    longer = VisitParams(min_dwell_s=60)
    assert len(derive_visits(make_track(legs), site(), longer)) == 1


def test_a_short_trip_to_the_van_does_not_end_the_visit() -> None:
    van = [Leg(140, 0, 30), Leg(140, 0, 60), Leg(0, 0, 30)]
    legs = WALK_IN + _stay(1200) + van + _stay(1200) + _walk_out(0)[0] + OUTSIDE
    visits = derive_visits(make_track(legs), site())
    assert len(visits) == 1
    assert len(visits[0].absences) == 1
    assert 30 < visits[0].absent_s < 150


def test_lunch_elsewhere_splits_the_day_into_two_visits() -> None:
    lunch = [Leg(3000, 0, 300), Leg(3000, 0, 2700), Leg(0, 0, 300)]
    legs = WALK_IN + _stay(1200) + lunch + _stay(1200) + _walk_out(0)[0] + OUTSIDE
    assert len(derive_visits(make_track(legs), site())) == 2


def test_losing_signal_inside_and_reappearing_inside_is_still_inside() -> None:
    df = make_track(WALK_IN + _stay(4000) + _walk_out(0)[0] + OUTSIDE)
    secs = (df["time"] - df["time"].iloc[0]).dt.total_seconds()
    indoors = (secs > 600) & (secs < 600 + 1800)  # 30 min without a fix
    visits = derive_visits(df[~indoors], site())
    assert len(visits) == 1
    assert visits[0].longest_gap_s >= 1800
    assert visits[0].gap_s >= 1800


def test_a_silence_longer_than_the_blind_gap_limit_splits_the_stay() -> None:
    df = make_track(WALK_IN + _stay(8 * 3600) + _walk_out(0)[0])
    secs = (df["time"] - df["time"].iloc[0]).dt.total_seconds()
    night = (secs > 3600) & (secs < 3600 + 5 * 3600)
    assert len(derive_visits(df[~night], site())) == 2
    relaxed = VisitParams(max_blind_gap_s=6 * 3600)
    assert len(derive_visits(df[~night], site(), relaxed)) == 1


def test_a_lone_multipath_jump_claiming_ten_metres_does_not_end_the_visit() -> None:
    df = make_track(WALK_IN + _stay(1800) + _walk_out(0)[0] + OUTSIDE, every_s=60)
    # at one fix a minute the spike filter cannot see it; the vote cap must hold
    jumps = pd.DataFrame([fix(400, 300, 900.5, 10.0), fix(-350, 50, 1500.5, 10.0)])
    visits = derive_visits(pd.concat([df, jumps]), site())
    assert len(visits) == 1
    assert visits[0].absences == ()


def test_two_outliers_in_a_row_cannot_start_a_visit() -> None:
    far = make_track([Leg(1000, 0, 3600)], start_xy=(1000, 0))
    fake = pd.DataFrame([fix(0, 0, 1800.5, 5.0), fix(5, 5, 1805.5, 5.0)])
    assert derive_visits(pd.concat([far, fake]), site()) == []


def test_cell_tower_fixes_do_not_move_an_edge() -> None:
    legs = WALK_IN + _stay(1800) + _walk_out(0)[0] + OUTSIDE
    df = make_track(legs)
    base = derive_visits(df, site())[0]
    # a 900 m fix placing the phone "inside" a minute before the walk-in
    cells = pd.DataFrame(
        [fix(0, 0, t, 900.0) for t in (40.5, 60.5, 80.5, 100.5, 120.5)]
        + [fix(800, 0, t, 900.0) for t in (1000.5, 1100.5)]
    )
    with_cells = derive_visits(pd.concat([df, cells]), site())[0]
    assert with_cells.arrival == base.arrival
    assert with_cells.departure == base.departure
    assert with_cells.ignored_fix_count == base.ignored_fix_count + 2


def test_a_fix_whose_accuracy_circle_straddles_the_edge_cannot_confirm_alone() -> None:
    # parked 5 m outside with a 30 m accuracy for ten minutes: undecidable, not a visit
    legs = [Leg(105, 0, 60), Leg(105, 0, 600), Leg(1000, 0, 60)]
    df = make_track(legs, accuracy_m=30.0, noise_m=0.0)
    df.loc[df.index[::2], "lat"] -= 0.0001  # half the fixes drift ~11 m north
    assert derive_visits(df, site()) == []


def test_still_on_site_when_the_data_ends_leaves_the_departure_open() -> None:
    v = derive_visits(make_track(WALK_IN + _stay(1200)), site())[0]
    assert v.departure is None
    assert v.departure_window is None
    assert v.is_open
    assert v.departure_evidence is None
    assert v.duration_s() is None
    assert v.duration_s(until=v.arrival + pd.Timedelta(seconds=60)) == 60


def test_data_that_starts_on_site_reports_an_unbounded_arrival_window() -> None:
    df = make_track(_stay(1200) + _walk_out(0)[0] + OUTSIDE, start_xy=(0, 0))
    v = derive_visits(df, site())[0]
    assert v.arrival_window.earliest is None
    assert v.arrival_evidence.before is None


def test_unknown_accuracy_is_assumed_and_the_visit_still_found() -> None:
    df = make_track(WALK_IN + _stay(1200) + _walk_out(0)[0] + OUTSIDE)
    df["accuracy"] = np.nan
    assert len(derive_visits(df, site())) == 1


def test_a_polygon_site_works_like_a_circle() -> None:
    from core.geofence import Geofence

    ring = site().to_geojson()["coordinates"][0]
    polygon = Geofence.from_geojson({"type": "Polygon", "coordinates": [ring]})
    df = make_track(WALK_IN + _stay(1200) + _walk_out(0)[0] + OUTSIDE)
    a, b = derive_visits(df, site())[0], derive_visits(df, polygon)[0]
    assert abs((a.arrival - b.arrival).total_seconds()) < 2
    assert b.fence_digest == polygon.digest != a.fence_digest


def test_to_dict_is_json_ready_and_carries_versions() -> None:
    v = derive_visits(make_track(WALK_IN + _stay(1200)), site())[0]
    d = json.loads(json.dumps(v.to_dict()))
    assert d["departure"] is None
    assert d["arrival"].endswith("Z")
    assert d["evidence"]["arrival"]["after"]["distance_m"] < 0
    assert d["params_digest"] == VisitParams().digest()
    assert d["fence_digest"] == site().digest


def test_params_digest_changes_with_any_parameter() -> None:
    base = VisitParams()
    assert base.digest() == VisitParams().digest()
    assert base.digest() != VisitParams(min_dwell_s=181).digest()


@pytest.mark.parametrize(
    "bad", [{"outlier_probability": 0.6}, {"confirm_fixes": 0.5}, {"min_dwell_s": -1}]
)
def test_nonsense_parameters_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        VisitParams(**bad)


def test_naive_timestamps_are_refused() -> None:
    df = make_track(WALK_IN)
    df["time"] = df["time"].dt.tz_localize(None)
    with pytest.raises(FixesError, match="timezone"):
        derive_visits(df, site())


def test_no_fixes_means_no_visits() -> None:
    empty = make_track(WALK_IN).iloc[:0]
    assert derive_visits(empty, site()) == []


def test_clamped_walk_matches_the_plain_recursion() -> None:
    from core.visits import clamped_walk

    rng = np.random.default_rng(5)
    votes = rng.normal(0, 2, 20_000) + np.repeat(rng.choice([-1.5, 1.5], 200), 100)
    lam = 4.0
    fast = clamped_walk(votes, lam)
    slow, u = np.empty_like(votes), 0.0
    for i, e in enumerate(votes):
        slow[i] = e + u
        u = min(max(slow[i], -lam), lam)
    assert np.allclose(fast, slow, atol=1e-6)
    assert not math.isclose(float(np.abs(fast).max()), lam)
