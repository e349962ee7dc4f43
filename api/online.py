"""The customer's online view: a read-only job summary behind an unguessable link."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import POOL
from api.http.registry import Api
from api.http.responses import json_ok
from jobs_domain.errors import NotFound
from storage import clients as directory
from storage import jobs as store
from storage import online_links

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
    line_items={"type": "array"},
    totals=s.TOTALS,
    public_notes={"type": "array"},
    completed_at=s.NULL_STR,
)


async def online_view(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    async with request.app[POOL].connection() as conn:
        job_id = await online_links.job_for(conn, token)
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
        "address": None if prop is None else prop.address,
        "scheduled_start": job.scheduled_start,
        "scheduled_end": job.scheduled_end,
        "technicians": [names.get(m.technician_id, "") for m in job.crew],
        "tasks": [{"title": t.title, "done": t.done} for t in job.tasks],
        "line_items": [
            {
                "description": i.description,
                "quantity": i.quantity,
                "unit_price": i.unit_price,
                "tax_rate": i.tax_rate,
                "net": i.net,
            }
            for i in job.line_items
        ],
        "totals": {"net": net, "tax": tax, "gross": gross},
        "public_notes": [
            {"text": n.text, "created_at": n.created_at} for n in job.public_notes()
        ],
        "completed_at": job.completed_at,
    }
    return json_ok(body)


def setup(api: Api) -> None:
    api.tag("online", "What the customer sees through the online view link")
    api.public_route(
        "GET",
        "/online/jobs/{token}",
        online_view,
        tag="online",
        summary="Read-only job summary for the customer (no internal notes, no costs)",
        responses={200: ONLINE_OUT},
    )
