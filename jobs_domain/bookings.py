"""Online bookings: a customer's request becomes a job, Pending or Scheduled by setting.

A customer books without a token: their contact (a name, and an e-mail or a
phone to reach them), the address, the service and a preferred window in the
future. They get back a reference to quote (:func:`booking_reference`), never
the ids of the records the booking made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from jobs_domain.actors import Actor
from jobs_domain.errors import FieldProblem, InvalidInput, required_text
from jobs_domain.job import CrewRole, Job, LineItem, SiteContact, check_window

# Crockford's base 32: no I, L, O or U, so a reference read out on the phone is
# not misheard; 8 characters carry the 40 random bits of a reference.
REFERENCE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_BYTES: Final = 5
# an address anyone can write, with a dot in the domain; delivery is the proof
EMAIL_PATTERN: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
PHONE_PATTERN: Final = re.compile(r"^\+?[0-9][0-9 ().-]{4,28}[0-9]$")


class BookingDefault(StrEnum):
    """The administrator's choice for jobs created from online bookings."""

    PENDING = "pending"
    SCHEDULED = "scheduled"


@dataclass(frozen=True)
class BookingRequest:
    """What the customer asked for on the website or portal."""

    id: str
    client_id: str
    description: str
    requested_start: datetime
    requested_end: datetime
    property_id: str | None = None
    site_contact: SiteContact = field(default_factory=SiteContact)
    technician_id: str | None = None
    reference: str | None = None  # what the customer quotes
    line_items: tuple[LineItem, ...] = ()  # the service booked, priced
    unassigned_why: str = "no technician named for the booking"


def job_from_booking(
    booking: BookingRequest,
    *,
    actor: Actor,
    now: datetime,
    job_id: str,
    job_number: int,
    default_status: BookingDefault,
) -> Job:
    """Create the job for a booking.

    With the ``scheduled`` setting the job is confirmed in the requested slot —
    as long as a technician can be assigned (the booking names one); a Scheduled
    job always has a Job Manager, so without one it stays Pending and the
    history says why. With ``pending`` the office confirms it later.
    """
    job = Job.create(
        actor=actor,
        now=now,
        job_id=job_id,
        number=job_number,
        client_id=booking.client_id,
        description=booking.description,
        property_id=booking.property_id,
        site_contact=booking.site_contact,
        line_items=booking.line_items,
        booking_id=booking.id,
        origin=" ".join(filter(None, ("online booking", booking.reference))),
    )
    job.scheduled_start = booking.requested_start
    job.scheduled_end = booking.requested_end
    if default_status is BookingDefault.SCHEDULED:
        if booking.technician_id is None:
            job._record(actor, now, "kept_pending", why=booking.unassigned_why)
        else:
            job.assign(actor, now, booking.technician_id, CrewRole.JOB_MANAGER)
            job.schedule(actor, now)
    return job


def booking_reference(random: bytes) -> str:
    """``BK-XXXX-XXXX`` from :data:`REFERENCE_BYTES` random bytes."""
    if len(random) != REFERENCE_BYTES:
        raise ValueError(f"a reference takes {REFERENCE_BYTES} random bytes")
    n = int.from_bytes(random, "big")
    code = "".join(REFERENCE_ALPHABET[(n >> shift) & 31] for shift in range(35, -1, -5))
    return f"BK-{code[:4]}-{code[4:]}"


@dataclass(frozen=True)
class OnlineContact:
    """Who booked, and how to reach them (an e-mail, a phone, or both)."""

    name: str
    email: str | None = None
    phone: str | None = None

    def site_contact(self) -> SiteContact:
        return SiteContact(
            name=self.name, phone=self.phone or "", email=self.email or ""
        )


def online_contact(data: Mapping[str, str]) -> OnlineContact:
    """The contact of a booking form (``/contact``): a name, an e-mail and/or a phone."""
    problems: list[FieldProblem] = []
    name = data.get("name", "").strip()
    if not name:
        problems.append(FieldProblem("/contact/name", "must not be empty"))
    email = data.get("email", "").strip() or None
    if email is not None and not EMAIL_PATTERN.match(email):
        problems.append(FieldProblem("/contact/email", "not an e-mail address"))
    phone = data.get("phone", "").strip() or None
    if phone is not None and not PHONE_PATTERN.match(phone):
        problems.append(FieldProblem("/contact/phone", "not a phone number"))
    if email is None and phone is None:
        problems.append(
            FieldProblem("/contact", "give an e-mail or a phone number to reach you")
        )
    if problems:
        raise InvalidInput("the contact is incomplete", problems)
    return OnlineContact(name, email, phone)


def online_address(data: Mapping[str, str]) -> dict[str, str]:
    """The address of a booking form, trimmed, without empty lines (as stored)."""
    line1 = required_text(data.get("line1", ""), "/address/line1")
    rest = {k: v.strip() for k, v in data.items() if k != "line1" and v.strip()}
    return {"line1": line1, **rest}


def check_preferred_window(start: datetime, end: datetime, now: datetime) -> None:
    """A customer books a window that ends after it starts, at most 31 days, ahead."""
    check_window(start, end, end_field="/preferred_end")
    if start <= now:
        raise InvalidInput(
            "the preferred window has passed",
            [FieldProblem("/preferred_start", "must be in the future")],
        )
