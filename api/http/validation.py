"""Request bodies: size and media-type limits, JSON Schema checks with pointers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import jsonschema_rs
from aiohttp import web

from api.http.problems import HttpProblem
from jobs_domain.errors import FieldProblem, InvalidInput

MAX_JSON_BYTES = 1024 * 1024  # a job with hundreds of line items is far below 1 MiB


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


def photo_json_bytes(max_photo_bytes: int) -> int:
    """The body limit of a JSON request carrying photos (base64, a third larger):
    one photo of the photo limit plus the usual room for the rest."""
    return 4 * -(-max_photo_bytes // 3) + MAX_JSON_BYTES


async def read_json(
    request: web.Request,
    schema: Mapping[str, Any],
    max_bytes: int = MAX_JSON_BYTES,
) -> Any:
    """The request body as JSON (at most ``max_bytes``), validated against ``schema``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise HttpProblem(413, "Payload too large", f"at most {max_bytes} bytes")
    if request.content_type != "application/json":
        raise HttpProblem(
            415, "Unsupported media type", "send the body as application/json"
        )
    raw = await request.read()
    if len(raw) > max_bytes:
        raise HttpProblem(413, "Payload too large", f"at most {max_bytes} bytes")
    try:
        data = json.loads(raw or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "the body is not valid JSON", [FieldProblem("/", "not valid JSON")]
        ) from exc
    nul = list(_nul_text(data, ()))
    if nul:
        # PostgreSQL text and jsonb cannot hold U+0000: refused here, not a 500 later.
        raise InvalidInput(
            "text with a NUL character",
            [FieldProblem(p or "/", "must not contain NUL characters") for p in nul],
        )
    validate(plain(data), schema)
    return data


def _nul_text(value: Any, path: tuple[str | int, ...]) -> Iterator[str]:
    """Pointers of the strings (and member names) in ``value`` that hold U+0000."""
    if isinstance(value, str):
        if "\x00" in value:
            yield _pointer(path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_text(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield _pointer((*path, key))
            else:
                yield from _nul_text(item, (*path, key))


def plain(value: Any) -> Any:
    """Decimals back to floats only for schema checks (types, ranges)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
