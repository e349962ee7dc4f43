"""Typed field readers shared by the decoders; each raises ``Reject``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from core.messages import (
    BAD_DEVICE_ID,
    BAD_ENCODING,
    BAD_SHAPE,
    BAD_TYPE,
    MISSING_FIELD,
    NOT_FINITE,
    OVERSIZED,
    Reject,
    is_device_id,
)


def device_id(value: str) -> str:
    """Return ``value`` if it is a valid device id (the topic level / username)."""
    if not is_device_id(value):
        raise Reject(BAD_DEVICE_ID, value[:80])
    return value


def json_object(payload: bytes, max_bytes: int, what: str) -> dict[str, Any]:
    """A JSON object of at most ``max_bytes``; anything else is a rejection."""
    if len(payload) > max_bytes:
        raise Reject(OVERSIZED, str(len(payload)))
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise Reject(BAD_ENCODING, type(exc).__name__) from None
    if type(obj) is not dict:
        raise Reject(BAD_SHAPE, f"{what} is {type(obj).__name__}")
    return obj


def number(m: Mapping[str, Any], key: str) -> float:
    """A required finite number (int or float, never bool)."""
    v = m.get(key)
    if v is None:
        raise Reject(MISSING_FIELD, key)
    return _finite(v, key)


def opt_number(m: Mapping[str, Any], key: str) -> float | None:
    """An optional finite number; absent or null is None."""
    v = m.get(key)
    if v is None:
        return None
    return _finite(v, key)


def _finite(v: object, key: str) -> float:
    t = type(v)
    if t is float:
        if not math.isfinite(v):  # type: ignore[arg-type]
            raise Reject(NOT_FINITE, key)
        return v  # type: ignore[return-value]
    if t is int:
        f = float(v)  # type: ignore[arg-type]
        if not math.isfinite(f):
            raise Reject(NOT_FINITE, key)
        return f
    raise Reject(BAD_TYPE, f"{key}: {t.__name__}")


def integer(m: Mapping[str, Any], key: str) -> int:
    """A required int (never bool, never float)."""
    v = m.get(key)
    if v is None:
        raise Reject(MISSING_FIELD, key)
    if type(v) is not int:
        raise Reject(BAD_TYPE, f"{key}: {type(v).__name__}")
    return v


def text(m: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    """A string field."""
    v = m.get(key)
    if v is None:
        if required:
            raise Reject(MISSING_FIELD, key)
        return None
    if type(v) is not str:
        raise Reject(BAD_TYPE, f"{key}: {type(v).__name__}")
    return v
