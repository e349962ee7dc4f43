"""What customers reach without a token: the online view of their job (a read-only
summary behind an unguessable link) and online booking (rate-limited)."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from api import schemas as s
from api.directory import ADDRESS
from api.http.context import POOL, REDIS, SETTINGS, Ctx
from api.http.idempotency import run_idempotent
from api.http.problems import HttpProblem
from api.http.registry import Api
from api.http.responses import amounts, json_ok, priced
from api.http.validation import read_json
from api.job_request import parse_time
from crewtrack.settings import Settings
from jobs_domain.bookings import (
    REFERENCE_BYTES,
    BookingDefault,
    booking_reference,
    online_address,
    online_contact,
)
from jobs_domain.errors import NotFound
from services import estimates as bookings
from storage import clients as directory
from storage import jobs as store
from storage import online_links, rate_limits
from storage.rate_limits import Limit

ONLINE_OUT: s.S = s.obj(
    [
        "number",
        "status",
        "description",
        "client_name",
        "line_items",
        "totals",
        "public_notes",
    ],
    number={"type": "string"},
    status={"type": "string"},
    description={"type": "string"},
    client_name={"type": "string"},
    address={"type": ["object", "null"]},
    scheduled_start=s.NULL_STR,
    scheduled_end=s.NULL_STR,
    technicians={"type": "array", "items": {"type": "string"}},
    tasks={"type": "array"},
    line_items={
        "type": "array",
        "items": s.obj(
            ["description", *s.PRICED], description={"type": "string"}, **s.PRICED
        ),
    },
    totals=s.TOTALS,
    public_notes={"type": "array"},
    completed_at=s.NULL_STR,
)


async def online_view(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    async with request.app[POOL].connection() as conn:
        lifetime = timedelta(days=request.app[SETTINGS].online_link_days)
        job_id = await online_links.job_for(conn, token, lifetime)
        if job_id is None:
            raise NotFound("this link is unknown or was revoked")
        job = await store.load(conn, job_id)
        client = await directory.get_client(conn, job.client_id)
        prop = (
            None
            if job.property_id is None
            else await directory.get_property(conn, job.property_id)
        )
        names = await directory.technician_names(
            conn, [m.technician_id for m in job.crew]
        )
    net, tax, gross = job.totals()
    body: dict[str, Any] = {
        "number": job.display_number,
        "status": job.status.value,
        "description": job.description,
        "client_name": client.name,
        "address": None if prop is None else prop.address_object(),
        "scheduled_start": job.scheduled_start,
        "scheduled_end": job.scheduled_end,
        "technicians": [names.get(m.technician_id, "") for m in job.crew],
        "tasks": [{"title": t.title, "done": t.done} for t in job.tasks],
        "line_items": [
            {
                "description": i.description,
                **priced(i.quantity, i.unit_price, i.tax_rate, i.net),
            }
            for i in job.line_items
        ],
        "totals": amounts(net=net, tax=tax, gross=gross),
        "public_notes": [
            {"text": n.text, "created_at": n.created_at} for n in job.public_notes()
        ],
        "completed_at": job.completed_at,
    }
    return json_ok(body)


log = logging.getLogger("crewtrack.api")

# A booking form is a few hundred bytes; 16 KiB leaves room for a long
# description and refuses anything built to fill the database.
BOOKING_MAX_BYTES = 16 * 1024
RATE_KEY = "online-booking:"  # + "ip:<address>" or "all"

BOOKING_IN: s.S = {
    "type": "object",
    "required": ["contact", "address", "service", "preferred_start", "preferred_end"],
    "additionalProperties": False,
    "properties": {
        "contact": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "email": {"type": "string", "maxLength": 254},
                "phone": {"type": "string", "maxLength": 40},
            },
        },
        "address": ADDRESS,
        "service": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                "price_book_item_id": s.UUID_S,
                "description": {"type": "string", "minLength": 1, "maxLength": 2000},
            },
        },
        "preferred_start": s.TIME,
        "preferred_end": s.TIME,
        "website": {
            "type": "string",
            "maxLength": 200,
            "description": "Honeypot: a field people never see and leave empty.",
        },
    },
}
BOOKING_OUT: s.S = s.obj(
    ["reference", "status", "preferred_start", "preferred_end"],
    reference={"type": "string", "pattern": "^BK-[0-9A-Z]{4}-[0-9A-Z]{4}$"},
    status={"enum": ["pending", "scheduled"]},
    preferred_start={"type": "string"},
    preferred_end={"type": "string"},
)


async def _check_rate(request: web.Request, settings: Settings) -> None:
    """Per client IP first, then for everyone: over either is 429 + Retry-After.

    A client already over its own limit is not counted in the total, so one
    address cannot use up everyone's bookings.
    """
    window = settings.online_booking_window_s
    try:
        wait = await rate_limits.retry_after(
            request.app[REDIS],
            Limit(
                f"{RATE_KEY}ip:{request.remote or 'unknown'}",
                settings.online_booking_limit_per_ip,
                window,
            ),
            Limit(f"{RATE_KEY}all", settings.online_booking_limit_total, window),
        )
    except aioredis.RedisError as exc:
        log.warning("online booking rate limit unavailable: %s", exc)
        raise HttpProblem(
            503, "Service unavailable", "online booking is unavailable, try later"
        ) from exc
    if wait is not None:
        raise HttpProblem(
            429,
            "Too many requests",
            f"too many bookings from here; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


async def _book(ctx: Ctx) -> web.StreamResponse:
    body = await read_json(ctx.request, BOOKING_IN, BOOKING_MAX_BYTES)
    start = parse_time(body["preferred_start"], "/preferred_start")
    end = parse_time(body["preferred_end"], "/preferred_end")
    if body.get("website"):
        # a bot filled the field people never see: it is told what people are
        # told, and nothing is made
        log.info("online booking honeypot filled from %s", ctx.request.remote)
        return _receipt(
            booking_reference(secrets.token_bytes(REFERENCE_BYTES)),
            BookingDefault(ctx.settings.booking_default_status).value,
            body,
        )
    service = body["service"]
    new = bookings.OnlineBooking(
        contact=online_contact(body["contact"]),
        address=online_address(body["address"]),
        preferred_start=start,
        preferred_end=end,
        price_book_item_id=service.get("price_book_item_id"),
        description=service.get("description"),
    )
    receipt = await bookings.book_online(
        ctx.conn,
        ctx.actor,
        new,
        request=body,
        default_status=BookingDefault(ctx.settings.booking_default_status),
    )
    return _receipt(receipt.reference, receipt.status, body)


def _receipt(reference: str, status: str, body: dict[str, Any]) -> web.Response:
    return json_ok(
        {
            "reference": reference,
            "status": status,
            "preferred_start": body["preferred_start"],
            "preferred_end": body["preferred_end"],
        },
        201,
    )


async def book_online(request: web.Request) -> web.StreamResponse:
    """Online booking without a token: rate-limited, size-limited, idempotent."""
    settings = request.app[SETTINGS]
    await _check_rate(request, settings)
    if (request.content_length or 0) > BOOKING_MAX_BYTES:
        raise HttpProblem(
            413, "Payload too large", f"at most {BOOKING_MAX_BYTES} bytes"
        )
    actor = bookings.online_desk(request.remote or "unknown")
    async with request.app[POOL].connection() as conn, conn.transaction():
        ctx = Ctx(request, conn, actor, settings)
        key = request.headers.get("Idempotency-Key")
        if key is not None:
            return await run_idempotent(ctx, key, _book)
        return await _book(ctx)


def setup(api: Api) -> None:
    api.tag("online", "What customers reach without a token: online view, booking")
    api.public_route(
        "GET",
        "/online/jobs/{token}",
        online_view,
        tag="online",
        summary="Read-only job summary for the customer (no internal notes, no costs)",
        description="A link works for CREWTRACK_ONLINE_LINK_DAYS after it was made; "
        "an expired link answers 404 like a revoked one.",
        responses={200: ONLINE_OUT},
    )
    api.public_route(
        "POST",
        "/online/bookings",
        book_online,
        tag="online",
        summary="Book online (no token): a Pending or Scheduled job, and a reference",
        description="Rate-limited per client IP and in total "
        "(CREWTRACK_ONLINE_BOOKING_LIMIT_PER_IP, _LIMIT_TOTAL per "
        "CREWTRACK_ONLINE_BOOKING_WINDOW_S): over it, 429 with Retry-After.",
        body=BOOKING_IN,
        idempotent=True,
        problems=[429],
        responses={201: BOOKING_OUT},
    )
