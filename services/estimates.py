"""Estimate and online-booking use cases: quote a client, approve, convert to a job.

The rules are :class:`jobs_domain.estimates.Estimate`'s and
:func:`jobs_domain.bookings.job_from_booking`'s. An estimate's client, property
and line items are checked and priced exactly as a job's are
(:func:`services.jobs.client_and_property`, :func:`services.jobs.new_line_item`);
converting carries every line item, price and note over to a new job, once.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from jobs_domain.actors import Actor, Role
from jobs_domain.bookings import (
    REFERENCE_BYTES,
    BookingDefault,
    BookingRequest,
    OnlineContact,
    booking_reference,
    check_preferred_window,
    job_from_booking,
)
from jobs_domain.errors import FieldProblem, InvalidInput, NotFound, required_text
from jobs_domain.estimates import Estimate, parse_estimate_number
from jobs_domain.job import Job, Note, NoteVisibility, SiteContact, check_window
from services import directory as directory_service
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
    conn: Conn,
    *,
    status: str | None,
    after: int | None,
    limit: int,
    client_id: str | None = None,
    text: str | None = None,
) -> list[Estimate]:
    """Estimates by number after ``after`` (``limit`` of them), optionally of a
    status, of a client, or matching ``text`` (an estimate number, or part of
    the client's name)."""
    if status not in (None, *STATUSES):
        raise InvalidInput("bad status", [FieldProblem("/query/status", "unknown")])
    text = (text or "").strip() or None
    return await store.search(
        conn,
        status=status,
        after=after,
        limit=limit,
        client_id=client_id,
        text=text,
        number=None if text is None else parse_estimate_number(text),
    )


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
        reference=_new_reference(),
    )
    return await _book(conn, actor, booking, request, default_status)


def _new_reference() -> str:
    return booking_reference(secrets.token_bytes(REFERENCE_BYTES))


async def _book(
    conn: Conn,
    actor: Actor,
    booking: BookingRequest,
    request: Mapping[str, Any],
    default_status: BookingDefault,
) -> Job:
    """Create and store the booking's job, and the booking beside it."""
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
    await store.insert_booking(
        conn,
        booking.id,
        booking.client_id,
        dict(request),
        job.id,
        booking.reference,
    )
    return job


# Who acts for a customer booking without a token: the company's own booking
# desk, with an office role because auto-confirm schedules; never a login.
ONLINE_DESK_USER_ID = "00000000-0000-0000-0000-00000000b00c"


def online_desk(peer: str) -> Actor:
    """The actor of a public booking from ``peer`` (the job history's source)."""
    return Actor(
        user_id=ONLINE_DESK_USER_ID,
        role=Role.DISPATCHER,
        name="Online booking",
        source=f"online booking {peer}",
    )


@dataclass(frozen=True)
class OnlineBooking:
    """What a customer sends from the website (schema-checked, contact parsed)."""

    contact: OnlineContact
    address: Mapping[str, str] | Sequence[str]  # an object, or plain lines
    preferred_start: datetime
    preferred_end: datetime
    price_book_item_id: str | None = None
    description: str | None = None  # the customer's own words


@dataclass(frozen=True)
class OnlineBookingReceipt:
    """What the customer is told: a reference to quote, and what happens next."""

    reference: str
    status: str
    preferred_start: datetime
    preferred_end: datetime


async def book_online(
    conn: Conn,
    actor: Actor,
    new: OnlineBooking,
    *,
    request: Mapping[str, Any],
    default_status: BookingDefault,
) -> OnlineBookingReceipt:
    """A customer's booking without a token: find or make the client and the
    property, and create the job as the company's setting says.

    The client is the one with the contact's e-mail (in any case), else a new
    one; the property is that client's with the same address, else a new one.
    With auto-confirm the job goes to a technician free in the window (first
    by name); when nobody is, it stays Pending and the history says why.
    """
    check_preferred_window(new.preferred_start, new.preferred_end, now())
    line_items = []
    description = new.description
    if new.price_book_item_id is not None:
        pointer = "/service/price_book_item_id"
        try:
            item = await new_line_item(
                conn, {"price_book_item_id": new.price_book_item_id}, pointer
            )
        except NotFound as exc:
            raise InvalidInput(
                "unknown service", [FieldProblem(pointer, "no such service")]
            ) from exc
        line_items.append(item)
        description = description or item.description
    if description is None:
        raise InvalidInput(
            "which service?",
            [FieldProblem("/service", "choose a service or describe the work")],
        )
    contact = new.contact
    client_id = (
        None
        if contact.email is None
        else await store.client_with_email(conn, contact.email)
    )
    if client_id is None:
        created = await directory_service.create_client(
            conn, {"name": contact.name, "email": contact.email, "phone": contact.phone}
        )
        client_id = str(created.id)
    address = directory.address_object(new.address)
    property_id = await store.property_at(conn, client_id, address)
    if property_id is None:
        site = await directory_service.create_property(
            conn, {"client_id": client_id, "address": address}
        )
        property_id = str(site.id)
    technician_id = None
    if default_status is BookingDefault.SCHEDULED:
        technician_id = await store.free_technician(
            conn, new.preferred_start, new.preferred_end
        )
    booking = BookingRequest(
        id=str(uuid.uuid4()),
        client_id=client_id,
        description=required_text(description, "/service/description"),
        requested_start=new.preferred_start,
        requested_end=new.preferred_end,
        property_id=property_id,
        site_contact=contact.site_contact(),
        technician_id=technician_id,
        reference=_new_reference(),
        line_items=tuple(line_items),
        unassigned_why="no technician is free in the preferred window",
    )
    job = await _book(conn, actor, booking, request, default_status)
    assert booking.reference is not None
    return OnlineBookingReceipt(
        booking.reference, job.status.value, new.preferred_start, new.preferred_end
    )


async def load_booking(conn: Conn, booking_id: str) -> dict[str, Any]:
    return await store.load_booking(conn, booking_id)


@dataclass(frozen=True)
class AwaitingBooking:
    """A booking the office has still to confirm (its job is Pending)."""

    booking: Mapping[str, Any]  # as ``load_booking`` reads it: the request kept
    job: Job


async def awaiting_confirmation(conn: Conn, limit: int) -> list[AwaitingBooking]:
    """The bookings whose job is Pending, the oldest first, each with its job."""
    return [
        AwaitingBooking(b, await job_store.load(conn, str(b["job_id"])))
        for b in await store.awaiting_confirmation(conn, limit)
    ]
