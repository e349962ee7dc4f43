"""Job repository: load and save the Job aggregate in PostgreSQL (psycopg 3, async).

Filterable fields are columns; the aggregate's parts live in ``jobs.doc``;
sessions have their own table (one open session per technician is a unique
index) and history is append-only in ``job_history``. Saves are optimistic:
``version`` must still be the one loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from jobs_domain.errors import Conflict, NotFound
from jobs_domain.job import (
    Attachment,
    AttachmentKind,
    Cancellation,
    CrewMember,
    CrewRole,
    Expense,
    HistoryEntry,
    Job,
    JobStatus,
    LineItem,
    LineItemKind,
    Note,
    NoteVisibility,
    SiteContact,
    Task,
)
from jobs_domain.sessions import Evidence, Position, Session, SessionKind, Unplaced

Conn = psycopg.AsyncConnection[Any]


# -- codecs ----------------------------------------------------------------------------


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def line_item_to_json(item: LineItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind.value,
        "description": item.description,
        "quantity": str(item.quantity),
        "unit_price": str(item.unit_price),
        "tax_rate": str(item.tax_rate),
        "price_book_item_id": item.price_book_item_id,
    }


def line_item_from_json(raw: dict[str, Any]) -> LineItem:
    return LineItem(
        id=raw["id"],
        kind=LineItemKind(raw["kind"]),
        description=raw["description"],
        quantity=Decimal(raw["quantity"]),
        unit_price=Decimal(raw["unit_price"]),
        tax_rate=Decimal(raw["tax_rate"]),
        price_book_item_id=raw.get("price_book_item_id"),
    )


def note_to_json(note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "visibility": note.visibility.value,
        "text": note.text,
        "author_id": note.author_id,
        "author_name": note.author_name,
        "created_at": note.created_at.isoformat(),
    }


def note_from_json(raw: dict[str, Any]) -> Note:
    return Note(
        id=raw["id"],
        visibility=NoteVisibility(raw["visibility"]),
        text=raw["text"],
        author_id=raw["author_id"],
        author_name=raw["author_name"],
        created_at=datetime.fromisoformat(raw["created_at"]),
    )


def contact_to_json(contact: SiteContact) -> dict[str, str]:
    return {
        "name": contact.name,
        "phone": contact.phone,
        "mobile": contact.mobile,
        "email": contact.email,
    }


def document(job: Job) -> dict[str, Any]:
    """The ``doc`` column of a job: everything not in a column of its own."""
    return {
        "description": job.description,
        "site_contact": contact_to_json(job.site_contact),
        "crew": [
            {"technician_id": m.technician_id, "role": m.role.value} for m in job.crew
        ],
        "line_items": [line_item_to_json(i) for i in job.line_items],
        "tasks": [
            {
                "id": t.id,
                "title": t.title,
                "required": t.required,
                "done": t.done,
                "done_by": t.done_by,
                "done_at": _iso(t.done_at),
                "changed_at": _iso(t.changed_at),
            }
            for t in job.tasks
        ],
        "expenses": [
            {
                "id": e.id,
                "description": e.description,
                "amount": str(e.amount),
                "created_by": e.created_by,
                "created_at": e.created_at.isoformat(),
                "receipt_attachment_id": e.receipt_attachment_id,
            }
            for e in job.expenses
        ],
        "attachments": [
            {
                "id": a.id,
                "kind": a.kind.value,
                "description": a.description,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "uploaded_by": a.uploaded_by,
                "uploaded_at": a.uploaded_at.isoformat(),
            }
            for a in job.attachments
        ],
        "notes": [note_to_json(n) for n in job.notes],
        "custom_fields": job.custom_fields,
        "hold_reason": job.hold_reason,
        "held_since": _iso(job.held_since),
        "unplaced_clock_events": [
            {
                "technician_id": u.technician_id,
                "evidence": _evidence_to_json(u.evidence),
                "reason": u.reason,
                "detail": u.detail,
            }
            for u in job.unplaced
        ],
        "cancellation": None
        if job.cancellation is None
        else {
            "by": job.cancellation.by,
            "by_name": job.cancellation.by_name,
            "at": job.cancellation.at.isoformat(),
            "reason": job.cancellation.reason,
        },
        "completed_at": _iso(job.completed_at),
        "completed_by": job.completed_by,
    }


def _evidence_to_json(e: Evidence) -> dict[str, Any]:
    return {
        "kind": e.kind.value,
        "at": e.at.isoformat(),
        "event_id": e.event_id,
        "device_id": e.device_id,
        "position": None
        if e.position is None
        else {
            "lat": e.position.lat,
            "lon": e.position.lon,
            "accuracy_m": e.position.accuracy_m,
        },
    }


def _evidence_from_json(raw: dict[str, Any], device_id: str | None = None) -> Evidence:
    """``device_id`` is the session's, for evidence stored before it kept its own."""
    pos = raw.get("position")
    return Evidence(
        kind=SessionKind(raw["kind"]),
        at=datetime.fromisoformat(raw["at"]),
        event_id=raw.get("event_id"),
        position=None
        if pos is None
        else Position(pos["lat"], pos["lon"], pos.get("accuracy_m")),
        device_id=raw.get("device_id", device_id),
    )


def _session_from_row(row: Sequence[Any]) -> Session:
    (sid, technician_id, device_id, state, clocked_in, clocked_out, intervals, ev) = row
    return Session(
        id=str(sid),
        technician_id=str(technician_id),
        device_id=device_id,
        state=state,
        clocked_in_at=clocked_in,
        clocked_out_at=clocked_out,
        intervals=tuple((_dt(a), _dt(b)) for a, b in intervals),  # type: ignore[misc]
        evidence=tuple(
            _evidence_from_json(e, device_id if i == 0 else None)
            for i, e in enumerate(ev)
        ),
    )


def _job_from_row(row: Sequence[Any], sessions: list[Session]) -> Job:
    (
        job_id,
        number,
        status,
        client_id,
        property_id,
        start,
        end,
        estimate_id,
        booking_id,
        doc,
        version,
        created_at,
    ) = row
    cancellation = doc.get("cancellation")
    return Job(
        id=str(job_id),
        number=number,
        status=JobStatus(status),
        client_id=str(client_id),
        property_id=None if property_id is None else str(property_id),
        scheduled_start=start,
        scheduled_end=end,
        estimate_id=None if estimate_id is None else str(estimate_id),
        booking_id=None if booking_id is None else str(booking_id),
        description=doc["description"],
        created_at=created_at,
        version=version,
        site_contact=SiteContact(**doc["site_contact"]),
        crew=[CrewMember(m["technician_id"], CrewRole(m["role"])) for m in doc["crew"]],
        line_items=[line_item_from_json(i) for i in doc["line_items"]],
        tasks=[
            Task(
                id=t["id"],
                title=t["title"],
                required=t["required"],
                done=t["done"],
                done_by=t["done_by"],
                done_at=_dt(t["done_at"]),
                changed_at=_dt(t.get("changed_at", t["done_at"])),
            )
            for t in doc["tasks"]
        ],
        expenses=[
            Expense(
                id=e["id"],
                description=e["description"],
                amount=Decimal(e["amount"]),
                created_by=e["created_by"],
                created_at=datetime.fromisoformat(e["created_at"]),
                receipt_attachment_id=e.get("receipt_attachment_id"),
            )
            for e in doc["expenses"]
        ],
        attachments=[
            Attachment(
                id=a["id"],
                kind=AttachmentKind(a["kind"]),
                description=a["description"],
                filename=a["filename"],
                content_type=a["content_type"],
                size=a["size"],
                sha256=a["sha256"],
                uploaded_by=a["uploaded_by"],
                uploaded_at=datetime.fromisoformat(a["uploaded_at"]),
            )
            for a in doc["attachments"]
        ],
        notes=[note_from_json(n) for n in doc["notes"]],
        custom_fields=dict(doc["custom_fields"]),
        hold_reason=doc.get("hold_reason"),
        held_since=_dt(doc.get("held_since")),
        unplaced=[
            Unplaced(
                u["technician_id"],
                _evidence_from_json(u["evidence"]),
                u["reason"],
                u["detail"],
            )
            for u in doc.get("unplaced_clock_events", [])
        ],
        cancellation=None
        if cancellation is None
        else Cancellation(
            by=cancellation["by"],
            by_name=cancellation["by_name"],
            at=datetime.fromisoformat(cancellation["at"]),
            reason=cancellation["reason"],
        ),
        completed_at=_dt(doc.get("completed_at")),
        completed_by=doc.get("completed_by"),
        sessions=sessions,
    )


_COLUMNS = (
    "id, number, status, client_id, property_id, scheduled_start, scheduled_end, "
    "estimate_id, booking_id, doc, version, created_at"
)


# -- repository ---------------------------------------------------------------------------


async def next_job_number(conn: Conn) -> int:
    cur = await conn.execute("SELECT nextval('job_numbers')")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _select(conn: Conn, where: str, args: Sequence[Any]) -> list[Job]:
    """The jobs matching ``where`` (SQL after WHERE), with their sessions."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE {where}", args)
    rows = await cur.fetchall()
    if not rows:
        return []
    sessions = await _sessions(conn, [str(row[0]) for row in rows])
    return [_job_from_row(row, sessions[str(row[0])]) for row in rows]


async def load(conn: Conn, job_id: str, *, for_update: bool = False) -> Job:
    """The job with its sessions; ``for_update`` locks it for this transaction."""
    lock = " FOR UPDATE" if for_update else ""
    found = await _select(conn, f"id = %s{lock}", (job_id,))
    if not found:
        raise NotFound(f"job {job_id} not found")
    return found[0]


async def load_by_number(conn: Conn, number: int, *, for_update: bool = False) -> Job:
    lock = " FOR UPDATE" if for_update else ""
    found = await _select(conn, f"number = %s{lock}", (number,))
    if not found:
        raise NotFound(f"job number {number} not found")
    return found[0]


async def _sessions(conn: Conn, job_ids: list[str]) -> dict[str, list[Session]]:
    """Each job's sessions in clock-in order, in one query for all the jobs."""
    cur = await conn.execute(
        "SELECT job_id, id, technician_id, device_id, state, clocked_in_at, "
        "clocked_out_at, intervals, evidence FROM job_sessions "
        "WHERE job_id = ANY (%s::uuid[]) ORDER BY clocked_in_at, id",
        (job_ids,),
    )
    found: dict[str, list[Session]] = {job_id: [] for job_id in job_ids}
    for row in await cur.fetchall():
        found[str(row[0])].append(_session_from_row(row[1:]))
    return found


async def save(conn: Conn, job: Job, *, now: datetime, new: bool = False) -> None:
    """Insert or update the job, its sessions and its new history entries."""
    values = (
        job.status.value,
        job.client_id,
        job.property_id,
        job.scheduled_start,
        job.scheduled_end,
        [m.technician_id for m in job.crew],
        Jsonb(document(job)),
        now,
    )
    if new:
        await conn.execute(
            "INSERT INTO jobs (status, client_id, property_id, scheduled_start, "
            "scheduled_end, technician_ids, doc, updated_at, id, number, estimate_id, "
            "booking_id, created_at, version) "
            "VALUES (%s, %s, %s, %s, %s, %s::uuid[], %s, %s, %s, %s, %s, %s, %s, 0)",
            (
                *values,
                job.id,
                job.number,
                job.estimate_id,
                job.booking_id,
                job.created_at,
            ),
        )
    else:
        cur = await conn.execute(
            "UPDATE jobs SET status = %s, client_id = %s, property_id = %s, "
            "scheduled_start = %s, scheduled_end = %s, technician_ids = %s::uuid[], "
            "doc = %s, updated_at = %s, version = version + 1 "
            "WHERE id = %s AND version = %s",
            (*values, job.id, job.version),
        )
        if cur.rowcount != 1:
            raise Conflict("the job changed concurrently; fetch it again")
        job.version += 1
    for session in job.sessions:
        await conn.execute(
            "INSERT INTO job_sessions (id, job_id, technician_id, device_id, state, "
            "clocked_in_at, clocked_out_at, intervals, evidence) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, "
            "clocked_out_at = EXCLUDED.clocked_out_at, "
            "intervals = EXCLUDED.intervals, evidence = EXCLUDED.evidence",
            (
                session.id,
                job.id,
                session.technician_id,
                session.device_id,
                session.state,
                session.clocked_in_at,
                session.clocked_out_at,
                Jsonb([[_iso(a), _iso(b)] for a, b in session.intervals]),
                Jsonb([_evidence_to_json(e) for e in session.evidence]),
            ),
        )
    await append_history(conn, job.id, job.new_history)
    job.new_history = []


async def append_history(
    conn: Conn, job_id: str, entries: Sequence[HistoryEntry]
) -> None:
    for entry in entries:
        await conn.execute(
            "INSERT INTO job_history (job_id, at, actor_id, actor_name, actor_role, "
            "action, details, source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                job_id,
                entry.at,
                entry.actor_id,
                entry.actor_name,
                entry.actor_role,
                entry.action,
                Jsonb(_jsonable(entry.details)),
                entry.source,
            ),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


async def history(
    conn: Conn, job_id: str, *, after: int, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT id, at, actor_id, actor_name, actor_role, action, details, source "
        "FROM job_history WHERE job_id = %s AND id > %s ORDER BY id LIMIT %s",
        (job_id, after, limit),
    )
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


def contains_pattern(text: str) -> str:
    """An ILIKE pattern for "contains ``text``" (its ``%``, ``_`` and ``\\`` literal)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(
    conn: Conn,
    *,
    technician_id: str | None,
    status: Sequence[str],
    client_id: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    after_number: int | None,
    limit: int,
    only_technician: str | None,
    team: str | None = None,
    text: str | None = None,
    number: int | None = None,
) -> list[Job]:
    """Jobs matching the filters, by job number, one page (keyset after a number).

    ``team``: a crew member is in that team; ``text``: the client's name
    contains it, or (with ``number``, the text read as a job number) the job is
    that one.
    """
    where = ["true"]
    args: list[Any] = []
    if team is not None:
        where.append(
            "EXISTS (SELECT 1 FROM technicians t "
            "WHERE t.id = ANY (technician_ids) AND t.team = %s)"
        )
        args.append(team)
    if text is not None:
        where.append(
            "(number = %s OR EXISTS (SELECT 1 FROM clients c "
            "WHERE c.id = client_id AND c.name ILIKE %s))"
        )
        args += [number, contains_pattern(text)]
    if only_technician is not None:
        where.append("%s::uuid = ANY (technician_ids)")
        args.append(only_technician)
    if technician_id is not None:
        where.append("%s::uuid = ANY (technician_ids)")
        args.append(technician_id)
    if status:
        where.append("status = ANY (%s)")
        args.append(list(status))
    if client_id is not None:
        where.append("client_id = %s")
        args.append(client_id)
    if date_from is not None:
        where.append("scheduled_end >= %s")
        args.append(date_from)
    if date_to is not None:
        where.append("scheduled_start < %s")
        args.append(date_to)
    if after_number is not None:
        where.append("number > %s")
        args.append(after_number)
    return await _select(
        conn, f"{' AND '.join(where)} ORDER BY number LIMIT %s", (*args, limit)
    )


async def open_sessions_elsewhere(
    conn: Conn, technician_id: str, job_id: str
) -> list[str]:
    """The other jobs this technician is clocked into (ids, in id order: the
    order every caller locks them in)."""
    cur = await conn.execute(
        "SELECT DISTINCT job_id FROM job_sessions "
        "WHERE technician_id = %s AND state <> 'closed' AND job_id <> %s "
        "ORDER BY job_id",
        (technician_id, job_id),
    )
    return [str(row[0]) for row in await cur.fetchall()]


async def overlapping_bookings(
    conn: Conn,
    technician_ids: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    other_than: str,
) -> list[tuple[str, str, int]]:
    """(technician id, job id, job number) of the technicians' other live jobs
    (scheduled, in progress, on hold) whose window overlaps ``start``–``end``."""
    cur = await conn.execute(
        "SELECT t.id, j.id, j.number FROM jobs j "
        "JOIN unnest(%s::uuid[]) AS t(id) ON t.id = ANY (j.technician_ids) "
        "WHERE j.id <> %s AND j.status IN ('scheduled', 'in_progress', 'on_hold') "
        "AND j.scheduled_start < %s AND j.scheduled_end > %s "
        "ORDER BY j.number, t.id",
        (list(technician_ids), other_than, end, start),
    )
    return [(str(r[0]), str(r[1]), int(r[2])) for r in await cur.fetchall()]


async def hourly_costs(conn: Conn, technician_ids: Sequence[str]) -> dict[str, Decimal]:
    cur = await conn.execute(
        "SELECT id, hourly_cost FROM technicians WHERE id = ANY (%s::uuid[])",
        (list(technician_ids),),
    )
    return {str(r[0]): r[1] for r in await cur.fetchall()}


# -- the change feed ------------------------------------------------------------------------------


async def oldest_running_xid(conn: Conn) -> int:
    """The oldest transaction still running: every change below it is committed."""
    cur = await conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def changed_since(
    conn: Conn,
    *,
    floor: int,
    after: tuple[int, str] | None,
    technician_id: str | None,
    limit: int,
) -> list[tuple[int, Job]]:
    """Jobs changed by a transaction from ``floor`` on, in change order after the
    keyset ``after``; a technician's are their crew's jobs and the ones they were
    taken off (so their app can drop them). Each with the change's transaction."""
    where = ["changed_xid >= %s::text::xid8"]
    args: list[Any] = [str(floor)]
    if after is not None:
        where.append("(changed_xid, id) > (%s::text::xid8, %s::uuid)")
        args += [str(after[0]), after[1]]
    if technician_id is not None:
        where.append(
            "(technician_ids @> ARRAY[%s]::uuid[] OR EXISTS (SELECT 1 FROM job_history h "
            "WHERE h.job_id = jobs.id AND h.action = 'crew_removed' "
            "AND h.details->>'technician_id' = %s))"
        )
        args += [technician_id, technician_id]
    cur = await conn.execute(
        f"SELECT id, changed_xid::text FROM jobs WHERE {' AND '.join(where)} "
        "ORDER BY changed_xid, id LIMIT %s",
        (*args, limit),
    )
    marks = [(str(row[0]), int(row[1])) for row in await cur.fetchall()]
    if not marks:
        return []
    jobs = {
        j.id: j
        for j in await _select(conn, "id = ANY(%s::uuid[])", ([m[0] for m in marks],))
    }
    return [(xid, jobs[job_id]) for job_id, xid in marks]
