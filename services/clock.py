"""The one clock the use cases read (aware UTC), so they can be given another."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
