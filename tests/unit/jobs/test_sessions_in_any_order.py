"""A phone that was offline syncs its clock events late and shuffled: the sessions
come out exactly as if they had arrived in order, once each."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from jobs_domain.job import Job, JobStatus
from jobs_domain.sessions import SessionKind
from tests.unit.jobs.builders import (
    DISPATCHER,
    MANAGER,
    at,
    new_id,
    scheduled_job,
)

DAY = [
    (SessionKind.CLOCK_IN, 60),
    (SessionKind.PAUSE, 120),
    (SessionKind.RESUME, 150),
    (SessionKind.CLOCK_OUT, 240),
    (SessionKind.CLOCK_IN, 300),
    (SessionKind.PAUSE, 330),
    (SessionKind.RESUME, 335),
    (SessionKind.CLOCK_OUT, 400),
]


def _replay(order: list[int], events: list[tuple[SessionKind, int]] = DAY) -> Job:
    job = scheduled_job()
    ids = [f"ev-{i}" for i in range(len(events))]
    for i in order:
        kind, minute = events[i]
        _clock(job, kind, minute, ids[i], new_id("s"))
    return job


def _clock(job: Job, kind: SessionKind, minute: int, event_id: str, sid: str) -> None:
    assert MANAGER.technician_id is not None
    job.session_event(
        MANAGER,
        technician_id=MANAGER.technician_id,
        kind=kind,
        at=at(minute),
        event_id=event_id,
        session_id=sid,
    )


def _shape(job: Job) -> list[tuple[object, ...]]:
    return [(s.state, s.intervals, s.worked()) for s in job.sessions]


def test_every_order_of_arrival_gives_the_in_order_sessions() -> None:
    expected = _shape(_replay(list(range(len(DAY)))))
    assert [w for *_, w in expected] == [timedelta(minutes=150), timedelta(minutes=95)]
    rng = random.Random(7)
    orders = [rng.sample(range(len(DAY)), len(DAY)) for _ in range(300)]
    orders.append(list(reversed(range(len(DAY)))))
    for order in orders:
        job = _replay(order)
        assert _shape(job) == expected, order
        assert job.unplaced == []
        assert job.status is JobStatus.IN_PROGRESS


def test_every_order_of_a_short_day_gives_the_same_sessions() -> None:
    short = DAY[:4]
    expected = _shape(_replay([0, 1, 2, 3], short))
    for order in itertools.permutations(range(4)):
        assert _shape(_replay(list(order), short)) == expected


def test_sessions_keep_their_ids_when_late_events_rearrange_them() -> None:
    job = _replay([0, 4])  # two clock-ins: the second waits for a clock-out
    first = job.sessions[0].id
    assert len(job.sessions) == 1
    _clock(job, SessionKind.CLOCK_OUT, 240, "late-out", "second")
    assert [s.id for s in job.sessions] == [first, "second"]


def test_a_clock_in_synced_after_the_hold_started_is_paused_by_the_hold() -> None:
    job = _replay([])
    _clock(job, SessionKind.CLOCK_IN, 60, "in", "s1")
    job.hold(DISPATCHER, at(100), "waiting for parts")
    assert job.sessions[0].state == "paused"
    job.session_event(
        MANAGER,
        technician_id=MANAGER.technician_id,
        kind=SessionKind.PAUSE,
        at=at(90),
        event_id="own-pause",
        session_id="x",
    )
    session = job.sessions[0]
    assert session.state == "paused"
    assert session.worked() == timedelta(minutes=30), "paused at 90 by the phone"
    assert not session.held, "the technician's own pause, synced late, counts"
    assert job.unplaced == [], "the hold's pause, made redundant, is dropped"


def test_work_from_before_a_hold_synced_during_it_is_paused_by_the_hold() -> None:
    job = _replay([])
    job.start(MANAGER, at(50))
    job.hold(DISPATCHER, at(100), "waiting for parts")
    _clock(job, SessionKind.CLOCK_IN, 60, "late-in", "s1")
    assert job.status is JobStatus.ON_HOLD, "a clock-in from before does not resume"
    assert job.sessions[0].held
    assert job.sessions[0].worked() == timedelta(minutes=40)
    job.resume(DISPATCHER, at(130))
    assert job.sessions[0].state == "running"
