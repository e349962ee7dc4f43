"""What every operation runs with: the app keys, the request context, authentication."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
import redis.asyncio as aioredis
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from api.http.identifiers import check_if_match, uuid_or_404
from api.http.problems import HttpProblem
from api.http.validation import photo_json_bytes, read_json
from crewtrack.settings import Settings
from jobs_domain.actors import Actor, Role
from storage.users import user_for_token

PREFIX = "/api/v1"
SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", AsyncConnectionPool)
# one Redis client for the app (live state, the alerts stream), see api.app
REDIS = web.AppKey("redis", aioredis.Redis)


@dataclass
class Ctx:
    """What a handler gets: the request, its transaction and who is acting."""

    request: web.Request
    conn: psycopg.AsyncConnection[Any]
    actor: Actor
    settings: Settings

    def path_id(self, name: str, what: str) -> str:
        return uuid_or_404(self.request.match_info[name], what)

    async def json(self, schema: Mapping[str, Any]) -> Any:
        return await read_json(self.request, schema)

    async def json_with_photos(self, schema: Mapping[str, Any]) -> Any:
        """A JSON body that may carry base64 photos (the upload limit applies)."""
        limit = photo_json_bytes(self.settings.max_attachment_bytes)
        return await read_json(self.request, schema, limit)

    def check_if_match(self, current: str) -> None:
        check_if_match(self.request, current)


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]
PublicHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def authenticate(
    request: web.Request, conn: psycopg.AsyncConnection[Any]
) -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpProblem(401, "Unauthorized", "send Authorization: Bearer <token>")
    user = await user_for_token(conn, token.strip())
    if user is None:
        raise HttpProblem(
            401,
            "Unauthorized",
            "the token is unknown, expired or revoked, or its user is disabled",
        )
    role = Role(user.role)
    technician_id: str | None = None
    if role is Role.TECHNICIAN:
        cur = await conn.execute(
            "SELECT id FROM technicians WHERE user_id = %s", (user.id,)
        )
        row = await cur.fetchone()
        technician_id = str(row[0]) if row else None
    peer = request.remote or "unknown"
    return Actor(
        user_id=str(user.id),
        role=role,
        name=user.name,
        technician_id=technician_id,
        source=f"api {peer}",
    )
