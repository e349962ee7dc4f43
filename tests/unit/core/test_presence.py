"""Ad-hoc presence (issue 15): was the technician at this place between T1 and T2,
with the same windows and evidence as the visits of a job session."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core.presence import presence
from core.visits import derive_visits
from tests.unit.core.builders import START, Leg, make_track, site

BERLIN = ZoneInfo("Europe/Berlin")
FENCE = site(100.0)
# drive in (2 min), 40 min on site, drive off (2 min), 30 min away
TRACK = make_track(
    [Leg(0, 0, 120), Leg(5, 5, 2400), Leg(2000, 0, 120), Leg(2000, 0, 1800)],
    noise_m=3.0,
)
T0 = START.to_pydatetime()


def test_the_visits_in_the_range_are_those_derive_visits_finds() -> None:
    p = presence(TRACK, FENCE, T0, T0 + dt.timedelta(hours=2))
    assert p.visits == derive_visits(TRACK, FENCE)
    assert len(p.visits) == 1
    assert p.fix_count == len(TRACK)


def test_a_range_that_ends_before_the_arrival_finds_no_visit_but_counts_its_fixes() -> (
    None
):
    p = presence(TRACK, FENCE, T0, T0 + dt.timedelta(seconds=60))
    assert p.visits == []
    assert p.fix_count == 13  # a fix every 5 s, both ends included
    assert "was not at" in p.answer("Tess Meyer", "1 Main St", BERLIN)


def test_the_answer_names_arrival_and_departure_in_the_company_time_zone() -> None:
    p = presence(TRACK, FENCE, T0, T0 + dt.timedelta(hours=2))
    v = p.visits[0]
    text = p.answer("Tess Meyer", "1 Main St", BERLIN)
    assert text.startswith("Tess Meyer was at 1 Main St")
    assert v.arrival.astimezone(BERLIN).strftime("%H:%M:%S") in text
    assert v.departure is not None
    assert v.departure.astimezone(BERLIN).strftime("%H:%M:%S") in text
    assert "on site 40 min" in text


def test_without_fixes_the_answer_says_the_data_cannot_tell() -> None:
    later = T0 + dt.timedelta(days=1)
    p = presence(TRACK, FENCE, later, later + dt.timedelta(hours=1))
    assert (p.visits, p.fix_count) == ([], 0)
    assert "no fixes" in p.answer("Tess Meyer", "1 Main St", BERLIN)
