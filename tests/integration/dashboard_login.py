"""Logging in to the dashboard as a browser does: the form's CSRF token, then the post."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from flask.testing import FlaskClient

from storage.users import User, create_user

PASSWORD = "correct horse battery"
COOKIE = "crewtrack_dashboard"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_user(dsn: str, role: str = "dispatcher", email: str = "") -> User:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return create_user(
            conn, role.title(), role, email or f"{role}@example.test", PASSWORD
        )


def csrf_token(client: FlaskClient) -> str:
    """The token the login form carries (GET /login, as the browser shows it)."""
    return csrf_in(client.get("/login").get_data(as_text=True))


def csrf_in(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, page
    return found.group(1)


def post_login(
    client: FlaskClient, email: str, password: str = PASSWORD, **extra: str
) -> Any:
    form = {"email": email, "password": password, "next": "/"}
    form.update({"csrf": csrf_token(client), **extra})
    return client.post("/login", data=form)


def log_in(client: FlaskClient, dsn: str, role: str = "dispatcher") -> User:
    """A new user of ``role``, logged in on ``client``."""
    user = make_user(dsn, role)
    answer = post_login(client, str(user.email))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return user
