"""The plain-words answer of a job session, against a scripted day."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.answer import Answer, plus_minus, span, summarize
from core.visits import Visit, Window, derive_visits
from tests.unit.core.builders import START, Leg, make_track, site

BERLIN = ZoneInfo("Europe/Berlin")
T0: datetime = START.to_pydatetime()  # 10:00:00 in Berlin
BOOKED = (T0 + timedelta(minutes=1), T0 + timedelta(hours=1, minutes=10))


def _day() -> list[Visit]:
    """Five minutes' drive in, 55 min on site, five minutes out; a fix every 10 s."""
    track = make_track([Leg(0, 0, 300), Leg(0, 0, 3300), Leg(1000, 0, 300)], 10)
    return derive_visits(track, site())


def _answer(visits: list[Visit], **kw: object) -> Answer:
    args: dict[str, object] = {
        "technician": "Tess Meyer",
        "site": "Marienplatz 8",
        "visits": visits,
        "zone": BERLIN,
        "scheduled_start": BOOKED[0],
        "scheduled_end": BOOKED[1],
        "clocked_s": 54 * 60,
        "billed_hours": Decimal("1.00"),
    }
    args.update(kw)
    return summarize(**args)  # type: ignore[arg-type]


def _say(visits: list[Visit], **kw: object) -> str:
    return _answer(visits, **kw).sentence


def test_a_booked_clocked_and_billed_visit_reads_as_one_sentence_in_company_time() -> (
    None
):
    assert _say(_day()) == (
        "Tess Meyer arrived at Marienplatz 8 at 10:04:30 (±10 s), 4 min after the "
        "booked window opened; left at 11:00:30 (±10 s), 10 min before it closed; "
        "on site 56 min; clocked 54 min; billed 1.0 h"
    )


def test_the_figures_behind_the_sentence_are_given_in_seconds() -> None:
    answer = summarize(
        technician="T",
        site="S",
        visits=_day(),
        zone=BERLIN,
        scheduled_start=BOOKED[0],
        scheduled_end=BOOKED[1],
    )
    figures = answer.to_dict()
    assert figures["arrival_vs_window_s"] == 210.0
    assert figures["departure_vs_window_s"] == -570.0
    assert figures["arrival_uncertainty_s"] == 10.0
    assert figures["billed_hours"] is None
    assert figures["visit_count"] == 1


def test_a_job_without_schedule_or_invoice_says_so() -> None:
    assert _say(
        _day(), scheduled_start=None, scheduled_end=None, billed_hours=None
    ) == (
        "Tess Meyer arrived at Marienplatz 8 at 10:04:30 (±10 s), no booked window; "
        "left at 11:00:30 (±10 s); on site 56 min; clocked 54 min; not billed yet"
    )


def test_no_visit_names_the_booked_window_missed() -> None:
    assert _say([], clocked_s=0.0) == (
        "Tess Meyer has no recorded visit to Marienplatz 8 in the booked window "
        "10:01:00–11:10:00; not clocked; billed 1.0 h"
    )


def test_a_technician_still_on_site_has_no_departure_yet() -> None:
    open_visit = replace(
        _day()[0], departure=None, departure_window=None, departure_evidence=None
    )
    last = T0 + timedelta(minutes=40)
    answer = summarize(
        technician="Tess Meyer",
        site="Marienplatz 8",
        visits=[open_visit],
        zone=BERLIN,
        scheduled_start=BOOKED[0],
        scheduled_end=BOOKED[1],
        last_fix=last,
        session_open=True,
    )
    assert answer.sentence == (
        "Tess Meyer arrived at Marienplatz 8 at 10:04:30 (±10 s), 4 min after the "
        "booked window opened; still on site at the last fix, 10:40:00; "
        "on site 36 min; not clocked; not billed yet"
    )
    assert answer.still_on_site
    assert not answer.provisional


def test_a_departure_while_the_session_is_open_is_provisional() -> None:
    assert "left at 11:00:30 (±10 s), provisional while the session is open" in _say(
        _day(), session_open=True
    )


def test_several_visits_tell_the_first_arrival_and_the_last_departure() -> None:
    track = make_track(
        [
            Leg(0, 0, 300),
            Leg(0, 0, 1200),
            Leg(1000, 0, 300),
            Leg(1000, 0, 600),
            Leg(0, 0, 300),
            Leg(0, 0, 1200),
            Leg(1000, 0, 300),
        ],
        10,
    )
    visits = derive_visits(track, site())
    assert len(visits) == 2
    assert _say(visits) == (
        "Tess Meyer arrived at Marienplatz 8 at 10:04:30 (±10 s), 4 min after the "
        "booked window opened (first of 2 visits); left at 11:05:30 (±10 s), "
        "5 min before it closed (last visit); on site 42 min; clocked 54 min; "
        "billed 1.0 h"
    )


def test_uncertainty_and_durations_are_rounded_for_reading() -> None:
    assert [plus_minus(s) for s in (0.2, 9.6, 89.0, 150.0, None)] == [
        "±1 s",
        "±10 s",
        "±89 s",
        "±3 min",
        "± unknown",
    ]
    assert [span(s) for s in (45, 3420, 3900)] == ["45 s", "57 min", "1 h 05 min"]


def test_a_departure_the_track_end_cannot_settle_reads_as_provisional_with_its_window() -> (
    None
):
    visit = _day()[0]
    assert visit.departure_window is not None
    unsettled = replace(
        visit,
        departure_provisional=True,
        departure_window=Window(
            visit.departure_window.earliest,
            visit.departure_window.earliest + timedelta(minutes=6),
        ),
    )
    answer = _answer([unsettled])
    assert "left at 11:00:30 (±3 min), provisional: between 11:00:20 and 11:06:20" in (
        answer.sentence
    )
    assert answer.provisional
    assert answer.to_dict()["departure_window"] == {
        "earliest": (T0 + timedelta(minutes=60, seconds=20)).isoformat(),
        "latest": (T0 + timedelta(minutes=66, seconds=20)).isoformat(),
    }


def test_the_booked_window_is_worded_in_company_time_across_midnight() -> None:
    from core.answer import booked_window

    start = datetime(2026, 3, 1, 22, 30, tzinfo=BERLIN)
    assert booked_window(start, start + timedelta(hours=2), BERLIN) == (
        "2026-03-01 22:30 – 2026-03-02 00:30"
    )
    assert booked_window(start, start + timedelta(hours=1), BERLIN) == (
        "2026-03-01 22:30 – 23:30"
    )
    assert booked_window(None, None, BERLIN) == "no booked window"
