"""A job's sessions over HTTP: clock in / pause / resume / clock out from the app.

The rules are :mod:`services.sessions`, shared with the device events (MQTT).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import Ctx
from api.http.registry import Api
from api.http.responses import json_ok
from api.job_json import job_etag
from api.job_request import load_visible, parse_time
from jobs_domain.actors import CREW_AND_OFFICE
from jobs_domain.sessions import Position, Session, SessionKind, Unplaced
from services import sessions as service
from services.clock import now, recorded


def pending_view(u: Unplaced) -> dict[str, Any]:
    return {
        "placed": False,
        "technician_id": u.technician_id,
        "event": u.evidence.kind.value,
        "at": u.evidence.at,
        "event_id": u.evidence.event_id,
        "reason": u.reason,
        "detail": u.detail,
    }


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
        {
            "items": [session_view(x) for x in job.sessions],
            "pending": [pending_view(u) for u in job.unplaced],
        },
        etag=job_etag(job),
    )


def _position(raw: dict[str, Any] | None) -> Position | None:
    if raw is None:
        return None
    accuracy = raw.get("accuracy_m")
    return Position(
        float(raw["lat"]),
        float(raw["lon"]),
        None if accuracy is None else float(accuracy),
    )


async def post_session_event(ctx: Ctx) -> web.StreamResponse:
    """Clock in / pause / resume / clock out from the app, with the device rules."""
    body = await ctx.json(s.SESSION_EVENT_IN)
    job = await load_visible(ctx, for_update=True)
    ctx.check_if_match(job_etag(job))
    kind = SessionKind(body["event"])
    result = await service.clock_from_app(
        ctx.conn,
        ctx.actor,
        job,
        event_id=ctx.request.headers.get("Idempotency-Key") or str(uuid.uuid4()),
        kind=kind,
        technician_id=body.get("technician_id"),
        recorded=recorded(
            parse_time(body["at"], "/at") if "at" in body else None,
            None,
            timedelta(seconds=ctx.settings.max_future_skew_s),
            pointer="/at",
        ),
        device_id=body.get("device_id"),
        position=_position(body.get("position")),
    )
    if isinstance(result, Unplaced):
        return json_ok(
            {**pending_view(result), "job_status": job.status.value},
            202,
            etag=job_etag(job),
        )
    return json_ok(
        {**session_view(result), "job_status": job.status.value},
        201 if kind is SessionKind.CLOCK_IN else 200,
        etag=job_etag(job),
    )


def setup(api: Api) -> None:
    """The session routes (registered by :func:`api.jobs.setup`, in its order)."""
    r = api.route
    jid = "/jobs/{job_id}"
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
        description=(
            "Idempotency-Key is the event id, as for device events. Events may "
            "arrive late and in any order (`at` is when it happened): the "
            "sessions are rebuilt from all events in time order. An event that "
            "does not fit yet (a clock-out whose clock-in has not synced) "
            "answers 202 and is kept; it is placed when the missing events "
            "arrive. Clocking in ends the technician's open session on another "
            "job at the same moment."
        ),
        body=s.SESSION_EVENT_IN,
        idempotent=True,
        if_match=True,
        responses={
            200: s.SESSION_OUT,
            201: s.SESSION_OUT,
            202: s.SESSION_PENDING_OUT,
        },
    )
