"""Dashboard login sessions, kept server-side.

The browser holds a random token in its (signed) cookie; only the token's
sha256 is stored. A session is alive while it has not ended (logout), has not
expired, its user is not disabled and still has the role it logged in with;
:func:`alive` checks all of that in one primary-key lookup per request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg

from storage.users import token_digest


@dataclass(frozen=True)
class SessionUser:
    """Who a live session belongs to, as the users table says now."""

    user_id: UUID
    name: str
    role: str


Conn = psycopg.Connection[Any]


def start(conn: Conn, user_id: UUID, role: str, lifetime: timedelta) -> str:
    """A new session for ``user_id``; the clear token is returned only here.
    Sessions long expired are swept out on the way."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        "DELETE FROM dashboard_sessions WHERE expires_at < now() - interval '1 day'"
    )
    conn.execute(
        "INSERT INTO dashboard_sessions (token_sha256, user_id, role, expires_at) "
        "VALUES (%s, %s, %s, now() + %s)",
        (token_digest(token), user_id, role, lifetime),
    )
    return token


def alive(conn: Conn, token: str) -> SessionUser | None:
    """The session's user if the session still holds, else None."""
    row = conn.execute(
        "SELECT u.id, u.name, u.role FROM dashboard_sessions s "
        "JOIN users u ON u.id = s.user_id "
        "WHERE s.token_sha256 = %s AND s.ended_at IS NULL AND s.expires_at > now() "
        "AND u.disabled_at IS NULL AND u.role = s.role",
        (token_digest(token),),
    ).fetchone()
    return None if row is None else SessionUser(row[0], row[1], row[2])


def end(conn: Conn, token: str) -> None:
    """Log out: the token stops working everywhere, at once."""
    conn.execute(
        "UPDATE dashboard_sessions SET ended_at = now() "
        "WHERE token_sha256 = %s AND ended_at IS NULL",
        (token_digest(token),),
    )
