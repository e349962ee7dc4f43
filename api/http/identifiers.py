"""Path ids (malformed ones are not found) and ETags with If-Match."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from aiohttp import web

from api.http.problems import HttpProblem
from jobs_domain.errors import FieldProblem, InvalidInput, NotFound


def uuid_or_404(value: str, what: str) -> str:
    """A path id: malformed ids are simply not found (nothing to validate publicly)."""
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise NotFound(f"{what} {value} not found") from exc


def uuid_or_invalid(value: str, pointer: str, hint: str = "must be a UUID") -> str:
    """An id the client chose or names in a body or query: malformed is 422 at ``pointer``."""
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise InvalidInput("bad id", [FieldProblem(pointer, hint)]) from exc


def query_uuid(query: Mapping[str, str], name: str) -> str | None:
    """An optional UUID query parameter (``?client_id=``), None when absent."""
    value = query.get(name)
    return None if value is None else uuid_or_invalid(value, f"/query/{name}")


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
