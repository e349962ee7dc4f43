"""Properties that must hold for any input: order, duplicates, far-away noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.visits import derive_visits
from tests.unit.core.scenarios import SCENARIOS, build

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
scenario_names = st.sampled_from(sorted(SCENARIOS))


@st.composite
def scenarios(draw: st.DrawFn) -> object:
    return build(
        draw(scenario_names),
        draw(st.integers(0, 10_000)),
        draw(st.sampled_from([5.0, 60.0])),
    )


@SETTINGS
@given(sc=scenarios(), perm_seed=st.integers(0, 2**32 - 1), dup=st.floats(0, 1))
def test_order_and_duplicates_never_change_the_result(
    sc: object, perm_seed: int, dup: float
) -> None:
    points: pd.DataFrame = sc.points  # type: ignore[attr-defined]
    fence = sc.fence  # type: ignore[attr-defined]
    rng = np.random.default_rng(perm_seed)
    extra = points.iloc[rng.integers(0, len(points), int(dup * len(points)))]
    shuffled = pd.concat([points, extra]).iloc[
        rng.permutation(len(points) + len(extra))
    ]
    assert derive_visits(shuffled, fence) == derive_visits(points, fence)


@SETTINGS
@given(
    sc=scenarios(),
    seed=st.integers(0, 2**32 - 1),
    share=st.floats(0.001, 0.25),
    distance_km=st.floats(2, 500),
)
def test_adding_fixes_far_away_never_creates_a_visit(
    sc: object, seed: int, share: float, distance_km: float
) -> None:
    points: pd.DataFrame = sc.points  # type: ignore[attr-defined]
    # stray fixes are a minority (up to one per four real ones); when garbage
    # outnumbers the real fixes, no rule can tell which is which
    n = max(1, int(share * len(points)))
    fence = sc.fence  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    t0, t1 = points["time"].min(), points["time"].max()
    times = t0 + (t1 - t0) * rng.uniform(0, 1, n)
    bearing = rng.uniform(0, 2 * np.pi, n)
    dist_deg = distance_km / 111.0
    far = pd.DataFrame(
        {
            "time": times,
            "lat": fence.lat + dist_deg * np.sin(bearing),
            "lon": fence.lon
            + dist_deg * np.cos(bearing) / np.cos(np.radians(fence.lat)),
            "accuracy": rng.uniform(3, 50, n),
        }
    )
    before = derive_visits(points, fence)
    after = derive_visits(pd.concat([points, far]), fence)
    # contradicting fixes may cut a visit short, or split it where they fill a
    # silence, but never produce a visit where there was none
    never = pd.Timestamp.max.tz_localize("UTC")
    for v in after:
        assert any(
            b.arrival <= (v.departure or never) and v.arrival <= (b.departure or never)
            for b in before
        ), v
    # and the far fixes alone are no visit at all
    assert derive_visits(far, fence) == []
