"""Invoices and credit notes, their gapless counters, and processed Stripe events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from jobs_domain.errors import Conflict
from jobs_domain.invoicing import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineSource,
    next_sequence,
)
from storage.documents import to_document

Conn = psycopg.AsyncConnection[Any]

_COLUMNS = (
    "id, kind, job_id, client_id, client_name, client_email, status, currency, year, "
    "seq, lines, public_notes, version, credits_invoice_id, payment_ref, created_at, "
    "issued_at, paid_at, voided_at, row_version, payment_session_id, payment_url, "
    "emailed_at"
)


def _line(data: dict[str, Any]) -> InvoiceLine:
    return InvoiceLine(
        data["description"],
        Decimal(data["quantity"]),
        Decimal(data["unit_price"]),
        Decimal(data["tax_rate"]),
        LineSource(data["source"]),
        data["source_ref"],
        tuple(data["serials"]),
        data.get("credits_line"),
    )


class StoredInvoice:
    """An invoice plus the delivery facts kept beside it."""

    def __init__(self, invoice: Invoice, row: dict[str, Any]) -> None:
        self.invoice = invoice
        self.row_version: int = row["row_version"]
        self.payment_session_id: str | None = row["payment_session_id"]
        self.payment_url: str | None = row["payment_url"]
        self.emailed_at: datetime | None = row["emailed_at"]


def _invoice(row: dict[str, Any]) -> StoredInvoice:
    invoice = Invoice(
        id=str(row["id"]),
        kind=InvoiceKind(row["kind"]),
        job_id=str(row["job_id"]) if row["job_id"] else None,
        client_id=str(row["client_id"]),
        client_name=row["client_name"],
        client_email=row["client_email"],
        lines=tuple(_line(x) for x in row["lines"]),
        public_notes=tuple(row["public_notes"]),
        status=InvoiceStatus(row["status"]),
        currency=row["currency"],
        year=row["year"],
        seq=row["seq"],
        created_at=row["created_at"],
        issued_at=row["issued_at"],
        paid_at=row["paid_at"],
        voided_at=row["voided_at"],
        payment_ref=row["payment_ref"],
        credits_invoice_id=str(row["credits_invoice_id"])
        if row["credits_invoice_id"]
        else None,
        version=row["version"],
    )
    return StoredInvoice(invoice, row)


async def _select(
    conn: Conn, where: str, params: tuple[Any, ...]
) -> list[StoredInvoice]:
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM invoices WHERE {where}", params)
    names = [d.name for d in cur.description or []]
    return [_invoice(dict(zip(names, r, strict=True))) for r in await cur.fetchall()]


async def get_invoice(
    conn: Conn, invoice_id: str, *, for_update: bool = False
) -> StoredInvoice | None:
    found = await _select(
        conn, "id = %s" + (" FOR UPDATE" if for_update else ""), (invoice_id,)
    )
    return found[0] if found else None


async def live_invoice_of_job(conn: Conn, job_id: str) -> StoredInvoice | None:
    found = await _select(
        conn,
        "job_id = %s AND kind = 'invoice' AND NOT (status = 'void' AND seq IS NULL) "
        "FOR UPDATE",
        (job_id,),
    )
    return found[0] if found else None


async def list_invoices(
    conn: Conn,
    *,
    client_id: str | None = None,
    job_id: str | None = None,
    statuses: Sequence[str] = (),
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[StoredInvoice]:
    """Newest first; each filter left empty filters nothing (``created_to`` is
    exclusive)."""
    where: list[str] = ["true"]
    params: list[Any] = []
    for clause, value in (
        ("client_id = %s", client_id),
        ("job_id = %s", job_id),
        ("status = ANY (%s)", list(statuses) or None),
        ("created_at >= %s", created_from),
        ("created_at < %s", created_to),
    ):
        if value:
            where.append(clause)
            params.append(value)
    return await _select(
        conn,
        " AND ".join(where) + " ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
        (*params, limit, offset),
    )


async def credit_notes_of(conn: Conn, invoice_id: str) -> list[StoredInvoice]:
    """The credit notes against an invoice, oldest first."""
    return await _select(
        conn,
        "credits_invoice_id = %s AND kind = 'credit_note' ORDER BY created_at, id",
        (invoice_id,),
    )


async def insert_invoice(conn: Conn, invoice: Invoice) -> None:
    t = invoice.totals
    await conn.execute(
        "INSERT INTO invoices (id, kind, job_id, client_id, client_name, client_email, "
        "status, currency, lines, public_notes, net, tax, gross, version, "
        "credits_invoice_id, created_at, year, seq, issued_at) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            invoice.id,
            invoice.kind.value,
            invoice.job_id,
            invoice.client_id,
            invoice.client_name,
            invoice.client_email,
            invoice.status.value,
            invoice.currency,
            Jsonb(to_document(invoice.lines)),
            Jsonb(list(invoice.public_notes)),
            t.net,
            t.tax,
            t.gross,
            invoice.version,
            invoice.credits_invoice_id,
            invoice.created_at,
            invoice.year,
            invoice.seq,
            invoice.issued_at,
        ),
    )


async def save_invoice(conn: Conn, stored: StoredInvoice) -> None:
    """Write an invoice back (optimistic on its row version)."""
    invoice = stored.invoice
    t = invoice.totals
    cur = await conn.execute(
        "UPDATE invoices SET status = %s, year = %s, seq = %s, lines = %s, "
        "public_notes = %s, net = %s, tax = %s, gross = %s, version = %s, "
        "payment_ref = %s, issued_at = %s, paid_at = %s, voided_at = %s, "
        "payment_session_id = %s, payment_url = %s, emailed_at = %s, "
        "row_version = row_version + 1 WHERE id = %s AND row_version = %s",
        (
            invoice.status.value,
            invoice.year,
            invoice.seq,
            Jsonb(to_document(invoice.lines)),
            Jsonb(list(invoice.public_notes)),
            t.net,
            t.tax,
            t.gross,
            invoice.version,
            invoice.payment_ref,
            invoice.issued_at,
            invoice.paid_at,
            invoice.voided_at,
            stored.payment_session_id,
            stored.payment_url,
            stored.emailed_at,
            invoice.id,
            stored.row_version,
        ),
    )
    if cur.rowcount != 1:
        raise Conflict("the invoice changed meanwhile; fetch it again")
    stored.row_version += 1


async def take_next_number(conn: Conn, kind: InvoiceKind, year: int) -> int:
    """The next number of (kind, year), locked until this transaction ends.

    A rolled-back issue releases its number, so the series has no gaps.
    """
    await conn.execute(
        "INSERT INTO invoice_counters (kind, year, last_seq) VALUES (%s, %s, 0) "
        "ON CONFLICT DO NOTHING",
        (kind.value, year),
    )
    cur = await conn.execute(
        "SELECT last_seq FROM invoice_counters WHERE kind = %s AND year = %s FOR UPDATE",
        (kind.value, year),
    )
    row = await cur.fetchone()
    assert row is not None
    seq = next_sequence(int(row[0]))
    await conn.execute(
        "UPDATE invoice_counters SET last_seq = %s WHERE kind = %s AND year = %s",
        (seq, kind.value, year),
    )
    return seq


async def remember_stripe_event(
    conn: Conn, event_id: str, type_: str, invoice_id: str | None, outcome: str
) -> bool:
    """Record a webhook event; False when it was already processed."""
    cur = await conn.execute(
        "INSERT INTO stripe_events (event_id, type, invoice_id, outcome) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
        (event_id, type_, invoice_id, outcome),
    )
    return cur.rowcount == 1


async def set_stripe_event_outcome(conn: Conn, event_id: str, outcome: str) -> None:
    await conn.execute(
        "UPDATE stripe_events SET outcome = %s WHERE event_id = %s", (outcome, event_id)
    )
