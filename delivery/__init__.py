"""Invoice delivery, the outbound adapters both the API and the dashboard send
invoices with: PDF rendering (fpdf2), e-mail over SMTP, Stripe payment pages.

``wiring.delivery(settings)`` builds the one ``services.invoicing.Delivery`` both
use, so "Send" from the dashboard and ``POST /invoices/{id}/send`` mail the same
PDF with the same payment link.
"""
