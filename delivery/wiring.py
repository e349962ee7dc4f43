"""The one ``Delivery`` an invoice is sent with, from the settings."""

from __future__ import annotations

from crewtrack.settings import Settings
from delivery.mailer import InvoiceMail, SmtpConfig, send_invoice_mail
from delivery.payments import StripeConfig, create_payment_page, make_client
from delivery.pdf import Letterhead, render_invoice_pdf
from jobs_domain.invoicing import Invoice
from services import invoicing as service


def letterhead(settings: Settings) -> Letterhead:
    return Letterhead(settings.company_name, settings.invoice_font_path)


def stripe_config(settings: Settings) -> StripeConfig:
    base = settings.public_base_url.rstrip("/")
    return StripeConfig(
        api_key=settings.stripe_api_key,
        api_base=settings.stripe_api_base,
        webhook_secret=settings.stripe_webhook_secret,
        success_url=f"{base}/api/v1/payments/thanks",
        cancel_url=f"{base}/api/v1/payments/cancelled",
    )


def render(
    settings: Settings,
    invoice: Invoice,
    job_reference: str | None,
    payment_url: str | None,
) -> bytes:
    """The invoice's PDF, as it is mailed (and previewed)."""
    return render_invoice_pdf(
        invoice,
        letterhead(settings),
        job_reference=job_reference,
        payment_url=payment_url,
    )


def delivery(settings: Settings) -> service.Delivery:
    """PDFs with fpdf, e-mail over SMTP, payment pages at Stripe (when configured)."""
    smtp = SmtpConfig(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_from,
        settings.smtp_username,
        settings.smtp_password,
        settings.smtp_starttls,
    )

    async def mail(to: str, subject: str, body: str, pdf: bytes, name: str) -> str:
        return await send_invoice_mail(
            smtp, InvoiceMail(to=to, subject=subject, body=body, pdf=pdf, filename=name)
        )

    async def payment_page(invoice: Invoice, title: str) -> service.PaymentPage:
        config = stripe_config(settings)
        return await create_payment_page(make_client(config), config, invoice, title)

    return service.Delivery(
        company_name=settings.company_name,
        render_pdf=lambda invoice, ref, url: render(settings, invoice, ref, url),
        send_mail=mail,
        payment_page=payment_page if settings.stripe_api_key else None,
    )
