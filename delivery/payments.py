"""Stripe payment pages for invoices, and verification of Stripe's webhooks.

A Checkout Session is created per invoice version with an idempotency key
derived from it, so a retried request (or a second "send") gets the same page
instead of a second one. Payment is confirmed only by Stripe's signed
``checkout.session.completed`` webhook.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import stripe

from jobs_domain.invoicing import Invoice
from services.invoicing import PaymentConfirmed, PaymentPage

CHECKOUT_COMPLETED = "checkout.session.completed"
ASYNC_PAYMENT_SUCCEEDED = "checkout.session.async_payment_succeeded"


class PaymentError(Exception):
    """Raised when Stripe refuses a request or cannot be reached."""


@dataclass(frozen=True)
class StripeConfig:
    """API key, API base address (a local server in tests) and webhook secret."""

    api_key: str
    api_base: str
    webhook_secret: str
    success_url: str
    cancel_url: str


def make_client(config: StripeConfig) -> stripe.StripeClient:
    """The official SDK client, pointed at ``api_base``; retries are ours to decide."""
    return stripe.StripeClient(
        config.api_key,
        base_addresses={"api": config.api_base},
        max_network_retries=0,
    )


def to_minor_units(amount: Decimal) -> int:
    """Cents, as Stripe counts them."""
    return int((amount * 100).to_integral_exact())


def _create_sync(
    client: stripe.StripeClient, config: StripeConfig, invoice: Invoice, title: str
) -> PaymentPage:
    params: dict[str, Any] = {
        "mode": "payment",
        "client_reference_id": invoice.id,
        "success_url": config.success_url,
        "cancel_url": config.cancel_url,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": to_minor_units(invoice.totals.gross),
                    "product_data": {"name": title},
                },
            }
        ],
        "metadata": {
            "invoice_id": invoice.id,
            "invoice_version": str(invoice.version),
            "invoice_number": invoice.number or "",
        },
    }
    if invoice.client_email:
        params["customer_email"] = invoice.client_email
    session = client.v1.checkout.sessions.create(
        params,  # type: ignore[arg-type]
        {"idempotency_key": invoice.payment_idempotency_key},
    )
    if not session.url:
        raise PaymentError(f"Stripe returned session {session.id} without a URL")
    return PaymentPage(session.id, session.url)


async def create_payment_page(
    client: stripe.StripeClient, config: StripeConfig, invoice: Invoice, title: str
) -> PaymentPage:
    """Create (or, for the same invoice version, fetch again) the payment page."""
    try:
        return await asyncio.to_thread(_create_sync, client, config, invoice, title)
    except stripe.StripeError as exc:
        raise PaymentError(
            f"Stripe refused the payment page: {exc.user_message or exc}"
        ) from exc


def verify_webhook(payload: bytes, signature: str | None, secret: str) -> stripe.Event:
    """Check the ``Stripe-Signature`` header; raise ``ValueError`` or
    ``stripe.SignatureVerificationError`` when the payload is not genuine."""
    event: stripe.Event = stripe.Webhook.construct_event(payload, signature, secret)
    return event


def payment_from_event(event: stripe.Event) -> PaymentConfirmed | None:
    """A paid checkout session's details, or None for events we do not act on."""
    if event.type not in (CHECKOUT_COMPLETED, ASYNC_PAYMENT_SUCCEEDED):
        return None
    session: dict[str, Any] = event.data.object.to_dict()
    if session.get("payment_status") != "paid":
        return None
    metadata = session.get("metadata") or {}
    invoice_id = metadata.get("invoice_id") or session.get("client_reference_id")
    if not invoice_id:
        return None
    return PaymentConfirmed(
        event_id=event.id,
        session_id=str(session.get("id")),
        invoice_id=str(invoice_id),
        invoice_version=int(metadata.get("invoice_version") or 0),
        amount=Decimal(int(session.get("amount_total") or 0)) / 100,
        currency=str(session.get("currency") or "").upper(),
    )
