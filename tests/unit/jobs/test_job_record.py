"""Sessions, line items, expenses, notes, estimates, bookings and properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from jobs_domain.bookings import BookingDefault, BookingRequest, job_from_booking
from jobs_domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    TransitionRefused,
)
from jobs_domain.estimates import Estimate
from jobs_domain.job import (
    Attachment,
    AttachmentKind,
    Expense,
    Job,
    JobStatus,
    Note,
    NoteVisibility,
)
from jobs_domain.properties import Geofence, navigation_url
from jobs_domain.sessions import Position, SessionKind
from tests.unit.jobs.builders import (
    ADMIN,
    AUXILIARY,
    DISPATCHER,
    MANAGER,
    T0,
    at,
    clock,
    in_progress_job,
    line,
    new_id,
    scheduled_job,
)


def test_a_session_counts_only_the_time_not_paused() -> None:
    job = in_progress_job()
    clock(job, MANAGER, SessionKind.PAUSE, at(91))
    clock(job, MANAGER, SessionKind.RESUME, at(101))
    clock(job, MANAGER, SessionKind.CLOCK_OUT, at(131))
    assert job.sessions[0].worked() == timedelta(minutes=60)


def test_a_second_clock_in_while_clocked_in_waits_for_the_clock_out_between() -> None:
    job = in_progress_job()
    clock(job, MANAGER, SessionKind.CLOCK_IN, at(70))
    assert len(job.sessions) == 1
    assert [u.reason for u in job.unplaced] == ["already-clocked-in"]
    clock(job, MANAGER, SessionKind.CLOCK_OUT, at(65))
    assert job.unplaced == []
    assert [s.clocked_in_at for s in job.sessions] == [at(61), at(70)]


def test_a_pause_without_a_session_is_kept_until_its_clock_in_arrives() -> None:
    job = scheduled_job()
    clock(job, AUXILIARY, SessionKind.PAUSE, at(70))
    assert job.sessions == []
    assert [u.reason for u in job.unplaced] == ["not-clocked-in"]
    clock(job, AUXILIARY, SessionKind.CLOCK_IN, at(65))
    assert job.unplaced == []
    assert job.sessions[0].state == "paused"
    assert job.sessions[0].worked() == timedelta(minutes=5)


def test_a_session_event_earlier_than_the_last_one_is_placed_in_time() -> None:
    job = in_progress_job()
    clock(job, MANAGER, SessionKind.CLOCK_OUT, at(120))
    clock(job, MANAGER, SessionKind.PAUSE, at(90))
    clock(job, MANAGER, SessionKind.RESUME, at(100))
    assert job.sessions[0].intervals == ((at(61), at(90)), (at(100), at(120)))
    assert job.sessions[0].worked() == timedelta(minutes=49)


def test_a_technician_clocks_only_themselves_in() -> None:
    job = scheduled_job()
    with pytest.raises(Forbidden):
        job.session_event(
            MANAGER,
            technician_id="t2",
            kind=SessionKind.CLOCK_IN,
            at=at(61),
            event_id="e",
            session_id="s",
        )


def test_a_session_keeps_the_position_of_each_clock_event_as_evidence() -> None:
    job = scheduled_job()
    job.session_event(
        MANAGER,
        technician_id="t1",
        kind=SessionKind.CLOCK_IN,
        at=at(61),
        event_id="ev-1",
        session_id="s-1",
        device_id="phone-1",
        position=Position(52.37, 4.89, 8.0),
    )
    session = job.sessions[0]
    assert session.device_id == "phone-1"
    assert session.evidence[0].position == Position(52.37, 4.89, 8.0)
    assert session.evidence[0].event_id == "ev-1"


def test_positions_outside_the_globe_are_invalid() -> None:
    with pytest.raises(InvalidInput):
        Position(91, 0)


def test_line_item_totals_use_exact_decimal_money_with_tax_per_rate() -> None:
    job = in_progress_job()
    job.add_line_item(MANAGER, at(70), line("3", "0.10", "20"))
    job.add_line_item(MANAGER, at(70), line("1", "99.99", "5.5"))
    net, tax, gross = job.totals()
    assert net == Decimal("100.29")
    assert tax == Decimal("0.06") + Decimal("5.50")
    assert gross == net + tax


def test_profitability_is_revenue_minus_expenses_and_labour() -> None:
    job = in_progress_job()
    job.add_line_item(MANAGER, at(62), line("2", "150.00"))
    job.add_expense(
        MANAGER,
        at(63),
        Expense(new_id("ex"), "Valve", Decimal("42.50"), MANAGER.user_id, at(63)),
    )
    clock(job, MANAGER, SessionKind.CLOCK_OUT, at(61 + 90))
    result = job.profitability({"t1": Decimal("40")})
    assert result.revenue == Decimal("300.00")
    assert result.labour == Decimal("60.00")
    assert result.profit == Decimal("197.50")


def test_an_expense_receipt_not_yet_synced_is_pending_until_its_photo_arrives() -> None:
    job = in_progress_job()
    receipt_id = new_id("att")
    expense = Expense(
        new_id("ex"),
        "Valve",
        Decimal("4"),
        MANAGER.user_id,
        at(63),
        receipt_attachment_id=receipt_id,
    )
    job.add_expense(MANAGER, at(63), expense)
    assert job.expenses[0].receipt_status(job.attachments) == "pending"
    job.add_attachment(
        MANAGER,
        at(62),
        Attachment(
            receipt_id,
            AttachmentKind.RECEIPT,
            "till receipt",
            "r.jpg",
            "image/jpeg",
            10,
            "0" * 64,
            MANAGER.user_id,
            at(62),
        ),
    )
    assert job.expenses[0].receipt_status(job.attachments) == "attached"


def test_an_expense_sent_twice_under_its_client_id_is_added_once() -> None:
    job = in_progress_job()
    expense = Expense(new_id("ex"), "Valve", Decimal("4"), MANAGER.user_id, at(63))
    job.add_expense(MANAGER, at(63), expense)
    job.add_expense(MANAGER, at(63), expense)
    assert len(job.expenses) == 1
    with pytest.raises(Conflict):
        job.add_expense(MANAGER, at(64), replace(expense, description="Another thing"))


def test_only_public_notes_reach_the_customer() -> None:
    job = in_progress_job()
    for visibility in NoteVisibility:
        job.add_note(
            MANAGER,
            at(65),
            Note(new_id("n"), visibility, f"{visibility} note", "u", "Tess", at(65)),
        )
    assert [n.text for n in job.public_notes()] == ["public note"]


def test_a_completed_job_is_frozen_for_technicians_but_not_for_the_office() -> None:
    job = in_progress_job()
    job.complete(MANAGER, at(150))
    with pytest.raises(TransitionRefused):
        job.add_line_item(MANAGER, at(151), line())
    job.add_line_item(ADMIN, at(151), line())
    assert len(job.line_items) == 1


def test_an_expense_the_crew_recorded_before_completion_syncs_after_it() -> None:
    job = in_progress_job()
    job.complete(MANAGER, at(150))

    def expense(minute: int) -> Expense:
        return Expense(new_id("ex"), "Valve", Decimal("4"), MANAGER.user_id, at(minute))

    job.add_expense(MANAGER, at(140), expense(140))
    assert len(job.expenses) == 1, "recorded while the job was open"
    with pytest.raises(TransitionRefused):
        job.add_expense(MANAGER, at(151), expense(151))


def test_duplicating_copies_the_scope_into_a_new_pending_job() -> None:
    job = in_progress_job()
    job.add_line_item(MANAGER, at(62), line())
    copy = job.duplicate(
        MANAGER, at(63), job_id="copy", number=43, new_ids=["n1", "n2", "n3"]
    )
    assert copy.status is JobStatus.PENDING
    assert copy.line_items[0].id == "n1"
    assert copy.line_items[0].unit_price == job.line_items[0].unit_price
    assert copy.job_manager == "t1"
    assert copy.sessions == []


def test_a_technician_duplicates_only_when_the_settings_allow() -> None:
    job = in_progress_job()
    with pytest.raises(Forbidden, match="duplicate"):
        job.duplicate(
            MANAGER,
            at(63),
            job_id="copy",
            number=43,
            new_ids=[],
            technicians_may_duplicate=False,
        )
    copy = job.duplicate(MANAGER, at(63), job_id="copy", number=43, new_ids=[])
    assert copy.status is JobStatus.PENDING


def _estimate() -> Estimate:
    return Estimate(
        id="est",
        number=7,
        client_id="c1",
        description="New boiler",
        created_at=T0,
        line_items=[line("1", "2500.00"), line("4", "65.00")],
        notes=[
            Note("n", NoteVisibility.PUBLIC, "Includes 2-year warranty", "u", "A", T0)
        ],
    )


def test_an_estimate_converts_only_after_approval() -> None:
    estimate = _estimate()
    with pytest.raises(TransitionRefused) as refused:
        estimate.convert(DISPATCHER, at(1), job_id="j", job_number=1, new_ids=[])
    assert refused.value.items[0].code == "not-approved"


def test_converting_carries_over_every_line_item_price_and_note() -> None:
    estimate = _estimate()
    estimate.approve(DISPATCHER, at(1))
    job = estimate.convert(
        DISPATCHER, at(2), job_id="j", job_number=1, new_ids=["a", "b", "c"]
    )
    assert [(i.quantity, i.unit_price) for i in job.line_items] == [
        (i.quantity, i.unit_price) for i in estimate.line_items
    ]
    assert [n.text for n in job.notes] == ["Includes 2-year warranty"]
    assert job.estimate_id == "est"


def test_an_estimate_converts_once() -> None:
    estimate = _estimate()
    estimate.approve(DISPATCHER, at(1))
    estimate.convert(DISPATCHER, at(2), job_id="j", job_number=1, new_ids="abc")
    with pytest.raises(TransitionRefused) as refused:
        estimate.convert(DISPATCHER, at(3), job_id="k", job_number=2, new_ids="abc")
    assert refused.value.items[0].code == "already-converted"


def _booked_job(technician_id: str | None, default_status: BookingDefault) -> Job:
    """The job a booking request turns into under the given booking setting."""
    request = BookingRequest(
        id="b1",
        client_id="c1",
        description="Leaking tap",
        requested_start=at(600),
        requested_end=at(660),
        technician_id=technician_id,
    )
    return job_from_booking(
        request,
        actor=DISPATCHER,
        now=at(0),
        job_id="j",
        job_number=1,
        default_status=default_status,
    )


def test_a_booking_creates_a_pending_job_when_the_setting_says_pending() -> None:
    job = _booked_job("t1", BookingDefault.PENDING)
    assert job.status is JobStatus.PENDING
    assert job.scheduled_start == at(600)


def test_a_booking_creates_a_scheduled_job_when_the_setting_says_scheduled() -> None:
    job = _booked_job("t1", BookingDefault.SCHEDULED)
    assert job.status is JobStatus.SCHEDULED
    assert job.job_manager == "t1"


def test_a_booking_without_a_technician_stays_pending_and_says_why() -> None:
    job = _booked_job(None, BookingDefault.SCHEDULED)
    assert job.status is JobStatus.PENDING
    assert job.new_history[-1].action == "kept_pending"


def test_a_geofence_is_a_radius_or_a_polygon_but_not_both() -> None:
    assert Geofence.parse({"radius_m": 80}).radius_m == 80
    ring = [[4.0, 52.0], [4.1, 52.0], [4.1, 52.1]]
    assert Geofence.parse({"polygon": ring}).polygon is not None
    with pytest.raises(InvalidInput):
        Geofence.parse({"radius_m": 80, "polygon": ring})
    with pytest.raises(InvalidInput) as bad:
        Geofence.parse({"radius_m": 1})
    assert bad.value.problems[0].pointer == "/geofence/radius_m"


def test_the_navigation_link_prefers_coordinates_over_the_address() -> None:
    assert "52.370000,4.890000" in navigation_url(["Dam 1"], 52.37, 4.89)
    assert "Dam%201" in navigation_url(["Dam 1", "Amsterdam"], None, None)
