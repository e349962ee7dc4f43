"""JSON responses: exact decimals as strings, ISO times, enum values."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID

from aiohttp import web


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
