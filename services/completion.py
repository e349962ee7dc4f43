"""Completing a job: every blocker, the job's own and those of the other modules.

The job knows its own blockers (status, Job Manager, required tasks); what the
job's report still lacks comes from :func:`services.reports.report_blockers`.
A module with more completion rules adds its call to :func:`other_blockers`.
``GET /jobs/{id}/completion-check`` and ``POST /jobs/{id}/complete`` ask the
same question inside their transaction, so they always agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from jobs_domain.actors import Actor
from jobs_domain.errors import Blocker
from jobs_domain.job import Job
from services.clock import now
from services.jobs import Check, load_visible
from services.reports import report_blockers
from storage import jobs as store

Conn = psycopg.AsyncConnection[Any]


async def other_blockers(conn: Conn, job: Job) -> list[Blocker]:
    """What other modules say blocks ``job``'s completion (they never write)."""
    return await report_blockers(conn, job)


async def blockers(conn: Conn, job: Job) -> list[Blocker]:
    """Everything that stops ``job`` completing now (empty: it may complete)."""
    return job.completion_blockers(await other_blockers(conn, job))


async def complete(
    conn: Conn, actor: Actor, job_id: str, *, check: Check, at: datetime | None = None
) -> Job:
    """In Progress → Completed, refused while anything blocks it; ``at`` is when
    (now unless a replayed day says otherwise, e.g. the demo's morning)."""
    job = await load_visible(conn, actor, job_id, for_update=True)
    check(job)
    job.complete(actor, at or now(), extra_blockers=await other_blockers(conn, job))
    await store.save(conn, job, now=now())
    return job
