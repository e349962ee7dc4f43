"""Keyset pagination: opaque cursors, page limits and the page schema."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from aiohttp import web

from api.http.responses import dumps
from jobs_domain.errors import FieldProblem, InvalidInput

DEFAULT_PAGE = 50
MAX_PAGE = 200  # keeps one page's query and payload bounded
Row = TypeVar("Row")


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
