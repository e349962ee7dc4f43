"""Fixed-window rate limits in Redis: one counter per key, shared by every process.

Used wherever strangers can make us work or write: online booking, dashboard
login, OsmAnd uploads with an unknown token. A request is counted against each
limit in turn; counting stops at the first limit it is over, so a client that
is already over its own limit does not use up a wider one (everyone's, or an
account's).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

PREFIX = "crewtrack:rate:"


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` requests under ``key`` per ``window_s`` seconds."""

    key: str
    limit: int
    window_s: int


async def retry_after(redis: aioredis.Redis, *limits: Limit) -> int | None:
    """Count one request against ``limits`` in order; seconds to wait when over one."""
    for limit in limits:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(PREFIX + limit.key)
            pipe.expire(PREFIX + limit.key, limit.window_s, nx=True)
            pipe.ttl(PREFIX + limit.key)
            count, _, ttl = await pipe.execute()
        if int(count) > limit.limit:
            return max(int(ttl), 1)
    return None


async def forget(redis: aioredis.Redis, key: str) -> None:
    """Start ``key``'s window over (e.g. an account after a successful login)."""
    await redis.delete(PREFIX + key)
