"""Clock events against derived visits."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from core.reconcile import ClockEvent, ReconcileParams, clocked_intervals, reconcile
from core.visits import Visit, derive_visits
from tests.unit.core.builders import SITE_LAT, SITE_LON, START, Leg, make_track, site

# walk in at ~133 s, stay an hour, walk out at ~3867 s
LEGS = [
    Leg(300, 0, 0),
    Leg(0, 0, 200),
    Leg(0, 0, 3600),
    Leg(300, 0, 200),
    Leg(300, 0, 600),
]


def _visits() -> list[Visit]:
    return derive_visits(make_track(LEGS), site())


def at(seconds: float) -> pd.Timestamp:
    return START + timedelta(seconds=seconds)


def test_clocking_in_and_out_on_time_raises_nothing() -> None:
    events = [ClockEvent("clock_in", at(180)), ClockEvent("clock_out", at(3900))]
    r = reconcile(events, _visits(), fence=site())
    assert r.flags == ()
    assert r.clock_in_delta_s is not None
    assert 0 < r.clock_in_delta_s < 60
    assert r.clock_out_delta_s is not None
    assert 0 < r.clock_out_delta_s < 60
    assert abs(r.billed_s - r.on_site_s) < 120


def test_clocking_in_long_before_arriving_is_flagged() -> None:
    events = [ClockEvent("clock_in", at(-1800)), ClockEvent("clock_out", at(3900))]
    r = reconcile(events, _visits())
    assert "clocked_in_before_arrival" in r.codes()
    assert "billed_exceeds_on_site" in r.codes()
    assert r.clock_in_delta_s is not None
    assert r.clock_in_delta_s < -1800


def test_clocking_out_long_after_leaving_is_flagged() -> None:
    events = [ClockEvent("clock_in", at(150)), ClockEvent("clock_out", at(3900 + 3600))]
    assert "clocked_out_after_departure" in reconcile(events, _visits()).codes()


def test_a_small_early_clock_in_within_tolerance_is_not_flagged() -> None:
    events = [ClockEvent("clock_in", at(0)), ClockEvent("clock_out", at(3900))]
    assert "clocked_in_before_arrival" not in reconcile(events, _visits()).codes()
    strict = ReconcileParams(clock_in_early_s=30)
    assert (
        "clocked_in_before_arrival"
        in reconcile(events, _visits(), params=strict).codes()
    )


def test_clocking_in_far_from_the_site_is_flagged() -> None:
    far = ClockEvent("clock_in", at(150), SITE_LAT + 0.05, SITE_LON)
    r = reconcile([far, ClockEvent("clock_out", at(3900))], _visits(), fence=site())
    assert "clocked_in_far_away" in r.codes()


def test_being_on_site_without_clocking_in_is_flagged() -> None:
    r = reconcile([], _visits())
    assert "on_site_without_clock" in r.codes()
    paused = [
        ClockEvent("clock_in", at(150)),
        ClockEvent("pause", at(600)),
        ClockEvent("resume", at(3000)),
        ClockEvent("clock_out", at(3900)),
    ]
    r2 = reconcile(paused, _visits())
    assert "on_site_without_clock" in r2.codes()
    assert r2.billed_s == (600 - 150) + (3900 - 3000)


def test_clocked_in_but_never_on_site_is_flagged() -> None:
    events = [ClockEvent("clock_in", at(0)), ClockEvent("clock_out", at(3600))]
    assert "no_visit" in reconcile(events, []).codes()


def test_events_are_ordered_by_time_and_nonsense_is_reported() -> None:
    events = [
        ClockEvent("clock_out", at(100)),
        ClockEvent("clock_in", at(0)),
        ClockEvent("clock_out", at(200)),
    ]
    intervals, flags = clocked_intervals(events)
    assert [(i.start, i.end) for i in intervals] == [(at(0), at(100))]
    assert [f.code for f in flags] == ["inconsistent_clock_events"]


def test_a_session_still_clocked_in_is_billed_up_to_now() -> None:
    r = reconcile([ClockEvent("clock_in", at(150))], _visits(), now=at(1150))
    assert r.billed_s == 1000
    assert "missing_clock_out" in r.codes()
    assert r.to_dict()["clocked_intervals"][0]["end"] is None


def test_clocking_out_of_a_paused_session_is_a_sequence_that_fits() -> None:
    # a job put On Hold pauses its session; the technician then clocks out
    # without resuming: the sessions domain allows it, so the audit must not
    # call it nonsense (the pause already ended the billed interval)
    events = [
        ClockEvent("clock_in", at(0)),
        ClockEvent("pause", at(600)),
        ClockEvent("clock_out", at(3600)),
    ]
    intervals, flags = clocked_intervals(events)
    assert [(i.start, i.end) for i in intervals] == [(at(0), at(600))]
    assert flags == []
    # … but a second clock-out, or a pause of a paused session, still does not
    twice = [*events, ClockEvent("clock_out", at(3700))]
    assert [f.code for f in clocked_intervals(twice)[1]] == [
        "inconsistent_clock_events"
    ]
    paused_twice = [*events[:2], ClockEvent("pause", at(900))]
    assert [f.code for f in clocked_intervals(paused_twice)[1]] == [
        "inconsistent_clock_events"
    ]
