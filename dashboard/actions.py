"""Every change the dashboard makes, through the same services (and rules) as the API.

The day board assigns, reschedules and reassigns jobs. Each action runs the
service function the API's handler runs (``services.jobs``), in one
transaction, with the logged-in dashboard user as the actor, so the Job Manager
rule, window checks and the double-booking warning (or refusal, when
``CREWTRACK_REFUSE_DOUBLE_BOOKING`` says so) are the API's own. The dashboard is
synchronous (waitress threads); each action is one short asyncio run on its
own connection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from crewtrack.settings import Settings
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import Conflict, DomainError, InvalidInput, TransitionRefused
from jobs_domain.job import CrewRole, Job, JobStatus
from services import jobs as service
from services.jobs import DoubleBooking


@dataclass(frozen=True)
class Outcome:
    """What a board action did: a sentence for the dispatcher, and warnings."""

    ok: bool
    message: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class BoardChange:
    """The form of the day board: a job, who should do it, when."""

    job_id: str
    seen_version: int  # the version the board showed: a newer one is refused
    technician_id: str | None
    start: datetime
    end: datetime
    reason: str = ""


class Actions:
    """The dashboard's writes, for one app (its settings)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def plan(self, user_id: str, name: str, role: str, change: BoardChange) -> Outcome:
        """Schedule a pending job, or move a scheduled one (window, Job Manager)."""
        try:
            actor = Actor(user_id, Role(role), name, None, "dashboard")
            return asyncio.run(self._plan(actor, change))
        except DomainError as exc:
            return Outcome(False, _refusal(exc))
        except ValueError as exc:
            return Outcome(False, str(exc))

    async def _plan(self, actor: Actor, change: BoardChange) -> Outcome:
        s = self.settings

        def unchanged_since_shown(job: Job) -> None:
            if job.version != change.seen_version:
                raise Conflict(
                    "the job changed since the board showed it; look again and retry"
                )

        async with (
            await psycopg.AsyncConnection.connect(s.database_url) as conn,
            conn.transaction(),
        ):
            job = await service.load_visible(conn, actor, change.job_id)
            unchanged_since_shown(job)
            clashes: list[DoubleBooking] = []
            done: list[str] = []
            if job.status is JobStatus.PENDING:
                job, clashes = await service.schedule(
                    conn,
                    actor,
                    change.job_id,
                    start=change.start,
                    end=change.end,
                    technician_id=change.technician_id,
                    refuse_double_booking=s.refuse_double_booking,
                    check=unchanged_since_shown,
                )
                done.append("scheduled")
            else:
                if (job.scheduled_start, job.scheduled_end) != (
                    change.start,
                    change.end,
                ):
                    job, clashes = await service.reschedule(
                        conn,
                        actor,
                        change.job_id,
                        start=change.start,
                        end=change.end,
                        reason=change.reason or "rescheduled on the day board",
                        technicians_may_reschedule=s.technician_can_reschedule,
                        refuse_double_booking=s.refuse_double_booking,
                        check=unchanged_since_shown,
                    )
                    done.append("rescheduled")
                old = job.job_manager
                if change.technician_id and change.technician_id != old:
                    job, clashes = await self._reassign(
                        conn, actor, job, change.technician_id, old
                    )
                    done.append("reassigned")
            if not done:
                return Outcome(True, "Nothing to change.")
        number = job.display_number
        return Outcome(
            True,
            f"{number} {' and '.join(done)}.",
            tuple(c.message for c in clashes),
        )

    async def _reassign(
        self, conn: Any, actor: Actor, job: Job, new: str, old: str | None
    ) -> tuple[Job, list[DoubleBooking]]:
        """The new technician becomes Job Manager; the old one leaves the crew
        (unless clocked in: then they stay as auxiliary)."""
        s = self.settings
        job, clashes = await service.assign(
            conn,
            actor,
            job.id,
            new,
            CrewRole.JOB_MANAGER,
            refuse_double_booking=s.refuse_double_booking,
            check=lambda _job: None,
        )
        if old is not None and job.open_session_of(old) is None:
            await service.remove(
                conn,
                actor,
                job.id,
                service.Removable.CREW_MEMBER,
                old,
                check=lambda _job: None,
            )
            job = await service.load_visible(conn, actor, job.id)
        return job, clashes


def _refusal(exc: DomainError) -> str:
    details = ""
    if isinstance(exc, TransitionRefused):
        details = "; ".join(b.message for b in exc.items)
    elif isinstance(exc, InvalidInput):
        details = "; ".join(p.message for p in exc.problems)
    return f"Not changed: {exc.message}" + (f" ({details})" if details else "")
