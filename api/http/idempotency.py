"""``Idempotency-Key`` on creating POSTs: same key and body replay the stored answer.

"Same body" is the same bytes for JSON, and the same parts (names, file names,
declared types, contents) for a multipart upload, whose boundary a retry
chooses anew.
"""

from __future__ import annotations

import hashlib

from aiohttp import web
from psycopg.types.json import Jsonb

from api.http.context import Ctx, Handler
from api.http.multipart import fingerprint, mark_buffered
from jobs_domain.errors import FieldProblem, InvalidInput


async def run_idempotent(ctx: Ctx, key: str, handler: Handler) -> web.StreamResponse:
    """Same key + same body = the stored answer; same key + other body = 422."""
    if not 1 <= len(key) <= 200:
        raise InvalidInput(
            "bad Idempotency-Key",
            [FieldProblem("/headers/Idempotency-Key", "1..200 characters")],
        )
    body = await ctx.request.read()
    mark_buffered(ctx.request, body)  # a multipart handler parses these bytes
    if ctx.request.content_type.startswith("multipart/"):
        # a retry builds its form again, with a new boundary: compare the parts
        body = await fingerprint(ctx.request)
    digest = hashlib.sha256(
        ctx.request.method.encode() + b" " + ctx.request.path.encode() + b"\n" + body
    ).hexdigest()
    await ctx.conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"{ctx.actor.user_id}:{key}",),
    )
    cur = await ctx.conn.execute(
        "SELECT request_sha256, status, body, headers FROM idempotency_keys "
        "WHERE user_id = %s AND key = %s",
        (ctx.actor.user_id, key),
    )
    row = await cur.fetchone()
    if row is not None:
        if row[0] != digest:
            raise InvalidInput(
                "Idempotency-Key was already used with a different request",
                [
                    FieldProblem(
                        "/headers/Idempotency-Key", "reused with a different body"
                    )
                ],
            )
        headers = dict(row[3])
        headers["Idempotent-Replayed"] = "true"
        return web.Response(
            status=row[1],
            body=row[2].encode(),
            content_type="application/json",
            headers=headers,
        )
    response = await handler(ctx)
    if isinstance(response, web.Response) and 200 <= response.status < 300:
        kept = {k: v for k, v in response.headers.items() if k in ("Location", "ETag")}
        await ctx.conn.execute(
            "INSERT INTO idempotency_keys "
            "(user_id, key, request_sha256, status, body, headers) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                ctx.actor.user_id,
                key,
                digest,
                response.status,
                (response.body or b"").decode()
                if isinstance(response.body, bytes)
                else "",
                Jsonb(kept),
            ),
        )
    return response
