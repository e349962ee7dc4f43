"""Tiny builders for job-domain tests: actors, a job at a given status, a clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from jobs_domain.actors import Actor, Role
from jobs_domain.job import CrewRole, Job, JobStatus, LineItem, LineItemKind, Task
from jobs_domain.sessions import SessionKind

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
_ids = itertools.count(1)

ADMIN = Actor("u-admin", Role.ADMIN, "Ada Admin")
DISPATCHER = Actor("u-disp", Role.DISPATCHER, "Dan Dispatch")
BILLING = Actor("u-bill", Role.BILLING, "Bill Billing")
MANAGER = Actor("u-tech1", Role.TECHNICIAN, "Tess Tech", technician_id="t1")
AUXILIARY = Actor("u-tech2", Role.TECHNICIAN, "Alex Aux", technician_id="t2")
STRANGER = Actor("u-tech3", Role.TECHNICIAN, "Sam Other", technician_id="t3")


def new_id(prefix: str = "id") -> str:
    return f"{prefix}-{next(_ids)}"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def line(qty: str = "1", price: str = "100.00", rate: str = "20") -> LineItem:
    return LineItem(
        id=new_id("li"),
        kind=LineItemKind.SERVICE,
        description="Boiler service",
        quantity=Decimal(qty),
        unit_price=Decimal(price),
        tax_rate=Decimal(rate),
    )


def pending_job(**kwargs: object) -> Job:
    job = Job.create(
        actor=DISPATCHER,
        now=T0,
        job_id=new_id("job"),
        number=42,
        client_id="c1",
        description="Annual boiler service",
        **kwargs,  # type: ignore[arg-type]
    )
    return job


def scheduled_job(**kwargs: object) -> Job:
    job = pending_job(**kwargs)
    job.assign(DISPATCHER, T0, "t1", CrewRole.JOB_MANAGER)
    job.assign(DISPATCHER, T0, "t2", CrewRole.AUXILIARY)
    job.schedule(DISPATCHER, T0, start=at(60), end=at(180))
    return job


def in_progress_job(**kwargs: object) -> Job:
    job = scheduled_job(**kwargs)
    clock(job, MANAGER, SessionKind.CLOCK_IN, at(61))
    assert job.status is JobStatus.IN_PROGRESS
    return job


def clock(job: Job, actor: Actor, kind: SessionKind, when: datetime) -> None:
    assert actor.technician_id is not None
    job.session_event(
        actor,
        technician_id=actor.technician_id,
        kind=kind,
        at=when,
        event_id=new_id("ev"),
        session_id=new_id("s"),
    )


def required_task(title: str = "Check safety valve") -> Task:
    return Task(id=new_id("task"), title=title, required=True)
