"""What changed for an app's jobs since its cursor: the pull half of offline sync.

An app that was offline pushes its outbox (each write with its client id and
``recorded_at``, in any order) and then pulls :func:`changes` until
``has_more`` is false, keeping the returned cursor for next time. A job comes
whole (with its report and parts, see ``api.sync``), so the app replaces its
local copy; a job may come twice, never not at all.

The cursor is opaque to the app. Inside, it is the oldest transaction that was
still running when the previous pull began (changes below it are all
committed and were sent), plus, while a pull pages, the new floor and the last
job sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from jobs_domain.actors import Actor
from jobs_domain.errors import FieldProblem, InvalidInput, NotFound
from jobs_domain.job import Job
from jobs_domain.report import Report
from services import parts, reports
from storage import jobs as store

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True)
class Cursor:
    floor: int = 0
    next_floor: int | None = None
    after: tuple[int, str] | None = None

    def encode(self) -> str:
        if self.next_floor is None or self.after is None:
            return str(self.floor)
        return f"{self.floor}.{self.next_floor}.{self.after[0]}.{self.after[1]}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor:
        if not raw:
            return cls()
        try:
            parts = raw.split(".")
            if len(parts) == 1:
                return cls(int(parts[0]))
            floor, next_floor, xid, job_id = parts
            return cls(int(floor), int(next_floor), (int(xid), job_id))
        except ValueError as exc:
            raise InvalidInput(
                "bad cursor", [FieldProblem("/query/since", "a cursor this API gave")]
            ) from exc


@dataclass(frozen=True)
class JobState:
    """A job whole: the record, its report (if it has one), its parts."""

    job: Job
    report: Report | None
    parts: parts.JobParts


@dataclass(frozen=True)
class Changes:
    """One page of changed jobs; ``removed`` are ones the actor may no longer see."""

    jobs: list[JobState]
    removed: list[str]
    cursor: str
    has_more: bool


async def changes(conn: Conn, actor: Actor, since: str | None, limit: int) -> Changes:
    cursor = Cursor.decode(since)
    next_floor = (
        cursor.next_floor
        if cursor.next_floor is not None
        else await store.oldest_running_xid(conn)
    )
    rows = await store.changed_since(
        conn,
        floor=cursor.floor,
        after=cursor.after,
        technician_id=actor.technician_id if actor.is_technician else None,
        limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    if more:
        xid, last = page[-1]
        cursor = Cursor(cursor.floor, next_floor, (xid, last.id))
    else:
        cursor = Cursor(next_floor)
    jobs = [job for _, job in page]
    return Changes(
        jobs=[await _state(conn, j) for j in jobs if j.visible_to(actor)],
        removed=[j.id for j in jobs if not j.visible_to(actor)],
        cursor=cursor.encode(),
        has_more=more,
    )


async def _state(conn: Conn, job: Job) -> JobState:
    try:
        report: Report | None = await reports.load_report(conn, job)
    except NotFound:
        report = None
    return JobState(job, report, await parts.job_parts(conn, job))
