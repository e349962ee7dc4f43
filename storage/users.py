"""Users, roles and bearer tokens.

A token is 32 random bytes shown once; only its sha256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

import psycopg
from psycopg.rows import class_row

ROLES = ("admin", "dispatcher", "billing", "technician")


@dataclass(frozen=True)
class User:
    id: UUID
    name: str
    email: str | None
    role: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "ct_" + secrets.token_urlsafe(32)


def create_user(
    conn: psycopg.Connection, name: str, role: str, email: str | None = None
) -> User:
    """Create a user with a role."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    with conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            "INSERT INTO users (name, email, role) VALUES (%s, %s, %s) "
            "RETURNING id, name, email, role",
            (name, email, role),
        )
        user = cur.fetchone()
    assert user is not None
    return user


def issue_token(conn: psycopg.Connection, user_id: UUID, label: str = "") -> str:
    """Issue a new bearer token for a user; the clear text is returned only here."""
    token = new_token()
    conn.execute(
        "INSERT INTO api_tokens (token_sha256, user_id, label) VALUES (%s, %s, %s)",
        (token_digest(token), user_id, label),
    )
    return token


def find_user_by_email(conn: psycopg.Connection, email: str) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            "SELECT id, name, email, role FROM users WHERE email = %s", (email,)
        )
        return cur.fetchone()


_USER_BY_DIGEST_SQL = """
    SELECT u.id, u.name, u.email, u.role
      FROM api_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_sha256 = %s AND t.revoked_at IS NULL AND u.disabled_at IS NULL
"""


async def user_for_token(conn: psycopg.AsyncConnection, token: str) -> User | None:
    """The active user a bearer token belongs to, or None."""
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(_USER_BY_DIGEST_SQL, (token_digest(token),))
        return await cur.fetchone()
