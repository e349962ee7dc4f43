"""The demo phones' synced trail of the day so far, read by the real derivation.

A van that clocks out and drives off must show it: the derived visit ends soon
after the clock-out, and the audit has nothing to flag about a session lived
exactly as booked (before, the trail went silent after the clock-out and the
derivation rightly kept the technician on site until the next drive began, so
every morning job of the demo showed "35 min on site while not clocked in").
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pandas as pd

from core.geofence import Geofence
from core.reconcile import ClockEvent, reconcile
from core.visits import derive_visits
from crewtrack.demo.day import TRAIL_AFTER_S, Stint, trail_of

NOW = datetime(2026, 12, 7, 11, 20, tzinfo=UTC)
SITES = [(48.1615, 11.5861), (48.1230, 11.5092), (48.1260, 11.6040)]


def _day() -> list[Stint]:
    start = datetime(2026, 12, 7, 7, 6, tzinfo=UTC)
    return [
        Stint(SITES[0], start, start + timedelta(minutes=35)),
        # the next one only 20 minutes later: a straight drive
        Stint(SITES[1], start + timedelta(minutes=55), start + timedelta(minutes=90)),
        Stint(SITES[2], start + timedelta(minutes=200), None),  # still there
    ]


def _frame(fixes: list[dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": pd.to_datetime([f["t"] for f in fixes], unit="ms", utc=True),
            "lat": [f["lat"] for f in fixes],
            "lon": [f["lon"] for f in fixes],
            "accuracy": [f["acc"] for f in fixes],
        }
    )


def test_a_session_lived_as_booked_has_a_visit_that_ends_when_the_van_left() -> None:
    stints = _day()
    track = _frame(trail_of(stints, NOW, random.Random(1)))
    for stint in stints[:2]:
        fence = Geofence.circle(*stint.site, 60.0)
        visits = derive_visits(track, fence)
        assert len(visits) == 1
        (visit,) = visits
        assert stint.clocked_out is not None
        left = stint.clocked_out + timedelta(seconds=TRAIL_AFTER_S)
        assert visit.departure is not None
        assert abs((visit.departure - left).total_seconds()) < 60
        events = [
            ClockEvent("clock_in", stint.clocked_in),
            ClockEvent("clock_out", stint.clocked_out),
        ]
        assert reconcile(events, visits, fence=fence).flags == ()


def test_the_trail_never_reaches_past_now_and_keeps_the_current_visit_open() -> None:
    stints = _day()
    fixes = trail_of(stints, NOW, random.Random(2))
    assert max(f["t"] for f in fixes) <= NOW.timestamp() * 1000
    fence = Geofence.circle(*stints[2].site, 60.0)
    (visit,) = derive_visits(_frame(fixes), fence)
    assert visit.departure is None


def test_a_paused_session_is_left_when_it_paused() -> None:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    paused = start + timedelta(minutes=9)  # the job went On Hold
    fence = Geofence.circle(*SITES[0], 60.0)
    stints = [Stint(SITES[0], start, paused)]
    (visit,) = derive_visits(_frame(trail_of(stints, NOW, random.Random(3))), fence)
    assert visit.departure is not None
    left = paused + timedelta(seconds=TRAIL_AFTER_S)
    assert abs((visit.departure - left).total_seconds()) < 60
