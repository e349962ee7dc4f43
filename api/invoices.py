"""Invoices: Generate Invoice, issue (gapless numbers), PDF, e-mail with a Stripe
payment link, credit notes, void, and the Stripe webhook that marks them paid."""

from __future__ import annotations

import logging
from typing import Any

import stripe
from aiohttp import web

from api.http.context import POOL, SETTINGS, Ctx
from api.http.identifiers import make_etag, query_uuid
from api.http.problems import HttpProblem, problem_response
from api.http.registry import Api
from api.http.responses import json_ok, priced
from api.job_request import load_visible
from api.parts import totals_json
from api.schemas import INVOICE_LINE_OUT, MONEY_OUT, QUANTITY_OUT, TOTALS_BY_RATE
from delivery.mailer import MailError
from delivery.payments import PaymentError, payment_from_event, verify_webhook
from delivery.pdf import render_invoice_pdf
from delivery.wiring import delivery, letterhead
from jobs_domain.invoicing import CreditBalance, InvoiceKind, InvoiceLine
from jobs_domain.money import format_decimal, format_money
from jobs_domain.permissions import MATRIX, Act
from services import invoicing as service
from storage.invoices import StoredInvoice

log = logging.getLogger("crewtrack.api.invoices")


# -- rendering and wiring ----------------------------------------------------------------------


def _line_json(line: InvoiceLine) -> dict[str, Any]:
    return {
        "description": line.description,
        **priced(line.quantity, line.unit_price, line.tax_rate, line.net),
        "source": line.source.value,
        "source_ref": line.source_ref,
        "serials": list(line.serials),
        "credits_line": line.credits_line,
    }


def credit_json(balance: CreditBalance) -> dict[str, Any]:
    """What an invoice's credit notes credited and what is left, per line and in total."""
    return {
        "credited_gross": format_money(balance.credited_gross),
        "remaining_gross": format_money(balance.remaining_gross),
        "lines": [
            {
                "credited_quantity": format_decimal(balance.credited_quantities[i]),
                "remaining_quantity": format_decimal(balance.remaining_quantity(i)),
            }
            for i in range(len(balance.invoice.lines))
        ],
    }


def invoice_json(stored: StoredInvoice) -> dict[str, Any]:
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
        "lines": [_line_json(x) for x in inv.lines],
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


def _etag(stored: StoredInvoice) -> str:
    return make_etag("invoice", stored.invoice.id, stored.row_version)


def _respond(stored: StoredInvoice, status: int = 200) -> web.Response:
    return json_ok(
        invoice_json(stored),
        status,
        etag=_etag(stored),
        location=f"/api/v1/invoices/{stored.invoice.id}" if status == 201 else None,
    )


def _invoice_id(ctx: Ctx) -> str:
    return ctx.path_id("invoice_id", "invoice")


# -- handlers ----------------------------------------------------------------------------------


async def generate_invoice(ctx: Ctx) -> web.StreamResponse:
    """Generate Invoice: a draft from the completed job (or that draft regenerated)."""
    job = await load_visible(ctx, for_update=True)
    stored, created = await service.generate(ctx.conn, job)
    return _respond(stored, 201 if created else 200)


async def list_invoices(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    found = await service.list_invoices(
        ctx.conn,
        client_id=query_uuid(q, "client_id"),
        job_id=query_uuid(q, "job_id"),
    )
    return json_ok({"items": [invoice_json(s) for s in found]})


async def get_invoice(ctx: Ctx) -> web.StreamResponse:
    stored = await service.load(ctx.conn, _invoice_id(ctx))
    body = invoice_json(stored)
    if stored.invoice.kind is InvoiceKind.INVOICE:
        body["credit"] = credit_json(
            await service.credit_balance(ctx.conn, stored.invoice)
        )
    return json_ok(body, etag=_etag(stored))


async def issue_invoice(ctx: Ctx) -> web.StreamResponse:
    stored = await service.issue(
        ctx.conn,
        _invoice_id(ctx),
        check=lambda current: ctx.check_if_match(_etag(current)),
    )
    return _respond(stored)


async def invoice_pdf(ctx: Ctx) -> web.StreamResponse:
    stored = await service.load(ctx.conn, _invoice_id(ctx))
    pdf = render_invoice_pdf(
        stored.invoice,
        letterhead(ctx.settings),
        job_reference=await service.job_reference(ctx.conn, stored.invoice),
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
    try:
        stored = await service.send(ctx.conn, _invoice_id(ctx), delivery(ctx.settings))
    except PaymentError as exc:
        raise HttpProblem(502, "Payment provider error", str(exc)) from exc
    except MailError as exc:
        raise HttpProblem(502, "E-mail not sent", str(exc)) from exc
    return _respond(stored)


async def void_invoice(ctx: Ctx) -> web.StreamResponse:
    return _respond(await service.void(ctx.conn, _invoice_id(ctx)))


async def create_credit_note(ctx: Ctx) -> web.StreamResponse:
    note = await service.credit(
        ctx.conn,
        _invoice_id(ctx),
        await ctx.json(CREDIT_IN),
        check=lambda current: ctx.check_if_match(_etag(current)),
    )
    return _respond(note, 201)


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
    async with request.app[POOL].connection() as conn, conn.transaction():
        outcome = await service.record_payment_event(
            conn, event.id, event.type, payment_from_event(event)
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
    "description": "Nothing but a reason: all that is left of the invoice. Else "
    "lines of the invoice (its line's index and a quantity), free lines, and/or "
    "an amount before tax (at tax_rate; default: the invoice's only rate). Never "
    "more than is left of a line or of the invoice's total.",
    "properties": {
        "reason": {"type": "string", "maxLength": 500},
        "amount": {"type": ["number", "string"]},
        "tax_rate": {"type": ["number", "string"]},
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["line", "quantity"],
                        "additionalProperties": False,
                        "properties": {
                            "line": {"type": "integer", "minimum": 0},
                            "quantity": {"type": ["number", "string"]},
                        },
                    },
                    {
                        "type": "object",
                        "required": [
                            "description",
                            "quantity",
                            "unit_price",
                            "tax_rate",
                        ],
                        "additionalProperties": False,
                        "properties": {
                            "description": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 500,
                            },
                            "quantity": {"type": ["number", "string"]},
                            "unit_price": {"type": ["number", "string"]},
                            "tax_rate": {"type": ["number", "string"]},
                        },
                    },
                ]
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
        "lines": {"type": "array", "items": INVOICE_LINE_OUT},
        "totals": TOTALS_BY_RATE,
        "credit": {
            "type": "object",
            "description": "An invoice's (GET): what its issued credit notes "
            "credited and what is left, in total (gross) and per line (quantity, "
            "in the order of lines).",
            "required": ["credited_gross", "remaining_gross", "lines"],
            "properties": {
                "credited_gross": MONEY_OUT,
                "remaining_gross": MONEY_OUT,
                "lines": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["credited_quantity", "remaining_quantity"],
                        "properties": {
                            "credited_quantity": QUANTITY_OUT,
                            "remaining_quantity": QUANTITY_OUT,
                        },
                    },
                },
            },
        },
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
        roles=MATRIX[Act.GENERATE_INVOICE],
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
        roles=MATRIX[Act.READ_INVOICES],
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
        roles=MATRIX[Act.READ_INVOICES],
        if_match=True,
        responses={200: {"$ref": inv}},
    )
    r(
        "POST",
        "/invoices/{invoice_id}/issue",
        issue_invoice,
        summary="Issue a draft: next gapless number of the year; then immutable",
        tag=t,
        roles=MATRIX[Act.ISSUE_INVOICE],
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
        roles=MATRIX[Act.READ_INVOICES],
        responses={200: None},
    )
    r(
        "POST",
        "/invoices/{invoice_id}/send",
        send_invoice,
        summary="E-mail the invoice (PDF attached) with a Stripe payment link",
        tag=t,
        roles=MATRIX[Act.SEND_INVOICE],
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
        roles=MATRIX[Act.VOID_INVOICE],
        conflicts=True,
        responses={200: {"$ref": inv}},
    )
    r(
        "POST",
        "/invoices/{invoice_id}/credit-notes",
        create_credit_note,
        summary="Issue a credit note (what is left of the invoice, some of its "
        "lines, an amount, or free lines)",
        tag=t,
        roles=MATRIX[Act.CREDIT_INVOICE],
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
