"""Jobs: the record, its lifecycle actions and everything that hangs off it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from api import schemas as s
from api.completion import extra_blockers
from api.framework import (
    PAGINATION_PARAMS,
    Api,
    Ctx,
    blocker_json,
    int_cursor,
    json_ok,
    make_etag,
    no_content,
    page_limit,
    page_of,
    page_schema,
    plain,
    uuid_or_404,
)
from jobs_domain.actors import (
    ALL_ROLES,
    CREW_AND_OFFICE,
    OFFICE,
    STAFF_READERS,
    Role,
)
from jobs_domain.errors import FieldProblem, Forbidden, InvalidInput, NotFound
from jobs_domain.job import (
    CrewRole,
    Expense,
    Job,
    JobStatus,
    LineItem,
    LineItemKind,
    Note,
    NoteVisibility,
    SiteContact,
    Task,
)
from jobs_domain.job import _check_window as check_window
from jobs_domain.money import to_decimal
from jobs_domain.sessions import Position, Session, SessionKind
from storage import attachments as files
from storage import clients as directory
from storage import jobs as store
from storage import online_links
from storage import price_book as book
from storage.job_sessions import apply_clock_event


def now() -> datetime:
    return datetime.now(UTC)


def job_etag(job: Job) -> str:
    return make_etag("job", job.id, job.version)


# -- loading and representing ----------------------------------------------------------


async def load_visible(ctx: Ctx, *, for_update: bool = False) -> Job:
    """The job named in the path, if the actor may see it (else 404)."""
    job = await store.load(
        ctx.conn, ctx.path_id("job_id", "job"), for_update=for_update
    )
    job.ensure_visible(ctx.actor)
    return job


async def job_view(ctx: Ctx, job: Job) -> dict[str, Any]:
    return (await job_views(ctx, [job]))[0]


async def job_views(ctx: Ctx, jobs: list[Job]) -> list[dict[str, Any]]:
    """Each job's overview; a client, property or crew shared by several jobs of a
    page is looked up once, not once per job."""
    clients = {
        client_id: await directory.get_client(ctx.conn, client_id)
        for client_id in dict.fromkeys(job.client_id for job in jobs)
    }
    properties = {
        property_id: await directory.get_property(ctx.conn, property_id)
        for property_id in dict.fromkeys(job.property_id for job in jobs)
        if property_id is not None
    }
    names = await directory.technician_names(
        ctx.conn, [m.technician_id for job in jobs for m in job.crew]
    )
    return [
        _overview(
            job,
            clients[job.client_id],
            None if job.property_id is None else properties[job.property_id],
            names,
        )
        for job in jobs
    ]


def _overview(
    job: Job,
    client: dict[str, Any],
    prop: dict[str, Any] | None,
    names: dict[str, str],
) -> dict[str, Any]:
    net, tax, gross = job.totals()
    return {
        "id": job.id,
        "number": job.display_number,
        "status": job.status.value,
        "description": job.description,
        "client": {"id": client["id"], "name": client["name"]},
        "property": prop,
        "site_contact": store.contact_to_json(job.site_contact),
        "scheduled_start": job.scheduled_start,
        "scheduled_end": job.scheduled_end,
        "crew": crew_view(job, names),
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
        "totals": {"net": net, "tax": tax, "gross": gross},
        "version": job.version,
        "created_at": job.created_at,
    }


def crew_view(job: Job, names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "technician_id": m.technician_id,
            "name": names.get(m.technician_id, ""),
            "role": m.role.value,
        }
        for m in job.crew
    ]


async def respond_job(ctx: Ctx, job: Job, status: int = 200) -> web.Response:
    return json_ok(
        await job_view(ctx, job),
        status,
        etag=job_etag(job),
        location=f"/api/v1/jobs/{job.id}" if status == 201 else None,
    )


async def mutate(ctx: Ctx, change: Callable[[Job], Any]) -> tuple[Job, Any]:
    """Load (locked), check If-Match, apply ``change``, save. Returns its result."""
    job = await load_visible(ctx, for_update=True)
    ctx.check_if_match(job_etag(job))
    result = change(job)
    await store.save(ctx.conn, job, now=now())
    return job, result


def parse_time(raw: str, pointer: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(
            "bad time", [FieldProblem(pointer, "must be an RFC 3339 date-time")]
        ) from exc
    if value.tzinfo is None:
        raise InvalidInput(
            "time without offset", [FieldProblem(pointer, "must include a UTC offset")]
        )
    return value


def contact_from(raw: dict[str, Any] | None) -> SiteContact | None:
    if raw is None:
        return None
    return SiteContact(
        name=raw.get("name", ""),
        phone=raw.get("phone", ""),
        mobile=raw.get("mobile", ""),
        email=raw.get("email", ""),
    )


async def line_item_from(ctx: Ctx, raw: dict[str, Any], pointer: str) -> LineItem:
    """From the price book (prices copied, overridable) or a custom line."""
    quantity = to_decimal(raw.get("quantity", 1), f"{pointer}/quantity")
    if quantity == 0:
        raise InvalidInput(
            "zero quantity", [FieldProblem(f"{pointer}/quantity", "> 0")]
        )
    item_id = raw.get("price_book_item_id")
    if item_id is not None:
        entry = await book.get_item(ctx.conn, uuid_or_404(item_id, "price book item"))
        return LineItem(
            id=str(uuid.uuid4()),
            kind=LineItemKind(entry["kind"]),
            description=raw.get("description") or entry["name"],
            quantity=quantity,
            unit_price=to_decimal(
                raw.get("unit_price", entry["unit_price"]), f"{pointer}/unit_price"
            ),
            tax_rate=to_decimal(
                raw.get("tax_rate", entry["tax_rate"]), f"{pointer}/tax_rate"
            ),
            price_book_item_id=str(entry["id"]),
        )
    problems = [
        FieldProblem(f"{pointer}/{key}", "required for a custom line item")
        for key in ("description", "unit_price")
        if key not in raw
    ]
    if problems:
        raise InvalidInput("incomplete custom line item", problems)
    rate = to_decimal(raw.get("tax_rate", 0), f"{pointer}/tax_rate")
    if rate > 100:
        raise InvalidInput("bad rate", [FieldProblem(f"{pointer}/tax_rate", "<= 100")])
    return LineItem(
        id=str(uuid.uuid4()),
        kind=LineItemKind.CUSTOM,
        description=raw["description"],
        quantity=quantity,
        unit_price=to_decimal(raw["unit_price"], f"{pointer}/unit_price"),
        tax_rate=rate,
    )


def line_item_view(item: LineItem) -> dict[str, Any]:
    return {**store.line_item_to_json(item), "net": item.net}


# -- create, read, list, update ------------------------------------------------------------


async def client_and_property(
    ctx: Ctx, client_id: str, property_id: str | None
) -> str | None:
    """Check a body's client (404 if unknown) and optional property (404 if
    unknown, 422 if another client's); return the property id."""
    await directory.get_client(ctx.conn, client_id)
    if property_id is None:
        return None
    prop = await directory.get_property(ctx.conn, uuid_or_404(property_id, "property"))
    if str(prop["client_id"]) != client_id:
        raise InvalidInput(
            "property of another client",
            [FieldProblem("/property_id", "belongs to another client")],
        )
    return property_id


async def _create(ctx: Ctx, body: dict[str, Any], client_id: str) -> web.Response:
    if ctx.actor.is_technician and not ctx.settings.technician_can_create_jobs:
        raise Forbidden("the administrator does not allow technicians to create jobs")
    property_id = await client_and_property(ctx, client_id, body.get("property_id"))
    items = [
        await line_item_from(ctx, raw, f"/line_items/{i}")
        for i, raw in enumerate(body.get("line_items", []))
    ]
    tasks = [
        Task(id=str(uuid.uuid4()), title=t["title"], required=t.get("required", False))
        for t in body.get("tasks", [])
    ]
    moment = now()
    job = Job.create(
        actor=ctx.actor,
        now=moment,
        job_id=str(uuid.uuid4()),
        number=await store.next_job_number(ctx.conn),
        client_id=client_id,
        description=body["description"],
        property_id=None if property_id is None else str(property_id),
        site_contact=contact_from(body.get("site_contact")),
        line_items=items,
        tasks=tasks,
        custom_fields=plain(body.get("custom_fields")),
    )
    if "scheduled_start" in body and "scheduled_end" in body:
        start = parse_time(body["scheduled_start"], "/scheduled_start")
        end = parse_time(body["scheduled_end"], "/scheduled_end")
        if end <= start:
            raise InvalidInput(
                "bad window", [FieldProblem("/scheduled_end", "must be after start")]
            )
        try:
            check_window(start, end)
        except InvalidInput as exc:  # the domain names reschedule's field, /end
            raise InvalidInput(
                exc.message,
                [FieldProblem("/scheduled_end", p.message) for p in exc.problems],
            ) from exc
        job.scheduled_start, job.scheduled_end = start, end
    await store.save(ctx.conn, job, now=moment, new=True)
    return await respond_job(ctx, job, 201)


async def create_job(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.JOB_IN)
    return await _create(ctx, body, uuid_or_404(body["client_id"], "client"))


async def create_client_job(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.CLIENT_JOB_IN)
    return await _create(ctx, body, ctx.path_id("client_id", "client"))


async def get_job(ctx: Ctx) -> web.StreamResponse:
    return await respond_job(ctx, await load_visible(ctx))


async def list_jobs(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    limit = page_limit(ctx.request)
    statuses = [v for raw in q.getall("status", []) for v in raw.split(",") if v]
    bad = [v for v in statuses if v not in JobStatus.__members__.values()]
    if bad:
        raise InvalidInput(
            "unknown status", [FieldProblem("/query/status", f"unknown: {bad[0]}")]
        )
    after = int_cursor(ctx.request)

    def opt_id(name: str) -> str | None:
        raw = q.get(name)
        if raw is None:
            return None
        try:
            return str(uuid.UUID(raw))
        except ValueError as exc:
            raise InvalidInput(
                "bad id", [FieldProblem(f"/query/{name}", "must be a uuid")]
            ) from exc

    jobs = await store.search(
        ctx.conn,
        technician_id=opt_id("technician_id"),
        status=statuses,
        client_id=opt_id("client_id"),
        date_from=parse_time(q["from"], "/query/from") if "from" in q else None,
        date_to=parse_time(q["to"], "/query/to") if "to" in q else None,
        after_number=after,
        limit=limit + 1,
        only_technician=(ctx.actor.technician_id or str(uuid.UUID(int=0)))
        if ctx.actor.is_technician
        else None,
    )
    jobs, cursor = page_of(jobs, limit, lambda job: job.number)
    return json_ok({"items": await job_views(ctx, jobs), "next_cursor": cursor})


async def patch_job(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.JOB_PATCH)
    property_id = body.get("property_id")
    if property_id is not None:
        property_id = str(
            (
                await directory.get_property(
                    ctx.conn, uuid_or_404(property_id, "property")
                )
            )["id"]
        )
    job, _ = await mutate(
        ctx,
        lambda job: job.update_overview(
            ctx.actor,
            now(),
            description=body.get("description"),
            property_id=property_id,
            site_contact=contact_from(body.get("site_contact")),
            custom_fields=plain(body.get("custom_fields")),
        ),
    )
    return await respond_job(ctx, job)


# -- lifecycle actions ---------------------------------------------------------------------


async def schedule(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.SCHEDULE_IN)
    technician_id = body.get("technician_id")
    if technician_id is not None:
        await directory.get_technician(
            ctx.conn, uuid_or_404(technician_id, "technician")
        )
    start = parse_time(body["start"], "/start") if "start" in body else None
    end = parse_time(body["end"], "/end") if "end" in body else None
    job, _ = await mutate(
        ctx,
        lambda job: job.schedule(
            ctx.actor, now(), start=start, end=end, technician_id=technician_id
        ),
    )
    return await respond_job(ctx, job)


async def start(ctx: Ctx) -> web.StreamResponse:
    job, _ = await mutate(ctx, lambda job: job.start(ctx.actor, now()))
    return await respond_job(ctx, job)


async def hold(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.REASON_IN)
    job, _ = await mutate(ctx, lambda job: job.hold(ctx.actor, now(), body["reason"]))
    return await respond_job(ctx, job)


async def resume(ctx: Ctx) -> web.StreamResponse:
    job, _ = await mutate(ctx, lambda job: job.resume(ctx.actor, now()))
    return await respond_job(ctx, job)


async def complete(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx, for_update=True)
    ctx.check_if_match(job_etag(job))
    extra = await extra_blockers(ctx.request.app, ctx.conn, job)
    job.complete(ctx.actor, now(), extra_blockers=extra)
    await store.save(ctx.conn, job, now=now())
    return await respond_job(ctx, job)


async def completion_check(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    blockers = job.completion_blockers(
        await extra_blockers(ctx.request.app, ctx.conn, job)
    )
    return json_ok(
        {
            "can_complete": not blockers,
            "blocking_items": [blocker_json(b) for b in blockers],
        }
    )


async def cancel(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.REASON_IN)
    job, _ = await mutate(ctx, lambda job: job.cancel(ctx.actor, now(), body["reason"]))
    return await respond_job(ctx, job)


async def reschedule(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.RESCHEDULE_IN)
    start_at = parse_time(body["start"], "/start")
    end_at = parse_time(body["end"], "/end")
    job, _ = await mutate(
        ctx,
        lambda job: job.reschedule(
            ctx.actor,
            now(),
            start=start_at,
            end=end_at,
            technicians_may_reschedule=ctx.settings.technician_can_reschedule,
            reason=body.get("reason", ""),
        ),
    )
    return await respond_job(ctx, job)


async def decline(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.REASON_IN)
    job, _ = await mutate(
        ctx,
        lambda job: job.decline(
            ctx.actor,
            now(),
            reason=body["reason"],
            technicians_may_decline=ctx.settings.technician_can_decline,
        ),
    )
    return json_ok({"declined": True, "job_id": job.id, "status": job.status.value})


async def duplicate(ctx: Ctx) -> web.StreamResponse:
    source = await load_visible(ctx, for_update=True)
    moment = now()
    copy = source.duplicate(
        ctx.actor,
        moment,
        job_id=str(uuid.uuid4()),
        number=await store.next_job_number(ctx.conn),
        new_ids=[
            str(uuid.uuid4()) for _ in range(len(source.line_items) + len(source.tasks))
        ],
    )
    await store.save(ctx.conn, copy, now=moment, new=True)
    await store.save(ctx.conn, source, now=moment)
    return await respond_job(ctx, copy, 201)


# -- crew and history ------------------------------------------------------------------------


async def respond_crew(ctx: Ctx, job: Job) -> web.Response:
    names = await directory.technician_names(
        ctx.conn, [m.technician_id for m in job.crew]
    )
    return json_ok({"items": crew_view(job, names)}, etag=job_etag(job))


async def get_crew(ctx: Ctx) -> web.StreamResponse:
    return await respond_crew(ctx, await load_visible(ctx))


async def put_crew(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.CREW_IN)
    technician_id = ctx.path_id("technician_id", "technician")
    await directory.get_technician(ctx.conn, technician_id)
    job, _ = await mutate(
        ctx,
        lambda job: job.assign(ctx.actor, now(), technician_id, CrewRole(body["role"])),
    )
    return await respond_crew(ctx, job)


async def delete_crew(ctx: Ctx) -> web.StreamResponse:
    technician_id = ctx.path_id("technician_id", "technician")
    await mutate(ctx, lambda job: job.unassign(ctx.actor, now(), technician_id))
    return no_content()


async def get_history(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    limit = page_limit(ctx.request)
    after = int_cursor(ctx.request) or 0
    rows = await store.history(ctx.conn, job.id, after=after, limit=limit + 1)
    rows, cursor = page_of(rows, limit, lambda row: row["id"])
    return json_ok({"items": rows, "next_cursor": cursor})


# -- line items, tasks, expenses, notes --------------------------------------------------------


async def list_line_items(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    net, tax, gross = job.totals()
    return json_ok(
        {
            "items": [line_item_view(i) for i in job.line_items],
            "totals": {"net": net, "tax": tax, "gross": gross},
        },
        etag=job_etag(job),
    )


async def add_line_item(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.LINE_ITEM_IN)
    item = await line_item_from(ctx, body, "")
    job, _ = await mutate(ctx, lambda job: job.add_line_item(ctx.actor, now(), item))
    return json_ok(line_item_view(item), 201, etag=job_etag(job))


async def patch_line_item(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.LINE_ITEM_PATCH)
    item_id = ctx.request.match_info["item_id"]

    def opt(key: str) -> Decimal | None:
        return None if key not in body else to_decimal(body[key], f"/{key}")

    quantity, price, rate = opt("quantity"), opt("unit_price"), opt("tax_rate")
    job, item = await mutate(
        ctx,
        lambda job: job.update_line_item(
            ctx.actor,
            now(),
            item_id,
            description=body.get("description"),
            quantity=quantity,
            unit_price=price,
            tax_rate=rate,
        ),
    )
    return json_ok(line_item_view(item), etag=job_etag(job))


async def delete_line_item(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.request.match_info["item_id"]
    await mutate(ctx, lambda job: job.remove_line_item(ctx.actor, now(), item_id))
    return no_content()


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "required": task.required,
        "done": task.done,
        "done_by": task.done_by,
        "done_at": task.done_at,
    }


async def list_tasks(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok({"items": [task_view(t) for t in job.tasks]}, etag=job_etag(job))


async def add_task(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.TASK_IN)
    task = Task(str(uuid.uuid4()), body["title"], body.get("required", False))
    job, _ = await mutate(ctx, lambda job: job.add_task(ctx.actor, now(), task))
    return json_ok(task_view(task), 201, etag=job_etag(job))


async def patch_task(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.TASK_PATCH)
    task_id = ctx.request.match_info["task_id"]
    job, task = await mutate(
        ctx, lambda job: job.set_task_done(ctx.actor, now(), task_id, body["done"])
    )
    return json_ok(task_view(task), etag=job_etag(job))


async def delete_task(ctx: Ctx) -> web.StreamResponse:
    task_id = ctx.request.match_info["task_id"]
    await mutate(ctx, lambda job: job.remove_task(ctx.actor, now(), task_id))
    return no_content()


def expense_view(e: Expense) -> dict[str, Any]:
    return {
        "id": e.id,
        "description": e.description,
        "amount": e.amount,
        "created_by": e.created_by,
        "created_at": e.created_at,
        "receipt_attachment_id": e.receipt_attachment_id,
    }


async def list_expenses(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok(
        {"items": [expense_view(e) for e in job.expenses]}, etag=job_etag(job)
    )


async def add_expense(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.EXPENSE_IN)
    moment = now()
    expense = Expense(
        id=str(uuid.uuid4()),
        description=body["description"],
        amount=to_decimal(body["amount"], "/amount"),
        created_by=ctx.actor.user_id,
        created_at=moment,
        receipt_attachment_id=body.get("receipt_attachment_id"),
    )
    job, _ = await mutate(ctx, lambda job: job.add_expense(ctx.actor, moment, expense))
    return json_ok(expense_view(expense), 201, etag=job_etag(job))


async def delete_expense(ctx: Ctx) -> web.StreamResponse:
    expense_id = ctx.request.match_info["expense_id"]
    await mutate(ctx, lambda job: job.remove_expense(ctx.actor, now(), expense_id))
    return no_content()


async def profitability(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    costs = await store.hourly_costs(ctx.conn, [s.technician_id for s in job.sessions])
    result = job.profitability(costs)
    return json_ok(
        {
            "revenue": result.revenue,
            "expenses": result.expenses,
            "labour": result.labour,
            "labour_hours": result.labour_hours,
            "profit": result.profit,
        }
    )


def note_view(note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "visibility": note.visibility.value,
        "text": note.text,
        "author_id": note.author_id,
        "author_name": note.author_name,
        "created_at": note.created_at,
    }


async def list_notes(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    wanted = ctx.request.query.get("visibility")
    notes = [n for n in job.notes if wanted is None or n.visibility.value == wanted]
    return json_ok({"items": [note_view(n) for n in notes]}, etag=job_etag(job))


async def add_note(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.NOTE_IN)
    moment = now()
    note = Note(
        id=str(uuid.uuid4()),
        visibility=NoteVisibility(body["visibility"]),
        text=body["text"],
        author_id=ctx.actor.user_id,
        author_name=ctx.actor.name,
        created_at=moment,
    )
    job, _ = await mutate(ctx, lambda job: job.add_note(ctx.actor, moment, note))
    return json_ok(note_view(note), 201, etag=job_etag(job))


# -- attachments -----------------------------------------------------------------------------


async def list_attachments(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok(
        {"items": [files.attachment_view(job.id, a) for a in job.attachments]},
        etag=job_etag(job),
    )


async def add_attachment(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx, for_update=True)
    ctx.check_if_match(job_etag(job))
    attachment = await files.receive(ctx.request, ctx.settings, ctx.actor.user_id)
    job.add_attachment(ctx.actor, attachment.uploaded_at, attachment)
    await store.save(ctx.conn, job, now=attachment.uploaded_at)
    return json_ok(
        files.attachment_view(job.id, attachment),
        201,
        etag=job_etag(job),
        location=files.content_url(job.id, attachment.id),
    )


async def get_attachment_content(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    wanted = ctx.request.match_info["attachment_id"]
    for attachment in job.attachments:
        if attachment.id == wanted:
            return files.serve(ctx.settings, attachment)
    raise NotFound(f"attachment {wanted} not found")


async def delete_attachment(ctx: Ctx) -> web.StreamResponse:
    attachment_id = ctx.request.match_info["attachment_id"]
    await mutate(
        ctx, lambda job: job.remove_attachment(ctx.actor, now(), attachment_id)
    )
    return no_content()


# -- sessions --------------------------------------------------------------------------------


def session_view(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "technician_id": session.technician_id,
        "device_id": session.device_id,
        "state": session.state,
        "clocked_in_at": session.clocked_in_at,
        "clocked_out_at": session.clocked_out_at,
        "worked_seconds": int(session.worked(now()).total_seconds()),
        "intervals": [[a, b] for a, b in session.intervals],
        "evidence": [
            {
                "kind": e.kind.value,
                "at": e.at,
                "event_id": e.event_id,
                "position": None
                if e.position is None
                else {
                    "lat": e.position.lat,
                    "lon": e.position.lon,
                    "accuracy_m": e.position.accuracy_m,
                },
            }
            for e in session.evidence
        ],
    }


async def list_sessions(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok(
        {"items": [session_view(x) for x in job.sessions]}, etag=job_etag(job)
    )


async def post_session_event(ctx: Ctx) -> web.StreamResponse:
    """Clock in / pause / resume / clock out from the app, with the device rules."""
    body = await ctx.json(s.SESSION_EVENT_IN)
    job = await load_visible(ctx, for_update=True)
    ctx.check_if_match(job_etag(job))
    if ctx.actor.is_technician:
        technician_id = ctx.actor.technician_id
        if body.get("technician_id") not in (None, technician_id):
            raise Forbidden("technicians clock only themselves in and out")
    else:
        technician_id = body.get("technician_id")
        if technician_id is None:
            raise InvalidInput(
                "whom to clock", [FieldProblem("/technician_id", "required for office")]
            )
        technician_id = uuid_or_404(technician_id, "technician")
    assert technician_id is not None
    at = parse_time(body["at"], "/at") if "at" in body else now()
    if at > now() + timedelta(seconds=ctx.settings.max_future_skew_s):
        raise InvalidInput("time in the future", [FieldProblem("/at", "in the future")])
    raw_pos = body.get("position")
    position = (
        None
        if raw_pos is None
        else Position(
            float(raw_pos["lat"]),
            float(raw_pos["lon"]),
            None if raw_pos.get("accuracy_m") is None else float(raw_pos["accuracy_m"]),
        )
    )
    event_id = ctx.request.headers.get("Idempotency-Key") or str(uuid.uuid4())
    session = await apply_clock_event(
        ctx.conn,
        ctx.actor,
        source=f"api:{ctx.actor.user_id}",
        event_id=event_id,
        kind=SessionKind(body["event"]),
        at=at,
        job=job,
        technician_id=technician_id,
        device_id=body.get("device_id"),
        position=position,
    )
    status = 201 if body["event"] == SessionKind.CLOCK_IN.value else 200
    return json_ok(
        {**session_view(session), "job_status": job.status.value},
        status,
        etag=job_etag(job),
    )


# -- online view links -----------------------------------------------------------------------


async def create_online_link(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    token = await online_links.create(ctx.conn, job.id, ctx.actor.user_id)
    return json_ok(
        {"token": token, "url": f"/api/v1/online/jobs/{token}"},
        201,
        location=f"/api/v1/online/jobs/{token}",
    )


async def revoke_online_links(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    await online_links.revoke_all(ctx.conn, job.id)
    return no_content()


# -- registration ----------------------------------------------------------------------------


def setup(api: Api) -> None:
    api.tag("jobs", "The job record and its lifecycle")
    job_ref = {"$ref": api.schema("Job", s.JOB_OUT)}
    items = api.schema("LineItems", s.LINE_ITEMS_OUT)
    r = api.route
    jid = "/jobs/{job_id}"
    act: dict[str, Any] = dict(
        tag="jobs", if_match=True, conflicts=True, responses={200: job_ref}
    )
    r(
        "POST",
        "/jobs",
        create_job,
        summary="Create a job (manually)",
        tag="jobs",
        roles=CREW_AND_OFFICE,
        body=s.JOB_IN,
        idempotent=True,
        responses={201: job_ref},
        description="Technicians may create jobs when the administrator allows it.",
    )
    r(
        "POST",
        "/clients/{client_id}/jobs",
        create_client_job,
        tag="jobs",
        summary="Create a job from a client's profile",
        roles=CREW_AND_OFFICE,
        body=s.CLIENT_JOB_IN,
        idempotent=True,
        responses={201: job_ref},
    )
    r(
        "GET",
        "/jobs",
        list_jobs,
        summary="List jobs (a technician sees their own)",
        tag="jobs",
        query=[*PAGINATION_PARAMS, *s.JOB_FILTERS],
        responses={200: page_schema("#/components/schemas/Job")},
    )
    r(
        "GET",
        jid,
        get_job,
        summary="A job's overview",
        tag="jobs",
        responses={200: job_ref},
        if_match=False,
    )
    r(
        "PATCH",
        jid,
        patch_job,
        summary="Edit description, property, contact, custom fields",
        roles=CREW_AND_OFFICE,
        body=s.JOB_PATCH,
        **act,
    )
    r(
        "POST",
        jid + "/schedule",
        schedule,
        summary="Pending → Scheduled",
        roles=OFFICE,
        body=s.SCHEDULE_IN,
        **act,
    )
    r(
        "POST",
        jid + "/start",
        start,
        summary="Scheduled → In Progress",
        roles=CREW_AND_OFFICE,
        **act,
    )
    r(
        "POST",
        jid + "/hold",
        hold,
        summary="In Progress → On Hold (with a reason)",
        roles=CREW_AND_OFFICE,
        body=s.REASON_IN,
        **act,
    )
    r(
        "POST",
        jid + "/resume",
        resume,
        summary="On Hold → In Progress",
        roles=CREW_AND_OFFICE,
        **act,
    )
    r(
        "POST",
        jid + "/complete",
        complete,
        summary="In Progress → Completed",
        roles=CREW_AND_OFFICE,
        description="Only the Job Manager among technicians.",
        **act,
    )
    r(
        "POST",
        jid + "/cancel",
        cancel,
        summary="Cancel (archives, keeps history)",
        roles=OFFICE,
        body=s.REASON_IN,
        **act,
    )
    r(
        "GET",
        jid + "/completion-check",
        completion_check,
        tag="jobs",
        summary="Every blocker of Complete, without acting",
        responses={200: s.COMPLETION_CHECK_OUT},
    )
    r(
        "POST",
        jid + "/reschedule",
        reschedule,
        summary="Move the planned window",
        roles=CREW_AND_OFFICE,
        body=s.RESCHEDULE_IN,
        **act,
    )
    r(
        "POST",
        jid + "/decline",
        decline,
        summary="A technician declines the job",
        roles=(Role.TECHNICIAN,),
        body=s.REASON_IN,
        tag="jobs",
        if_match=True,
        conflicts=True,
        responses={200: s.DECLINE_OUT},
    )
    r(
        "POST",
        jid + "/duplicate",
        duplicate,
        summary="Duplicate into a new Pending job",
        roles=CREW_AND_OFFICE,
        tag="jobs",
        idempotent=True,
        conflicts=True,
        responses={201: job_ref},
    )
    r(
        "GET",
        jid + "/crew",
        get_crew,
        summary="The crew",
        tag="jobs",
        responses={200: s.CREW_OUT},
    )
    r(
        "PUT",
        jid + "/crew/{technician_id}",
        put_crew,
        tag="jobs",
        roles=OFFICE,
        summary="Assign a technician (Job Manager or Auxiliary)",
        body=s.CREW_IN,
        if_match=True,
        conflicts=True,
        responses={200: s.CREW_OUT},
    )
    r(
        "DELETE",
        jid + "/crew/{technician_id}",
        delete_crew,
        tag="jobs",
        roles=OFFICE,
        summary="Take a technician off the crew",
        if_match=True,
        conflicts=True,
        responses={204: None},
    )
    r(
        "GET",
        jid + "/history",
        get_history,
        summary="Every change: who, when, what, where",
        tag="jobs",
        query=PAGINATION_PARAMS,
        responses={200: s.HISTORY_OUT},
    )
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
        roles=ALL_ROLES,
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
        roles=CREW_AND_OFFICE,
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
        roles=CREW_AND_OFFICE,
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
        roles=STAFF_READERS,
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
    r(
        "GET",
        jid + "/attachments",
        list_attachments,
        summary="Photos and documents",
        tag="jobs",
        responses={200: s.ATTACHMENTS_OUT},
    )
    r(
        "POST",
        jid + "/attachments",
        add_attachment,
        tag="jobs",
        roles=CREW_AND_OFFICE,
        summary="Upload a photo or document (multipart: file, kind, description)",
        multipart=s.ATTACHMENT_IN,
        idempotent=True,
        if_match=True,
        responses={201: s.ATTACHMENT_OUT},
    )
    r(
        "GET",
        jid + "/attachments/{attachment_id}/content",
        get_attachment_content,
        tag="jobs",
        summary="The stored file",
        responses={200: None},
    )
    r(
        "DELETE",
        jid + "/attachments/{attachment_id}",
        delete_attachment,
        tag="jobs",
        roles=CREW_AND_OFFICE,
        summary="Remove an attachment",
        if_match=True,
        conflicts=True,
        responses={204: None},
    )
    r(
        "GET",
        jid + "/sessions",
        list_sessions,
        summary="Job sessions with evidence",
        tag="jobs",
        responses={200: s.SESSIONS_OUT},
    )
    r(
        "POST",
        jid + "/sessions",
        post_session_event,
        tag="jobs",
        roles=CREW_AND_OFFICE,
        summary="Clock in / pause / resume / clock out",
        description="Idempotency-Key is the event id, as for device events.",
        body=s.SESSION_EVENT_IN,
        idempotent=True,
        if_match=True,
        responses={200: s.SESSION_OUT, 201: s.SESSION_OUT},
    )
    r(
        "POST",
        jid + "/online-links",
        create_online_link,
        tag="jobs",
        roles=OFFICE,
        summary="Create the customer's read-only online view link",
        idempotent=True,
        responses={201: s.ONLINE_LINK_OUT},
    )
    r(
        "DELETE",
        jid + "/online-links",
        revoke_online_links,
        tag="jobs",
        roles=OFFICE,
        summary="Revoke every online view link of the job",
        responses={204: None},
    )
