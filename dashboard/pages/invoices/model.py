"""The Invoices page's model: the form's filters, a page's rows. Pure: no I/O.

The listing is the API's (``services.invoicing.list_invoices``); this turns the
form into its arguments and each invoice into a row, in the company's zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.pages.job.model import INVOICE_STATUS_LABELS, money, when
from dashboard.pages.jobs.model import day_range
from dashboard.paging import OffsetPaging
from jobs_domain.invoicing import InvoiceKind, InvoiceStatus
from storage.invoices import StoredInvoice


@dataclass(frozen=True)
class InvoiceFilters:
    """What the list is filtered by (each empty: not filtered)."""

    statuses: tuple[InvoiceStatus, ...] = ()
    client_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def list_args(self, paging: OffsetPaging) -> dict[str, Any]:
        """``services.invoicing.list_invoices``'s arguments for the page shown,
        one more row than shown: it says whether there is a next page."""
        return {
            "client_id": self.client_id,
            "job_id": None,
            "statuses": [s.value for s in self.statuses],
            "created_from": self.created_from,
            "created_to": self.created_to,
            "limit": paging.limit,
            "offset": paging.offset,
        }


def filters_from(
    zone: ZoneInfo,
    *,
    statuses: Sequence[str] | None,
    client_id: str | None,
    day_from: str | None,
    day_to: str | None,
) -> InvoiceFilters:
    """The form's values (days: whole days of the invoice's creation, in the zone)."""
    created_from, created_to = day_range(zone, day_from, day_to)
    return InvoiceFilters(
        statuses=tuple(InvoiceStatus(s) for s in statuses or ()),
        client_id=client_id or None,
        created_from=created_from,
        created_to=created_to,
    )


def rows(
    invoices: Sequence[StoredInvoice],
    job_numbers: Mapping[str, str],
    zone: ZoneInfo,
) -> list[dict[str, str]]:
    """Each invoice or credit note as the list shows it (its job's number)."""
    return [
        {
            "number": s.invoice.number or "draft",
            "kind": "Credit note"
            if s.invoice.kind is InvoiceKind.CREDIT_NOTE
            else "Invoice",
            "status": s.invoice.status.value,
            "status_label": INVOICE_STATUS_LABELS[s.invoice.status],
            "client": s.invoice.client_name,
            "job": job_numbers.get(s.invoice.job_id or "", ""),
            "total": f"{money(s.invoice.totals.gross)} {s.invoice.currency}",
            "created": when(s.invoice.created_at, zone),
            "emailed": when(s.emailed_at, zone) or "—",
        }
        for s in invoices
    ]
