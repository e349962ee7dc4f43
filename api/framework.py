"""The API's building blocks, shared by every route module.

A route module exposes ``setup(api: Api) -> None`` and registers each operation
with :meth:`Api.route`, which at once

* adds the aiohttp route under ``/api/v1``,
* documents the operation in the OpenAPI 3.1 document (request and response
  schemas, roles, the problem responses it can produce),
* authenticates the bearer token and checks the role,
* runs the handler in one database transaction (``ctx.conn``), and
* for creating POSTs (``idempotent=True``) honours ``Idempotency-Key``.

Handlers take a :class:`Ctx` and return a response built with :func:`json_ok`.
They raise domain errors (``jobs_domain.errors``) or :class:`HttpProblem`; the
problem middleware turns them into RFC 9457 ``application/problem+json``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

import jsonschema_rs
import psycopg
from aiohttp import web
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from crewtrack.settings import Settings
from jobs_domain.actors import ALL_ROLES, Actor, Role
from jobs_domain.errors import (
    Blocker,
    Conflict,
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
)
from storage.users import user_for_token

log = logging.getLogger("crewtrack.api")

PREFIX = "/api/v1"
SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", AsyncConnectionPool)

PROBLEM_TYPE = "application/problem+json"
MAX_JSON_BYTES = 1024 * 1024  # a job with hundreds of line items is far below 1 MiB
DEFAULT_PAGE = 50
MAX_PAGE = 200  # keeps one page's query and payload bounded

Row = TypeVar("Row")


# -- problems -------------------------------------------------------------------------


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
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """An RFC 9457 problem response."""
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
    type_ = f"https://crewtrack.dev/problems/{exc.code}"
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


# -- JSON -----------------------------------------------------------------------------


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(data: object) -> bytes:
    """JSON with exact decimals (as strings), ISO times and enum values."""
    return json.dumps(data, default=_default, ensure_ascii=False).encode()


def json_ok(
    data: object,
    status: int = 200,
    *,
    etag: str | None = None,
    location: str | None = None,
) -> web.Response:
    headers: dict[str, str] = {}
    if etag:
        headers["ETag"] = etag
    if location:
        headers["Location"] = location
    return web.Response(
        status=status,
        body=dumps(data),
        content_type="application/json",
        headers=headers,
    )


def no_content() -> web.Response:
    return web.Response(status=204)


# -- validation -------------------------------------------------------------------------


def _pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


_validators: dict[int, Any] = {}


def validate(instance: object, schema: Mapping[str, Any], prefix: str = "") -> None:
    """Raise ``InvalidInput`` listing every violation of ``schema``, with pointers."""
    key = id(schema)
    validator = _validators.get(key)
    if validator is None:
        # Formats (uuid, date-time) are checked too: a malformed id must be a
        # 422 with a pointer, not a database error.
        validator = jsonschema_rs.validator_for(dict(schema), validate_formats=True)
        _validators[key] = validator
    problems = []
    for error in validator.iter_errors(instance):
        pointer = prefix + _pointer(list(error.instance_path))
        problems.append(FieldProblem(pointer or "/", error.message))
    if problems:
        raise InvalidInput("the request does not match the schema", problems)


async def read_json(request: web.Request, schema: Mapping[str, Any]) -> Any:
    """The request body as JSON, validated against ``schema``."""
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise HttpProblem(413, "Payload too large", f"at most {MAX_JSON_BYTES} bytes")
    if request.content_type != "application/json":
        raise HttpProblem(
            415, "Unsupported media type", "send the body as application/json"
        )
    raw = await request.read()
    if len(raw) > MAX_JSON_BYTES:
        raise HttpProblem(413, "Payload too large", f"at most {MAX_JSON_BYTES} bytes")
    try:
        data = json.loads(raw or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "the body is not valid JSON", [FieldProblem("/", "not valid JSON")]
        ) from exc
    validate(plain(data), schema)
    return data


def plain(value: Any) -> Any:
    """Decimals back to floats only for schema checks (types, ranges)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


# -- pagination -------------------------------------------------------------------------


def encode_cursor(values: Sequence[object]) -> str:
    """An opaque cursor for keyset pagination (the last row's sort key)."""
    return base64.urlsafe_b64encode(dumps(list(values))).decode().rstrip("=")


def _bad_cursor() -> InvalidInput:
    return InvalidInput(
        "bad cursor", [FieldProblem("/query/cursor", "not a cursor from this API")]
    )


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, list):
        raise _bad_cursor()
    return values


def int_cursor(request: web.Request) -> int | None:
    """The integer sort key ``?cursor=`` resumes after (None: the first page)."""
    raw = request.query.get("cursor")
    if raw is None:
        return None
    values = decode_cursor(raw)
    if not values or not isinstance(values[0], int):
        raise _bad_cursor()
    return values[0]


def uuid_cursor(request: web.Request) -> str | None:
    """The id ``?cursor=`` resumes after (None: the first page)."""
    raw = request.query.get("cursor")
    if raw is None:
        return None
    values = decode_cursor(raw)
    try:
        return str(UUID(str(values[0])))
    except (IndexError, ValueError) as exc:
        raise _bad_cursor() from exc


def page_of(
    rows: list[Row], limit: int, key: Callable[[Row], object]
) -> tuple[list[Row], str | None]:
    """Rows fetched as ``limit + 1``: the page, and the cursor of the next (or None)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([key(rows[-1])])


def id_page(records: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """The body of a page of records ordered by ``id`` (fetched as ``limit + 1``)."""
    items, cursor = page_of(records, limit, lambda record: str(record["id"]))
    return {"items": items, "next_cursor": cursor}


def page_limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(
            "bad limit", [FieldProblem("/query/limit", f"must be 1..{MAX_PAGE}")]
        )
    return int(raw)


PAGINATION_PARAMS: list[dict[str, Any]] = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
    },
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]


def page_schema(item_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


# -- identifiers, etags -----------------------------------------------------------------


def uuid_or_404(value: str, what: str) -> str:
    """A path id: malformed ids are simply not found (nothing to validate publicly)."""
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise NotFound(f"{what} {value} not found") from exc


def make_etag(kind: str, record_id: object, version: int) -> str:
    return f'"{kind}-{record_id}-v{version}"'


def check_if_match(request: web.Request, current: str) -> None:
    """412 when ``If-Match`` names another version than the current one."""
    wanted = request.headers.get("If-Match")
    if wanted is None:
        return
    tags = [t.strip().removeprefix("W/") for t in wanted.split(",")]
    if "*" in tags or current in tags:
        return
    raise HttpProblem(
        412,
        "Precondition failed",
        "the record changed since you read it; fetch it again",
        current_etag=current,
    )


# -- the request context ------------------------------------------------------------------


@dataclass
class Ctx:
    """What a handler gets: the request, its transaction and who is acting."""

    request: web.Request
    conn: psycopg.AsyncConnection[Any]
    actor: Actor
    settings: Settings

    def path_id(self, name: str, what: str) -> str:
        return uuid_or_404(self.request.match_info[name], what)

    async def json(self, schema: Mapping[str, Any]) -> Any:
        return await read_json(self.request, schema)

    def check_if_match(self, current: str) -> None:
        check_if_match(self.request, current)


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]
PublicHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def authenticate(
    request: web.Request, conn: psycopg.AsyncConnection[Any]
) -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpProblem(401, "Unauthorized", "send Authorization: Bearer <token>")
    user = await user_for_token(conn, token.strip())
    if user is None:
        raise HttpProblem(401, "Unauthorized", "the token is unknown or revoked")
    role = Role(user.role)
    technician_id: str | None = None
    if role is Role.TECHNICIAN:
        cur = await conn.execute(
            "SELECT id FROM technicians WHERE user_id = %s", (user.id,)
        )
        row = await cur.fetchone()
        technician_id = str(row[0]) if row else None
    peer = request.remote or "unknown"
    return Actor(
        user_id=str(user.id),
        role=role,
        name=user.name,
        technician_id=technician_id,
        source=f"api {peer}",
    )


# -- idempotency ----------------------------------------------------------------------------


async def _idempotent(ctx: Ctx, key: str, handler: Handler) -> web.StreamResponse:
    """Same key + same body = the stored answer; same key + other body = 422."""
    if not 1 <= len(key) <= 200:
        raise InvalidInput(
            "bad Idempotency-Key",
            [FieldProblem("/headers/Idempotency-Key", "1..200 characters")],
        )
    body = await ctx.request.read()
    digest = hashlib.sha256(
        ctx.request.method.encode() + b" " + ctx.request.path.encode() + b"\n" + body
    ).hexdigest()
    await ctx.conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"{ctx.actor.user_id}:{key}",),
    )
    cur = await ctx.conn.execute(
        "SELECT request_sha256, status, body, headers FROM idempotency_keys "
        "WHERE user_id = %s AND key = %s",
        (ctx.actor.user_id, key),
    )
    row = await cur.fetchone()
    if row is not None:
        if row[0] != digest:
            raise InvalidInput(
                "Idempotency-Key was already used with a different request",
                [
                    FieldProblem(
                        "/headers/Idempotency-Key", "reused with a different body"
                    )
                ],
            )
        headers = dict(row[3])
        headers["Idempotent-Replayed"] = "true"
        return web.Response(
            status=row[1],
            body=row[2].encode(),
            content_type="application/json",
            headers=headers,
        )
    response = await handler(ctx)
    if isinstance(response, web.Response) and 200 <= response.status < 300:
        kept = {k: v for k, v in response.headers.items() if k in ("Location", "ETag")}
        await ctx.conn.execute(
            "INSERT INTO idempotency_keys "
            "(user_id, key, request_sha256, status, body, headers) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                ctx.actor.user_id,
                key,
                digest,
                response.status,
                (response.body or b"").decode()
                if isinstance(response.body, bytes)
                else "",
                Jsonb(kept),
            ),
        )
    return response


# -- the registry: routes + OpenAPI ----------------------------------------------------------


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
    ) -> None:
        """Add one authenticated operation (``path`` is relative to ``/api/v1``).

        ``responses`` maps success statuses to a response schema (``None`` for no
        body); the problem responses (401, 403, 404, 422, and 409/412 when
        ``conflicts``/``if_match``) are documented automatically.
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
                    return await _idempotent(ctx, key, handler)
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
    ) -> None:
        """Add an operation without a bearer token (health, OpenAPI, online view)."""
        self.app.router.add_route(method, PREFIX + path, handler)
        self._document(
            method,
            path,
            summary=summary,
            tag=tag,
            roles=(),
            body=None,
            body_required=False,
            multipart=None,
            query=(),
            responses=responses,
            idempotent=False,
            if_match=False,
            conflicts=False,
            description=description,
            public=True,
            content_type=content_type,
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
        problems.append(503)
        for status in sorted(problems):
            op["responses"].setdefault(
                str(status),
                {
                    "description": _REASONS.get(status, "Problem"),
                    "content": {
                        PROBLEM_TYPE: {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            )
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
    503: "Database unavailable",
}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _op_name(path: str) -> str:
    parts = [p.strip("{}").replace("-", "_") for p in path.split("/") if p]
    return "_".join(parts) or "root"


API = web.AppKey("api", Api)
