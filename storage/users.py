"""Users, roles and bearer tokens.

A token is 32 random bytes shown once; only its sha256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
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


# scrypt cost: n=2**14, r=8 is the interactive-login setting from the scrypt
# paper (~50 ms here); salt per user; stored as "scrypt$n$r$p$salt$hash" (hex).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
    )
    return secrets.compare_digest(candidate.hex(), digest)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "ct_" + secrets.token_urlsafe(32)


def create_user(
    conn: psycopg.Connection,
    name: str,
    role: str,
    email: str | None = None,
    password: str | None = None,
) -> User:
    """Create a user with a role (and a login password, for the dashboard)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    pw_hash = hash_password(password) if password else None
    with conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            "INSERT INTO users (name, email, role, password_hash) "
            "VALUES (%s, %s, %s, %s) RETURNING id, name, email, role",
            (name, email, role, pw_hash),
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


async def user_for_login(
    conn: psycopg.AsyncConnection, email: str, password: str
) -> User | None:
    """The active user with this e-mail and password, or None."""
    cur = await conn.execute(
        "SELECT id, name, email, role, password_hash FROM users "
        "WHERE email = %s AND disabled_at IS NULL",
        (email,),
    )
    row = await cur.fetchone()
    if row is None or not verify_password(password, row[4]):
        return None
    return User(row[0], row[1], row[2], row[3])


async def disable_user(
    conn: psycopg.AsyncConnection, user_id: UUID, at: datetime
) -> None:
    """Shut a user out at ``at``: their tokens and login stop working, and their
    devices are revoked at the same instant (the broker refuses them after its
    reload, the OsmAnd upload refuses their tokens). Stored fixes stay."""
    await conn.execute(
        "UPDATE users SET disabled_at = %s WHERE id = %s AND disabled_at IS NULL",
        (at, user_id),
    )
    await conn.execute(
        "UPDATE devices SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL",
        (at, user_id),
    )


async def enable_user(
    conn: psycopg.AsyncConnection, user_id: UUID, disabled_at: datetime
) -> None:
    """Undo :func:`disable_user` of ``disabled_at``: exactly what it shut out comes
    back (a device revoked on its own, earlier or later, stays revoked)."""
    await conn.execute(
        "UPDATE users SET disabled_at = NULL WHERE id = %s AND disabled_at = %s",
        (user_id, disabled_at),
    )
    await conn.execute(
        "UPDATE devices SET revoked_at = NULL WHERE user_id = %s AND revoked_at = %s",
        (user_id, disabled_at),
    )
