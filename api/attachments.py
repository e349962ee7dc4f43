"""A job's photos and documents over HTTP: multipart uploads in, files out.

The bytes are kept by :mod:`storage.attachments` (content-addressed, type- and
size-checked); the job records each attachment (:mod:`services.jobs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from api import schemas as s
from api.http import multipart
from api.http.context import Ctx
from api.http.registry import Api
from api.http.responses import json_ok
from api.job_json import job_etag
from api.job_request import if_match, job_id, load_visible, recorded_from, removal
from crewtrack.settings import Settings
from jobs_domain.actors import CREW_AND_OFFICE
from jobs_domain.job import Attachment, AttachmentKind
from services import jobs as service
from services.clock import Recorded
from services.jobs import Removable
from storage import attachments as files
from storage.attachments import StoredFile, bad_upload


def content_url(job_id: str, attachment_id: str) -> str:
    return f"/api/v1/jobs/{job_id}/attachments/{attachment_id}/content"


def attachment_view(job_id: str, a: Attachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind.value,
        "description": a.description,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "uploaded_by": a.uploaded_by,
        "uploaded_at": a.uploaded_at,
        "url": content_url(job_id, a.id),
    }


async def receive(ctx: Ctx) -> tuple[Attachment, Recorded]:
    """Read a multipart upload (``kind``, ``description``, optionally ``id`` and
    ``recorded_at`` from an offline app, then ``file``) to disk."""
    request, settings = ctx.request, ctx.settings
    if not request.content_type.startswith("multipart/"):
        raise bad_upload("/", "send multipart/form-data with file, kind, description")
    fields: dict[str, str] = {}
    stored: tuple[StoredFile, str] | None = None
    try:
        async for part in multipart.parts(request):
            if part.name == "file":
                stored = await _store(part, settings)
            elif part.name in ("kind", "description", "id", "recorded_at"):
                fields[part.name] = await part.text()
    except (ValueError, HttpProcessingError) as exc:
        # A broken boundary or part header is the client's mistake, not ours.
        raise bad_upload("/", f"malformed multipart body: {exc}") from exc
    if stored is None:
        raise bad_upload("/file", "required")
    try:
        kind = AttachmentKind(fields.get("kind", ""))
    except ValueError as exc:
        raise bad_upload(
            "/kind", "one of " + ", ".join(k.value for k in AttachmentKind)
        ) from exc
    file, filename = stored
    recorded = recorded_from(ctx, fields)
    return Attachment(
        id=recorded.new_id(),
        kind=kind,
        description=fields.get("description", "")[:2000],
        filename=filename,
        content_type=file.content_type,
        size=file.size,
        sha256=file.sha256,
        uploaded_by=ctx.actor.user_id,
        uploaded_at=recorded.at,
    ), recorded


async def _store(part: multipart.Part, settings: Settings) -> tuple[StoredFile, str]:
    """The file part's bytes stored, and the name it was uploaded under."""
    file = await files.store(
        part.chunks,
        root=Path(settings.attachments_dir),
        max_bytes=settings.max_attachment_bytes,
        declared_type=part.content_type,
    )
    return file, (part.filename or "upload")[:200]


def serve(settings: Settings, attachment: Attachment) -> web.StreamResponse:
    path = files.path_for(Path(settings.attachments_dir), attachment.sha256)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": attachment.content_type,
            "ETag": f'"{attachment.sha256}"',
            "Content-Disposition": content_disposition("inline", attachment.filename),
        },
    )


def content_disposition(kind: str, filename: str) -> str:
    """``kind; filename=…`` for any uploaded name (RFC 6266).

    The name is the uploader's: a ``"``, a non-ASCII letter or a control
    character must not break the header. Browsers read ``filename*`` (UTF-8,
    percent-encoded); the plain ``filename`` is an ASCII stand-in.
    """
    fallback = "".join(
        c if c.isascii() and (c.isalnum() or c in " ._-()") else "_" for c in filename
    )
    return (
        f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )


# -- views ------------------------------------------------------------------------------------


async def list_attachments(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok(
        {"items": [attachment_view(job.id, a) for a in job.attachments]},
        etag=job_etag(job),
    )


async def add_attachment(ctx: Ctx) -> web.StreamResponse:
    job, attachment = await service.add_attachment(
        ctx.conn,
        ctx.actor,
        job_id(ctx),
        lambda: receive(ctx),
        check=if_match(ctx),
    )
    return json_ok(
        attachment_view(job.id, attachment),
        201,
        etag=job_etag(job),
        location=content_url(job.id, attachment.id),
    )


async def get_attachment_content(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    attachment = service.attachment_of(job, ctx.request.match_info["attachment_id"])
    return serve(ctx.settings, attachment)


delete_attachment = removal(Removable.ATTACHMENT, "attachment_id")


def setup(api: Api) -> None:
    """The attachment routes (registered by :func:`api.jobs.setup`, in its order)."""
    r = api.route
    jid = "/jobs/{job_id}"
    r(
        "GET",
        jid + "/attachments",
        list_attachments,
        summary="Photos and documents",
        tag="jobs",
        responses={200: s.ATTACHMENTS_OUT},
    )
    r(
        "POST",
        jid + "/attachments",
        add_attachment,
        tag="jobs",
        roles=CREW_AND_OFFICE,
        summary="Upload a photo or document (multipart: file, kind, description)",
        multipart=s.ATTACHMENT_IN,
        idempotent=True,
        if_match=True,
        responses={201: s.ATTACHMENT_OUT},
    )
    r(
        "GET",
        jid + "/attachments/{attachment_id}/content",
        get_attachment_content,
        tag="jobs",
        summary="The stored file",
        responses={200: None},
    )
    r(
        "DELETE",
        jid + "/attachments/{attachment_id}",
        delete_attachment,
        tag="jobs",
        roles=CREW_AND_OFFICE,
        summary="Remove an attachment",
        if_match=True,
        conflicts=True,
        responses={204: None},
    )
