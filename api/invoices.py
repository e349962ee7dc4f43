"""Invoices: Generate Invoice, issue (gapless numbers), PDF, e-mail with a Stripe
payment link, credit notes, void, and the Stripe webhook that marks them paid."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import stripe
from aiohttp import web

from api.framework import (
    POOL,
    SETTINGS,
    Api,
    Ctx,
    HttpProblem,
    json_ok,
    make_etag,
    problem_response,
)
from api.invoicing.mailer import InvoiceMail, MailError, SmtpConfig, send_invoice_mail
from api.invoicing.payments import (
    PaymentError,
    StripeConfig,
    create_payment_page,
    make_client,
    payment_from_event,
    verify_webhook,
)
from api.invoicing.pdf import Letterhead, render_invoice_pdf
from api.jobs import load_visible, now
from api.parts import totals_json
from api.reports import query_uuid
from crewtrack.settings import Settings
from jobs_domain.actors import Role
from jobs_domain.errors import Conflict, DomainError, NotFound
from jobs_domain.invoicing import (
    CompletedJob,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JobLineItem,
    JobNote,
    credit_note,
    draft_invoice,
    lines_from_job,
    parse_credit_lines,
)
from jobs_domain.job import Job, NoteVisibility
from storage import clients as clients_store
from storage import invoices as store
from storage import jobs as job_store
from storage import parts as parts_store

log = logging.getLogger("crewtrack.api.invoices")

BILLING = (Role.ADMIN, Role.BILLING)
READERS = (Role.ADMIN, Role.BILLING, Role.DISPATCHER)


# -- helpers ---------------------------------------------------------------------------------


async def _completed_job(ctx: Ctx, job: Job) -> CompletedJob:
    client = await clients_store.get_client(ctx.conn, job.client_id)
    worked = sum((s.worked(now()) for s in job.sessions), timedelta())
    return CompletedJob(
        job_id=job.id,
        status=job.status.value,
        client_id=job.client_id,
        client_name=client["name"],
        client_email=client.get("email"),
        line_items=tuple(
            JobLineItem(li.id, li.description, li.quantity, li.unit_price, li.tax_rate)
            for li in job.line_items
        ),
        parts=tuple(await parts_store.job_parts(ctx.conn, job.id)),
        notes=tuple(
            JobNote(n.text, n.visibility is NoteVisibility.PUBLIC) for n in job.notes
        ),
        session_minutes=int(worked.total_seconds() // 60),
        session_billed_items=await parts_store.session_billed_items(ctx.conn),
    )


async def _job_reference(ctx: Ctx, invoice: Invoice) -> str | None:
    """The job number printed on the invoice (customers quote it when they call)."""
    if invoice.job_id is None:
        return None
    return (await job_store.load(ctx.conn, invoice.job_id)).display_number


def invoice_json(stored: store.StoredInvoice) -> dict[str, Any]:
    inv = stored.invoice
    return {
        "id": inv.id,
        "kind": inv.kind.value,
        "number": inv.number,
        "status": inv.status.value,
        "job_id": inv.job_id,
        "client_id": inv.client_id,
        "client_name": inv.client_name,
        "client_email": inv.client_email,
        "currency": inv.currency,
        "lines": [store.line_json(x) for x in inv.lines],
        "public_notes": list(inv.public_notes),
        "totals": totals_json(inv.totals),
        "version": inv.version,
        "credits_invoice_id": inv.credits_invoice_id,
        "created_at": inv.created_at,
        "issued_at": inv.issued_at,
        "paid_at": inv.paid_at,
        "voided_at": inv.voided_at,
        "payment_ref": inv.payment_ref,
        "payment_url": stored.payment_url,
        "emailed_at": stored.emailed_at,
    }


def _respond(stored: store.StoredInvoice, status: int = 200) -> web.Response:
    return json_ok(
        invoice_json(stored),
        status,
        etag=make_etag("invoice", stored.invoice.id, stored.row_version),
        location=f"/api/v1/invoices/{stored.invoice.id}" if status == 201 else None,
    )


async def _load(ctx: Ctx, *, for_update: bool = False) -> store.StoredInvoice:
    stored = await store.get_invoice(
        ctx.conn, ctx.path_id("invoice_id", "invoice"), for_update=for_update
    )
    if stored is None:
        raise NotFound("invoice not found")
    return stored


async def _issue(ctx: Ctx, invoice: Invoice) -> None:
    at = now()
    invoice.issue(await store.take_next_number(ctx.conn, invoice.kind, at.year), at)


def _letterhead(settings: Settings) -> Letterhead:
    return Letterhead(settings.company_name, settings.invoice_font_path)


def _stripe_config(settings: Settings) -> StripeConfig:
    base = settings.public_base_url.rstrip("/")
    return StripeConfig(
        api_key=settings.stripe_api_key,
        api_base=settings.stripe_api_base,
        webhook_secret=settings.stripe_webhook_secret,
        success_url=f"{base}/api/v1/payments/thanks",
        cancel_url=f"{base}/api/v1/payments/cancelled",
    )


# -- handlers ----------------------------------------------------------------------------------


async def generate_invoice(ctx: Ctx) -> web.StreamResponse:
    """Generate Invoice: a draft from the completed job (or that draft regenerated)."""
    job = await load_visible(ctx, for_update=True)
    snapshot = await _completed_job(ctx, job)
    existing = await store.live_invoice_of_job(ctx.conn, job.id)
    if existing is not None:
        draft = draft_invoice(existing.invoice.id, snapshot, now())  # checks the job
        existing.invoice.replace_lines(lines_from_job(snapshot), draft.public_notes)
        await store.save_invoice(ctx.conn, existing)
        return _respond(existing)
    invoice = draft_invoice(str(uuid.uuid4()), snapshot, now())
    await store.insert_invoice(ctx.conn, invoice)
    stored = await store.get_invoice(ctx.conn, invoice.id)
    assert stored is not None
    return _respond(stored, 201)


async def list_invoices(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    found = await store.list_invoices(
        ctx.conn,
        client_id=query_uuid(q.get("client_id")),
        job_id=query_uuid(q.get("job_id")),
    )
    return json_ok({"items": [invoice_json(s) for s in found]})


async def get_invoice(ctx: Ctx) -> web.StreamResponse:
    return _respond(await _load(ctx))


async def issue_invoice(ctx: Ctx) -> web.StreamResponse:
    stored = await _load(ctx, for_update=True)
    ctx.check_if_match(make_etag("invoice", stored.invoice.id, stored.row_version))
    await _issue(ctx, stored.invoice)
    await store.save_invoice(ctx.conn, stored)
    return _respond(stored)


async def invoice_pdf(ctx: Ctx) -> web.StreamResponse:
    stored = await _load(ctx)
    pdf = render_invoice_pdf(
        stored.invoice,
        _letterhead(ctx.settings),
        job_reference=await _job_reference(ctx, stored.invoice),
        payment_url=stored.payment_url,
    )
    name = stored.invoice.number or f"draft-{stored.invoice.id}"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


async def send_invoice(ctx: Ctx) -> web.StreamResponse:
    """E-mail the issued invoice with its PDF and (Stripe configured) a payment link."""
    stored = await _load(ctx, for_update=True)
    invoice = stored.invoice
    if invoice.status is InvoiceStatus.DRAFT:
        await _issue(ctx, invoice)
    if (
        invoice.status is not InvoiceStatus.ISSUED
        and invoice.kind is InvoiceKind.INVOICE
    ):
        raise Conflict(f"invoice {invoice.number} is {invoice.status.value}")
    if not invoice.client_email:
        raise Conflict("the client has no e-mail address")
    settings = ctx.settings
    title = f"{settings.company_name} invoice {invoice.number}"
    if settings.stripe_api_key and invoice.kind is InvoiceKind.INVOICE:
        config = _stripe_config(settings)
        try:
            page = await create_payment_page(
                make_client(config), config, invoice, title
            )
        except PaymentError as exc:
            raise HttpProblem(502, "Payment provider error", str(exc)) from exc
        stored.payment_session_id, stored.payment_url = page.session_id, page.url
    pdf = render_invoice_pdf(
        invoice,
        _letterhead(settings),
        job_reference=await _job_reference(ctx, invoice),
        payment_url=stored.payment_url,
    )
    total = invoice.totals.gross
    kind_name = "credit note" if invoice.kind is InvoiceKind.CREDIT_NOTE else "invoice"
    lines = [
        f"Dear {invoice.client_name},",
        "",
        f"Please find attached {kind_name} {invoice.number} "
        f"for {total:,.2f} {invoice.currency}.",
    ]
    if stored.payment_url:
        lines += ["", f"Pay online: {stored.payment_url}"]
    lines += ["", settings.company_name]
    smtp = SmtpConfig(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_from,
        settings.smtp_username,
        settings.smtp_password,
        settings.smtp_starttls,
    )
    try:
        await send_invoice_mail(
            smtp,
            InvoiceMail(
                to=invoice.client_email,
                subject=title,
                body="\n".join(lines),
                pdf=pdf,
                filename=f"{invoice.number}.pdf",
            ),
        )
    except MailError as exc:
        raise HttpProblem(502, "E-mail not sent", str(exc)) from exc
    stored.emailed_at = now()
    await store.save_invoice(ctx.conn, stored)
    return _respond(stored)


async def void_invoice(ctx: Ctx) -> web.StreamResponse:
    stored = await _load(ctx, for_update=True)
    credited = await store.credited_total(ctx.conn, stored.invoice.id)
    stored.invoice.void(now(), credited)
    await store.save_invoice(ctx.conn, stored)
    return _respond(stored)


async def create_credit_note(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(CREDIT_IN)
    stored = await _load(ctx, for_update=True)
    lines = parse_credit_lines(body["lines"]) if "lines" in body else None
    credited = await store.credited_total(ctx.conn, stored.invoice.id)
    note = credit_note(
        str(uuid.uuid4()), stored.invoice, credited, now(), lines, body.get("reason")
    )
    await _issue(ctx, note)
    await store.insert_invoice(ctx.conn, note)
    invoice = stored.invoice
    if invoice.status is InvoiceStatus.ISSUED and credited + note.totals.gross >= (
        invoice.totals.gross
    ):
        invoice.void(now(), credited + note.totals.gross)
        await store.save_invoice(ctx.conn, stored)
    fresh = await store.get_invoice(ctx.conn, note.id)
    assert fresh is not None
    return _respond(fresh, 201)


# -- Stripe webhook (public: Stripe signs it) ---------------------------------------------------


async def stripe_webhook(request: web.Request) -> web.StreamResponse:
    """Mark invoices paid from Stripe's signed ``checkout.session.completed`` events."""
    settings = request.app[SETTINGS]
    payload = await request.read()
    if not settings.stripe_webhook_secret:
        # Nothing can be verified without the secret: refused like a bad signature.
        return problem_response(
            400, "Webhook not configured", "no Stripe webhook secret is set"
        )
    try:
        event = verify_webhook(
            payload,
            request.headers.get("Stripe-Signature"),
            settings.stripe_webhook_secret,
        )
    except (ValueError, stripe.SignatureVerificationError) as exc:
        log.warning("refused a Stripe webhook: %s", exc)
        return problem_response(
            400, "Bad signature", "the Stripe-Signature does not match"
        )
    payment = payment_from_event(event)
    async with request.app[POOL].connection() as conn, conn.transaction():
        first = await store.remember_stripe_event(
            conn,
            event.id,
            event.type,
            payment.invoice_id if payment else None,
            "received",
        )
        if not first:
            return json_ok({"received": True, "outcome": "duplicate"})
        if payment is None:
            return json_ok({"received": True, "outcome": "ignored"})
        outcome = "paid"
        try:
            stored = await store.get_invoice(conn, payment.invoice_id, for_update=True)
            if stored is None:
                raise NotFound(f"invoice {payment.invoice_id} not found")
            if payment.currency != stored.invoice.currency:
                raise Conflict(
                    f"paid in {payment.currency}, invoiced in {stored.invoice.currency}"
                )
            changed = stored.invoice.mark_paid(
                payment.amount, payment.session_id, now()
            )
            if changed:
                await store.save_invoice(conn, stored)
            else:
                outcome = "already paid"
        except DomainError as exc:
            # Stripe would retry a refusal for days; the event is kept with the reason.
            log.error("Stripe event %s not applied: %s", event.id, exc.message)
            outcome = f"refused: {exc.message}"
        await conn.execute(
            "UPDATE stripe_events SET outcome = %s WHERE event_id = %s",
            (outcome, event.id),
        )
    return json_ok({"received": True, "outcome": outcome})


async def payment_landing(request: web.Request) -> web.StreamResponse:
    thanks = request.path.endswith("/thanks")
    text = "Thank you, your payment was received." if thanks else "Payment cancelled."
    return web.Response(text=text, content_type="text/plain")


# -- schemas and routes ----------------------------------------------------------------------

CREDIT_IN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "reason": {"type": "string", "maxLength": 500},
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["description", "quantity", "unit_price", "tax_rate"],
                "additionalProperties": False,
                "properties": {
                    "description": {"type": "string", "minLength": 1, "maxLength": 500},
                    "quantity": {"type": ["number", "string"]},
                    "unit_price": {"type": ["number", "string"]},
                    "tax_rate": {"type": ["number", "string"]},
                },
            },
        },
    },
}
INVOICE_OUT = {
    "type": "object",
    "required": ["id", "kind", "status", "lines", "totals"],
    "properties": {
        "status": {"enum": ["draft", "issued", "paid", "void"]},
        "number": {"type": ["string", "null"]},
    },
}


def setup(api: Api) -> None:
    api.tag("invoices", "Invoices and credit notes, PDF, e-mail, Stripe payment")
    inv = api.schema("Invoice", INVOICE_OUT)
    r = api.route
    t = "invoices"
    r(
        "POST",
        "/jobs/{job_id}/invoice",
        generate_invoice,
        summary="Generate Invoice from a completed job (draft; regenerates a draft)",
        tag=t,
        roles=BILLING,
        idempotent=True,
        responses={200: {"$ref": inv}, 201: {"$ref": inv}},
        conflicts=True,
    )
    r(
        "GET",
        "/invoices",
        list_invoices,
        summary="List invoices and credit notes",
        tag=t,
        roles=READERS,
        query=[
            {"name": n, "in": "query", "schema": {"type": "string"}}
            for n in ("client_id", "job_id")
        ],
        responses={200: {"type": "object"}},
    )
    r(
        "GET",
        "/invoices/{invoice_id}",
        get_invoice,
        summary="An invoice",
        tag=t,
        roles=READERS,
        if_match=True,
        responses={200: {"$ref": inv}},
    )
    r(
        "POST",
        "/invoices/{invoice_id}/issue",
        issue_invoice,
        summary="Issue a draft: next gapless number of the year; then immutable",
        tag=t,
        roles=BILLING,
        if_match=True,
        conflicts=True,
        responses={200: {"$ref": inv}},
    )
    r(
        "GET",
        "/invoices/{invoice_id}/pdf",
        invoice_pdf,
        summary="The invoice as PDF",
        tag=t,
        roles=READERS,
        responses={200: None},
    )
    r(
        "POST",
        "/invoices/{invoice_id}/send",
        send_invoice,
        summary="E-mail the invoice (PDF attached) with a Stripe payment link",
        tag=t,
        roles=BILLING,
        conflicts=True,
        responses={200: {"$ref": inv}, 502: None},
        description="Issues a draft first; 502 when the mail relay or Stripe fails. "
        "The payment page is created once per invoice "
        "version (Stripe idempotency key), so sending again reuses it.",
    )
    r(
        "POST",
        "/invoices/{invoice_id}/void",
        void_invoice,
        summary="Void a draft, or an unpaid invoice fully credited",
        tag=t,
        roles=BILLING,
        conflicts=True,
        responses={200: {"$ref": inv}},
    )
    r(
        "POST",
        "/invoices/{invoice_id}/credit-notes",
        create_credit_note,
        summary="Issue a credit note (whole invoice, or given lines)",
        tag=t,
        roles=BILLING,
        body=CREDIT_IN,
        body_required=False,
        idempotent=True,
        responses={201: {"$ref": inv}},
    )
    api.public_route(
        "POST",
        "/payments/stripe/webhook",
        stripe_webhook,
        summary="Stripe webhook (signature checked): marks invoices paid",
        tag=t,
        responses={200: {"type": "object"}, 400: None},
    )
    for path in ("/payments/thanks", "/payments/cancelled"):
        api.public_route(
            "GET",
            path,
            payment_landing,
            summary="Return page after Stripe",
            tag=t,
            responses={200: None},
            content_type="text/plain",
        )


__all__ = ["setup"]
