"""A job session's evidence bundle for billing: ``GET /sessions/{id}/evidence.zip``.

The same bundle ``crewtrack evidence export`` writes and the audit page offers
(:func:`services.evidence.export_session`): the session's logged records with
their inclusion proofs, the signed checkpoint, the public key, the audit's PDF
and CSV, all under a signed manifest; ``crewtrack evidence verify`` checks it.

The PDF and CSV are the audit page's own (``dashboard/pages/audit``), which this
package may not import: the composition root hands them in as a
:data:`~services.evidence.Presenter` (``init_app(settings, evidence=...)``).
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import psycopg
from aiohttp import web

from api.http.context import Ctx
from api.http.problems import HttpProblem
from api.http.registry import Api
from jobs_domain.errors import NotFound
from services import evidence
from storage import session_answer

#: The presentation (PDF, CSV) bundles are built with; set by the composition root.
PRESENTER: web.AppKey[evidence.Presenter] = web.AppKey("evidence_presenter")
#: Bytes per write of the streamed bundle.
CHUNK = 64 * 1024


def _export(ctx: Ctx, session_id: UUID, present: evidence.Presenter) -> bytes:
    """Build the bundle on a connection of its own (the log appends and signs in
    transactions of its own, in autocommit)."""
    key = evidence.signing_key(ctx.settings.home)
    with psycopg.connect(ctx.settings.database_url, autocommit=True) as conn:
        return evidence.export_session(conn, session_id, key, present)


async def session_evidence(ctx: Ctx) -> web.StreamResponse:
    session_id = UUID(ctx.path_id("session_id", "session"))
    if await session_answer.asession_facts(ctx.conn, str(session_id)) is None:
        raise NotFound("no such session")
    present = ctx.request.app.get(PRESENTER)
    if present is None:
        raise HttpProblem(
            503,
            "Evidence export unavailable",
            "this API process was started without the audit's presentation "
            "(`crewtrack api` and `crewtrack up` wire it)",
        )
    try:
        data = await asyncio.to_thread(_export, ctx, session_id, present)
    except evidence.NoSuchSession as exc:
        raise NotFound("no such session") from exc
    except evidence.EvidenceError as exc:
        raise HttpProblem(409, "Evidence not exportable", str(exc)) from exc
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": "attachment; "
            f'filename="{evidence.bundle_name(session_id)}"',
        }
    )
    response.content_length = len(data)
    await response.prepare(ctx.request)
    for start in range(0, len(data), CHUNK):
        await response.write(data[start : start + CHUNK])
    await response.write_eof()
    return response


def setup(api: Api) -> None:
    api.route(
        "GET",
        "/sessions/{session_id}/evidence.zip",
        session_evidence,
        summary="A job session's tamper-evident evidence bundle (zip)",
        tag="tracking",
        roles=evidence.EVIDENCE_ROLES,
        conflicts=True,
        responses={200: {"type": "string", "format": "binary"}},
        content_type="application/zip",
        description="The bundle `crewtrack evidence export` writes: the session's "
        "logged records with RFC 6962 inclusion proofs, the signed checkpoint, the "
        "public key, the audit's PDF and fixes CSV, and a signed manifest; check it "
        "offline with `crewtrack evidence verify`. 409 when the session's rows no "
        "longer match the evidence log, or none is logged yet.",
    )
