"""The operation registry: routes under ``/api/v1`` documented in OpenAPI 3.1.

A route module exposes ``setup(api: Api) -> None`` and registers each operation
with :meth:`Api.route`, which at once

* adds the aiohttp route under ``/api/v1``,
* documents the operation in the OpenAPI 3.1 document (request and response
  schemas, roles, the problem responses it can produce),
* authenticates the bearer token and checks the role,
* runs the handler in one database transaction (``ctx.conn``), and
* for creating POSTs (``idempotent=True``) honours ``Idempotency-Key``.

Handlers take a :class:`~api.http.context.Ctx` and return a response built with
:func:`~api.http.responses.json_ok`. They raise domain errors
(``jobs_domain.errors``) or :class:`~api.http.problems.HttpProblem`; the problem
middleware turns them into RFC 9457 ``application/problem+json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from api.http.context import (
    POOL,
    PREFIX,
    SETTINGS,
    Ctx,
    Handler,
    PublicHandler,
    authenticate,
)
from api.http.idempotency import run_idempotent
from api.http.problems import PROBLEM_SCHEMA, PROBLEM_TYPE
from jobs_domain.actors import ALL_ROLES, Role
from jobs_domain.errors import Forbidden


@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]


@dataclass
class Api:
    """Registers operations on the app and documents them in OpenAPI 3.1."""

    app: web.Application
    operations: list[Operation] = field(default_factory=list)
    schemas: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def schema(self, name: str, schema: Mapping[str, Any]) -> str:
        """Register a component schema; returns its ``$ref``."""
        self.schemas[name] = dict(schema)
        return f"#/components/schemas/{name}"

    def tag(self, name: str, description: str) -> None:
        self.tags[name] = description

    def route(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        summary: str,
        tag: str,
        roles: Sequence[Role] = ALL_ROLES,
        body: Mapping[str, Any] | None = None,
        body_required: bool = True,
        multipart: Mapping[str, Any] | None = None,
        query: Sequence[Mapping[str, Any]] = (),
        responses: Mapping[int, Mapping[str, Any] | None] | None = None,
        idempotent: bool = False,
        if_match: bool = False,
        conflicts: bool = False,
        description: str = "",
        content_type: str = "application/json",
        also: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Add one authenticated operation (``path`` is relative to ``/api/v1``).

        ``responses`` maps success statuses to a response schema (``None`` for no
        body) of ``content_type``; ``also`` adds other content types the 200
        answer may have (a query asking for CSV); the problem responses (401,
        403, 404, 422, and 409/412 when ``conflicts``/``if_match``) are
        documented automatically.
        """
        allowed = tuple(roles)
        has_body = body is not None or multipart is not None

        async def view(request: web.Request) -> web.StreamResponse:
            pool = request.app[POOL]
            async with pool.connection() as conn, conn.transaction():
                actor = await authenticate(request, conn)
                if actor.role not in allowed:
                    names = ", ".join(r.value for r in allowed)
                    raise Forbidden(f"this needs one of the roles: {names}")
                ctx = Ctx(request, conn, actor, request.app[SETTINGS])
                key = request.headers.get("Idempotency-Key")
                if idempotent and key is not None:
                    return await run_idempotent(ctx, key, handler)
                return await handler(ctx)

        self.app.router.add_route(method, PREFIX + path, view)
        self._document(
            method,
            path,
            summary=summary,
            tag=tag,
            roles=allowed,
            body=body,
            body_required=body_required,
            multipart=multipart,
            query=query,
            responses=responses or {200: None},
            idempotent=idempotent,
            if_match=if_match,
            conflicts=conflicts or has_body,
            description=description,
            public=False,
            content_type=content_type,
            also=also or {},
        )

    def public_route(
        self,
        method: str,
        path: str,
        handler: PublicHandler,
        *,
        summary: str,
        tag: str,
        responses: Mapping[int, Mapping[str, Any] | None],
        content_type: str = "application/json",
        description: str = "",
        body: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        problems: Sequence[int] = (),
    ) -> None:
        """Add an operation without a bearer token (health, OpenAPI, online view,
        online booking); the handler opens its own transaction if it needs one.
        ``problems`` adds problem statuses to those documented (e.g. 429)."""
        self.app.router.add_route(method, PREFIX + path, handler)
        self._document(
            method,
            path,
            summary=summary,
            tag=tag,
            roles=(),
            body=body,
            body_required=True,
            multipart=None,
            query=(),
            responses=responses,
            idempotent=idempotent,
            if_match=False,
            conflicts=body is not None,
            description=description,
            public=True,
            content_type=content_type,
            extra_problems=problems,
        )

    def _document(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        roles: Sequence[Role],
        body: Mapping[str, Any] | None,
        body_required: bool,
        multipart: Mapping[str, Any] | None,
        query: Sequence[Mapping[str, Any]],
        responses: Mapping[int, Mapping[str, Any] | None],
        idempotent: bool,
        if_match: bool,
        conflicts: bool,
        description: str,
        public: bool,
        content_type: str = "application/json",
        extra_problems: Sequence[int] = (),
        also: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(path)
        ]
        params += [dict(q) for q in query]
        if idempotent:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": "Replays the stored answer for the same body.",
                }
            )
        if if_match:
            params.append(
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "The ETag you read; a stale one gets 412.",
                }
            )
        op: dict[str, Any] = {
            "summary": summary,
            "tags": [tag],
            "operationId": f"{method.lower()}_{_op_name(path)}",
            "parameters": params,
            "responses": {},
        }
        if roles:
            names = ", ".join(r.value for r in roles)
            op["description"] = (description + f"\n\nRoles: {names}.").strip()
            op["x-roles"] = [r.value for r in roles]
        elif description:
            op["description"] = description
        if public:
            op["security"] = []
        if body is not None:
            op["requestBody"] = {
                "required": body_required,
                "content": {"application/json": {"schema": dict(body)}},
            }
        elif multipart is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": dict(multipart)}},
            }
        for status, schema in responses.items():
            entry: dict[str, Any] = {"description": _REASONS.get(status, "OK")}
            if schema is not None:
                entry["content"] = {content_type: {"schema": dict(schema)}}
                if status == 200:
                    for other, other_schema in (also or {}).items():
                        entry["content"][other] = {"schema": dict(other_schema)}
            if status in (200, 201) and if_match:
                entry["headers"] = {"ETag": {"schema": {"type": "string"}}}
            op["responses"][str(status)] = entry
        problems = [400, 404, 422]
        if not public:
            problems += [401, 403]
        if conflicts or idempotent:
            problems += [409, 413, 415]
        if if_match:
            problems.append(412)
        problems += [503, *extra_problems]
        for status in sorted(problems):
            problem: dict[str, Any] = {
                "description": _REASONS.get(status, "Problem"),
                "content": {
                    PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
            if status == 429:
                problem["headers"] = {"Retry-After": _RETRY_AFTER}
            op["responses"].setdefault(str(status), problem)
        self.operations.append(Operation(method.lower(), PREFIX + path, op))

    def openapi(self) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for operation in self.operations:
            paths.setdefault(operation.path, {})[operation.method] = operation.spec
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "crewtrack API",
                "version": "1.0.0",
                "description": "Jobs, estimates, bookings and job sessions. "
                "See docs/api.md for conventions.",
            },
            "servers": [{"url": "/"}],
            "security": [{"bearer": []}],
            "tags": [{"name": k, "description": v} for k, v in self.tags.items()],
            "paths": paths,
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "schemas": {"Problem": PROBLEM_SCHEMA, **self.schemas},
            },
        }


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Bad request (problem+json)",
    401: "Missing or unknown bearer token",
    403: "The role may not do this",
    404: "Not found (or not yours)",
    409: "Refused: the blocking items say why",
    412: "Stale If-Match",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input: the errors point at the fields",
    429: "Too many requests: retry after Retry-After seconds",
    503: "Database unavailable",
}


_RETRY_AFTER = {
    "description": "Seconds until the limit resets",
    "schema": {"type": "integer", "minimum": 1},
}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _op_name(path: str) -> str:
    parts = [p.strip("{}").replace("-", "_") for p in path.split("/") if p]
    return "_".join(parts) or "root"


API = web.AppKey("api", Api)
