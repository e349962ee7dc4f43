"""Users, roles and bearer tokens.

A token is 32 random bytes shown once; only its sha256 is stored, with the
token's first characters (its *prefix*, e.g. ``ct_Ab3dE5gH9``) so an admin can
tell tokens apart and revoke one. A token works until it expires, is revoked or
its user is disabled (``disabled_at``: the one notion of a shut-out user, set by
``crewtrack admin disable-user`` and by archiving a technician).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
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


# Long enough to tell tokens apart (54 random bits after "ct_"), far too short
# to help guess the remaining ~200.
TOKEN_PREFIX_LENGTH = 12
DEFAULT_TOKEN_TTL = timedelta(days=90)


def token_prefix(token: str) -> str:
    return token[:TOKEN_PREFIX_LENGTH]


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
    with conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            _CREATE_USER_SQL + ", name, email, role",
            _new_user(name, role, email, password),
        )
        user = cur.fetchone()
    assert user is not None
    return user


_CREATE_USER_SQL = (
    "INSERT INTO users (name, email, role, password_hash) "
    "VALUES (%s, %s, %s, %s) RETURNING id"
)


def _new_user(
    name: str, role: str, email: str | None, password: str | None
) -> tuple[str, str | None, str, str | None]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return (name, email, role, hash_password(password) if password else None)


def issue_token(
    conn: psycopg.Connection,
    user_id: UUID,
    label: str = "",
    *,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
) -> str:
    """Issue a new bearer token for a user, valid for ``ttl``; the clear text is
    returned only here."""
    token = new_token()
    conn.execute(_ISSUE_SQL, _issue_params(token, user_id, label, ttl))
    return token


_ISSUE_SQL = (
    "INSERT INTO api_tokens (token_sha256, user_id, label, prefix, expires_at) "
    "VALUES (%s, %s, %s, %s, now() + %s) RETURNING expires_at"
)


def _issue_params(
    token: str, user_id: UUID, label: str, ttl: timedelta
) -> tuple[str, UUID, str, str, timedelta]:
    if ttl <= timedelta(0):
        raise ValueError("a token's lifetime must be positive")
    return (token_digest(token), user_id, label, token_prefix(token), ttl)


async def aissue_token(
    conn: psycopg.AsyncConnection, user_id: UUID, label: str, *, ttl: timedelta
) -> tuple[str, datetime]:
    """:func:`issue_token` for the API's login (the same row, the same rules);
    the token and when it expires."""
    token = new_token()
    cur = await conn.execute(_ISSUE_SQL, _issue_params(token, user_id, label, ttl))
    row = await cur.fetchone()
    assert row is not None
    return token, row[0]


async def arevoke_token(conn: psycopg.AsyncConnection, token: str) -> int:
    """Revoke one token given in full (logging out); how many were revoked."""
    cur = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() "
        "WHERE token_sha256 = %s AND revoked_at IS NULL",
        (token_digest(token),),
    )
    return cur.rowcount


@dataclass(frozen=True)
class TokenInfo:
    """A token as an admin sees it: never the token itself."""

    prefix: str | None
    email: str | None
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_tokens(
    conn: psycopg.Connection, user_id: UUID | None = None
) -> list[TokenInfo]:
    """Every token (of one user, or all), newest first."""
    with conn.cursor(row_factory=class_row(TokenInfo)) as cur:
        cur.execute(
            "SELECT t.prefix, u.email, t.label, t.created_at, t.expires_at, "
            "t.last_used_at, t.revoked_at FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id "
            "WHERE %(user)s::uuid IS NULL OR t.user_id = %(user)s "
            "ORDER BY t.created_at DESC",
            {"user": user_id},
        )
        return cur.fetchall()


def revoke_token(conn: psycopg.Connection, token_or_prefix: str) -> int:
    """Revoke the token given in full or by its prefix; how many were revoked."""
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = now() "
        "WHERE (token_sha256 = %s OR prefix = %s) AND revoked_at IS NULL",
        (token_digest(token_or_prefix), token_or_prefix),
    )
    return cur.rowcount


def revoke_user_tokens(conn: psycopg.Connection, user_id: UUID) -> int:
    """Revoke every token of a user; how many were revoked."""
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = now() "
        "WHERE user_id = %s AND revoked_at IS NULL",
        (user_id,),
    )
    return cur.rowcount


def find_user_by_email(conn: psycopg.Connection, email: str) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            "SELECT id, name, email, role FROM users WHERE email = %s", (email,)
        )
        return cur.fetchone()


# The token's last use is written at most once a minute, and never waits: a
# request that finds the row locked by another one's update skips it.
_USER_BY_DIGEST_SQL = """
    WITH found AS (
        SELECT t.token_sha256, u.id, u.name, u.email, u.role
          FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_sha256 = %(digest)s AND t.revoked_at IS NULL
           AND u.disabled_at IS NULL
           AND (t.expires_at IS NULL OR t.expires_at > now())
    ), touched AS (
        UPDATE api_tokens SET last_used_at = now()
         WHERE token_sha256 IN (
            SELECT x.token_sha256 FROM api_tokens x JOIN found f USING (token_sha256)
             WHERE x.last_used_at IS NULL
                OR x.last_used_at < now() - interval '1 minute'
               FOR UPDATE OF x SKIP LOCKED)
    )
    SELECT id, name, email, role FROM found
"""


async def user_for_token(conn: psycopg.AsyncConnection, token: str) -> User | None:
    """The active user an unexpired, unrevoked bearer token belongs to, or None;
    notes the token's use."""
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(_USER_BY_DIGEST_SQL, {"digest": token_digest(token)})
        return await cur.fetchone()


def active_user(conn: psycopg.Connection, user_id: str) -> User | None:
    """The user with this id if they are not disabled (the dashboard asks this on
    every request, so a disabled user's session ends at once)."""
    with conn.cursor(row_factory=class_row(User)) as cur:
        cur.execute(
            "SELECT id, name, email, role FROM users "
            "WHERE id = %s::uuid AND disabled_at IS NULL",
            (user_id,),
        )
        return cur.fetchone()


async def user_names(conn: psycopg.AsyncConnection, ids: list[str]) -> dict[str, str]:
    """Each user's name by id (a page says who did what; disabled users too)."""
    cur = await conn.execute(
        "SELECT id, name FROM users WHERE id = ANY (%s::uuid[])", (ids,)
    )
    return {str(r[0]): r[1] for r in await cur.fetchall()}


@dataclass(frozen=True)
class Account:
    """A user and whether they are shut out (and by an archived technician)."""

    user: User
    disabled_at: datetime | None
    archived_technician: bool


async def account_by_email(conn: psycopg.AsyncConnection, email: str) -> Account | None:
    cur = await conn.execute(
        "SELECT u.id, u.name, u.email, u.role, u.disabled_at, "
        "EXISTS (SELECT 1 FROM technicians t "
        "        WHERE t.user_id = u.id AND t.archived_at IS NOT NULL) "
        "FROM users u WHERE u.email = %s",
        (email,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return Account(User(row[0], row[1], row[2], row[3]), row[4], row[5])


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


# ------------------------------------------------------- accounts (admin pages)


@dataclass(frozen=True)
class UserAccount:
    """A user as an admin sees them: role, state, their technician, last login."""

    id: UUID
    name: str
    email: str | None
    role: str
    created_at: datetime
    disabled_at: datetime | None
    has_password: bool
    technician_id: UUID | None
    technician_name: str | None
    technician_archived: bool
    last_login: datetime | None

    @property
    def version(self) -> str:
        """What an edit's If-Match names: changes with every edit an admin makes."""
        state = f"{self.name}|{self.email}|{self.role}|{self.disabled_at}"
        return hashlib.sha256(state.encode()).hexdigest()[:16]


_ACCOUNTS_SQL = """
    SELECT u.id, u.name, u.email, u.role, u.created_at, u.disabled_at,
           u.password_hash IS NOT NULL AS has_password,
           t.id AS technician_id, t.name AS technician_name,
           (t.archived_at IS NOT NULL) IS TRUE AS technician_archived,
           (SELECT max(s.created_at) FROM dashboard_sessions s
             WHERE s.user_id = u.id) AS last_login
      FROM users u LEFT JOIN technicians t ON t.user_id = u.id
"""


async def accounts(conn: psycopg.AsyncConnection[Any]) -> list[UserAccount]:
    """Every user, active first, by name."""
    async with conn.cursor(row_factory=class_row(UserAccount)) as cur:
        await cur.execute(
            _ACCOUNTS_SQL + " ORDER BY u.disabled_at IS NOT NULL, lower(u.name), u.id"
        )
        return await cur.fetchall()


async def account(
    conn: psycopg.AsyncConnection[Any], user_id: UUID | str, *, for_update: bool = False
) -> UserAccount | None:
    """One user as :func:`accounts` lists them (locked for an edit if asked)."""
    if for_update:
        await conn.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (user_id,))
    async with conn.cursor(row_factory=class_row(UserAccount)) as cur:
        await cur.execute(_ACCOUNTS_SQL + " WHERE u.id = %s", (user_id,))
        return await cur.fetchone()


async def acreate_user(
    conn: psycopg.AsyncConnection[Any],
    name: str,
    role: str,
    email: str | None = None,
    password: str | None = None,
) -> UUID:
    """:func:`create_user` on an async connection; the new user's id."""
    cur = await conn.execute(_CREATE_USER_SQL, _new_user(name, role, email, password))
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row[0]))


async def set_role(
    conn: psycopg.AsyncConnection[Any], user_id: UUID | str, role: str
) -> None:
    """Change a user's role (their dashboard session ends: it holds the old one)."""
    await conn.execute("UPDATE users SET role = %s WHERE id = %s", (role, user_id))


async def set_password(
    conn: psycopg.AsyncConnection[Any], user_id: UUID | str, password: str
) -> None:
    """Set a user's login password and end their dashboard sessions."""
    await conn.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s",
        (hash_password(password), user_id),
    )
    await conn.execute(
        "UPDATE dashboard_sessions SET ended_at = now() "
        "WHERE user_id = %s AND ended_at IS NULL",
        (user_id,),
    )
