"""Job reports: templates, fields, reserves (with back-office alerts), attachments,
signatures, completion — and the completion blockers they add to a job.

Reserve alerts are written to ``report_alerts`` in the raising transaction with a
``NOTIFY``; the relay (one task per API process, woken by the notification that
PostgreSQL sends at commit, and sweeping every few seconds) claims them with
``SKIP LOCKED``, appends each to the Redis stream ``Settings.alerts_stream`` and
POSTs it to ``Settings.reserve_webhook_url`` signed with HMAC-SHA256.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import psycopg
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import RedisError

from api.completion import register_blocker_provider
from api.framework import (
    POOL,
    SETTINGS,
    Api,
    Ctx,
    blocker_json,
    json_ok,
    make_etag,
    no_content,
)
from api.jobs import load_visible, now
from jobs_domain.actors import (
    ALL_ROLES,
    CREW_AND_OFFICE,
    OFFICE,
    STAFF_READERS,
    Role,
)
from jobs_domain.errors import Blocker, Conflict, FieldProblem, InvalidInput, NotFound
from jobs_domain.images import decode_image
from jobs_domain.job import Job, JobStatus
from jobs_domain.report import Report, ReportActor, ReportStatus, new_report
from jobs_domain.report_template import SignatureRole, parse_template
from storage import reports as store

log = logging.getLogger("crewtrack.api.reports")

ALERT_CHANNEL = "crewtrack_alerts"  # NOTIFY channel: an alert row was committed
ALERT_SWEEP_S = 5.0  # retry undelivered alerts this often (Redis or webhook down)
ALERT_STREAM_MAXLEN = 10_000  # the dashboard shows recent alerts; older ones trimmed
WEBHOOK_TIMEOUT_S = 5.0  # a receiver slower than this is retried on the next sweep
MAX_PHOTOS = 10


# -- shared helpers (also used by api.parts and api.invoices) --------------------------


def report_actor(ctx: Ctx, job: Job) -> ReportActor:
    """The actor's standing on this job: crew position, or back office."""
    role = (
        job.crew_role_of(ctx.actor.technician_id) if ctx.actor.is_technician else None
    )
    return ReportActor(
        user_id=ctx.actor.user_id,
        crew_position=role,
        office=ctx.actor.is_office,
    )


JOB_CLOSED = (JobStatus.COMPLETED, JobStatus.CANCELLED)


async def load_report(ctx: Ctx, job: Job, *, for_update: bool = False) -> Report:
    report = await store.load_report(ctx.conn, job.id, for_update=for_update)
    if report is None:
        raise NotFound(f"job {job.display_number} has no report (assign a template)")
    if job.status in JOB_CLOSED and report.status is ReportStatus.OPEN and for_update:
        # Ending the job validated the report: from now on it is read-only.
        report.status = ReportStatus.COMPLETED
        report.completed_by = job.completed_by
        report.completed_at = job.completed_at or now()
    return report


def report_json(report: Report, job: Job) -> dict[str, Any]:
    return {
        "job_id": report.job_id,
        "job_number": job.display_number,
        "template": {"id": report.template.id, "name": report.template.name},
        "status": report.status.value,
        "locked": report.status is ReportStatus.COMPLETED or job.status in JOB_CLOSED,
        "completed_by": report.completed_by,
        "completed_at": report.completed_at,
        "families": report.families_view(),
        "reserves": [store.reserve_json(r) for r in report.reserves],
        "attachments": [store.attachment_json(a) for a in report.attachments],
        "signatures": {
            role: store.signature_json(sig) if sig else None
            for role, sig in (
                (r.value, report.signatures.get(r)) for r in SignatureRole
            )
        },
        "blockers": [blocker_json(b) for b in report.blockers()],
        "version": report.version,
    }


def _etag(report: Report) -> str:
    return make_etag("report", report.job_id, report.version)


def _respond(report: Report, job: Job, status: int = 200) -> web.Response:
    return json_ok(report_json(report, job), status, etag=_etag(report))


async def _save(ctx: Ctx, report: Report) -> None:
    events = report.pull_events()
    await store.save_report(ctx.conn, report, now())
    if events:
        await store.insert_alerts(ctx.conn, events)
        await ctx.conn.execute("SELECT pg_notify(%s, '')", (ALERT_CHANNEL,))


# -- templates ---------------------------------------------------------------------------


async def create_template(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(TEMPLATE_IN)
    template = parse_template(str(uuid.uuid4()), body)
    await store.insert_template(ctx.conn, template)
    return json_ok(
        template.to_json(), 201, location=f"/api/v1/report-templates/{template.id}"
    )


async def list_templates(ctx: Ctx) -> web.StreamResponse:
    return json_ok(
        {"items": [t.to_json() for t in await store.list_templates(ctx.conn)]}
    )


async def get_template(ctx: Ctx) -> web.StreamResponse:
    template = await store.get_template(
        ctx.conn, ctx.path_id("template_id", "template")
    )
    if template is None:
        raise NotFound("report template not found")
    return json_ok(template.to_json())


# -- the report --------------------------------------------------------------------------------


async def assign_template(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(ASSIGN_IN)
    job = await load_visible(ctx, for_update=True)
    if job.status in JOB_CLOSED:
        raise Conflict(f"job {job.display_number} is {job.status.value}")
    if await store.load_report(ctx.conn, job.id) is not None:
        raise Conflict(f"job {job.display_number} already has a report")
    template = await store.get_template(ctx.conn, str(body["template_id"]))
    if template is None:
        raise NotFound("report template not found")
    report = new_report(job.id, job.client_id, job.property_id, template)
    await store.insert_report(ctx.conn, report, template.id, now())
    return _respond(report, job, 201)


async def get_report(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return _respond(await load_report(ctx, job), job)


async def update_fields(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(FIELDS_IN)
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    ctx.check_if_match(_etag(report))
    report.update_fields(body["fields"], report_actor(ctx, job), now())
    await _save(ctx, report)
    return _respond(report, job)


async def raise_reserve(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(RESERVE_IN)
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    images = [
        decode_image(p, f"/photos/{i}") for i, p in enumerate(body.get("photos", []))
    ]
    actor = report_actor(ctx, job)
    reserve = report.raise_reserve(
        str(uuid.uuid4()),
        body["field_key"],
        body["comment"],
        [img.ref for img in images],
        actor,
        now(),
    )
    for img in images:
        await store.put_image(ctx.conn, img)
    await _save(ctx, report)
    out = store.reserve_json(reserve)
    out.update(job_id=job.id, client_id=report.client_id, site_id=report.site_id)
    return json_ok(out, 201)


async def set_reserve_status(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(RESERVE_STATUS_IN)
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    reserve = report.set_reserve_status(
        ctx.path_id("reserve_id", "reserve"),
        body["status"],
        body.get("comment"),
        report_actor(ctx, job),
        now(),
    )
    await _save(ctx, report)
    return json_ok(store.reserve_json(reserve))


async def list_reserves(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    items = await store.list_reserves(
        ctx.conn,
        client_id=query_uuid(q.get("client_id")),
        site_id=query_uuid(q.get("site_id")),
        status=q.get("status"),
    )
    return json_ok({"items": items})


def query_uuid(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidInput(
            "bad id", [FieldProblem("/query", "must be a UUID")]
        ) from exc


async def add_attachment(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(ATTACHMENT_IN)
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    actor = report_actor(ctx, job)
    attachment_id = str(uuid.uuid4())
    if body["kind"] == "photo":
        if "image" not in body:
            raise InvalidInput(
                "a photo needs its image", [FieldProblem("/image", "required")]
            )
        image = decode_image(body["image"], "/image")
        attachment = report.add_photo(
            attachment_id, image.ref, body.get("description"), actor, now()
        )
        await store.put_image(ctx.conn, image)
    else:
        attachment = report.add_barcode(
            attachment_id, body.get("barcode"), body.get("description"), actor, now()
        )
    await _save(ctx, report)
    return json_ok(store.attachment_json(attachment), 201)


async def delete_attachment(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    report.delete_attachment(
        ctx.path_id("attachment_id", "attachment"), report_actor(ctx, job)
    )
    await _save(ctx, report)
    return no_content()


async def sign(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(SIGNATURE_IN)
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    image = decode_image(body["image"], "/image")
    signature = report.sign(
        ctx.request.match_info["role"],
        body["signer_name"],
        image.ref,
        report_actor(ctx, job),
        now(),
    )
    await store.put_image(ctx.conn, image)
    await _save(ctx, report)
    return json_ok(store.signature_json(signature))


async def clear_signature(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    report.clear_signature(ctx.request.match_info["role"], report_actor(ctx, job))
    await _save(ctx, report)
    return no_content()


async def validate_signature(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    signature = report.validate_signature(
        ctx.request.match_info["role"], report_actor(ctx, job), now()
    )
    await _save(ctx, report)
    return json_ok(store.signature_json(signature))


async def complete_report(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    report = await load_report(ctx, job, for_update=True)
    report.complete(report_actor(ctx, job), now())
    await _save(ctx, report)
    return _respond(report, job)


async def get_image(ctx: Ctx) -> web.StreamResponse:
    sha = ctx.request.match_info["sha256"]
    image = await store.get_image(ctx.conn, sha) if len(sha) == 64 else None
    if image is None:
        raise NotFound("image not found")
    return web.Response(
        body=image.data,
        content_type=image.content_type,
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )


async def report_blockers(
    conn: psycopg.AsyncConnection[Any], job: Job
) -> list[Blocker]:
    """What the job's report still lacks (each mandatory field by name, signatures)."""
    report = await store.load_report(conn, job.id)
    if report is None or report.status is ReportStatus.COMPLETED:
        return []
    return report.blockers()


# -- alert relay ----------------------------------------------------------------------------------


RELAY = web.AppKey("report_alert_relay", asyncio.Task[None])
REDIS = web.AppKey("report_alert_redis", aioredis.Redis)


def sign_payload(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``, the scheme Stripe uses."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


async def deliver_pending_alerts(
    app: web.Application, http: aiohttp.ClientSession
) -> int:
    """Push every undelivered alert to Redis and the webhook; return how many completed."""
    settings = app[SETTINGS]
    done = 0
    async with app[POOL].connection() as conn, conn.transaction():
        for (
            alert_id,
            payload,
            stream_id,
            webhook_status,
        ) in await store.claim_pending_alerts(conn):
            body = json.dumps(payload, ensure_ascii=False).encode()
            error: str | None = None
            if stream_id is None:
                try:
                    raw_id = await app[REDIS].xadd(
                        settings.alerts_stream,
                        {"type": payload["type"], "payload": body},
                        maxlen=ALERT_STREAM_MAXLEN,
                        approximate=True,
                    )
                    stream_id = (
                        raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    )
                except (RedisError, OSError) as exc:
                    error = f"redis: {exc}"
            webhook_ok = not settings.reserve_webhook_url or (
                webhook_status is not None and 200 <= webhook_status < 300
            )
            status: int | None = None
            if not webhook_ok:
                try:
                    async with http.post(
                        settings.reserve_webhook_url,
                        data=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Crewtrack-Event": str(payload["type"]),
                            "X-Crewtrack-Signature": sign_payload(
                                settings.reserve_webhook_secret, body
                            ),
                        },
                        timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S),
                    ) as response:
                        status = response.status
                    webhook_ok = 200 <= status < 300
                    if not webhook_ok:
                        error = f"webhook answered {status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"webhook: {exc!r}"
            delivered = stream_id is not None and webhook_ok
            await store.record_alert_attempt(
                conn,
                alert_id,
                stream_id=stream_id,
                webhook_status=status,
                delivered=delivered,
                error=error,
            )
            done += delivered
            if error:
                log.warning("reserve alert %s not delivered yet: %s", alert_id, error)
    return done


async def _relay(app: web.Application) -> None:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    settings.database_url, autocommit=True
                ) as listener:
                    await listener.execute(f"LISTEN {ALERT_CHANNEL}")
                    while True:
                        await deliver_pending_alerts(app, http)
                        async for _ in listener.notifies(
                            timeout=ALERT_SWEEP_S, stop_after=1
                        ):
                            pass
            except (psycopg.OperationalError, OSError):
                log.warning("reserve alert relay lost the database; retrying")
                await asyncio.sleep(ALERT_SWEEP_S)


async def _alert_relay_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the alert relay (and its Redis client) for the app's lifetime."""
    app[REDIS] = aioredis.from_url(app[SETTINGS].redis_url)
    app[RELAY] = asyncio.create_task(_relay(app), name="reserve-alert-relay")
    try:
        yield
    finally:
        app[RELAY].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[RELAY]
        await app[REDIS].aclose()


# -- schemas and routes -------------------------------------------------------------------------

ANY_JSON: dict[str, Any] = {}
# framework.validate checks "format" itself; the pattern predates that (cf158e0)
# and stays only because it is part of the published OpenAPI document.
UUID_S: dict[str, Any] = {
    "type": "string",
    "format": "uuid",
    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
}
FIELD_IN = {
    "type": "object",
    "required": ["key", "label", "type"],
    "properties": {
        "key": {"type": "string"},
        "label": {"type": "string"},
        "type": {
            "enum": [
                "checkbox",
                "text",
                "number",
                "date",
                "time",
                "signature",
                "validation",
                "barcode",
            ]
        },
        "mandatory": {"type": "boolean"},
    },
}
TEMPLATE_IN = {
    "type": "object",
    "required": ["name", "families"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "families": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["key", "name", "fields"],
                "properties": {
                    "key": {"type": "string"},
                    "name": {"type": "string"},
                    "fields": {"type": "array", "minItems": 1, "items": FIELD_IN},
                },
            },
        },
        "required_signatures": {
            "type": "array",
            "items": {"enum": ["customer", "technician"]},
            "uniqueItems": True,
        },
    },
}
TEMPLATE_OUT = {"type": "object", "required": ["id", "name", "families"]}
ASSIGN_IN = {
    "type": "object",
    "required": ["template_id"],
    "additionalProperties": False,
    "properties": {"template_id": UUID_S},
}
FIELDS_IN = {
    "type": "object",
    "required": ["fields"],
    "additionalProperties": False,
    "properties": {
        "fields": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "value": ANY_JSON,
                    "comment": {"type": ["string", "null"], "maxLength": 4000},
                },
            },
        }
    },
}
IMAGE = {
    "type": "string",
    "description": "base64 PNG, JPEG or WebP (data: URL allowed)",
}
RESERVE_IN = {
    "type": "object",
    "required": ["field_key", "comment"],
    "additionalProperties": False,
    "properties": {
        "field_key": {"type": "string"},
        "comment": {"type": "string", "minLength": 1, "maxLength": 4000},
        "photos": {"type": "array", "maxItems": MAX_PHOTOS, "items": IMAGE},
    },
}
RESERVE_STATUS_IN = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {
        "status": {"enum": ["compliant", "resolved", "unresolved"]},
        "comment": {"type": ["string", "null"], "maxLength": 4000},
    },
}
ATTACHMENT_IN = {
    "type": "object",
    "required": ["kind"],
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": ["photo", "barcode"]},
        "image": IMAGE,
        "barcode": {"type": "string"},
        "description": {"type": ["string", "null"], "maxLength": 4000},
    },
}
SIGNATURE_IN = {
    "type": "object",
    "required": ["signer_name", "image"],
    "additionalProperties": False,
    "properties": {
        "signer_name": {"type": "string", "minLength": 1, "maxLength": 200},
        "image": IMAGE,
    },
}
REPORT_OUT = {
    "type": "object",
    "required": ["job_id", "status", "families", "reserves", "signatures", "blockers"],
    "properties": {
        "families": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "name", "has_mandatory", "fields"],
                "properties": {"has_mandatory": {"type": "boolean"}},
            },
        }
    },
}
RESERVE_OUT = {"type": "object", "required": ["id", "field_key", "status", "comment"]}


def setup(api: Api) -> None:
    api.tag(
        "reports", "Job reports: templates, fields, reserves, attachments, signatures"
    )
    template = api.schema("ReportTemplate", TEMPLATE_OUT)
    report = api.schema("JobReport", REPORT_OUT)
    reserve = api.schema("Reserve", RESERVE_OUT)
    r = api.route
    t = "reports"
    r(
        "POST",
        "/report-templates",
        create_template,
        summary="Define a report template",
        tag=t,
        roles=(Role.ADMIN,),
        body=TEMPLATE_IN,
        idempotent=True,
        responses={201: {"$ref": template}},
    )
    r(
        "GET",
        "/report-templates",
        list_templates,
        summary="List report templates",
        tag=t,
        roles=ALL_ROLES,
        responses={200: {"type": "object"}},
    )
    r(
        "GET",
        "/report-templates/{template_id}",
        get_template,
        summary="A report template",
        tag=t,
        roles=ALL_ROLES,
        responses={200: {"$ref": template}},
    )
    r(
        "POST",
        "/jobs/{job_id}/report",
        assign_template,
        summary="Give a job its report (from a template)",
        tag=t,
        roles=OFFICE,
        body=ASSIGN_IN,
        idempotent=True,
        responses={201: {"$ref": report}},
    )
    r(
        "GET",
        "/jobs/{job_id}/report",
        get_report,
        summary="A job's report",
        tag=t,
        roles=ALL_ROLES,
        if_match=True,
        responses={200: {"$ref": report}},
        description="Families with `has_mandatory` (shown in red), answers, reserves, "
        "attachments, signatures and what still blocks completion.",
    )
    r(
        "PATCH",
        "/jobs/{job_id}/report/fields",
        update_fields,
        summary="Fill fields and comments (all or nothing)",
        tag=t,
        roles=CREW_AND_OFFICE,
        body=FIELDS_IN,
        if_match=True,
        responses={200: {"$ref": report}},
        description="Each field's value is checked against its type: checkbox and "
        "validation booleans, numbers, `YYYY-MM-DD`, `HH:MM`, barcode strings, "
        "signature `{name, image}`; `null` clears.",
    )
    r(
        "POST",
        "/jobs/{job_id}/report/reserves",
        raise_reserve,
        summary="Raise a reserve on a field (alerts the back office)",
        tag=t,
        roles=CREW_AND_OFFICE,
        body=RESERVE_IN,
        idempotent=True,
        responses={201: {"$ref": reserve}},
    )
    r(
        "PATCH",
        "/jobs/{job_id}/report/reserves/{reserve_id}",
        set_reserve_status,
        summary="Set a reserve's status",
        tag=t,
        roles=CREW_AND_OFFICE,
        body=RESERVE_STATUS_IN,
        responses={200: {"$ref": reserve}},
    )
    r(
        "GET",
        "/reserves",
        list_reserves,
        summary="Reserves per client and site",
        tag=t,
        roles=STAFF_READERS,
        query=[
            {"name": n, "in": "query", "schema": {"type": "string"}}
            for n in ("client_id", "site_id", "status")
        ],
        responses={200: {"type": "object"}},
    )
    r(
        "POST",
        "/jobs/{job_id}/report/attachments",
        add_attachment,
        summary="Attach a photo (with description) or a barcode reading",
        tag=t,
        roles=CREW_AND_OFFICE,
        body=ATTACHMENT_IN,
        idempotent=True,
        responses={201: {"type": "object"}},
    )
    r(
        "DELETE",
        "/jobs/{job_id}/report/attachments/{attachment_id}",
        delete_attachment,
        summary="Delete a report attachment",
        tag=t,
        roles=CREW_AND_OFFICE,
        conflicts=True,
        responses={204: None},
    )
    r(
        "PUT",
        "/jobs/{job_id}/report/signatures/{role}",
        sign,
        summary="Sign (customer or technician); refused once validated",
        tag=t,
        roles=CREW_AND_OFFICE,
        body=SIGNATURE_IN,
        responses={200: {"type": "object"}},
    )
    r(
        "DELETE",
        "/jobs/{job_id}/report/signatures/{role}",
        clear_signature,
        summary="Clear a signature that is not validated yet",
        tag=t,
        roles=CREW_AND_OFFICE,
        conflicts=True,
        responses={204: None},
    )
    r(
        "POST",
        "/jobs/{job_id}/report/signatures/{role}/validate",
        validate_signature,
        summary="Validate a signature (then it is immutable)",
        tag=t,
        roles=CREW_AND_OFFICE,
        conflicts=True,
        responses={200: {"type": "object"}},
    )
    r(
        "POST",
        "/jobs/{job_id}/report/complete",
        complete_report,
        summary="Complete the report (Job Manager only)",
        tag=t,
        roles=(Role.TECHNICIAN,),
        conflicts=True,
        responses={200: {"$ref": report}},
    )
    r(
        "GET",
        "/report-images/{sha256}",
        get_image,
        summary="A report photo or signature",
        tag=t,
        roles=ALL_ROLES,
        responses={200: None},
    )
    register_blocker_provider(api.app, report_blockers)
    api.app.cleanup_ctx.append(_alert_relay_ctx)
