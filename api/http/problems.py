"""Errors as RFC 9457 problem+json: the middleware and the shapes it answers with."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import psycopg
from aiohttp import web

from api.http.responses import dumps
from jobs_domain.errors import (
    Blocker,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
)

log = logging.getLogger("crewtrack.api")

PROBLEM_TYPE = "application/problem+json"

# every problem type is one of ours: a domain error's code, or a protocol error's title
PROBLEMS = "https://crewtrack.dev/problems/"


class HttpProblem(Exception):
    """An HTTP-level refusal that is not a domain rule (401, 412, 413, 415…)."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    *,
    type_: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """An RFC 9457 problem response; its ``type`` is one of ours, named after the
    domain error's code or, for a protocol error, its title ("Payload too large"
    is ``…/problems/payload-too-large``), so a client switches on one namespace."""
    if type_ is None:
        type_ = PROBLEMS + "-".join(title.lower().split())
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return web.Response(
        status=status,
        body=dumps(body),
        content_type=PROBLEM_TYPE,
        headers=headers,
    )


def blocker_json(blocker: Blocker) -> dict[str, Any]:
    """A blocking item as the 409 problems and completion checks list it."""
    return {"code": blocker.code, "message": blocker.message, "ref": blocker.ref}


def _domain_problem(exc: DomainError) -> web.Response:
    type_ = PROBLEMS + exc.code
    if isinstance(exc, NotFound):
        return problem_response(404, "Not found", exc.message, type_=type_)
    if isinstance(exc, Forbidden):
        return problem_response(403, "Forbidden", exc.message, type_=type_)
    if isinstance(exc, InvalidInput):
        return problem_response(
            422,
            "Invalid input",
            exc.message,
            type_=type_,
            errors=[{"pointer": p.pointer, "detail": p.message} for p in exc.problems],
        )
    if isinstance(exc, TransitionRefused):
        return problem_response(
            409,
            "Action refused",
            exc.message,
            type_=type_,
            blocking_items=[blocker_json(b) for b in exc.items],
        )
    if isinstance(exc, Conflict):
        return problem_response(
            409, "Conflict", exc.message, type_=type_, blocking_items=[]
        )
    return problem_response(400, "Refused", exc.message, type_=type_)


@web.middleware
async def problem_middleware(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Turn every error into problem+json; never leak a traceback."""
    try:
        return await handler(request)
    except DomainError as exc:
        return _domain_problem(exc)
    except HttpProblem as exc:
        return problem_response(exc.status, exc.title, exc.detail, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return problem_response(exc.status, exc.reason, headers=headers)
    except psycopg.errors.UniqueViolation as exc:
        log.info("unique violation: %s", exc.diag.constraint_name)
        return problem_response(
            409,
            "Conflict",
            "the record clashes with an existing one",
            blocking_items=[],
        )
    except psycopg.OperationalError:
        log.exception("database unavailable")
        return problem_response(
            503, "Service unavailable", "the database is unreachable"
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "Internal error", "the error was logged")


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "detail"],
                "properties": {
                    "pointer": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
        "blocking_items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "ref": {"type": ["string", "null"]},
                },
            },
        },
    },
}
