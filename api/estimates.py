"""Estimates (approve, convert once) and online bookings (Pending or Scheduled)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import Ctx
from api.http.identifiers import make_etag, uuid_or_404
from api.http.pagination import PAGINATION_PARAMS, decode_cursor, page_limit, page_of
from api.http.registry import Api
from api.http.responses import amounts, json_ok
from api.job_json import contact_view, line_item_view, note_view, respond_job
from api.job_request import (
    contact_from,
    parse_time,
)
from jobs_domain.actors import STAFF_READERS
from jobs_domain.bookings import BookingDefault
from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.estimates import Estimate
from jobs_domain.job import NoteVisibility
from jobs_domain.money import totals
from jobs_domain.permissions import MATRIX, Act
from services import estimates as service

ESTIMATE_IN: s.S = {
    "type": "object",
    "required": ["client_id", "description", "line_items"],
    "additionalProperties": False,
    "properties": {
        "client_id": s.UUID_S,
        "property_id": s.UUID_S,
        "description": s.DESCRIPTION,
        "site_contact": s.CONTACT,
        "line_items": {"type": "array", "maxItems": 500, "items": s.LINE_ITEM_IN},
        "notes": {"type": "array", "maxItems": 100, "items": s.NOTE_IN},
    },
}
ESTIMATE_OUT: s.S = s.obj(
    ["id", "number", "status", "client_id", "description", "line_items", "notes"],
    id={"type": "string"},
    number={"type": "string"},
    status={"enum": ["draft", "approved", "converted"]},
    client_id={"type": "string"},
    property_id=s.NULL_STR,
    description={"type": "string"},
    site_contact={"type": "object"},
    line_items={"type": "array", "items": s.LINE_ITEM_OUT},
    notes={"type": "array", "items": s.NOTE_OUT},
    totals=s.TOTALS,
    approved_at=s.NULL_STR,
    job_id=s.NULL_STR,
    version={"type": "integer"},
)
BOOKING_IN: s.S = {
    "type": "object",
    "required": ["client_id", "description", "requested_start", "requested_end"],
    "additionalProperties": False,
    "properties": {
        "client_id": s.UUID_S,
        "property_id": s.UUID_S,
        "description": s.DESCRIPTION,
        "requested_start": s.TIME,
        "requested_end": s.TIME,
        "site_contact": s.CONTACT,
        "technician_id": s.UUID_S,
    },
}
BOOKING_OUT: s.S = s.obj(
    ["id", "client_id", "job_id"],
    id={"type": "string"},
    client_id={"type": "string"},
    request={"type": "object"},
    job_id={"type": "string"},
    created_at={"type": "string"},
    reference={"type": ["string", "null"]},
)


def estimate_view(e: Estimate) -> dict[str, Any]:
    t = totals((i.net, i.tax_rate) for i in e.line_items)
    return {
        "id": e.id,
        "number": e.display_number,
        "status": e.status.value,
        "client_id": e.client_id,
        "property_id": e.property_id,
        "description": e.description,
        "site_contact": contact_view(e.site_contact),
        "line_items": [line_item_view(i) for i in e.line_items],
        "notes": [note_view(n) for n in e.notes],
        "totals": amounts(net=t.net, tax=t.tax, gross=t.gross),
        "approved_at": e.approved_at,
        "job_id": e.job_id,
        "version": e.version,
    }


def _etag(e: Estimate) -> str:
    return make_etag("estimate", e.id, e.version)


def _respond(e: Estimate, status: int = 200) -> web.Response:
    return json_ok(
        estimate_view(e),
        status,
        etag=_etag(e),
        location=f"/api/v1/estimates/{e.id}" if status == 201 else None,
    )


def _estimate_id(ctx: Ctx) -> str:
    return ctx.path_id("estimate_id", "estimate")


def _if_match(ctx: Ctx) -> service.EstimateCheck:
    return lambda estimate: ctx.check_if_match(_etag(estimate))


async def create_estimate(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(ESTIMATE_IN)
    new = service.NewEstimate(
        client_id=uuid_or_404(body["client_id"], "client"),
        description=body["description"],
        property_id=body.get("property_id"),
        site_contact=contact_from(body.get("site_contact")),
        line_items=body["line_items"],
        notes=[
            (NoteVisibility(n["visibility"]), n["text"]) for n in body.get("notes", [])
        ],
    )
    return _respond(await service.create_estimate(ctx.conn, ctx.actor, new), 201)


async def get_estimate(ctx: Ctx) -> web.StreamResponse:
    return _respond(await service.load(ctx.conn, _estimate_id(ctx)))


async def list_estimates(ctx: Ctx) -> web.StreamResponse:
    limit = page_limit(ctx.request)
    after = None
    if "cursor" in ctx.request.query:
        values = decode_cursor(ctx.request.query["cursor"])
        if not values or not isinstance(values[0], int):
            raise InvalidInput("bad cursor", [FieldProblem("/query/cursor", "bad")])
        after = values[0]
    query = ctx.request.query
    client_id = query.get("client_id")
    found = await service.search(
        ctx.conn,
        status=query.get("status"),
        client_id=None if client_id is None else uuid_or_404(client_id, "client"),
        text=query.get("q"),
        after=after,
        limit=limit + 1,
    )
    found, cursor = page_of(found, limit, lambda e: e.number)
    return json_ok({"items": [estimate_view(e) for e in found], "next_cursor": cursor})


async def approve(ctx: Ctx) -> web.StreamResponse:
    estimate = await service.approve(
        ctx.conn, ctx.actor, _estimate_id(ctx), check=_if_match(ctx)
    )
    return _respond(estimate)


async def convert(ctx: Ctx) -> web.StreamResponse:
    """Convert to Job: every line item, price and note carried over; once only."""
    job = await service.convert(
        ctx.conn, ctx.actor, _estimate_id(ctx), check=_if_match(ctx)
    )
    return await respond_job(ctx, job, 201)


async def create_booking(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(BOOKING_IN)
    client_id = uuid_or_404(body["client_id"], "client")
    technician_id = body.get("technician_id")
    if technician_id is not None:
        uuid_or_404(technician_id, "technician")
    new = service.NewBooking(
        client_id=client_id,
        description=body["description"],
        requested_start=parse_time(body["requested_start"], "/requested_start"),
        requested_end=parse_time(body["requested_end"], "/requested_end"),
        property_id=body.get("property_id"),
        site_contact=contact_from(body.get("site_contact")),
        technician_id=technician_id,
    )
    job = await service.create_booking(
        ctx.conn,
        ctx.actor,
        new,
        request=body,
        default_status=BookingDefault(ctx.settings.booking_default_status),
    )
    return await respond_job(ctx, job, 201)


async def get_booking(ctx: Ctx) -> web.StreamResponse:
    return json_ok(
        await service.load_booking(ctx.conn, ctx.path_id("booking_id", "booking"))
    )


def setup(api: Api) -> None:
    api.tag("estimates", "Estimates and online bookings")
    est = {"$ref": api.schema("Estimate", ESTIMATE_OUT)}
    job_ref = {"$ref": "#/components/schemas/Job"}
    r = api.route
    r(
        "POST",
        "/estimates",
        create_estimate,
        summary="Create an estimate",
        tag="estimates",
        roles=MATRIX[Act.CREATE_ESTIMATE],
        body=ESTIMATE_IN,
        idempotent=True,
        responses={201: est},
    )
    r(
        "GET",
        "/estimates",
        list_estimates,
        summary="List estimates",
        tag="estimates",
        roles=STAFF_READERS,
        query=[
            *PAGINATION_PARAMS,
            {
                "name": "status",
                "in": "query",
                "schema": {"enum": ["draft", "approved", "converted"]},
            },
            {"name": "client_id", "in": "query", "schema": s.UUID_S},
            {
                "name": "q",
                "in": "query",
                "description": "An estimate number (E-000007), or part of the "
                "client's name",
                "schema": {"type": "string", "maxLength": 200},
            },
        ],
        responses={200: s.items_of(est, next_cursor=s.NULL_STR)},
    )
    r(
        "GET",
        "/estimates/{estimate_id}",
        get_estimate,
        summary="An estimate",
        tag="estimates",
        roles=STAFF_READERS,
        responses={200: est},
    )
    r(
        "POST",
        "/estimates/{estimate_id}/approve",
        approve,
        summary="Approve",
        tag="estimates",
        roles=MATRIX[Act.APPROVE_ESTIMATE],
        if_match=True,
        conflicts=True,
        responses={200: est},
    )
    r(
        "POST",
        "/estimates/{estimate_id}/convert",
        convert,
        summary="Convert to Job (once): line items, prices and notes carried over",
        tag="estimates",
        roles=MATRIX[Act.CONVERT_ESTIMATE],
        if_match=True,
        conflicts=True,
        idempotent=True,
        responses={201: job_ref},
    )
    r(
        "POST",
        "/bookings",
        create_booking,
        tag="estimates",
        roles=MATRIX[Act.TAKE_BOOKING],
        summary="Online booking: creates a Pending or Scheduled job (setting)",
        body=BOOKING_IN,
        idempotent=True,
        responses={201: job_ref},
    )
    r(
        "GET",
        "/bookings/{booking_id}",
        get_booking,
        summary="A booking",
        tag="estimates",
        roles=STAFF_READERS,
        responses={200: BOOKING_OUT},
    )
