"""Multipart request bodies, streamed or, once already read, from the buffered bytes.

An upload normally streams part by part (:func:`parts` over aiohttp's
``request.multipart()``), so a 25 MiB photo never sits in memory whole. A
request whose body was read before its handler ran — ``Idempotency-Key``
hashes the whole body (:mod:`api.http.idempotency`), which leaves the stream
at its end — is parsed from the bytes that reader kept (:func:`mark_buffered`)
with the standard library's MIME parser, once: the idempotency fingerprint and
the handler share the parse. Both ways give the handler the same :class:`Part`
values.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from aiohttp import BodyPartReader, web

CHUNK = 64 * 1024
# the whole body, set by whatever read it before the handler (mark_buffered)
BODY = web.RequestKey("body", bytes)


@dataclass
class Part:
    """One part of a multipart body; read ``chunks`` before asking for the next part."""

    name: str | None
    filename: str | None
    content_type: str  # as the client declared it ("" if it did not)
    chunks: AsyncIterator[bytes]

    async def text(self) -> str:
        return b"".join([c async for c in self.chunks]).decode("utf-8", "replace")


def mark_buffered(request: web.Request, body: bytes) -> None:
    """Keep the body read whole (the stream is at its end) for the handler."""
    request[BODY] = body


async def parts(request: web.Request) -> AsyncIterator[Part]:
    """The body's parts in order; raises ``ValueError`` for a malformed body."""
    if BODY in request:
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
        parsed = _parsed(request)
    except ValueError:
        return await request.read()  # malformed: the handler will say so
    for name, filename, content_type, data in parsed:
        for value in (name or "", filename or "", content_type):
            digest.update(value.encode() + b"\0")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.digest()


async def _streamed(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


# name, file name, declared type, contents
ParsedPart = tuple[str | None, str | None, str, bytes]
# a buffered body parsed once: the fingerprint and then the handler read it
PARSED = web.RequestKey("multipart_parsed", list[ParsedPart])


def _parsed(request: web.Request) -> list[ParsedPart]:
    """The buffered body's parts (parsed on first use, then kept on the request)."""
    if PARSED in request:
        return request[PARSED]
    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n"
    body = head.encode("latin-1") + request[BODY]
    message = BytesParser(policy=policy.HTTP).parsebytes(body)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    parts: list[ParsedPart] = []
    for item in message.iter_parts():
        payload = item.get_payload(decode=True)
        parts.append(
            (
                item.get_param("name", header="content-disposition"),  # type: ignore[arg-type]
                item.get_filename(),
                str(item.get("Content-Type", "")),
                payload if isinstance(payload, bytes) else b"",
            )
        )
    request[PARSED] = parts
    return parts


async def _buffered(request: web.Request) -> AsyncIterator[Part]:
    for name, filename, content_type, data in _parsed(request):
        yield Part(name, filename, content_type, _once(data))
