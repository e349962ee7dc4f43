"""The Dash app: creation, login, page routing and serving.

``create_app(settings)`` builds one app with its own connection pool, Redis
client and caches (each worker process builds its own; nothing is shared at
module level) and composes it of the pages in :mod:`dashboard.pages`. Every
request except the login page needs a session cookie of a dispatcher, billing
user or admin; technicians and anonymous visitors get the login page (pages)
or 401 (Dash's JSON endpoints).
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
from typing import Any
from urllib.parse import parse_qs

import dash
import flask
import psycopg
import redis
from dash import Input, Output, State
from psycopg_pool import ConnectionPool

from crewtrack.settings import Settings
from dashboard import pages, shell
from dashboard.context import Context
from dashboard.queries import Sources
from storage.users import User, user_for_login

log = logging.getLogger(__name__)

ALLOWED_ROLES = ("admin", "dispatcher", "billing")
PUBLIC_PATHS = ("/login", "/logout", "/healthz")

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>crewtrack — log in</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f7fafc; }}
form {{ max-width: 320px; margin: 12vh auto; background: #fff; padding: 24px;
        border: 1px solid #e2e8f0; border-radius: 8px; }}
label {{ display: block; margin-top: 12px; }}
input {{ width: 100%; padding: 6px; box-sizing: border-box; }}
button {{ margin-top: 16px; width: 100%; padding: 8px; background: #1a365d;
          color: #fff; border: 0; border-radius: 4px; }}
.error {{ color: #c53030; }}
</style></head><body>
<form method="post" action="/login">
<h2>crewtrack</h2><p>Jobs map and arrival audit</p>
{error}
<label for="email">E-mail</label><input id="email" name="email" type="email" value="{email}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<input type="hidden" name="next" value="{next}">
<button id="login" type="submit">Log in</button>
</form></body></html>"""


async def _check_login(dsn: str, email: str, password: str) -> User | None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        return await user_for_login(conn, email, password)


def _login_page(error: str = "", email: str = "", next_url: str = "/") -> str:
    return _LOGIN_PAGE.format(
        error=f'<p class="error" id="login-error">{html.escape(error)}</p>'
        if error
        else "",
        email=html.escape(email),
        next=html.escape(next_url),
    )


def _safe_next(raw: str | None) -> str:
    """Only local paths: a login link must not bounce the user to another site."""
    if not raw or not raw.startswith("/") or raw.startswith("//"):
        return "/"
    return raw


def _install_auth(server: flask.Flask, settings: Settings) -> None:
    @server.before_request
    def _require_login() -> Any:
        path = flask.request.path
        if path in PUBLIC_PATHS:
            return None
        if flask.session.get("role") in ALLOWED_ROLES:
            return None
        if path.startswith("/_dash-") or path.startswith("/_reload"):
            return flask.Response("login required", status=401)
        target = flask.request.full_path.rstrip("?")
        return flask.redirect("/login?next=" + flask.request.script_root + target)

    @server.route("/login", methods=["GET", "POST"])
    def _login() -> Any:
        if flask.request.method == "GET":
            return _login_page(next_url=_safe_next(flask.request.args.get("next")))
        email = flask.request.form.get("email", "").strip()
        password = flask.request.form.get("password", "")
        next_url = _safe_next(flask.request.form.get("next"))
        user = asyncio.run(_check_login(settings.database_url, email, password))
        if user is None:
            return _login_page("Wrong e-mail or password.", email, next_url)
        if user.role not in ALLOWED_ROLES:
            log.info("dashboard login refused for role %s", user.role)
            return (  # a page, not a 403: the form is shown again with the reason
                _login_page(
                    "The dashboard is for dispatchers, billing and admins; "
                    "technicians use the mobile app.",
                    email,
                    next_url,
                )
            )
        flask.session.clear()
        flask.session["user_id"] = str(user.id)
        flask.session["name"] = user.name
        flask.session["role"] = user.role
        return flask.redirect(next_url)

    @server.route("/logout")
    def _logout() -> Any:
        flask.session.clear()
        return flask.redirect("/login")

    @server.route("/healthz")
    def _health() -> Any:
        return {"status": "ok"}


def create_app(settings: Settings) -> dash.Dash:
    """Build the dashboard: Flask server with login, Dash layout and callbacks."""
    server = flask.Flask("crewtrack.dashboard")
    server.secret_key = settings.dashboard_secret or secrets.token_hex(32)
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="crewtrack_dashboard",
    )
    _install_auth(server, settings)
    app = dash.Dash(
        "crewtrack.dashboard",
        server=server,  # type: ignore[arg-type]
        title="crewtrack",
        suppress_callback_exceptions=True,  # pages are rendered by the router
        serve_locally=True,  # every script from us: works with no internet
        update_title="",
    )
    pool = ConnectionPool(
        settings.database_url, min_size=1, max_size=8, open=False, name="dashboard"
    )
    pool.open(wait=False)
    sources = Sources(
        pool=pool,
        redis=redis.Redis.from_url(settings.redis_url),
        alerts_stream=settings.alerts_stream,
    )

    def serve_layout() -> Any:
        if not flask.has_request_context():
            return shell.shell("", "", pages.NAV)  # layout validation at start-up
        return shell.shell(
            flask.session.get("name", ""), flask.session.get("role", ""), pages.NAV
        )

    app.layout = serve_layout
    _install_pages(app, Context(sources, settings.dashboard_tile_url))
    return app


def _install_pages(app: dash.Dash, ctx: Context) -> None:
    """The router (the page at the URL into the shell), then each page's callbacks."""

    @app.callback(
        Output(shell.PAGE, "children"),
        Input(shell.URL, "pathname"),
        State(shell.URL, "search"),
    )
    def route(pathname: str | None, search: str | None) -> Any:
        page = pages.BY_PATH.get("/" if pathname is None else pathname)
        if page is None:
            return shell.not_found(pathname or "")
        return page.layout(parse_qs((search or "").lstrip("?")))

    for page in pages.PAGES:
        page.register(app, ctx)


def run(settings: Settings) -> None:
    """Serve the dashboard with waitress on dashboard_host:dashboard_port."""
    import waitress  # type: ignore[import-untyped]

    app = create_app(settings)
    log.info(
        "dashboard listening on http://%s:%s",
        settings.dashboard_host,
        settings.dashboard_port,
    )
    waitress.serve(
        app.server,
        host=settings.dashboard_host,
        port=settings.dashboard_port,
        threads=8,
        ident="crewtrack-dashboard",
    )
