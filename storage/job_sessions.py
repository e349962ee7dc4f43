"""Job sessions service: clock events from the app (API) and from devices (MQTT).

Both paths end in :func:`apply_clock_event`, so the rules are the same either
way, and both are idempotent on the event id: an event already applied (or
already refused) returns its first outcome again without touching the job.

The ingest stores each message on ``crewtrack/v1/<device_id>/event`` and, after
its commit, hands it to ``crewtrack.wiring.JobEventBridge``, which converts it to
a :class:`DeviceEvent` and calls :func:`apply_device_event` on its own
autocommit connection. That function opens the transaction itself, so a refused
event leaves the job untouched while its refusal is still recorded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from jobs_domain.actors import Actor, Role
from jobs_domain.errors import Blocker, DomainError, NotFound, TransitionRefused
from jobs_domain.job import Job, parse_job_number
from jobs_domain.sessions import DeviceEvent, Position, Session, SessionKind
from storage import jobs as job_store

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True)
class ClockOutcome:
    """What happened to one clock event."""

    applied: bool
    duplicate: bool
    code: str  # 'applied' or the refusal's code
    detail: str
    job_id: str | None
    session_id: str | None


async def _recorded(conn: Conn, source: str, event_id: str) -> ClockOutcome | None:
    cur = await conn.execute(
        "SELECT outcome, detail, job_id, session_id FROM session_events "
        "WHERE source = %s AND event_id = %s",
        (source, event_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return ClockOutcome(
        applied=row[0] == "applied",
        duplicate=True,
        code=row[0],
        detail=row[1],
        job_id=None if row[2] is None else str(row[2]),
        session_id=None if row[3] is None else str(row[3]),
    )


async def _remember(
    conn: Conn, source: str, event_id: str, kind: SessionKind, outcome: ClockOutcome
) -> None:
    await conn.execute(
        "INSERT INTO session_events (source, event_id, job_id, session_id, kind, "
        "outcome, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            source,
            event_id,
            outcome.job_id,
            outcome.session_id,
            kind.value,
            outcome.code,
            outcome.detail,
        ),
    )


async def apply_clock_event(
    conn: Conn,
    actor: Actor,
    *,
    source: str,
    event_id: str,
    kind: SessionKind,
    at: datetime,
    job: Job,
    technician_id: str,
    device_id: str | None = None,
    position: Position | None = None,
) -> Session:
    """Apply one clock event to a loaded (locked) job and save it.

    Raises domain errors on refusal; the caller decides whether to record them.
    """
    if kind is SessionKind.CLOCK_IN:
        elsewhere = await job_store.open_session_elsewhere(conn, technician_id, job.id)
        if elsewhere is not None:
            raise TransitionRefused(
                "the technician is clocked into another job",
                [
                    Blocker(
                        "clocked-in-elsewhere",
                        f"clock out of job J-{elsewhere[1]:06d} first",
                        elsewhere[0],
                    )
                ],
            )
    session = job.session_event(
        actor,
        technician_id=technician_id,
        kind=kind,
        at=at,
        event_id=event_id,
        session_id=str(uuid.uuid4()),
        device_id=device_id,
        position=position,
    )
    await job_store.save(conn, job, now=at)
    await _remember(
        conn,
        source,
        event_id,
        kind,
        ClockOutcome(True, False, "applied", "", job.id, session.id),
    )
    return session


async def _device_actor(conn: Conn, device_id: str) -> Actor:
    cur = await conn.execute(
        "SELECT u.id, u.name, t.id FROM devices d "
        "JOIN users u ON u.id = d.user_id "
        "JOIN technicians t ON t.user_id = u.id "
        "WHERE d.id = %s AND d.revoked_at IS NULL",
        (device_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"device {device_id} belongs to no technician")
    return Actor(
        user_id=str(row[0]),
        role=Role.TECHNICIAN,
        name=row[1],
        technician_id=str(row[2]),
        source=f"device {device_id}",
    )


async def _job_for_event(conn: Conn, actor: Actor, event: DeviceEvent) -> Job:
    if event.job_id:
        number = parse_job_number(event.job_id)
        if number is not None:
            return await job_store.load_by_number(conn, number, for_update=True)
        try:
            job_id = str(uuid.UUID(event.job_id))
        except ValueError as exc:
            raise NotFound(f"job {event.job_id} not found") from exc
        return await job_store.load(conn, job_id, for_update=True)
    if event.kind is SessionKind.CLOCK_IN:
        raise NotFound("a clock_in event must name its job")
    cur = await conn.execute(
        "SELECT job_id FROM job_sessions WHERE technician_id = %s AND state <> 'closed'",
        (actor.technician_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise TransitionRefused(
            "not clocked in",
            [Blocker("not-clocked-in", "no open session for this technician")],
        )
    return await job_store.load(conn, str(row[0]), for_update=True)


async def apply_device_event(
    conn: Conn, device_id: str, event: DeviceEvent
) -> ClockOutcome:
    """Apply a device's clock event with the app's rules; idempotent on its id.

    Never raises for a refused event: the refusal is recorded (so a redelivery
    gets the same answer) and returned with ``applied=False``.
    """
    source = f"device:{device_id}"
    seen = await _recorded(conn, source, event.event_id)
    if seen is not None:
        return seen
    try:
        async with conn.transaction():
            actor = await _device_actor(conn, device_id)
            job = await _job_for_event(conn, actor, event)
            job.ensure_visible(actor)
            assert actor.technician_id is not None
            session = await apply_clock_event(
                conn,
                actor,
                source=source,
                event_id=event.event_id,
                kind=event.kind,
                at=event.at,
                job=job,
                technician_id=actor.technician_id,
                device_id=device_id,
                position=event.position,
            )
            return ClockOutcome(True, False, "applied", "", job.id, session.id)
    except DomainError as exc:
        code = (
            exc.items[0].code
            if isinstance(exc, TransitionRefused) and exc.items
            else exc.code
        )
        outcome = ClockOutcome(False, False, code, exc.message, None, None)
        await _remember(conn, source, event.event_id, event.kind, outcome)
        return outcome
