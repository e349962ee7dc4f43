"""Invoicing use cases: Generate Invoice, issue, send, void, credit notes, payments.

The rules are :mod:`jobs_domain.invoicing`; this module gathers what a completed
job hands over (line items, parts, clocked time, public notes), takes gapless
numbers (``storage.invoices.take_next_number``, in the issuing transaction) and
records payments. Sending needs the outside world — a PDF, an e-mail, a payment
page — which the caller wires in as a :class:`Delivery` (the API builds it from
its settings: fpdf, SMTP, Stripe); a delivery error propagates and rolls the
transaction back, so a failed send never consumes an invoice number.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg

from jobs_domain.errors import Conflict, DomainError, NotFound
from jobs_domain.invoicing import (
    CompletedJob,
    CreditBalance,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JobLineItem,
    JobNote,
    credit_note,
    draft_invoice,
    lines_from_job,
    parse_credit_request,
)
from jobs_domain.invoicing import credit_balance as balance_of
from jobs_domain.job import Job, NoteVisibility
from jobs_domain.money import ZERO
from services.clock import now
from storage import clients as clients_store
from storage import invoices as store
from storage import jobs as job_store
from storage import parts as parts_store
from storage.invoices import StoredInvoice

log = logging.getLogger("crewtrack.services.invoicing")

Conn = psycopg.AsyncConnection[Any]
Check = Callable[[StoredInvoice], None]


@dataclass(frozen=True)
class PaymentPage:
    """A hosted payment page: the provider's session id and the URL to pay at."""

    session_id: str
    url: str


@dataclass(frozen=True)
class PaymentConfirmed:
    """A verified payment: which invoice (and version) was paid, how much."""

    event_id: str
    session_id: str
    invoice_id: str
    invoice_version: int
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Delivery:
    """The adapters sending an invoice needs, wired by the caller.

    ``render_pdf(invoice, job_reference, payment_url)`` gives the PDF bytes;
    ``send_mail(to, subject, body, pdf, filename)`` sends it; ``payment_page``
    (None when no payment provider is configured) creates the page a customer pays
    an invoice at, given the invoice and the payment's title.
    """

    company_name: str
    render_pdf: Callable[[Invoice, str | None, str | None], bytes]
    send_mail: Callable[[str, str, str, bytes, str], Awaitable[object]]
    payment_page: Callable[[Invoice, str], Awaitable[PaymentPage]] | None = None


def _no_check(_stored: StoredInvoice) -> None:
    return None


async def completed_job(conn: Conn, job: Job) -> CompletedJob:
    """What the job hands over to its invoice."""
    client = await clients_store.get_client(conn, job.client_id)
    worked = sum((s.worked(now()) for s in job.sessions), timedelta())
    return CompletedJob(
        job_id=job.id,
        status=job.status.value,
        client_id=job.client_id,
        client_name=client.name,
        client_email=client.email,
        line_items=tuple(
            JobLineItem(
                li.id,
                li.description,
                li.quantity,
                li.unit_price,
                li.tax_rate,
                li.price_book_item_id,
            )
            for li in job.line_items
        ),
        parts=tuple(await parts_store.job_parts(conn, job.id)),
        notes=tuple(
            JobNote(n.text, n.visibility is NoteVisibility.PUBLIC) for n in job.notes
        ),
        session_minutes=int(worked.total_seconds() // 60),
        session_billed_items=await parts_store.session_billed_items(conn),
    )


async def billed_net(conn: Conn, job: Job) -> Decimal:
    """What the job's invoicing bills, net: its invoices (draft, issued, paid,
    or voided by credit notes — not a discarded draft) less their credit notes,
    or, before there is one, the invoice the job would generate now (line items,
    parts, services, labour from sessions)."""
    live = [
        s.invoice
        for s in await store.list_invoices(conn, client_id=None, job_id=job.id)
        if not (s.invoice.status is InvoiceStatus.VOID and s.invoice.number is None)
    ]
    invoices = [i for i in live if i.kind is InvoiceKind.INVOICE]
    if not invoices:
        lines = lines_from_job(await completed_job(conn, job))
        return sum((line.net for line in lines), ZERO)
    credits = [i for i in live if i.kind is InvoiceKind.CREDIT_NOTE]
    return sum((i.totals.net for i in invoices), ZERO) - sum(
        (abs(c.totals.net) for c in credits), ZERO
    )


async def generate(conn: Conn, job: Job) -> tuple[StoredInvoice, bool]:
    """Generate Invoice: a draft from the completed job, or its draft regenerated.

    Returns the invoice and whether it is new.
    """
    snapshot = await completed_job(conn, job)
    existing = await store.live_invoice_of_job(conn, job.id)
    if existing is not None:
        draft = draft_invoice(existing.invoice.id, snapshot, now())  # checks the job
        existing.invoice.replace_lines(lines_from_job(snapshot), draft.public_notes)
        await store.save_invoice(conn, existing)
        return existing, False
    invoice = draft_invoice(str(uuid.uuid4()), snapshot, now())
    await store.insert_invoice(conn, invoice)
    return await _reread(conn, invoice.id), True


async def list_invoices(
    conn: Conn, *, client_id: str | None, job_id: str | None, **filters: Any
) -> list[StoredInvoice]:
    """Invoices and credit notes, newest first (``filters``: ``statuses``,
    ``created_from``/``created_to``, ``limit``, ``offset``)."""
    return await store.list_invoices(
        conn, client_id=client_id, job_id=job_id, **filters
    )


async def load(
    conn: Conn, invoice_id: str, *, for_update: bool = False
) -> StoredInvoice:
    stored = await store.get_invoice(conn, invoice_id, for_update=for_update)
    if stored is None:
        raise NotFound("invoice not found")
    return stored


async def job_reference(conn: Conn, invoice: Invoice) -> str | None:
    """The job number printed on the invoice (customers quote it when they call)."""
    if invoice.job_id is None:
        return None
    return (await job_store.load(conn, invoice.job_id)).display_number


async def _take_number(conn: Conn, invoice: Invoice) -> None:
    at = now()
    invoice.issue(await store.take_next_number(conn, invoice.kind, at.year), at)


async def issue(
    conn: Conn, invoice_id: str, *, check: Check = _no_check
) -> StoredInvoice:
    """Issue a draft: it takes the next gapless number of its kind and year."""
    stored = await load(conn, invoice_id, for_update=True)
    check(stored)
    await _take_number(conn, stored.invoice)
    await store.save_invoice(conn, stored)
    return stored


def email_body(invoice: Invoice, company_name: str, payment_url: str | None) -> str:
    """The text of the e-mail an invoice or credit note is sent with."""
    kind_name = "credit note" if invoice.kind is InvoiceKind.CREDIT_NOTE else "invoice"
    lines = [
        f"Dear {invoice.client_name},",
        "",
        f"Please find attached {kind_name} {invoice.number} "
        f"for {invoice.totals.gross:,.2f} {invoice.currency}.",
    ]
    if payment_url:
        lines += ["", f"Pay online: {payment_url}"]
    lines += ["", company_name]
    return "\n".join(lines)


async def send(conn: Conn, invoice_id: str, delivery: Delivery) -> StoredInvoice:
    """E-mail the invoice (issuing a draft first) with its PDF and a payment link."""
    stored = await load(conn, invoice_id, for_update=True)
    invoice = stored.invoice
    if invoice.status is InvoiceStatus.DRAFT:
        await _take_number(conn, invoice)
    if (
        invoice.status is not InvoiceStatus.ISSUED
        and invoice.kind is InvoiceKind.INVOICE
    ):
        raise Conflict(f"invoice {invoice.number} is {invoice.status.value}")
    if not invoice.client_email:
        raise Conflict("the client has no e-mail address")
    title = f"{delivery.company_name} invoice {invoice.number}"
    if delivery.payment_page is not None and invoice.kind is InvoiceKind.INVOICE:
        page = await delivery.payment_page(invoice, title)
        stored.payment_session_id, stored.payment_url = page.session_id, page.url
    pdf = delivery.render_pdf(
        invoice, await job_reference(conn, invoice), stored.payment_url
    )
    await delivery.send_mail(
        invoice.client_email,
        title,
        email_body(invoice, delivery.company_name, stored.payment_url),
        pdf,
        f"{invoice.number}.pdf",
    )
    stored.emailed_at = now()
    await store.save_invoice(conn, stored)
    return stored


async def credit_balance(conn: Conn, invoice: Invoice) -> CreditBalance:
    """What the invoice's issued credit notes credited, per line and in total,
    and what is left to credit."""
    notes = await store.credit_notes_of(conn, invoice.id)
    return balance_of(invoice, [n.invoice for n in notes])


async def void(conn: Conn, invoice_id: str) -> StoredInvoice:
    stored = await load(conn, invoice_id, for_update=True)
    balance = await credit_balance(conn, stored.invoice)
    stored.invoice.void(now(), balance.credited_gross)
    await store.save_invoice(conn, stored)
    return stored


async def credit(
    conn: Conn,
    invoice_id: str,
    body: Mapping[str, object],
    *,
    check: Check = _no_check,
) -> StoredInvoice:
    """Issue a credit note: the body of ``POST /invoices/{id}/credit-notes``
    (lines of the invoice with a quantity each, free lines, an amount, a reason;
    nothing: all that is left). Crediting an unpaid invoice in full voids it."""
    stored = await load(conn, invoice_id, for_update=True)
    check(stored)
    request = parse_credit_request(body)
    balance = await credit_balance(conn, stored.invoice)
    note = credit_note(str(uuid.uuid4()), balance, now(), request)
    await _take_number(conn, note)
    await store.insert_invoice(conn, note)
    invoice = stored.invoice
    credited = balance.credited_gross + note.totals.gross
    if invoice.status is InvoiceStatus.ISSUED and credited >= invoice.totals.gross:
        invoice.void(now(), credited)
        await store.save_invoice(conn, stored)
    return await _reread(conn, note.id)


async def record_payment_event(
    conn: Conn, event_id: str, event_type: str, payment: PaymentConfirmed | None
) -> str:
    """Apply a verified payment event once; return what became of it.

    Outcomes: ``duplicate`` (seen before), ``ignored`` (not a payment), ``paid``,
    ``already paid``, or ``refused: <reason>`` — a refusal is kept, not raised,
    because the provider would retry it for days.
    """
    first = await store.remember_stripe_event(
        conn, event_id, event_type, payment.invoice_id if payment else None, "received"
    )
    if not first:
        return "duplicate"
    if payment is None:
        return "ignored"
    outcome = "paid"
    try:
        stored = await store.get_invoice(conn, payment.invoice_id, for_update=True)
        if stored is None:
            raise NotFound(f"invoice {payment.invoice_id} not found")
        if payment.currency != stored.invoice.currency:
            raise Conflict(
                f"paid in {payment.currency}, invoiced in {stored.invoice.currency}"
            )
        if stored.invoice.mark_paid(payment.amount, payment.session_id, now()):
            await store.save_invoice(conn, stored)
        else:
            outcome = "already paid"
    except DomainError as exc:
        log.error("payment event %s not applied: %s", event_id, exc.message)
        outcome = f"refused: {exc.message}"
    await store.set_stripe_event_outcome(conn, event_id, outcome)
    return outcome


async def _reread(conn: Conn, invoice_id: str) -> StoredInvoice:
    stored = await store.get_invoice(conn, invoice_id)
    assert stored is not None  # written in this transaction
    return stored
