"""What hangs off a job, over HTTP: line items, tasks, expenses (and the
profitability they make), notes. Thin views over :mod:`services.jobs`."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from api import schemas as s
from api.http.context import Ctx
from api.http.registry import Api
from api.http.responses import amounts, json_ok
from api.job_json import (
    expense_view,
    job_etag,
    line_item_view,
    note_view,
    task_view,
)
from api.job_request import if_match, job_id, load_visible, recorded_from, removal
from jobs_domain.actors import OFFICE
from jobs_domain.job import NoteVisibility
from jobs_domain.money import format_decimal, to_decimal
from jobs_domain.permissions import MATRIX, Act
from services import jobs as service
from services.jobs import Removable

# -- line items --------------------------------------------------------------------------------


async def list_line_items(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    net, tax, gross = job.totals()
    return json_ok(
        {
            "items": [line_item_view(i) for i in job.line_items],
            "totals": amounts(net=net, tax=tax, gross=gross),
        },
        etag=job_etag(job),
    )


async def add_line_item(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.LINE_ITEM_IN)
    job, item = await service.add_line_item(
        ctx.conn, ctx.actor, job_id(ctx), body, check=if_match(ctx)
    )
    return json_ok(line_item_view(item), 201, etag=job_etag(job))


async def patch_line_item(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.LINE_ITEM_PATCH)

    def opt(key: str) -> Decimal | None:
        return None if key not in body else to_decimal(body[key], f"/{key}")

    job, item = await service.update_line_item(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        ctx.request.match_info["item_id"],
        description=body.get("description"),
        quantity=opt("quantity"),
        unit_price=opt("unit_price"),
        tax_rate=opt("tax_rate"),
        check=if_match(ctx),
    )
    return json_ok(line_item_view(item), etag=job_etag(job))


# -- tasks -------------------------------------------------------------------------------------


async def list_tasks(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok({"items": [task_view(t) for t in job.tasks]}, etag=job_etag(job))


async def add_task(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.TASK_IN)
    job, task = await service.add_task(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        body["title"],
        body.get("required", False),
        check=if_match(ctx),
    )
    return json_ok(task_view(task), 201, etag=job_etag(job))


async def patch_task(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.TASK_PATCH)
    job, task = await service.set_task_done(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        ctx.request.match_info["task_id"],
        body["done"],
        check=if_match(ctx),
        recorded=recorded_from(ctx, body),
    )
    return json_ok(task_view(task), etag=job_etag(job))


# -- expenses and profitability ----------------------------------------------------------------


async def list_expenses(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok(
        {"items": [expense_view(e, job.attachments) for e in job.expenses]},
        etag=job_etag(job),
    )


async def add_expense(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.EXPENSE_IN)
    job, expense = await service.add_expense(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        description=body["description"],
        amount=to_decimal(body["amount"], "/amount"),
        receipt_attachment_id=body.get("receipt_attachment_id"),
        check=if_match(ctx),
        recorded=recorded_from(ctx, body),
    )
    return json_ok(expense_view(expense, job.attachments), 201, etag=job_etag(job))


async def profitability(ctx: Ctx) -> web.StreamResponse:
    result = await service.profitability(ctx.conn, await load_visible(ctx))
    return json_ok(
        {
            **amounts(
                revenue=result.revenue,
                expenses=result.expenses,
                labour=result.labour,
                profit=result.profit,
            ),
            "labour_hours": format_decimal(result.labour_hours),
        }
    )


# -- notes -------------------------------------------------------------------------------------


async def list_notes(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    notes = service.notes(job, ctx.request.query.get("visibility"))
    return json_ok({"items": [note_view(n) for n in notes]}, etag=job_etag(job))


async def add_note(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.NOTE_IN)
    job, note = await service.add_note(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        NoteVisibility(body["visibility"]),
        body["text"],
        check=if_match(ctx),
        recorded=recorded_from(ctx, body),
    )
    return json_ok(note_view(note), 201, etag=job_etag(job))


delete_line_item = removal(Removable.LINE_ITEM, "item_id")
delete_task = removal(Removable.TASK, "task_id")
delete_expense = removal(Removable.EXPENSE, "expense_id")


# -- registration ------------------------------------------------------------------------------


def setup(api: Api) -> None:
    """The routes of a job's items (registered by :func:`api.jobs.setup`, in its
    order: after the history, before the attachments)."""
    items = api.schema("LineItems", s.LINE_ITEMS_OUT)
    r = api.route
    jid = "/jobs/{job_id}"
    r(
        "GET",
        jid + "/line-items",
        list_line_items,
        summary="Line items and totals",
        tag="jobs",
        responses={200: {"$ref": items}},
    )
    r(
        "POST",
        jid + "/line-items",
        add_line_item,
        tag="jobs",
        roles=MATRIX[Act.ADD_LINE_ITEM],
        summary="Add a line item (price book or custom)",
        body=s.LINE_ITEM_IN,
        idempotent=True,
        if_match=True,
        responses={201: s.LINE_ITEM_OUT},
    )
    r(
        "PATCH",
        jid + "/line-items/{item_id}",
        patch_line_item,
        tag="jobs",
        summary="Change a line item",
        body=s.LINE_ITEM_PATCH,
        if_match=True,
        responses={200: s.LINE_ITEM_OUT},
    )
    r(
        "DELETE",
        jid + "/line-items/{item_id}",
        delete_line_item,
        tag="jobs",
        summary="Remove a line item",
        if_match=True,
        conflicts=True,
        responses={204: None},
    )
    r(
        "GET",
        jid + "/tasks",
        list_tasks,
        summary="The checklist",
        tag="jobs",
        responses={200: s.TASKS_OUT},
    )
    r(
        "POST",
        jid + "/tasks",
        add_task,
        summary="Add a task",
        tag="jobs",
        roles=MATRIX[Act.ADD_TASK],
        body=s.TASK_IN,
        idempotent=True,
        if_match=True,
        responses={201: s.TASK_OUT},
    )
    r(
        "PATCH",
        jid + "/tasks/{task_id}",
        patch_task,
        summary="Check a task off (or on)",
        tag="jobs",
        roles=MATRIX[Act.TICK_TASK],
        body=s.TASK_PATCH,
        if_match=True,
        responses={200: s.TASK_OUT},
    )
    r(
        "DELETE",
        jid + "/tasks/{task_id}",
        delete_task,
        summary="Remove a task",
        tag="jobs",
        roles=OFFICE,
        if_match=True,
        conflicts=True,
        responses={204: None},
    )
    r(
        "GET",
        jid + "/expenses",
        list_expenses,
        summary="Job-specific costs",
        tag="jobs",
        responses={200: s.EXPENSES_OUT},
    )
    r(
        "POST",
        jid + "/expenses",
        add_expense,
        summary="Log an expense (with receipt)",
        tag="jobs",
        body=s.EXPENSE_IN,
        idempotent=True,
        if_match=True,
        responses={201: s.EXPENSE_OUT},
    )
    r(
        "DELETE",
        jid + "/expenses/{expense_id}",
        delete_expense,
        tag="jobs",
        summary="Remove an expense",
        if_match=True,
        conflicts=True,
        responses={204: None},
    )
    r(
        "GET",
        jid + "/profitability",
        profitability,
        tag="jobs",
        roles=MATRIX[Act.SEE_PROFITABILITY],
        summary="Revenue minus expenses and labour",
        responses={200: s.PROFIT_OUT},
    )
    r(
        "GET",
        jid + "/notes",
        list_notes,
        summary="Notes",
        tag="jobs",
        query=[
            {
                "name": "visibility",
                "in": "query",
                "schema": {"enum": ["internal", "public"]},
            }
        ],
        responses={200: s.NOTES_OUT},
    )
    r(
        "POST",
        jid + "/notes",
        add_note,
        summary="Add an internal or public note",
        tag="jobs",
        body=s.NOTE_IN,
        idempotent=True,
        if_match=True,
        responses={201: s.NOTE_OUT},
    )
