"""The billing office's /invoices list."""
