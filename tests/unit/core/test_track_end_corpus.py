"""Corpus tracks that end with the technician driving off (issue 15): the phone goes
quiet on the way out and the data ends with one or two fixes from the road."""

from __future__ import annotations

import pytest

from core.visits import derive_visits
from tests.unit.core.corpus import Report, evaluate
from tests.unit.core.scenarios import INTERVALS_S, build

SEEDS = range(12)


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(SEEDS, ("drive_off_end",))


@pytest.mark.parametrize("interval_s", INTERVALS_S)
def test_every_visit_that_ends_with_a_drive_off_is_closed_and_settled(
    interval_s: float,
) -> None:
    for seed in SEEDS:
        sc = build("drive_off_end", seed, interval_s)
        visits = derive_visits(sc.points, sc.fence)
        assert len(visits) == 1, (seed, visits)
        assert visits[0].departure is not None, seed
        assert not visits[0].departure_provisional, seed


@pytest.mark.parametrize("interval_s", INTERVALS_S)
def test_the_true_departure_lies_inside_the_window_nine_times_in_ten(
    report: Report, interval_s: float
) -> None:
    t = report.ragged[("crewtrack", interval_s)]
    assert t.runs == len(SEEDS)
    assert t.count_ok == t.runs
    assert len(t.departure_err) == t.runs  # every departure found
    assert t.coverage >= 0.90
