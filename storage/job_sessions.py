"""Clock-event records: what each clock event (by source and event id) came to,
and the lookups the device path needs (a device's technician, their open job).

The rules live in :mod:`services.sessions`; the sessions themselves are saved
with their job (:mod:`storage.jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True)
class RecordedEvent:
    """A clock event's first outcome: ``'applied'`` or the refusal's code."""

    outcome: str
    detail: str
    job_id: str | None
    session_id: str | None


@dataclass(frozen=True)
class DeviceOwner:
    """The technician a (not revoked) device belongs to."""

    user_id: str
    name: str
    technician_id: str


async def recorded(conn: Conn, source: str, event_id: str) -> RecordedEvent | None:
    cur = await conn.execute(
        "SELECT outcome, detail, job_id, session_id FROM session_events "
        "WHERE source = %s AND event_id = %s",
        (source, event_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return RecordedEvent(
        outcome=row[0],
        detail=row[1],
        job_id=None if row[2] is None else str(row[2]),
        session_id=None if row[3] is None else str(row[3]),
    )


async def remember(
    conn: Conn, source: str, event_id: str, kind: str, event: RecordedEvent
) -> None:
    await conn.execute(
        "INSERT INTO session_events (source, event_id, job_id, session_id, kind, "
        "outcome, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            source,
            event_id,
            event.job_id,
            event.session_id,
            kind,
            event.outcome,
            event.detail,
        ),
    )


async def device_owner(conn: Conn, device_id: str) -> DeviceOwner | None:
    cur = await conn.execute(
        "SELECT u.id, u.name, t.id FROM devices d "
        "JOIN users u ON u.id = d.user_id "
        "JOIN technicians t ON t.user_id = u.id "
        "WHERE d.id = %s AND d.revoked_at IS NULL",
        (device_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return DeviceOwner(str(row[0]), row[1], str(row[2]))


async def open_session_job(conn: Conn, technician_id: str | None) -> str | None:
    """The job the technician is clocked into, if any (the latest clock-in's)."""
    cur = await conn.execute(
        "SELECT job_id FROM job_sessions WHERE technician_id = %s AND state <> 'closed' "
        "ORDER BY clocked_in_at DESC LIMIT 1",
        (technician_id,),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])
