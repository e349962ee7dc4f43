"""Customer online-view links: an unguessable token (only its sha256 stored),
revocable, and working for a lifetime counted from when it was made."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import psycopg

from storage.users import token_digest

Conn = psycopg.AsyncConnection[Any]


async def create(conn: Conn, job_id: str, user_id: str) -> str:
    token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO job_online_links (token_sha256, job_id, created_by) "
        "VALUES (%s, %s, %s)",
        (token_digest(token), job_id, user_id),
    )
    return token


async def job_for(conn: Conn, token: str, lifetime: timedelta) -> str | None:
    """The job of a link that is neither revoked nor older than ``lifetime``."""
    cur = await conn.execute(
        "SELECT job_id FROM job_online_links WHERE token_sha256 = %s "
        "AND revoked_at IS NULL AND created_at > now() - %s",
        (token_digest(token), lifetime),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def revoke_all(conn: Conn, job_id: str) -> None:
    await conn.execute(
        "UPDATE job_online_links SET revoked_at = now() "
        "WHERE job_id = %s AND revoked_at IS NULL",
        (job_id,),
    )
