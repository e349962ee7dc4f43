"""Offline sync over HTTP: the pull half (``GET /sync/changes``).

The push half is the ordinary write operations: each accepts the client's own
``id`` for what it creates and ``recorded_at`` (and ``Idempotency-Key`` for
exactly-once replay), in any order; see docs/api.md "Offline sync".
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import schemas as s
from api.attachments import attachment_view
from api.http.context import Ctx
from api.http.pagination import PAGINATION_PARAMS, page_limit
from api.http.registry import Api
from api.http.responses import json_ok
from api.job_json import (
    expense_view,
    job_etag,
    job_views,
    line_item_view,
    note_view,
    task_view,
)
from api.job_sessions import pending_view, session_view
from api.parts import _parts_json as parts_view
from api.reports import report_json
from services import sync as service


async def changes(ctx: Ctx) -> web.StreamResponse:
    page = await service.changes(
        ctx.conn, ctx.actor, ctx.request.query.get("since"), page_limit(ctx.request)
    )
    views = await job_views(ctx, [state.job for state in page.jobs])
    items: list[dict[str, Any]] = []
    for view, state in zip(views, page.jobs, strict=True):
        job = state.job
        items.append(
            {
                **view,
                "etag": job_etag(job),
                "line_items": [line_item_view(i) for i in job.line_items],
                "tasks": [task_view(t) for t in job.tasks],
                "expenses": [expense_view(e, job.attachments) for e in job.expenses],
                "notes": [note_view(n) for n in job.notes],
                "attachments": [attachment_view(job.id, a) for a in job.attachments],
                "sessions": [session_view(x) for x in job.sessions],
                "pending_clock_events": [pending_view(u) for u in job.unplaced],
                "report": None
                if state.report is None
                else report_json(state.report, job),
                "parts": parts_view(job, state.parts),
            }
        )
    return json_ok(
        {
            "items": items,
            "removed": page.removed,
            "next_cursor": page.cursor,
            "has_more": page.has_more,
        }
    )


def setup(api: Api) -> None:
    api.tag("sync", "Offline sync: push the outbox, pull what changed")
    api.route(
        "GET",
        "/sync/changes",
        changes,
        summary="The jobs that changed since a cursor (whole), for an app to catch up",
        tag="sync",
        description=(
            "Without `since`, every job the caller may see. Keep `next_cursor` and "
            "pull again while `has_more`; a job may come twice, never not at all. "
            "`removed` lists jobs the caller can no longer see (taken off the crew)."
        ),
        query=[
            PAGINATION_PARAMS[0],  # limit
            {"name": "since", "in": "query", "schema": {"type": "string"}},
        ],
        responses={200: s.CHANGES_OUT},
    )
