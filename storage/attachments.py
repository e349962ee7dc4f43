"""Attachment files: content-addressed (sha256) on local disk, size- and type-checked.

A file lives at ``<attachments_dir>/<sha[:2]>/<sha>``; uploading the same bytes
twice stores them once. The declared type must match the file's magic bytes.
The caller hands the bytes over as an async iterator of chunks (the API reads
them from a multipart upload) and names the directory and the size limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.filetypes import SNIFF_BYTES, sniff

#: Accepted types: photos from phone cameras and PDFs.
ACCEPTED = ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")


@dataclass(frozen=True)
class StoredFile:
    """The bytes of one upload, kept under their hash."""

    sha256: str
    size: int
    content_type: str  # sniffed from the content, not taken from the client


def path_for(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


def bad_upload(pointer: str, detail: str) -> InvalidInput:
    return InvalidInput("bad upload", [FieldProblem(pointer, detail)])


async def store(
    chunks: AsyncIterator[bytes], *, root: Path, max_bytes: int, declared_type: str
) -> StoredFile:
    """Write ``chunks`` under ``root`` by their sha256, refusing an empty, too
    large or unaccepted file, or one whose content is not ``declared_type``
    (empty or ``application/octet-stream`` declares nothing)."""
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise bad_upload("/file", f"larger than {max_bytes} bytes")
                if len(head) < 16:
                    head = (head + chunk)[:SNIFF_BYTES]
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
        if size == 0:
            raise bad_upload("/file", "is empty")
        sniffed = sniff(head)
        if sniffed is None:
            raise bad_upload("/file", "type not accepted: " + ", ".join(ACCEPTED))
        declared = declared_type.split(";")[0].strip()
        if declared and declared != "application/octet-stream" and declared != sniffed:
            raise bad_upload(
                "/file", f"declared {declared} but the content is {sniffed}"
            )
        sha = digest.hexdigest()
        final = path_for(root, sha)
        await asyncio.to_thread(final.parent.mkdir, exist_ok=True)
        await asyncio.to_thread(os.replace, tmp_name, final)
        tmp_name = ""
        return StoredFile(sha, size, sniffed)
    finally:
        if tmp_name:
            await asyncio.to_thread(unlink, Path(tmp_name))


def unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
