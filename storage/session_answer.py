"""What the plain-words answer needs beyond the visit record: who, where, the
booked window and the labour billed (:mod:`core.answer` words it).

Billed hours are the labour lines of the job's live invoice when it has one
(issued, paid or draft; a void invoice does not bill), otherwise the job's
labour line items (hours added to the job, not invoiced yet), otherwise None.
They are the job's, not one session's: a job worked in several sessions bills
its hours once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from core.answer import Answer, summarize
from core.reconcile import Reconciliation
from core.visits import Visit


@dataclass(frozen=True)
class SessionFacts:
    technician: str
    site: str
    scheduled_start: dt.datetime | None
    scheduled_end: dt.datetime | None
    billed_hours: Decimal | None


_FACTS_SQL = """
SELECT t.name, p.address, j.scheduled_start, j.scheduled_end,
       (SELECT coalesce(sum((l->>'quantity')::numeric), 0)
          FROM invoices i, jsonb_array_elements(i.lines) l
         WHERE i.id = inv.id AND l->>'source' = 'labour'),
       inv.id IS NOT NULL,
       (SELECT sum(quantity) FROM job_parts WHERE job_id = j.id AND kind = 'labour')
  FROM job_sessions s
  JOIN jobs j ON j.id = s.job_id
  JOIN technicians t ON t.id = s.technician_id
  LEFT JOIN properties p ON p.id = j.property_id
  LEFT JOIN LATERAL (
        SELECT id FROM invoices
         WHERE job_id = j.id AND kind = 'invoice' AND status <> 'void'
         ORDER BY created_at DESC LIMIT 1) inv ON true
 WHERE s.id = %s
"""


def _site(address: Any) -> str:
    """The address's first line (``line1``; a legacy list's first part)."""
    if isinstance(address, list) and address:
        return str(address[0]) or "the site"
    if isinstance(address, dict):
        line = address.get("line1") or next((v for v in address.values() if v), "")
        return str(line) or "the site"
    return "the site"


def _facts(row: tuple[Any, ...] | None) -> SessionFacts | None:
    if row is None:
        return None
    name, address, start, end, invoiced, has_invoice, labour_items = row
    billed = invoiced if has_invoice else labour_items
    return SessionFacts(
        technician=name,
        site=_site(address),
        scheduled_start=start,
        scheduled_end=end,
        billed_hours=None if billed is None else Decimal(billed),
    )


def session_facts(conn: psycopg.Connection, session_id: str) -> SessionFacts | None:
    return _facts(conn.execute(_FACTS_SQL, (session_id,)).fetchone())


async def asession_facts(
    conn: psycopg.AsyncConnection, session_id: str
) -> SessionFacts | None:
    cur = await conn.execute(_FACTS_SQL, (session_id,))
    return _facts(await cur.fetchone())


def answer(
    facts: SessionFacts,
    visits: list[Visit],
    reconciliation: Reconciliation | None,
    session_state: str,
    zone: ZoneInfo,
    last_fix: dt.datetime | None = None,
) -> Answer:
    """The answer for a session from its stored record (``reconciliation``)."""
    return summarize(
        technician=facts.technician,
        site=facts.site,
        visits=visits,
        zone=zone,
        scheduled_start=facts.scheduled_start,
        scheduled_end=facts.scheduled_end,
        on_site_s=None if reconciliation is None else reconciliation.on_site_s,
        clocked_s=None if reconciliation is None else reconciliation.billed_s,
        billed_hours=facts.billed_hours,
        session_open=session_state != "closed",
        last_fix=last_fix,
    )
