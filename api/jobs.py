"""Jobs over HTTP: the record, its lifecycle actions, crew, history, online links.

Thin views over :mod:`services.jobs` (and :mod:`services.completion` for
Complete): parse, call one use case, render. What hangs off a job has its own
route module (:mod:`api.job_items`, :mod:`api.attachments`,
:mod:`api.job_sessions`); :func:`setup` registers theirs too, in one order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from api import attachments, job_items, job_sessions
from api import schemas as s
from api.http.context import Ctx
from api.http.identifiers import uuid_or_404
from api.http.pagination import (
    PAGINATION_PARAMS,
    int_cursor,
    page_limit,
    page_of,
    page_schema,
)
from api.http.problems import blocker_json
from api.http.registry import Api
from api.http.responses import json_ok, no_content
from api.http.validation import plain
from api.job_json import crew_view, job_etag, job_views, respond_job, warnings_view
from api.job_request import (
    contact_from,
    if_match,
    job_id,
    load_visible,
    parse_time,
)
from jobs_domain.actors import CREW_AND_OFFICE, OFFICE, Role
from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.job import CrewRole, Job, JobStatus
from jobs_domain.permissions import MATRIX, Act
from services import completion
from services import jobs as service
from services.jobs import DoubleBooking

# -- create, read, list, update ------------------------------------------------------------


async def _create(ctx: Ctx, body: dict[str, Any], client_id: str) -> web.Response:
    window = None
    if "scheduled_start" in body and "scheduled_end" in body:
        window = (
            parse_time(body["scheduled_start"], "/scheduled_start"),
            parse_time(body["scheduled_end"], "/scheduled_end"),
        )
    job = await service.create_job(
        ctx.conn,
        ctx.actor,
        service.NewJob(
            client_id=client_id,
            description=body["description"],
            property_id=body.get("property_id"),
            site_contact=contact_from(body.get("site_contact")),
            line_items=body.get("line_items", []),
            tasks=[
                (t["title"], t.get("required", False)) for t in body.get("tasks", [])
            ],
            custom_fields=plain(body.get("custom_fields")),
            window=window,
        ),
        technicians_may_create=ctx.settings.technician_can_create_jobs,
    )
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

    jobs = await service.search_jobs(
        ctx.conn,
        ctx.actor,
        technician_id=opt_id("technician_id"),
        statuses=[JobStatus(v) for v in statuses],
        client_id=opt_id("client_id"),
        date_from=parse_time(q["from"], "/query/from") if "from" in q else None,
        date_to=parse_time(q["to"], "/query/to") if "to" in q else None,
        after_number=after,
        limit=limit + 1,
    )
    jobs, cursor = page_of(jobs, limit, lambda job: job.number)
    return json_ok({"items": await job_views(ctx, jobs), "next_cursor": cursor})


async def patch_job(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.JOB_PATCH)
    job = await service.update_overview(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        description=body.get("description"),
        property_id=body.get("property_id"),
        site_contact=contact_from(body.get("site_contact")),
        custom_fields=plain(body.get("custom_fields")),
        check=if_match(ctx),
    )
    return await respond_job(ctx, job)


# -- lifecycle actions ---------------------------------------------------------------------


async def schedule(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.SCHEDULE_IN)
    job, clashes = await service.schedule(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        start=parse_time(body["start"], "/start") if "start" in body else None,
        end=parse_time(body["end"], "/end") if "end" in body else None,
        technician_id=body.get("technician_id"),
        refuse_double_booking=ctx.settings.refuse_double_booking,
        check=if_match(ctx),
    )
    return await respond_job(ctx, job, clashes=clashes)


async def start(ctx: Ctx) -> web.StreamResponse:
    job = await service.start(ctx.conn, ctx.actor, job_id(ctx), check=if_match(ctx))
    return await respond_job(ctx, job)


async def hold(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.REASON_IN)
    job = await service.hold(
        ctx.conn, ctx.actor, job_id(ctx), body["reason"], check=if_match(ctx)
    )
    return await respond_job(ctx, job)


async def resume(ctx: Ctx) -> web.StreamResponse:
    job = await service.resume(ctx.conn, ctx.actor, job_id(ctx), check=if_match(ctx))
    return await respond_job(ctx, job)


async def complete(ctx: Ctx) -> web.StreamResponse:
    job = await completion.complete(
        ctx.conn, ctx.actor, job_id(ctx), check=if_match(ctx)
    )
    return await respond_job(ctx, job)


async def completion_check(ctx: Ctx) -> web.StreamResponse:
    blockers = await completion.blockers(ctx.conn, await load_visible(ctx))
    return json_ok(
        {
            "can_complete": not blockers,
            "blocking_items": [blocker_json(b) for b in blockers],
        }
    )


async def cancel(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.REASON_IN)
    job = await service.cancel(
        ctx.conn, ctx.actor, job_id(ctx), body["reason"], check=if_match(ctx)
    )
    return await respond_job(ctx, job)


async def reschedule(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.RESCHEDULE_IN)
    job, clashes = await service.reschedule(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        start=parse_time(body["start"], "/start"),
        end=parse_time(body["end"], "/end"),
        reason=body.get("reason", ""),
        technicians_may_reschedule=ctx.settings.technician_can_reschedule,
        refuse_double_booking=ctx.settings.refuse_double_booking,
        check=if_match(ctx),
    )
    return await respond_job(ctx, job, clashes=clashes)


async def decline(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.REASON_IN)
    job = await service.decline(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        body["reason"],
        technicians_may_decline=ctx.settings.technician_can_decline,
        check=if_match(ctx),
    )
    return json_ok({"declined": True, "job_id": job.id, "status": job.status.value})


async def duplicate(ctx: Ctx) -> web.StreamResponse:
    copy = await service.duplicate(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        technicians_may_duplicate=ctx.settings.technician_can_duplicate,
    )
    return await respond_job(ctx, copy, 201)


# -- crew and history ------------------------------------------------------------------------


async def respond_crew(
    ctx: Ctx, job: Job, clashes: Sequence[DoubleBooking] | None = None
) -> web.Response:
    names = await service.crew_names(ctx.conn, job)
    body: dict[str, Any] = {"items": crew_view(job, names)}
    if clashes is not None:
        body["warnings"] = warnings_view(clashes)
    return json_ok(body, etag=job_etag(job))


async def get_crew(ctx: Ctx) -> web.StreamResponse:
    return await respond_crew(ctx, await load_visible(ctx))


async def put_crew(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(s.CREW_IN)
    technician_id = ctx.path_id("technician_id", "technician")
    job, clashes = await service.assign(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        technician_id,
        CrewRole(body["role"]),
        refuse_double_booking=ctx.settings.refuse_double_booking,
        check=if_match(ctx),
    )
    return await respond_crew(ctx, job, clashes)


async def delete_crew(ctx: Ctx) -> web.StreamResponse:
    technician_id = ctx.path_id("technician_id", "technician")
    await service.remove(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        service.Removable.CREW_MEMBER,
        technician_id,
        check=if_match(ctx),
    )
    return no_content()


async def get_history(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    limit = page_limit(ctx.request)
    after = int_cursor(ctx.request) or 0
    rows = await service.history(ctx.conn, job, after=after, limit=limit + 1)
    rows, cursor = page_of(rows, limit, lambda row: row["id"])
    return json_ok({"items": rows, "next_cursor": cursor})


# -- online view links -----------------------------------------------------------------------


async def create_online_link(ctx: Ctx) -> web.StreamResponse:
    token = await service.create_online_link(
        ctx.conn, ctx.actor, await load_visible(ctx)
    )
    return json_ok(
        {"token": token, "url": f"/api/v1/online/jobs/{token}"},
        201,
        location=f"/api/v1/online/jobs/{token}",
    )


async def revoke_online_links(ctx: Ctx) -> web.StreamResponse:
    await service.revoke_online_links(ctx.conn, await load_visible(ctx))
    return no_content()


# -- registration ----------------------------------------------------------------------------


def setup(api: Api) -> None:
    """Every job route, in one order: the job's own, then its items, attachments
    and sessions, then the online links."""
    api.tag("jobs", "The job record and its lifecycle")
    job_ref = {"$ref": api.schema("Job", s.JOB_OUT)}
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
        roles=MATRIX[Act.CREATE_JOB],
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
        roles=MATRIX[Act.CREATE_JOB],
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
        roles=MATRIX[Act.SCHEDULE],
        body=s.SCHEDULE_IN,
        **act,
    )
    r(
        "POST",
        jid + "/start",
        start,
        summary="Scheduled → In Progress",
        roles=MATRIX[Act.START],
        **act,
    )
    r(
        "POST",
        jid + "/hold",
        hold,
        summary="In Progress → On Hold (with a reason)",
        roles=MATRIX[Act.HOLD],
        body=s.REASON_IN,
        **act,
    )
    r(
        "POST",
        jid + "/resume",
        resume,
        summary="On Hold → In Progress",
        roles=MATRIX[Act.RESUME],
        **act,
    )
    r(
        "POST",
        jid + "/complete",
        complete,
        summary="In Progress → Completed",
        roles=MATRIX[Act.COMPLETE],
        description=(
            "Only the Job Manager among technicians. With an Idempotency-Key, "
            "the app's retry of the same request gets the first answer again."
        ),
        idempotent=True,
        **act,
    )
    r(
        "POST",
        jid + "/cancel",
        cancel,
        summary="Cancel (archives, keeps history)",
        roles=MATRIX[Act.CANCEL],
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
        roles=MATRIX[Act.ASSIGN_CREW],
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
    job_items.setup(api)
    attachments.setup(api)
    job_sessions.setup(api)
    r(
        "POST",
        jid + "/online-links",
        create_online_link,
        tag="jobs",
        roles=CREW_AND_OFFICE,
        summary="Create the customer's read-only online view link",
        description="A technician may open it for a job they are on, to show the "
        "customer what the customer sees.",
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
