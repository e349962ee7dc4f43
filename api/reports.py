"""Job report routes: templates, fields, reserves, attachments, signatures, completion.

Thin views over :mod:`services.reports` (the rules and their order); this module
parses requests, renders reports as JSON and documents the routes. Reserve alerts
are delivered by :mod:`api.alert_relay`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from api.http.context import Ctx
from api.http.identifiers import make_etag, query_uuid
from api.http.problems import blocker_json
from api.http.registry import Api
from api.http.responses import json_ok, no_content
from api.job_request import load_visible, recorded_from
from api.schemas import RECORDED
from jobs_domain.actors import (
    ALL_ROLES,
    CREW_AND_OFFICE,
    OFFICE,
    STAFF_READERS,
    Role,
)
from jobs_domain.images import ImageRef
from jobs_domain.job import Job
from jobs_domain.permissions import MATRIX, Act
from jobs_domain.report import Attachment, Report, ReportActor, Reserve, Signature
from jobs_domain.report_template import SignatureRole
from services import reports as service

log = logging.getLogger("crewtrack.api.reports")

MAX_PHOTOS = 10


# -- rendering -----------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def image_json(ref: ImageRef) -> dict[str, Any]:
    return {"sha256": ref.sha256, "content_type": ref.content_type, "size": ref.size}


def signature_json(sig: Signature) -> dict[str, Any]:
    return {
        "role": sig.role.value,
        "signer_name": sig.signer_name,
        "image": image_json(sig.image),
        "signed_at": _iso(sig.signed_at),
        "signed_by": sig.signed_by,
        "validated_at": _iso(sig.validated_at),
        "validated": sig.validated,
    }


def attachment_json(att: Attachment) -> dict[str, Any]:
    return {
        "id": att.id,
        "kind": att.kind.value,
        "description": att.description,
        "barcode": att.barcode,
        "image": image_json(att.image) if att.image else None,
        "added_by": att.added_by,
        "added_at": _iso(att.added_at),
    }


def reserve_json(res: Reserve) -> dict[str, Any]:
    return {
        "id": res.id,
        "field_key": res.field_key,
        "comment": res.comment,
        "photos": [image_json(p) for p in res.photos],
        "status": res.status.value,
        "raised_by": res.raised_by,
        "raised_at": _iso(res.raised_at),
        "history": [
            {
                "status": c.status.value,
                "comment": c.comment,
                "by": c.by,
                "at": _iso(c.at),
            }
            for c in res.history
        ],
    }


def placed_reserve_json(
    reserve: Reserve, job_id: str, client_id: str, site_id: str | None
) -> dict[str, Any]:
    """A reserve with the job, client and site it was raised for."""
    return reserve_json(reserve) | {
        "job_id": job_id,
        "client_id": client_id,
        "site_id": site_id,
    }


def report_json(report: Report, job: Job) -> dict[str, Any]:
    return {
        "job_id": report.job_id,
        "job_number": job.display_number,
        "template": {
            "id": report.template.id,
            "name": report.template.name,
            # the app checks End's rule offline too (jobs_domain.report.blockers)
            "required_signatures": sorted(
                r.value for r in report.template.required_signatures
            ),
        },
        "status": report.status.value,
        "locked": service.is_locked(report, job),
        "completed_by": report.completed_by,
        "completed_at": report.completed_at,
        "families": report.families_view(),
        "reserves": [reserve_json(r) for r in report.reserves],
        "attachments": [attachment_json(a) for a in report.attachments],
        "signatures": {
            role: signature_json(sig) if sig else None
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


async def _job_and_actor(ctx: Ctx) -> tuple[Job, ReportActor]:
    job = await load_visible(ctx)
    return job, service.report_actor(ctx.actor, job)


# -- templates ---------------------------------------------------------------------------


def _template_etag(template_id: str, version: int) -> str:
    return make_etag("report-template", template_id, version)


async def create_template(ctx: Ctx) -> web.StreamResponse:
    template = await service.create_template(ctx.conn, await ctx.json(TEMPLATE_IN))
    return json_ok(
        template.to_json(),
        201,
        location=f"/api/v1/report-templates/{template.id}",
        etag=_template_etag(template.id, 0),
    )


async def list_templates(ctx: Ctx) -> web.StreamResponse:
    templates = await service.list_templates(ctx.conn)
    return json_ok({"items": [t.to_json() for t in templates]})


async def get_template(ctx: Ctx) -> web.StreamResponse:
    template_id = ctx.path_id("template_id", "template")
    template = await service.get_template(ctx.conn, template_id)
    version = await service.template_version(ctx.conn, template_id)
    return json_ok(template.to_json(), etag=_template_etag(template_id, version))


async def update_template(ctx: Ctx) -> web.StreamResponse:
    template_id = ctx.path_id("template_id", "template")
    template, version = await service.update_template(
        ctx.conn,
        template_id,
        await ctx.json(TEMPLATE_IN),
        check=lambda st: ctx.check_if_match(_template_etag(st.id, st.version)),
    )
    return json_ok(template.to_json(), etag=_template_etag(template_id, version))


# -- the report --------------------------------------------------------------------------------


async def assign_template(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(ASSIGN_IN)
    job = await load_visible(ctx, for_update=True)
    report = await service.assign_template(ctx.conn, job, str(body["template_id"]))
    return _respond(report, job, 201)


async def get_report(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return _respond(await service.load_report(ctx.conn, job), job)


async def update_fields(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json_with_photos(FIELDS_IN)  # signature fields
    job, actor = await _job_and_actor(ctx)
    report = await service.update_fields(
        ctx.conn,
        job,
        actor,
        body["fields"],
        max_image_bytes=ctx.settings.max_attachment_bytes,
        check=lambda current: ctx.check_if_match(_etag(current)),
        recorded=recorded_from(ctx, body),
    )
    return _respond(report, job)


async def raise_reserve(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json_with_photos(RESERVE_IN)
    job, actor = await _job_and_actor(ctx)
    report, reserve = await service.raise_reserve(
        ctx.conn,
        job,
        actor,
        body["field_key"],
        body["comment"],
        body.get("photos", []),
        max_image_bytes=ctx.settings.max_attachment_bytes,
        recorded=recorded_from(ctx, body),
    )
    return json_ok(
        placed_reserve_json(reserve, job.id, report.client_id, report.site_id), 201
    )


async def set_reserve_status(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(RESERVE_STATUS_IN)
    job, actor = await _job_and_actor(ctx)
    reserve = await service.set_reserve_status(
        ctx.conn,
        job,
        actor,
        ctx.path_id("reserve_id", "reserve"),
        body["status"],
        body.get("comment"),
    )
    return json_ok(reserve_json(reserve))


async def list_reserves(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    placed = await service.list_reserves(
        ctx.conn,
        client_id=query_uuid(q, "client_id"),
        site_id=query_uuid(q, "site_id"),
        status=q.get("status"),
    )
    items = [
        placed_reserve_json(p.reserve, p.job_id, p.client_id, p.site_id) for p in placed
    ]
    return json_ok({"items": items})


async def add_attachment(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json_with_photos(ATTACHMENT_IN)
    job, actor = await _job_and_actor(ctx)
    attachment = await service.add_attachment(
        ctx.conn,
        job,
        actor,
        body["kind"],
        image=body.get("image", service.ABSENT),
        barcode=body.get("barcode"),
        description=body.get("description"),
        max_image_bytes=ctx.settings.max_attachment_bytes,
        recorded=recorded_from(ctx, body),
    )
    return json_ok(attachment_json(attachment), 201)


async def delete_attachment(ctx: Ctx) -> web.StreamResponse:
    job, actor = await _job_and_actor(ctx)
    attachment_id = ctx.path_id("attachment_id", "attachment")
    await service.delete_attachment(ctx.conn, job, actor, attachment_id)
    return no_content()


async def sign(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json_with_photos(SIGNATURE_IN)
    job, actor = await _job_and_actor(ctx)
    signature = await service.sign(
        ctx.conn,
        job,
        actor,
        ctx.request.match_info["role"],
        body["signer_name"],
        body["image"],
        max_image_bytes=ctx.settings.max_attachment_bytes,
        recorded=recorded_from(ctx, body),
    )
    return json_ok(signature_json(signature))


async def clear_signature(ctx: Ctx) -> web.StreamResponse:
    job, actor = await _job_and_actor(ctx)
    await service.clear_signature(ctx.conn, job, actor, ctx.request.match_info["role"])
    return no_content()


async def validate_signature(ctx: Ctx) -> web.StreamResponse:
    job, actor = await _job_and_actor(ctx)
    signature = await service.validate_signature(
        ctx.conn, job, actor, ctx.request.match_info["role"]
    )
    return json_ok(signature_json(signature))


async def complete_report(ctx: Ctx) -> web.StreamResponse:
    job, actor = await _job_and_actor(ctx)
    return _respond(await service.complete_report(ctx.conn, job, actor), job)


async def get_image(ctx: Ctx) -> web.StreamResponse:
    image = await service.get_image(ctx.conn, ctx.request.match_info["sha256"])
    return web.Response(
        body=image.data,
        content_type=image.content_type,
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )


# -- schemas and routes -------------------------------------------------------------------------

ANY_JSON: dict[str, Any] = {}
# api.http.validation.validate checks "format" itself; the pattern predates that (cf158e0)
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
    "required": ["name", "families", "required_signatures"],
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
        },
        "recorded_at": RECORDED["recorded_at"],
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
        **RECORDED,
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
        **RECORDED,
    },
}
SIGNATURE_IN = {
    "type": "object",
    "required": ["signer_name", "image"],
    "additionalProperties": False,
    "properties": {
        "signer_name": {"type": "string", "minLength": 1, "maxLength": 200},
        "image": IMAGE,
        "recorded_at": RECORDED["recorded_at"],
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
        roles=MATRIX[Act.EDIT_REPORT_TEMPLATES],
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
        "PUT",
        "/report-templates/{template_id}",
        update_template,
        summary="Replace a report template (the body of creating one)",
        description="Reports already started keep the copy of the template they "
        "were started from (their fields, mandatory flags and signatures); the "
        "change applies to reports started from now on.",
        tag=t,
        roles=MATRIX[Act.EDIT_REPORT_TEMPLATES],
        body=TEMPLATE_IN,
        if_match=True,
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
        idempotent=True,
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
        idempotent=True,
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
