"""A job and its parts as the API shows them (JSON), and the job's ETag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from api.directory import property_json
from api.http.context import Ctx
from api.http.identifiers import make_etag
from api.http.responses import amounts, json_ok, priced
from jobs_domain.job import Attachment, Expense, Job, LineItem, Note, SiteContact, Task
from jobs_domain.money import format_money
from services import jobs as service
from services.jobs import DoubleBooking, Overview
from storage import jobs as store


def contact_view(contact: SiteContact) -> dict[str, str]:
    """A site contact as the API shows it (the keys it is stored under)."""
    return store.contact_to_json(contact)


def job_etag(job: Job) -> str:
    return make_etag("job", job.id, job.version)


async def job_view(ctx: Ctx, job: Job) -> dict[str, Any]:
    return (await job_views(ctx, [job]))[0]


async def job_views(ctx: Ctx, jobs: list[Job]) -> list[dict[str, Any]]:
    return [_overview(o) for o in await service.overviews(ctx.conn, jobs)]


def _overview(o: Overview) -> dict[str, Any]:
    job = o.job
    net, tax, gross = job.totals()
    return {
        "id": job.id,
        "number": job.display_number,
        "status": job.status.value,
        "description": job.description,
        "client": {"id": o.client.id, "name": o.client.name},
        "property": None if o.property is None else property_json(o.property),
        "site_contact": contact_view(job.site_contact),
        "scheduled_start": job.scheduled_start,
        "scheduled_end": job.scheduled_end,
        "crew": crew_view(job, o.names),
        "custom_fields": job.custom_fields,
        "hold_reason": job.hold_reason,
        "cancellation": None
        if job.cancellation is None
        else {
            "by": job.cancellation.by,
            "by_name": job.cancellation.by_name,
            "at": job.cancellation.at,
            "reason": job.cancellation.reason,
        },
        "completed_at": job.completed_at,
        "completed_by": job.completed_by,
        "estimate_id": job.estimate_id,
        "booking_id": job.booking_id,
        "totals": amounts(net=net, tax=tax, gross=gross),
        "version": job.version,
        "created_at": job.created_at,
    }


def crew_view(job: Job, names: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "technician_id": m.technician_id,
            "name": names.get(m.technician_id, ""),
            "role": m.role.value,
        }
        for m in job.crew
    ]


def warnings_view(clashes: Sequence[DoubleBooking]) -> list[dict[str, Any]]:
    """The crew's double bookings, as the warnings of a scheduling answer."""
    return [
        {"code": "double-booked", "message": c.message, "ref": c.job_id}
        for c in clashes
    ]


async def respond_job(
    ctx: Ctx,
    job: Job,
    status: int = 200,
    *,
    clashes: Sequence[DoubleBooking] | None = None,
) -> web.Response:
    """The job; a scheduling answer (``clashes`` given) adds ``warnings``."""
    view = await job_view(ctx, job)
    if clashes is not None:
        view["warnings"] = warnings_view(clashes)
    return json_ok(
        view,
        status,
        etag=job_etag(job),
        location=f"/api/v1/jobs/{job.id}" if status == 201 else None,
    )


def line_item_view(item: LineItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind.value,
        "description": item.description,
        **priced(item.quantity, item.unit_price, item.tax_rate, item.net),
        "price_book_item_id": item.price_book_item_id,
    }


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "required": task.required,
        "done": task.done,
        "done_by": task.done_by,
        "done_at": task.done_at,
    }


def expense_view(e: Expense, attachments: Sequence[Attachment]) -> dict[str, Any]:
    """An expense; ``receipt_status`` is ``pending`` while its photo has not synced."""
    return {
        "id": e.id,
        "description": e.description,
        "amount": format_money(e.amount),
        "created_by": e.created_by,
        "created_at": e.created_at,
        "receipt_attachment_id": e.receipt_attachment_id,
        "receipt_status": e.receipt_status(attachments),
    }


def note_view(note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "visibility": note.visibility.value,
        "text": note.text,
        "author_id": note.author_id,
        "author_name": note.author_name,
        "created_at": note.created_at,
    }
