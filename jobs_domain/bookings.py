"""Online bookings: a customer's request becomes a job, Pending or Scheduled by setting."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from jobs_domain.actors import Actor
from jobs_domain.job import CrewRole, Job, SiteContact


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
        booking_id=booking.id,
        origin="online booking",
    )
    job.scheduled_start = booking.requested_start
    job.scheduled_end = booking.requested_end
    if default_status is BookingDefault.SCHEDULED:
        if booking.technician_id is None:
            job._record(
                actor, now, "kept_pending", why="no technician named for the booking"
            )
        else:
            job.assign(actor, now, booking.technician_id, CrewRole.JOB_MANAGER)
            job.schedule(actor, now)
    return job
