"""The job lifecycle: Pending → Scheduled → In Progress ⇄ On Hold → Completed / Cancelled."""

from __future__ import annotations

import pytest

from jobs_domain.errors import (
    Blocker,
    CompletionBlocked,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
)
from jobs_domain.job import (
    CrewRole,
    Job,
    JobStatus,
    format_job_number,
    parse_job_number,
)
from jobs_domain.sessions import SessionKind
from tests.unit.jobs.builders import (
    ADMIN,
    AUXILIARY,
    BILLING,
    DISPATCHER,
    MANAGER,
    STRANGER,
    at,
    clock,
    in_progress_job,
    pending_job,
    required_task,
    scheduled_job,
)


def test_a_new_job_is_pending_and_remembers_who_created_it() -> None:
    job = pending_job()
    assert job.status is JobStatus.PENDING
    assert job.new_history[0].action == "created"
    assert job.new_history[0].actor_id == DISPATCHER.user_id


def test_job_numbers_are_human_readable_and_parse_back() -> None:
    assert format_job_number(42) == "J-000042"
    assert parse_job_number("J-000042") == 42
    assert parse_job_number("not-a-number") is None


def test_a_technician_who_creates_a_job_becomes_its_job_manager() -> None:
    job = Job.create(
        actor=MANAGER, now=at(0), job_id="j", number=1, client_id="c", description="d"
    )
    assert job.job_manager == "t1"


def test_scheduling_needs_a_job_manager_and_a_time_window() -> None:
    job = pending_job()
    with pytest.raises(TransitionRefused) as refused:
        job.schedule(DISPATCHER, at(0))
    codes = {b.code for b in refused.value.items}
    assert codes == {"no-job-manager", "no-schedule"}


def test_scheduling_assigns_the_technician_and_puts_the_job_on_the_calendar() -> None:
    job = pending_job()
    job.schedule(DISPATCHER, at(0), start=at(60), end=at(120), technician_id="t1")
    assert job.status is JobStatus.SCHEDULED
    assert job.job_manager == "t1"
    assert job.scheduled_start == at(60)


def test_a_schedule_must_end_after_it_starts() -> None:
    job = pending_job()
    with pytest.raises(InvalidInput):
        job.schedule(DISPATCHER, at(0), start=at(60), end=at(60), technician_id="t1")


def test_technicians_do_not_schedule_jobs() -> None:
    job = pending_job()
    with pytest.raises(Forbidden):
        job.schedule(MANAGER, at(0), start=at(60), end=at(120), technician_id="t1")


def test_clocking_in_starts_a_scheduled_job() -> None:
    job = scheduled_job()
    clock(job, MANAGER, SessionKind.CLOCK_IN, at(61))
    assert job.status is JobStatus.IN_PROGRESS
    assert [h.action for h in job.new_history][-2:] == ["clocked_in", "started"]


def test_a_pending_job_refuses_clock_in() -> None:
    job = pending_job()
    job.assign(DISPATCHER, at(0), "t1", CrewRole.JOB_MANAGER)
    with pytest.raises(TransitionRefused):
        clock(job, MANAGER, SessionKind.CLOCK_IN, at(1))


def test_start_is_only_allowed_from_scheduled() -> None:
    job = pending_job()
    with pytest.raises(TransitionRefused) as refused:
        job.start(DISPATCHER, at(1))
    assert refused.value.items[0].code == "wrong-status"


def test_hold_needs_a_reason_and_pauses_running_sessions() -> None:
    job = in_progress_job()
    with pytest.raises(InvalidInput):
        job.hold(MANAGER, at(70), "  ")
    job.hold(MANAGER, at(70), "waiting for parts")
    assert job.status is JobStatus.ON_HOLD
    assert job.hold_reason == "waiting for parts"
    assert job.sessions[0].state == "paused"


def test_resume_brings_a_job_on_hold_back_in_progress() -> None:
    job = in_progress_job()
    job.hold(MANAGER, at(70), "waiting for customer approval")
    job.resume(DISPATCHER, at(90))
    assert job.status is JobStatus.IN_PROGRESS
    assert job.hold_reason is None


def test_clocking_in_to_a_job_on_hold_resumes_it() -> None:
    job = in_progress_job()
    job.hold(MANAGER, at(70), "waiting for parts")
    clock(job, MANAGER, SessionKind.CLOCK_OUT, at(71))
    clock(job, MANAGER, SessionKind.CLOCK_IN, at(120))
    assert job.status is JobStatus.IN_PROGRESS


def test_required_tasks_block_completion_and_are_listed() -> None:
    task = required_task()
    job = in_progress_job(tasks=[task])
    with pytest.raises(CompletionBlocked) as blocked:
        job.complete(MANAGER, at(150))
    assert [b.ref for b in blocked.value.items] == [task.id]
    job.set_task_done(MANAGER, at(149), task.id, True)
    job.complete(MANAGER, at(150))
    assert job.status is JobStatus.COMPLETED


def test_blockers_from_other_modules_also_block_completion() -> None:
    job = in_progress_job()
    report = Blocker("report-field-missing", "signature of the customer", "f1")
    assert job.completion_blockers([report]) == [report]
    with pytest.raises(CompletionBlocked) as blocked:
        job.complete(MANAGER, at(150), extra_blockers=[report])
    assert blocked.value.items == [report]


def test_completion_check_lists_every_blocker_at_once() -> None:
    job = scheduled_job(tasks=[required_task("a"), required_task("b")])
    codes = [b.code for b in job.completion_blockers()]
    assert codes == ["wrong-status", "required-task-open", "required-task-open"]


def test_only_the_job_manager_completes_the_job() -> None:
    job = in_progress_job()
    with pytest.raises(Forbidden):
        job.complete(AUXILIARY, at(150))
    job.complete(MANAGER, at(150))
    assert job.completed_by == MANAGER.user_id


def test_completing_clocks_out_open_sessions() -> None:
    job = in_progress_job()
    job.complete(MANAGER, at(150))
    assert job.sessions[0].state == "closed"
    assert job.sessions[0].clocked_out_at == at(150)


def test_billing_staff_cannot_complete_a_job() -> None:
    job = in_progress_job()
    with pytest.raises(Forbidden):
        job.complete(BILLING, at(150))


def test_cancel_keeps_who_when_and_why() -> None:
    job = in_progress_job()
    job.cancel(ADMIN, at(100), "customer moved out")
    assert job.status is JobStatus.CANCELLED
    assert job.cancellation is not None
    assert (job.cancellation.by, job.cancellation.at) == (ADMIN.user_id, at(100))
    assert job.cancellation.reason == "customer moved out"
    assert job.sessions[0].state == "closed"
    assert job.new_history[-1].action == "cancelled"


def test_a_cancelled_job_cannot_be_cancelled_or_edited_again() -> None:
    job = pending_job()
    job.cancel(ADMIN, at(1), "duplicate request")
    with pytest.raises(TransitionRefused):
        job.cancel(ADMIN, at(2), "again")
    with pytest.raises(TransitionRefused):
        job.add_task(ADMIN, at(2), required_task())


def test_a_technician_cannot_see_another_technicians_job() -> None:
    job = scheduled_job()
    with pytest.raises(NotFound):
        job.ensure_visible(STRANGER)
    with pytest.raises(NotFound):
        job.hold(STRANGER, at(1), "nope")


def test_rescheduling_by_a_technician_follows_the_administrators_setting() -> None:
    job = scheduled_job()
    with pytest.raises(Forbidden):
        job.reschedule(
            MANAGER, at(1), start=at(300), end=at(360), technicians_may_reschedule=False
        )
    job.reschedule(
        MANAGER, at(1), start=at(300), end=at(360), technicians_may_reschedule=True
    )
    assert job.scheduled_start == at(300)


def test_declining_removes_the_technician_and_an_unmanaged_job_goes_back_to_pending() -> (
    None
):
    job = scheduled_job()
    with pytest.raises(Forbidden):
        job.decline(MANAGER, at(1), reason="sick", technicians_may_decline=False)
    job.decline(MANAGER, at(1), reason="sick", technicians_may_decline=True)
    assert job.crew_role_of("t1") is None
    assert job.status is JobStatus.PENDING
