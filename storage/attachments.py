"""Attachment files: content-addressed (sha256) on local disk, size- and type-checked.

A file lives at ``<attachments_dir>/<sha[:2]>/<sha>``; uploading the same bytes
twice stores them once. The declared type must match the file's magic bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from crewtrack.settings import Settings
from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.filetypes import SNIFF_BYTES, sniff
from jobs_domain.job import Attachment, AttachmentKind

#: Accepted types: photos from phone cameras and PDFs.
ACCEPTED = ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")
CHUNK = 64 * 1024


def path_for(settings: Settings, sha256: str) -> Path:
    return Path(settings.attachments_dir) / sha256[:2] / sha256


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


def _bad(pointer: str, detail: str) -> InvalidInput:
    return InvalidInput("bad upload", [FieldProblem(pointer, detail)])


async def receive(request: web.Request, settings: Settings, user_id: str) -> Attachment:
    """Read a multipart upload (``kind``, ``description``, then ``file``) to disk."""
    if not request.content_type.startswith("multipart/"):
        raise _bad("/", "send multipart/form-data with file, kind, description")
    fields: dict[str, str] = {}
    stored: tuple[str, int, str, str] | None = None
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                stored = await _store(part, settings)
            elif part.name in ("kind", "description"):
                fields[part.name] = (await part.read(decode=True)).decode(
                    "utf-8", "replace"
                )
    except (ValueError, HttpProcessingError) as exc:
        # A broken boundary or part header is the client's mistake, not ours.
        raise _bad("/", f"malformed multipart body: {exc}") from exc
    if stored is None:
        raise _bad("/file", "required")
    try:
        kind = AttachmentKind(fields.get("kind", ""))
    except ValueError as exc:
        raise _bad(
            "/kind", "one of " + ", ".join(k.value for k in AttachmentKind)
        ) from exc
    sha, size, content_type, filename = stored
    return Attachment(
        id=str(uuid.uuid4()),
        kind=kind,
        description=fields.get("description", "")[:2000],
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha,
        uploaded_by=user_id,
        uploaded_at=datetime.now(UTC),
    )


async def _store(part: BodyPartReader, settings: Settings) -> tuple[str, int, str, str]:
    limit = settings.max_attachment_bytes
    root = Path(settings.attachments_dir)
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _bad("/file", f"larger than {limit} bytes")
                if len(head) < 16:
                    head = (head + chunk)[:SNIFF_BYTES]
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
        if size == 0:
            raise _bad("/file", "is empty")
        sniffed = sniff(head)
        if sniffed is None:
            raise _bad("/file", "type not accepted: " + ", ".join(ACCEPTED))
        declared = (part.headers.get("Content-Type") or "").split(";")[0].strip()
        if declared and declared != "application/octet-stream" and declared != sniffed:
            raise _bad("/file", f"declared {declared} but the content is {sniffed}")
        sha = digest.hexdigest()
        final = path_for(settings, sha)
        await asyncio.to_thread(final.parent.mkdir, exist_ok=True)
        await asyncio.to_thread(os.replace, tmp_name, final)
        tmp_name = ""
        return sha, size, sniffed, (part.filename or "upload")[:200]
    finally:
        if tmp_name:
            await asyncio.to_thread(_unlink, tmp_name)


def _unlink(name: str) -> None:
    Path(name).unlink(missing_ok=True)


def serve(settings: Settings, attachment: Attachment) -> web.StreamResponse:
    path = path_for(settings, attachment.sha256)
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
