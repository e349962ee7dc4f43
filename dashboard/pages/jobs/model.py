"""The Jobs page's model: filters from the form, rows for the table, a new job.

Pure: no I/O. The listing itself is the API's (``services.jobs.search_jobs``);
this only turns the form into its arguments and its answer into rows, in the
company's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.job import JobStatus
from services.jobs import Overview
from storage.clients import PropertyRecord

#: The help page's names of the statuses, in lifecycle order.
STATUS_LABELS: Mapping[JobStatus, str] = {
    JobStatus.PENDING: "Pending",
    JobStatus.SCHEDULED: "Scheduled",
    JobStatus.IN_PROGRESS: "In Progress",
    JobStatus.ON_HOLD: "On Hold",
    JobStatus.COMPLETED: "Completed",
    JobStatus.CANCELLED: "Cancelled",
}
JOB_PATH = "/job"


def address_text(prop: PropertyRecord) -> str:
    """A property's address on one line, in reading order."""
    return ", ".join(line for line in prop.address_lines() if line)


def job_href(number: str) -> str:
    """The Job page of ``J-000042``."""
    return f"{JOB_PATH}?{urlencode({'number': number})}"


@dataclass(frozen=True)
class Filters:
    """What the list is filtered by (each None/empty: not filtered)."""

    statuses: tuple[JobStatus, ...] = ()
    technician_id: str | None = None
    team: str | None = None
    client_id: str | None = None
    date_from: datetime | None = None  # UTC, the start of the first day
    date_to: datetime | None = None  # UTC, the end of the last day
    text: str | None = None

    def search_args(self) -> dict[str, Any]:
        """The keyword arguments of ``services.jobs.search_jobs`` (but paging)."""
        return {
            "statuses": list(self.statuses),
            "technician_id": self.technician_id,
            "team": self.team,
            "client_id": self.client_id,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "text": self.text,
        }


def _day(raw: str | None, pointer: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise InvalidInput("bad date", [FieldProblem(pointer, "a date")]) from exc


def filters_from(
    zone: ZoneInfo,
    *,
    statuses: Sequence[str] | None,
    technician_id: str | None,
    team: str | None,
    client_id: str | None,
    day_from: str | None,
    day_to: str | None,
    text: str | None,
) -> Filters:
    """The form's values as filters; days are whole days in the company's zone."""
    date_from, date_to = day_range(zone, day_from, day_to)
    return Filters(
        statuses=tuple(JobStatus(s) for s in statuses or ()),
        technician_id=technician_id or None,
        team=team or None,
        client_id=client_id or None,
        date_from=date_from,
        date_to=date_to,
        text=(text or "").strip() or None,
    )


def day_range(
    zone: ZoneInfo, day_from: str | None, day_to: str | None
) -> tuple[datetime | None, datetime | None]:
    """A From/To pair of days as UTC bounds: the start of the first day and the
    end of the last (exclusive), whole days in the company's zone."""
    first = _day(day_from, "/from")
    last = _day(day_to, "/to")
    if first is not None and last is not None and last < first:
        raise InvalidInput("bad range", [FieldProblem("/to", "before the start")])
    utc = ZoneInfo("UTC")
    return (
        None
        if first is None
        else datetime.combine(first, time(0), zone).astimezone(utc),
        None
        if last is None
        else datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(utc),
    )


def window_text(start: datetime | None, end: datetime | None, zone: ZoneInfo) -> str:
    """``Mon 07 Dec 09:00–10:30`` in the company's zone ("" when unscheduled)."""
    if start is None or end is None:
        return ""
    a, b = start.astimezone(zone), end.astimezone(zone)
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%a %d %b %H:%M}"
    return f"{a:%a %d %b %H:%M}–{tail}"


def row(overview: Overview, zone: ZoneInfo) -> dict[str, str]:
    """One table row: number (linking the Job page), status, client, site, when, crew."""
    job = overview.job
    manager = job.job_manager
    others = [
        overview.names.get(m.technician_id, "?")
        for m in job.crew
        if m.technician_id != manager
    ]
    return {
        "number": job.display_number,
        "href": job_href(job.display_number),
        "status": job.status.value,
        "status_label": STATUS_LABELS[job.status],
        "client": overview.client.name,
        "site": "" if overview.property is None else address_text(overview.property),
        "when": window_text(job.scheduled_start, job.scheduled_end, zone),
        "manager": "" if manager is None else overview.names.get(manager, "?"),
        "auxiliary": ", ".join(others),
        "description": job.description,
    }


@dataclass(frozen=True)
class NewJobForm:
    """The New Job form as typed: a client, site, what, when, who."""

    client_id: str | None
    property_id: str | None
    description: str
    day: str | None
    start: str | None  # HH:MM in the company's zone
    end: str | None
    job_manager: str | None
    auxiliaries: tuple[str, ...] = field(default_factory=tuple)


def _clock(raw: str | None, pointer: str) -> time:
    try:
        return time.fromisoformat((raw or "").strip())
    except ValueError as exc:
        raise InvalidInput("bad time", [FieldProblem(pointer, "HH:MM")]) from exc


def planned_window(
    form: NewJobForm, zone: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """The form's window (day + start–end in the company's zone), or None when
    no part of it is filled in; half a window names what is missing."""
    parts = {
        "/day": form.day,
        "/scheduled_start": form.start,
        "/scheduled_end": form.end,
    }
    if not any(parts.values()):
        return None
    missing = [
        FieldProblem(p, "required for a window") for p, v in parts.items() if not v
    ]
    if missing:
        raise InvalidInput("incomplete window", missing)
    day = _day(form.day, "/day")
    assert day is not None
    start = datetime.combine(day, _clock(form.start, "/scheduled_start"), zone)
    end = datetime.combine(day, _clock(form.end, "/scheduled_end"), zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def required_choice(value: str | None, pointer: str, what: str) -> str:
    if not value:
        raise InvalidInput(f"no {what}", [FieldProblem(pointer, f"pick a {what}")])
    return value
