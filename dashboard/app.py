"""The Dash app: creation, login, page routing and serving.

``create_app(settings)`` builds one app with its own connection pool, Redis
client and caches (each worker process builds its own; nothing is shared at
module level) and composes it of the pages in :mod:`dashboard.pages`. Every
request except the login page needs a live session of a dispatcher, billing
user or admin; technicians and anonymous visitors get the login page (pages)
or 401 (Dash's JSON endpoints).

Sessions live on the server (``storage.dashboard_sessions``): the signed cookie
carries only a random token, so logging out ends it for good, and every request
re-reads the user (disabled, role changed) in one primary-key lookup. Login is
rate limited per client address and per account (``storage.rate_limits``) and
its form carries a CSRF token.

Files and answers are compressed and cached as :mod:`dashboard.serving` says;
``dashboard/assets/`` holds the partial plotly.js bundle that replaces Dash's
full one (dcc.Graph uses ``window.Plotly`` when the page has it).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import dash
import flask
import psycopg
import redis
import redis.asyncio as aioredis
from dash import Input, Output, State, no_update
from flask.sessions import SecureCookieSessionInterface
from psycopg_pool import ConnectionPool
from redis.exceptions import RedisError
from werkzeug.middleware.proxy_fix import ProxyFix

from crewtrack.settings import Settings
from dashboard import pages, plotly_loading, serving, shell
from dashboard.actions import Actions
from dashboard.context import Context
from dashboard.queries import Sources
from services.login import TooManyAttempts, check_login
from storage import dashboard_sessions
from storage.dashboard_sessions import SessionUser
from storage.users import User

log = logging.getLogger(__name__)

#: Served by Dash: the look (board.css, in git) and what provision builds (the
#: partial plotly.js bundle, the glyphs; not in git).
ASSETS = Path(__file__).resolve().parent / "assets"

ALLOWED_ROLES = ("admin", "dispatcher", "billing")
PUBLIC_PATHS = ("/login", "/logout", "/healthz")
SESSION_KEY = "sid"  # the cookie's key holding the server-side session token
CSRF_KEY = "csrf"  # the cookie's key holding the login form's CSRF token
REDIS_TIMEOUT_S = 2.0
#: On every answer: never framed (clickjacking), never sniffed, and the URL
#: (job numbers, audit queries) not sent to other sites.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crewtrack — log in</title>
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
<input type="hidden" name="csrf" value="{csrf}">
<button id="login" type="submit">Log in</button>
</form></body></html>"""


async def _check_login(
    settings: Settings, address: str, email: str, password: str
) -> User | None:
    """The user, after counting the attempt (``services.login``, the rule the
    technician app's login shares; :class:`TooManyAttempts` when over a limit)."""
    client = aioredis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            return await check_login(client, conn, settings, address, email, password)
    finally:
        await client.aclose()


def _csrf_token() -> str:
    """The login form's CSRF token, kept in the (signed) cookie until login."""
    token = flask.session.get(CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        flask.session[CSRF_KEY] = token
    return str(token)


def _csrf_ok() -> bool:
    sent = flask.request.form.get(CSRF_KEY, "")
    kept = flask.session.get(CSRF_KEY, "")
    return bool(kept) and secrets.compare_digest(sent, kept)


def _login_page(error: str = "", email: str = "", next_url: str = "/") -> str:
    return _LOGIN_PAGE.format(
        error=f'<p class="error" id="login-error">{html.escape(error)}</p>'
        if error
        else "",
        email=html.escape(email),
        next=html.escape(next_url),
        csrf=html.escape(_csrf_token()),
    )


class _SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` whenever the request came over HTTPS
    (directly, or through a trusted proxy that says so)."""

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            flask.has_request_context() and flask.request.is_secure
        )


def _session_user(pool: ConnectionPool) -> SessionUser | None:
    token = flask.session.get(SESSION_KEY)
    if not token:
        return None
    with pool.connection() as conn:
        return dashboard_sessions.alive(conn, str(token))


def _safe_next(raw: str | None) -> str:
    """Only local paths: a login link must not bounce the user to another site."""
    if not raw or not raw.startswith("/") or raw.startswith("//"):
        return "/"
    return raw


def _install_auth(
    server: flask.Flask, settings: Settings, pool: ConnectionPool
) -> None:
    lifetime = timedelta(hours=settings.dashboard_session_hours)

    @server.before_request
    def _require_login() -> Any:
        path = flask.request.path
        if path in PUBLIC_PATHS:
            return None
        user = _session_user(pool)
        if user is not None and user.role in ALLOWED_ROLES:
            flask.g.user = user
            return None
        flask.session.pop(SESSION_KEY, None)  # ended, expired or refused
        if path.startswith("/_dash-") or path.startswith("/_reload"):
            return flask.Response("login required", status=401)
        target = flask.request.full_path.rstrip("?")
        # quoted: the target's own "&tab=…" is part of next, not a second parameter
        next_url = quote(flask.request.script_root + target, safe="/")
        return flask.redirect("/login?next=" + next_url)

    @server.route("/login", methods=["GET", "POST"])
    def _login() -> Any:
        if flask.request.method == "GET":
            return _login_page(next_url=_safe_next(flask.request.args.get("next")))
        email = flask.request.form.get("email", "").strip()
        password = flask.request.form.get("password", "")
        next_url = _safe_next(flask.request.form.get("next"))
        if not _csrf_ok():
            page = _login_page(
                "The form had expired; please log in again.", email, next_url
            )
            return page, 400
        address = flask.request.remote_addr or "unknown"
        try:
            user = asyncio.run(_check_login(settings, address, email, password))
        except TooManyAttempts as too_many:
            wait = too_many.retry_after
            log.warning("dashboard login limit reached from %s", address)
            page = _login_page(
                f"Too many login attempts; try again in {wait} s.", email, next_url
            )
            return page, 429, {"Retry-After": str(wait)}
        except (RedisError, OSError) as exc:
            log.warning("dashboard login limit unavailable: %s", exc)
            page = _login_page(
                "Logging in is unavailable; try again shortly.", email, next_url
            )
            return page, 503
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
        with pool.connection() as conn:
            token = dashboard_sessions.start(conn, user.id, user.role, lifetime)
        flask.session.clear()  # a new session, never one the visitor brought
        flask.session.permanent = True  # expires with the server-side session
        flask.session[SESSION_KEY] = token
        return flask.redirect(next_url)

    @server.route("/logout")
    def _logout() -> Any:
        token = flask.session.get(SESSION_KEY)
        if token:
            with pool.connection() as conn:
                dashboard_sessions.end(conn, str(token))
        flask.session.clear()
        return flask.redirect("/login")

    @server.after_request
    def _security_headers(response: flask.Response) -> flask.Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @server.route("/healthz")
    def _health() -> Any:
        return {"status": "ok"}


def create_app(
    settings: Settings, hash_device_password: Callable[[str], str] | None = None
) -> dash.Dash:
    """Build the dashboard: Flask server with login, Dash layout and callbacks.
    ``hash_device_password`` stores a registered phone's MQTT password in the
    broker's format (the composition root passes it; without it the Users &
    devices page does not register phones)."""
    server = flask.Flask("crewtrack.dashboard")
    server.secret_key = settings.dashboard_secret or secrets.token_hex(32)
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="crewtrack_dashboard",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.dashboard_session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,  # a fixed lifetime from login
    )
    server.session_interface = _SessionCookie()
    if settings.dashboard_trusted_proxies > 0:
        hops = settings.dashboard_trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    pool = ConnectionPool(
        settings.database_url, min_size=1, max_size=8, open=False, name="dashboard"
    )
    pool.open(wait=False)
    _install_auth(server, settings, pool)
    serving.install(server, ASSETS / "glyphs", settings.dashboard_tile_url)
    loading = plotly_loading.choose(settings.dashboard_plotly)
    plotly_loading.log_choice(loading)
    deferred = loading.mode == plotly_loading.DEFERRED
    app = dash.Dash(
        "crewtrack.dashboard",
        server=server,  # type: ignore[arg-type]
        title="crewtrack",
        suppress_callback_exceptions=True,  # pages are rendered by the router
        serve_locally=True,  # every script from us: works with no internet
        # board.css, the partial plotly.js bundle (scripts/build-plotly.js), glyphs
        assets_folder=str(ASSETS),
        # deferred: the bundle is not among the page's scripts (plotly_loading)
        assets_ignore=re.escape(plotly_loading.BUNDLE) if deferred else "",
        update_title="",
    )
    _install_plotly_loading(app, server, loading)
    sources = Sources(
        pool=pool,
        redis=redis.Redis.from_url(settings.redis_url),
        alerts_stream=settings.alerts_stream,
    )

    def serve_layout() -> Any:
        if not flask.has_request_context():
            return shell.shell("", "", pages.NAV)  # layout validation at start-up
        user = flask.g.get("user")
        if user is None:
            return shell.shell("", "", pages.NAV)
        nav = pages.nav_for(user.role)
        at = _page_url(flask.request)
        return shell.shell(
            user.name,
            user.role,
            nav,
            settings.company_timezone,
            page=None if at is None else page_at(*at),
            routed=None if at is None else shell.url_key(*at),
        )

    app.layout = serve_layout
    _install_pages(
        app,
        Context(
            sources,
            settings.dashboard_tile_url,
            settings.company_zone,
            actions=Actions(settings),
            home=settings.home,
            hash_device_password=hash_device_password,
        ),
    )
    return app


def page_at(pathname: str | None, search: str | None) -> Any:
    """The page at a URL (path and query), or "Not found"."""
    page = pages.BY_PATH.get("/" if pathname is None else pathname)
    if page is None:
        return shell.not_found(pathname or "")
    return page.layout(parse_qs((search or "").lstrip("?")))


def _page_url(request: flask.Request) -> tuple[str, str] | None:
    """The URL of the page asking for its first layout: Dash's renderer fetches
    ``/_dash-layout`` from the page, and the browser names the page in
    ``Referer`` (our ``Referrer-Policy: same-origin`` keeps it for our own
    requests). None when there is none, or it is not of this origin."""
    referer = urlsplit(request.headers.get("Referer", ""))
    if referer.netloc != request.host or referer.scheme != request.scheme:
        return None
    return referer.path or "/", referer.query


def _install_plotly_loading(
    app: dash.Dash, server: flask.Flask, loading: plotly_loading.Loading
) -> None:
    """The page head's preload links; deferred, dcc.Graph's plotly.js URL
    answered with our bundle (:mod:`dashboard.plotly_loading`)."""
    bundle = ASSETS / plotly_loading.BUNDLE
    prefix = str(app.config.requests_pathname_prefix)
    app.index_string = plotly_loading.index_string(
        app.index_string, plotly_loading.head_links(loading, prefix)
    )
    if loading.mode != plotly_loading.DEFERRED:
        return

    def _bundle() -> flask.Response:
        return flask.send_file(
            bundle, mimetype="application/javascript", conditional=True, etag=True
        )

    server.add_url_rule(
        str(app.config.routes_pathname_prefix) + plotly_loading.DASH_PLOTLY_PATH,
        "plotly_bundle_for_dcc_graph",
        _bundle,
    )


def _install_pages(app: dash.Dash, ctx: Context) -> None:
    """The router (the page at the URL into the shell), then each page's callbacks."""

    @app.callback(
        Output(shell.PAGE, "children"),
        Output(shell.ROUTED, "data"),
        Input(shell.URL, "pathname"),
        Input(shell.URL, "search"),  # an alert's link focuses the same page
        State(shell.ROUTED, "data"),
    )
    def route(pathname: str | None, search: str | None, routed: str | None) -> Any:
        if routed is not None and routed == shell.url_key(pathname, search):
            # the first layout holds this page already; a later visit to the
            # same URL renders it again
            return no_update, None
        return page_at(pathname, search), no_update if routed is None else None

    app.clientside_callback(  # type: ignore[no-untyped-call]
        shell.VIEWPORT_JS,
        Output(shell.VIEWPORT, "data"),
        Input(shell.URL, "pathname"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        shell.NAV_JS,
        Output(shell.NAV_MARK, "data"),
        Input(shell.URL, "pathname"),
    )
    for page in pages.PAGES:
        page.register(app, ctx)


def run(settings: Settings, hash_device_password: Callable[[str], str]) -> None:
    """Serve the dashboard with waitress on dashboard_host:dashboard_port."""
    import waitress  # type: ignore[import-untyped]

    app = create_app(settings, hash_device_password)
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
