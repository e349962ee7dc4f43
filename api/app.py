"""The aiohttp application: ``init_app(settings)`` builds it, tests and the CLI run it.

Adding endpoints
----------------
Write a module ``api/<family>.py`` with ``def setup(api: Api) -> None`` that
registers its operations through ``api.route(...)`` (see ``api/http/registry.py``),
then add its ``setup`` to :data:`ROUTE_MODULES` below — that is the only line to
touch here. Every operation registered that way is authenticated, role-checked,
transactional, documented in ``/api/v1/openapi.json`` and answers errors as
problem+json.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from api import (
    accounts,
    alert_relay,
    auth,
    device_fixes,
    devices,
    directory,
    estimates,
    evidence,
    invoices,
    jobs,
    online,
    parts,
    presence,
    price_book,
    reports,
    sync,
    techapp,
    tracking,
    tracking_osmand,
    upload_metrics,
)
from api.http.context import POOL, PREFIX, REDIS, SETTINGS
from api.http.problems import HttpProblem, problem_middleware, problem_response
from api.http.registry import API, Api
from api.http.responses import json_ok
from api.http.validation import photo_json_bytes
from crewtrack.settings import Settings
from services.evidence import Presenter

log = logging.getLogger("crewtrack.api")

POOL_MIN = 1  # one warm connection is enough for health checks and light use
POOL_MAX = 10  # each request holds one connection for its transaction
POOL_TIMEOUT_S = 10.0  # a request waiting longer than this gets 503
REDIS_TIMEOUT_S = 2.0  # a Redis call (socket or connect) failing later is a failure

RouteSetup = Callable[[Api], None]

#: Route modules, in the order their routes are added. Append yours here.
ROUTE_MODULES: list[RouteSetup] = [
    upload_metrics.setup,  # first: the upload routes count into it
    directory.setup,
    price_book.setup,
    estimates.setup,
    jobs.setup,
    online.setup,
    reports.setup,
    parts.setup,
    invoices.setup,
    tracking.setup,
    tracking_osmand.setup,
    devices.setup,
    accounts.setup,
    sync.setup,
    evidence.setup,
    presence.setup,
    device_fixes.setup,
    auth.setup,
    techapp.setup,
]


def init_app(
    settings: Settings, *, evidence_presenter: Presenter | None = None
) -> web.Application:
    """Build the API application for ``settings`` (nothing connects until startup).

    ``evidence_presenter`` builds the audit's PDF and CSV for evidence bundles
    (the composition root passes ``crewtrack.evidence.presenter(settings)``);
    without it ``GET /sessions/{id}/evidence.zip`` answers 503.
    """
    app = web.Application(
        middlewares=[problem_middleware, _body_deadline],
        # the largest body: a multipart upload, or a photo inside JSON (base64)
        client_max_size=max(
            settings.max_attachment_bytes + 1024 * 1024,
            photo_json_bytes(settings.max_attachment_bytes),
        ),
    )
    app[SETTINGS] = settings
    if evidence_presenter is not None:
        app[evidence.PRESENTER] = evidence_presenter
    app.on_response_prepare.append(_security_headers)
    api = Api(app)
    app[API] = api
    app.cleanup_ctx.append(_database_pool)
    app.cleanup_ctx.append(_redis_client)
    app.cleanup_ctx.append(alert_relay.alert_relay)
    api.public_route(
        "GET",
        "/health",
        _health,
        summary="Health: the API runs and reaches the database",
        tag="meta",
        responses={200: HEALTH_SCHEMA, 503: None},
    )
    for setup in ROUTE_MODULES:
        setup(api)
    api.public_route(
        "GET",
        "/openapi.json",
        _openapi,
        summary="This OpenAPI 3.1 document",
        tag="meta",
        responses={200: {"type": "object"}},
    )
    return app


async def _database_pool(app: web.Application) -> AsyncIterator[None]:
    """Open the psycopg pool for the app's lifetime."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        app[SETTINGS].database_url,
        min_size=POOL_MIN,
        max_size=POOL_MAX,
        timeout=POOL_TIMEOUT_S,
        open=False,
    )
    await pool.open()
    app[POOL] = pool
    try:
        yield
    finally:
        await pool.close()


async def _redis_client(app: web.Application) -> AsyncIterator[None]:
    """One Redis client for the app's lifetime (live positions, alerts stream)."""
    client = aioredis.from_url(
        app[SETTINGS].redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    app[REDIS] = client
    try:
        yield
    finally:
        await client.aclose()


#: On every answer, errors included: JSON is never sniffed as HTML, never framed
#: (clickjacking), and a link followed from it does not leak the URL (online
#: links carry their token in the path). The Server header names no version.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Server": "crewtrack",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # the technician app's pages (api.techapp) bring their own CSP; the Server
    # header always replaces aiohttp's own (which names its version)
    for name, value in SECURITY_HEADERS.items():
        if name == "Server":
            response.headers[name] = value
        else:
            response.headers.setdefault(name, value)


class _BodyTimeout(asyncio.TimeoutError):
    """Set on a request body that did not arrive in time. A TimeoutError, so
    aiohttp's lingering read after the answer stops on it quietly and closes."""


@web.middleware
async def _body_deadline(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """A body not complete CREWTRACK_API_BODY_TIMEOUT_S after its head: 408, closed.

    The deadline is on the arrival of the body, not on the handler's work: once
    the body is in, the timer does nothing.
    """
    if not request.body_exists:
        return await handler(request)
    timeout = request.app[SETTINGS].api_body_timeout_s
    body = request.content

    def cut_off() -> None:
        if not body.is_eof():
            body.set_exception(_BodyTimeout())

    timer = asyncio.get_running_loop().call_later(timeout, cut_off)
    try:
        return await handler(request)
    except _BodyTimeout:
        log.info("request body not received in %s s: %s", timeout, request.path)
        raise HttpProblem(
            408,
            "Request timeout",
            f"the request body did not arrive within {timeout} s",
            headers={"Connection": "close"},
        ) from None
    finally:
        timer.cancel()


HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "database"],
    "properties": {"status": {"const": "ok"}, "database": {"const": "ok"}},
}


async def _health(request: web.Request) -> web.StreamResponse:
    try:
        async with request.app[POOL].connection(timeout=2.0) as conn:
            await conn.execute("SELECT 1")
    except Exception:
        log.exception("health check failed")
        return problem_response(
            503, "Service unavailable", "the database is unreachable"
        )
    return json_ok({"status": "ok", "database": "ok"})


async def _openapi(request: web.Request) -> web.StreamResponse:
    return json_ok(request.app[API].openapi())


def server_options(settings: Settings) -> dict[str, Any]:
    """Options of the HTTP server itself (``web.AppRunner``), for ``run`` and tests.

    aiohttp closes a connection whose request head is not complete when its
    keep-alive timer fires (the timer starts when the connection opens and after
    each answer), so that timer is the head timeout as well as the idle one.
    """
    return {
        "keepalive_timeout": settings.api_idle_timeout_s,
        "access_log_format": '%a "%r" %s %b %Tf',
    }


def run(settings: Settings) -> None:
    """Serve the API (``crewtrack api``)."""
    web.run_app(
        init_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        **server_options(settings),
    )


__all__ = ["PREFIX", "ROUTE_MODULES", "init_app", "run", "server_options"]
