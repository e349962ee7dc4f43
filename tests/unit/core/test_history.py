"""Audit helpers: trail simplification, coverage and stay points."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from core.history import coverage, douglas_peucker, simplify_trail, stay_points
from tests.unit.core.builders import Leg, make_track, seconds_after_start


def test_douglas_peucker_keeps_corners_and_drops_collinear_points() -> None:
    x = np.array([0, 10, 20, 30, 30, 30, 30], dtype=float)
    y = np.array([0, 0, 0, 0, 10, 20, 30], dtype=float)
    assert douglas_peucker(x, y, 1.0).tolist() == [0, 3, 6]


def test_no_dropped_fix_is_farther_than_the_tolerance_from_the_trail() -> None:
    rng = np.random.default_rng(1)
    x, y = np.cumsum(rng.normal(0, 10, 500)), np.cumsum(rng.normal(0, 10, 500))
    kept = douglas_peucker(x, y, 15.0)
    assert 2 < len(kept) < 500
    for a, b in itertools.pairwise(kept):
        for i in range(a + 1, b):
            px, py = x[i] - x[a], y[i] - y[a]
            dx, dy = x[b] - x[a], y[b] - y[a]
            t = np.clip((px * dx + py * dy) / (dx * dx + dy * dy), 0, 1)
            assert np.hypot(px - t * dx, py - t * dy) <= 15.0 + 1e-9


def test_simplify_trail_returns_fewer_fixes_with_both_ends() -> None:
    df = make_track([Leg(0, 0, 600), Leg(0, 500, 600)], every_s=5)
    out = simplify_trail(df, tolerance_m=2.0)
    assert len(out) == 3
    assert out["time"].iloc[0] == df["time"].min()
    assert out["time"].iloc[-1] == df["time"].max()


def test_coverage_reports_density_gaps_and_accuracy_percentiles() -> None:
    df = make_track([Leg(0, 0, 3600)], every_s=10)
    secs = (df["time"] - df["time"].iloc[0]).dt.total_seconds()
    df = df[(secs < 600) | (secs >= 1500)].copy()
    df["accuracy"] = np.linspace(5, 50, len(df))
    df.loc[df.index[:3], "accuracy"] = np.nan
    cov = coverage(df, gap_threshold_s=120)
    assert len(cov.gaps) == 1
    assert cov.gaps[0].seconds == 910
    assert cov.gap_s == 910
    assert cov.fixes_per_minute == len(df) / 60
    assert cov.unknown_accuracy_count == 3
    assert cov.accuracy_percentiles_m[50] < cov.accuracy_percentiles_m[95] <= 50
    assert cov.to_dict()["accuracy_percentiles_m"]["p50"] > 5


def test_stay_points_find_the_stop_without_the_fence() -> None:
    legs = [Leg(0, 0, 600), Leg(0, 0, 1800), Leg(2000, 0, 200), Leg(2000, 0, 60)]
    df = make_track(legs, noise_m=8, seed=2)
    stops = stay_points(df)
    assert len(stops) == 1
    assert abs(seconds_after_start(stops[0].start) - 600) <= 40
    assert abs(seconds_after_start(stops[0].end) - 2400) <= 40


def test_a_lone_jump_does_not_end_a_stay_and_lights_are_no_stop() -> None:
    legs = [Leg(0, 0, 600), Leg(0, 0, 1800), Leg(3000, 0, 300), Leg(3000, 0, 120)]
    df = make_track(legs, noise_m=5, seed=4)
    jump_at = df.index[len(df) // 2]
    df.loc[jump_at, "lat"] += 0.004  # ~450 m north, once
    stops = stay_points(df)
    assert len(stops) == 1
    assert stops[0].seconds > 1700
    assert stay_points(pd.concat([df]), min_duration_s=4000) == []
