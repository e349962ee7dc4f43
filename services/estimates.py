"""Estimate and online-booking use cases: quote a client, approve, convert to a job.

The rules are :class:`jobs_domain.estimates.Estimate`'s and
:func:`jobs_domain.bookings.job_from_booking`'s. An estimate's client, property
and line items are checked and priced exactly as a job's are
(:func:`services.jobs.client_and_property`, :func:`services.jobs.new_line_item`);
converting carries every line item, price and note over to a new job, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from jobs_domain.actors import Actor
from jobs_domain.bookings import BookingDefault, BookingRequest, job_from_booking
from jobs_domain.errors import FieldProblem, InvalidInput, required_text
from jobs_domain.estimates import Estimate
from jobs_domain.job import Job, Note, NoteVisibility, SiteContact, check_window
from services.clock import now
from services.jobs import canonical_id, client_and_property, new_line_item
from storage import clients as directory
from storage import estimates as store
from storage import jobs as job_store

Conn = psycopg.AsyncConnection[Any]

STATUSES = ("draft", "approved", "converted")
# runs on the locked estimate before a change (the API: If-Match); raises
EstimateCheck = Callable[[Estimate], None]


@dataclass(frozen=True)
class NewEstimate:
    """What a request to create an estimate says (ids checked for form)."""

    client_id: str
    description: str
    property_id: str | None = None
    site_contact: SiteContact | None = None
    line_items: Sequence[Mapping[str, Any]] = ()  # as new_line_item reads them
    notes: Sequence[tuple[NoteVisibility, str]] = ()


async def create_estimate(conn: Conn, actor: Actor, new: NewEstimate) -> Estimate:
    """A draft estimate for the client, its line items priced from the price book."""
    property_id = await client_and_property(conn, new.client_id, new.property_id)
    moment = now()
    estimate = Estimate(
        id=str(uuid.uuid4()),
        number=await store.next_number(conn),
        client_id=new.client_id,
        property_id=property_id,
        description=required_text(new.description, "/description"),
        created_at=moment,
        site_contact=new.site_contact or SiteContact(),
        line_items=[
            await new_line_item(conn, raw, f"/line_items/{i}")
            for i, raw in enumerate(new.line_items)
        ],
        notes=[
            Note(str(uuid.uuid4()), visibility, text, actor.user_id, actor.name, moment)
            for visibility, text in new.notes
        ],
    )
    await store.insert(conn, estimate)
    return estimate


async def load(conn: Conn, estimate_id: str) -> Estimate:
    return await store.load(conn, estimate_id)


async def search(
    conn: Conn, *, status: str | None, after: int | None, limit: int
) -> list[Estimate]:
    """Estimates by number after ``after`` (``limit`` of them), optionally of a status."""
    if status not in (None, *STATUSES):
        raise InvalidInput("bad status", [FieldProblem("/query/status", "unknown")])
    return await store.search(conn, status=status, after=after, limit=limit)


async def _for_change(conn: Conn, estimate_id: str, check: EstimateCheck) -> Estimate:
    estimate = await store.load(conn, estimate_id, for_update=True)
    check(estimate)
    return estimate


async def approve(
    conn: Conn, actor: Actor, estimate_id: str, *, check: EstimateCheck
) -> Estimate:
    estimate = await _for_change(conn, estimate_id, check)
    estimate.approve(actor, now())
    await store.update(conn, estimate)
    return estimate


async def convert(
    conn: Conn, actor: Actor, estimate_id: str, *, check: EstimateCheck
) -> Job:
    """Convert to Job: every line item, price and note carried over; once only."""
    estimate = await _for_change(conn, estimate_id, check)
    moment = now()
    job = estimate.convert(
        actor,
        moment,
        job_id=str(uuid.uuid4()),
        job_number=await job_store.next_job_number(conn),
        new_ids=[
            str(uuid.uuid4())
            for _ in range(len(estimate.line_items) + len(estimate.notes))
        ],
    )
    await job_store.save(conn, job, now=moment, new=True)
    await store.update(conn, estimate)
    return job


@dataclass(frozen=True)
class NewBooking:
    """An online booking request (times parsed, ids checked for form)."""

    client_id: str
    description: str
    requested_start: datetime
    requested_end: datetime
    property_id: str | None = None
    site_contact: SiteContact | None = None
    technician_id: str | None = None


async def create_booking(
    conn: Conn,
    actor: Actor,
    new: NewBooking,
    *,
    request: Mapping[str, Any],
    default_status: BookingDefault,
) -> Job:
    """The job an online booking becomes (``request`` is kept as the booking's record)."""
    property_id = await client_and_property(conn, new.client_id, new.property_id)
    if new.technician_id is not None:
        await directory.get_technician(conn, canonical_id(new.technician_id))
    if new.requested_end <= new.requested_start:
        raise InvalidInput(
            "bad window", [FieldProblem("/requested_end", "after start")]
        )
    check_window(new.requested_start, new.requested_end, end_field="/requested_end")
    booking = BookingRequest(
        id=str(uuid.uuid4()),
        client_id=new.client_id,
        description=new.description,
        requested_start=new.requested_start,
        requested_end=new.requested_end,
        property_id=property_id,
        site_contact=new.site_contact or SiteContact(),
        technician_id=new.technician_id,
    )
    moment = now()
    job = job_from_booking(
        booking,
        actor=actor,
        now=moment,
        job_id=str(uuid.uuid4()),
        job_number=await job_store.next_job_number(conn),
        default_status=default_status,
    )
    await job_store.save(conn, job, now=moment, new=True)
    await store.insert_booking(conn, booking.id, new.client_id, dict(request), job.id)
    return job


async def load_booking(conn: Conn, booking_id: str) -> dict[str, Any]:
    return await store.load_booking(conn, booking_id)
