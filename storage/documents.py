"""Domain records as JSON documents for ``jsonb`` columns (storage's own shape).

A frozen dataclass becomes an object of its fields by name; enums their value,
datetimes ISO 8601, decimals exact strings, tuples arrays. Readers rebuild the records explicitly (the
repositories know the types), so the document shape is storage's own, not the
API's.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any


def to_document(value: Any) -> Any:
    """``value`` as plain JSON data, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_document(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact, as a JSON string
    if isinstance(value, tuple | list):
        return [to_document(v) for v in value]
    return value
