"""Password login, rate limited: one rule for the dashboard and the technician app.

Every attempt is counted per client address and per account (the e-mail's
digest) in Redis (``storage.rate_limits``) before the password is checked, so an
attempt over either limit is refused whatever the password; a success starts
the account's count over. The dashboard's form and ``POST /api/v1/auth/login``
count in the same windows: guessing one account's password through both gets
no more tries than through one.
"""

from __future__ import annotations

import hashlib

import psycopg
import redis.asyncio as aioredis

from crewtrack.settings import Settings
from storage import rate_limits
from storage.rate_limits import Limit
from storage.users import User, user_for_login

LOGIN_KEY = "dashboard-login:"  # + "ip:<address>" or "account:<e-mail digest>"


class TooManyAttempts(Exception):
    """Raised when a login attempt is over the address's or the account's limit."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def account_key(email: str) -> str:
    """The rate-limit key of an account: its e-mail (any case), digested."""
    return f"{LOGIN_KEY}account:" + hashlib.sha256(email.lower().encode()).hexdigest()


async def check_login(
    redis: aioredis.Redis,
    conn: psycopg.AsyncConnection,
    settings: Settings,
    address: str,
    email: str,
    password: str,
) -> User | None:
    """The active user with this e-mail and password, or None, after counting the
    attempt (:class:`TooManyAttempts` when over a limit, whatever the password)."""
    account = account_key(email)
    window = settings.dashboard_login_window_s
    wait = await rate_limits.retry_after(
        redis,
        Limit(
            f"{LOGIN_KEY}ip:{address}", settings.dashboard_login_limit_per_ip, window
        ),
        Limit(account, settings.dashboard_login_limit_per_account, window),
    )
    if wait is not None:
        raise TooManyAttempts(wait)
    user = await user_for_login(conn, email, password)
    if user is not None:
        await rate_limits.forget(redis, account)
    return user
