"""Invoice delivery: PDF rendering, e-mail over SMTP, Stripe payment pages."""
