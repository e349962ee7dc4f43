"""Retention: drop whole chunks of fixes older than the horizon.

TimescaleDB's Apache edition has no retention policy (``add_retention_policy``
fails with FeatureNotSupported), so ``crewtrack retention`` runs this on a
schedule. Dropping whole one-day chunks is instant and leaves no bloat.
"""

from __future__ import annotations

import datetime as dt

import psycopg

RETAINED_HYPERTABLES = ("fixes",)
# Plain tables whose rows describe fixes: kept exactly as long as the fixes.
# Device events and visit records are kept: they are the job's own history.
RETAINED_TABLES = ("ingest_messages", "rejected_messages")
DELETE_BATCH = 10_000  # short transactions: the ingest keeps inserting meanwhile


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


def delete_expired_rows(
    conn: psycopg.Connection, horizon: dt.timedelta, *, now: dt.datetime | None = None
) -> int:
    """Delete provenance and rejected-message rows received before the horizon.

    Runs in batches of ``DELETE_BATCH`` rows, each its own transaction, so a
    large first run never holds locks for long. Returns the rows deleted.
    """
    cutoff = (now or dt.datetime.now(dt.UTC)) - horizon
    deleted = 0
    for table in RETAINED_TABLES:
        while True:
            with conn.transaction():
                cur = conn.execute(
                    f"DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} "
                    "WHERE received_at < %s LIMIT %s)",
                    (cutoff, DELETE_BATCH),
                )
            deleted += cur.rowcount
            if cur.rowcount < DELETE_BATCH:
                break
    return deleted
