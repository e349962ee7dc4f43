"""Multipart request bodies, streamed or, once already read, from the buffered bytes.

An upload normally streams part by part (:func:`parts` over aiohttp's
``request.multipart()``), so a 25 MiB photo never sits in memory whole. A
request whose body was read before its handler ran — ``Idempotency-Key``
hashes the whole body (:mod:`api.http.idempotency`), which leaves the stream
at its end — is parsed from aiohttp's buffered copy of the body
(``request.read()`` returns it again) with the standard library's MIME parser.
Both give the handler the same :class:`Part` values.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from aiohttp import BodyPartReader, web

CHUNK = 64 * 1024
# set on the request by whatever read its whole body before the handler
BODY_BUFFERED = web.RequestKey("body_buffered", bool)


@dataclass
class Part:
    """One part of a multipart body; read ``chunks`` before asking for the next part."""

    name: str | None
    filename: str | None
    content_type: str  # as the client declared it ("" if it did not)
    chunks: AsyncIterator[bytes]

    async def text(self) -> str:
        return b"".join([c async for c in self.chunks]).decode("utf-8", "replace")


def mark_buffered(request: web.Request) -> None:
    """Say that the body was read whole (the stream is at its end)."""
    request[BODY_BUFFERED] = True


async def parts(request: web.Request) -> AsyncIterator[Part]:
    """The body's parts in order; raises ``ValueError`` for a malformed body."""
    if request.get(BODY_BUFFERED):
        async for buffered in _buffered(request):
            yield buffered
        return
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            return
        if isinstance(part, BodyPartReader):
            yield Part(
                part.name,
                part.filename,
                part.headers.get("Content-Type") or "",
                _streamed(part),
            )


async def fingerprint(request: web.Request) -> bytes:
    """What identifies a buffered multipart body whatever its boundary: its parts."""
    digest = hashlib.sha256()
    try:
        async for part in _buffered(request):
            data = b"".join([c async for c in part.chunks])
            for value in (part.name or "", part.filename or "", part.content_type):
                digest.update(value.encode() + b"\0")
            digest.update(len(data).to_bytes(8, "big") + data)
    except ValueError:
        return await request.read()  # malformed: the handler will say so
    return digest.digest()


async def _streamed(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def _buffered(request: web.Request) -> AsyncIterator[Part]:
    body = await request.read()
    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head.encode("latin-1") + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    for item in message.iter_parts():
        payload = item.get_payload(decode=True)
        yield Part(
            item.get_param("name", header="content-disposition"),  # type: ignore[arg-type]
            item.get_filename(),
            str(item.get("Content-Type", "")),
            _once(payload if isinstance(payload, bytes) else b""),
        )
