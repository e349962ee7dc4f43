"""The Bookings page's model: what each booking asked for, the Confirm form's
defaults. Pure: no I/O.

A booking's job keeps what was asked (the window as its scheduled window, the
contact as its site contact, the service as its description); the page shows
those beside what only the booking has: its reference and when it came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from dashboard.pages.job.model import when
from dashboard.pages.jobs.model import address_text, window_text
from jobs_domain.job import Job
from storage.clients import PropertyRecord

PATH = "/bookings"
#: The most bookings the page lists (the oldest first: they have waited longest).
LIMIT = 100


def booking_href(job_number: str) -> str:
    return f"{PATH}?{urlencode({'number': job_number})}"


def contact_text(job: Job, client: str) -> str:
    """Who asked, and how to reach them: the booking's contact (else the client)."""
    c = job.site_contact
    reach = [x for x in (c.phone or c.mobile, c.email) if x]
    return " · ".join([c.name or client, *reach])


def row(
    booking: Mapping[str, Any],
    job: Job,
    client: str,
    site: PropertyRecord | None,
    zone: ZoneInfo,
) -> dict[str, str]:
    """One booking waiting for the office: the request and when it came in."""
    received = booking.get("created_at")
    return {
        "number": job.display_number,
        "href": booking_href(job.display_number),
        "reference": booking.get("reference") or "—",
        "received": when(received, zone) if isinstance(received, datetime) else "",
        "contact": contact_text(job, client),
        "address": "" if site is None else address_text(site),
        "service": job.description,
        "window": window_text(job.scheduled_start, job.scheduled_end, zone),
    }


def confirm_defaults(job: Job, zone: ZoneInfo) -> tuple[str, str, str]:
    """The Confirm form's day, from and to: the window the customer asked for."""
    if job.scheduled_start is None or job.scheduled_end is None:
        return "", "", ""
    a, b = job.scheduled_start.astimezone(zone), job.scheduled_end.astimezone(zone)
    return a.date().isoformat(), f"{a:%H:%M}", f"{b:%H:%M}"
