"""Retention: drop whole chunks of fixes older than the horizon.

TimescaleDB's Apache edition has no retention policy (``add_retention_policy``
fails with FeatureNotSupported), so ``crewtrack retention`` runs this on a
schedule. Dropping whole one-day chunks is instant and leaves no bloat.
"""

from __future__ import annotations

import datetime as dt

import psycopg

RETAINED_HYPERTABLES = ("fixes",)


def drop_expired_chunks(
    conn: psycopg.Connection, horizon: dt.timedelta, *, now: dt.datetime | None = None
) -> list[str]:
    """Drop chunks entirely older than ``now - horizon``; return their names."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - horizon
    dropped: list[str] = []
    for table in RETAINED_HYPERTABLES:
        rows = conn.execute(
            "SELECT drop_chunks(%s::regclass, older_than => %s::timestamptz)",
            (table, cutoff),
        ).fetchall()
        dropped += [str(r[0]) for r in rows]
    return dropped
