"""Reading a request about a job: the job in the path, its If-Match check, and
the request's times and site contact; and the view taking a part
off the job. Shared by every job-related route module (jobs, job items,
attachments, sessions, estimates, reports, parts, invoices)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from api.http.context import Ctx, Handler
from api.http.identifiers import uuid_or_invalid
from api.http.responses import no_content
from api.job_json import job_etag
from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.job import Job, SiteContact
from services import jobs as service
from services.clock import Recorded, recorded
from services.jobs import Check, Removable


def job_id(ctx: Ctx) -> str:
    return ctx.path_id("job_id", "job")


async def load_visible(ctx: Ctx, *, for_update: bool = False) -> Job:
    """The job named in the path, if the actor may see it (else 404)."""
    return await service.load_visible(
        ctx.conn, ctx.actor, job_id(ctx), for_update=for_update
    )


def if_match(ctx: Ctx) -> Check:
    """The check a change runs on the locked job: 412 unless If-Match is current."""
    return lambda job: ctx.check_if_match(job_etag(job))


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


def removal(what: Removable, path_name: str) -> Handler:
    """The view taking ``what`` (named by the path's ``path_name``) off the job."""

    async def remove(ctx: Ctx) -> web.StreamResponse:
        await service.remove(
            ctx.conn,
            ctx.actor,
            job_id(ctx),
            what,
            ctx.request.match_info[path_name],
            check=if_match(ctx),
        )
        return no_content()

    return remove


def recorded_from(ctx: Ctx, fields: Mapping[str, Any]) -> Recorded:
    """When the client recorded this write (``recorded_at``) and the id it gave
    what the write creates (``id``); both optional, for an offline app's outbox."""
    raw_id = fields.get("id")
    client_id = (
        None
        if raw_id is None
        else uuid_or_invalid(str(raw_id), "/id", "a UUID the client generated")
    )
    raw_at = fields.get("recorded_at")
    return recorded(
        None if raw_at is None else parse_time(str(raw_at), "/recorded_at"),
        client_id,
        timedelta(seconds=ctx.settings.max_future_skew_s),
    )
