"""Job sessions: clock events from the app (API) and from devices (MQTT).

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
from jobs_domain.errors import (
    Blocker,
    DomainError,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
)
from jobs_domain.job import Job, parse_job_number
from jobs_domain.sessions import DeviceEvent, Position, Session, SessionKind, Unplaced
from services.clock import Recorded, now
from services.jobs import canonical_id, note_arrival
from storage import job_sessions as events
from storage import jobs as job_store
from storage.job_sessions import RecordedEvent

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
    seen = await events.recorded(conn, source, event_id)
    if seen is None:
        return None
    return ClockOutcome(
        applied=seen.outcome in ("applied", "pending"),
        duplicate=True,
        code=seen.outcome,
        detail=seen.detail,
        job_id=seen.job_id,
        session_id=seen.session_id,
    )


async def _remember(
    conn: Conn, source: str, event_id: str, kind: SessionKind, outcome: ClockOutcome
) -> None:
    await events.remember(
        conn,
        source,
        event_id,
        kind.value,
        RecordedEvent(outcome.code, outcome.detail, outcome.job_id, outcome.session_id),
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
    received_at: datetime | None = None,
) -> Session | Unplaced:
    """Apply one clock event to a loaded (locked) job and save it.

    Clocking in ends the technician's session still open on another job (at
    the clock-in's time, automatically: their own clock-out, synced later,
    replaces it). Raises domain errors on refusal; the caller decides whether
    to record them. An event that does not fit yet comes back as ``Unplaced``.
    """
    if kind is SessionKind.CLOCK_IN:
        for other_id in await job_store.open_sessions_elsewhere(
            conn, technician_id, job.id
        ):
            other = await job_store.load(conn, other_id, for_update=True)
            if other.clock_out_for(actor, technician_id, at, job.display_number):
                await job_store.save(conn, other, now=at)
    result = job.session_event(
        actor,
        technician_id=technician_id,
        kind=kind,
        at=at,
        event_id=event_id,
        session_id=str(uuid.uuid4()),
        device_id=device_id,
        position=position,
    )
    note_arrival(job, Recorded(at, received_at or now(), event_id))
    await job_store.save(conn, job, now=at)
    await _remember(conn, source, event_id, kind, _outcome(job, result))
    return result


def _outcome(job: Job, result: Session | Unplaced) -> ClockOutcome:
    if isinstance(result, Unplaced):
        return ClockOutcome(True, False, "pending", result.reason, job.id, None)
    return ClockOutcome(True, False, "applied", "", job.id, result.id)


async def clock_from_app(
    conn: Conn,
    actor: Actor,
    job: Job,
    *,
    event_id: str,
    kind: SessionKind,
    technician_id: str | None,
    recorded: Recorded,
    device_id: str | None = None,
    position: Position | None = None,
) -> Session | Unplaced:
    """Clock in / pause / resume / clock out from the app, on a loaded (locked) job.

    A technician clocks only themselves; the office names the technician. The
    event happens now unless ``at`` says when (not later than the allowed skew).
    """
    if actor.is_technician:
        if technician_id not in (None, actor.technician_id):
            raise Forbidden("technicians clock only themselves in and out")
        technician_id = actor.technician_id
    elif technician_id is None:
        raise InvalidInput(
            "whom to clock", [FieldProblem("/technician_id", "required for office")]
        )
    else:
        technician_id = canonical_id(technician_id)
    assert technician_id is not None
    at = recorded.at
    return await apply_clock_event(
        conn,
        actor,
        received_at=recorded.received_at,
        source=f"api:{actor.user_id}",
        event_id=event_id,
        kind=kind,
        at=at,
        job=job,
        technician_id=technician_id,
        device_id=device_id,
        position=position,
    )


async def _device_actor(conn: Conn, device_id: str) -> Actor:
    owner = await events.device_owner(conn, device_id)
    if owner is None:
        raise NotFound(f"device {device_id} belongs to no technician")
    return Actor(
        user_id=owner.user_id,
        role=Role.TECHNICIAN,
        name=owner.name,
        technician_id=owner.technician_id,
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
    open_job = await events.open_session_job(conn, actor.technician_id)
    if open_job is None:
        raise TransitionRefused(
            "not clocked in",
            [Blocker("not-clocked-in", "no open session for this technician")],
        )
    return await job_store.load(conn, open_job, for_update=True)


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
            result = await apply_clock_event(
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
            return _outcome(job, result)
    except DomainError as exc:
        code = (
            exc.items[0].code
            if isinstance(exc, TransitionRefused) and exc.items
            else exc.code
        )
        outcome = ClockOutcome(False, False, code, exc.message, None, None)
        await _remember(conn, source, event.event_id, event.kind, outcome)
        return outcome
