"""Estimates and bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from jobs_domain.errors import Conflict, NotFound
from jobs_domain.estimates import Estimate, EstimateStatus
from jobs_domain.job import SiteContact
from storage.jobs import (
    contact_to_json,
    contains_pattern,
    line_item_from_json,
    line_item_to_json,
    note_from_json,
    note_to_json,
)

Conn = psycopg.AsyncConnection[Any]
_COLS = "id, number, client_id, property_id, status, doc, job_id, version, created_at"


async def next_number(conn: Conn) -> int:
    cur = await conn.execute("SELECT nextval('estimate_numbers')")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def _doc(e: Estimate) -> dict[str, Any]:
    return {
        "description": e.description,
        "site_contact": contact_to_json(e.site_contact),
        "line_items": [line_item_to_json(i) for i in e.line_items],
        "notes": [note_to_json(n) for n in e.notes],
        "approved_at": None if e.approved_at is None else e.approved_at.isoformat(),
        "approved_by": e.approved_by,
    }


def _from_row(row: Any) -> Estimate:
    eid, number, client_id, property_id, status, doc, job_id, version, created = row
    return Estimate(
        id=str(eid),
        number=number,
        client_id=str(client_id),
        property_id=None if property_id is None else str(property_id),
        status=EstimateStatus(status),
        description=doc["description"],
        site_contact=SiteContact(**doc["site_contact"]),
        line_items=[line_item_from_json(i) for i in doc["line_items"]],
        notes=[note_from_json(n) for n in doc["notes"]],
        approved_at=None
        if doc.get("approved_at") is None
        else datetime.fromisoformat(doc["approved_at"]),
        approved_by=doc.get("approved_by"),
        job_id=None if job_id is None else str(job_id),
        version=version,
        created_at=created,
    )


async def insert(conn: Conn, e: Estimate) -> None:
    await conn.execute(
        f"INSERT INTO estimates ({_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s)",
        (
            e.id,
            e.number,
            e.client_id,
            e.property_id,
            e.status.value,
            Jsonb(_doc(e)),
            e.job_id,
            e.created_at,
        ),
    )


async def update(conn: Conn, e: Estimate) -> None:
    cur = await conn.execute(
        "UPDATE estimates SET status = %s, doc = %s, job_id = %s, version = version + 1 "
        "WHERE id = %s AND version = %s",
        (e.status.value, Jsonb(_doc(e)), e.job_id, e.id, e.version),
    )
    if cur.rowcount != 1:
        raise Conflict("the estimate changed concurrently")
    e.version += 1


async def load(conn: Conn, estimate_id: str, *, for_update: bool = False) -> Estimate:
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(
        f"SELECT {_COLS} FROM estimates WHERE id = %s{lock}", (estimate_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"estimate {estimate_id} not found")
    return _from_row(row)


async def search(
    conn: Conn,
    *,
    status: str | None,
    after: int | None,
    limit: int,
    client_id: str | None = None,
    text: str | None = None,
    number: int | None = None,
) -> list[Estimate]:
    """Estimates by number after ``after``: of a status, of a client; ``text``:
    the client's name contains it, or (``number``, the text read as an estimate
    number) the estimate is that one."""
    cur = await conn.execute(
        f"SELECT {_COLS} FROM estimates WHERE (%s::text IS NULL OR status = %s) "
        "AND (%s::uuid IS NULL OR client_id = %s::uuid) "
        "AND (%s::text IS NULL OR number = %s OR EXISTS (SELECT 1 FROM clients c "
        "     WHERE c.id = client_id AND c.name ILIKE %s)) "
        "AND (%s::bigint IS NULL OR number > %s) ORDER BY number LIMIT %s",
        (
            status,
            status,
            client_id,
            client_id,
            text,
            number,
            None if text is None else contains_pattern(text),
            after,
            after,
            limit,
        ),
    )
    return [_from_row(r) for r in await cur.fetchall()]


async def insert_booking(
    conn: Conn,
    booking_id: str,
    client_id: str,
    request: dict[str, Any],
    job_id: str,
    reference: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO bookings (id, client_id, request, job_id, reference) "
        "VALUES (%s, %s, %s, %s, %s)",
        (booking_id, client_id, Jsonb(request), job_id, reference),
    )


_BOOKING = ("id", "client_id", "request", "job_id", "created_at", "reference")


async def load_booking(conn: Conn, booking_id: str) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {', '.join(_BOOKING)} FROM bookings WHERE id = %s", (booking_id,)
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"booking {booking_id} not found")
    return dict(zip(_BOOKING, row, strict=True))


async def awaiting_confirmation(conn: Conn, limit: int) -> list[dict[str, Any]]:
    """The bookings whose job is still Pending, the oldest first (``_BOOKING``)."""
    cols = ", ".join(f"b.{c}" for c in _BOOKING)
    cur = await conn.execute(
        f"SELECT {cols} FROM bookings b JOIN jobs j ON j.id = b.job_id "
        "WHERE j.status = 'pending' ORDER BY b.created_at, b.id LIMIT %s",
        (limit,),
    )
    return [dict(zip(_BOOKING, row, strict=True)) for row in await cur.fetchall()]


async def client_with_email(conn: Conn, email: str) -> str | None:
    """The oldest client with this e-mail (in any case), the one a booking joins."""
    cur = await conn.execute(
        "SELECT id FROM clients WHERE lower(email) = lower(%s) "
        "ORDER BY created_at, id LIMIT 1",
        (email,),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def property_at(
    conn: Conn, client_id: str, address: dict[str, Any]
) -> str | None:
    """The client's property with exactly this address, if it has one."""
    cur = await conn.execute(
        "SELECT id FROM properties WHERE client_id = %s AND address = %s "
        "ORDER BY created_at, id LIMIT 1",
        (client_id, Jsonb(address)),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def free_technician(conn: Conn, start: datetime, end: datetime) -> str | None:
    """A technician (first by name) with an active login and no live job overlapping
    ``start``–``end``; None when everyone is booked."""
    cur = await conn.execute(
        "SELECT t.id FROM technicians t JOIN users u ON u.id = t.user_id "
        "WHERE u.disabled_at IS NULL AND NOT EXISTS (SELECT 1 FROM jobs j "
        "WHERE t.id = ANY (j.technician_ids) "
        "AND j.status IN ('scheduled', 'in_progress', 'on_hold') "
        "AND j.scheduled_start < %s AND j.scheduled_end > %s) "
        "ORDER BY t.name, t.id LIMIT 1",
        (end, start),
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])
