"""The Invoices page's layout: filters, the list and its pager."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard.forms import day_range_inputs
from dashboard.pager import Pager
from dashboard.pages.job import panels
from dashboard.pages.job.model import INVOICE_STATUS_LABELS
from dashboard.pages.jobs.model import job_href

PATH = "/invoices"

F_STATUS = "invoices-status"
F_CLIENT = "invoices-client"
F_FROM = "invoices-from"
F_TO = "invoices-to"
LIST = "invoices-list"
LIST_ERROR = "invoices-list-error"
PAGER = Pager("invoices")  # paged by offset: where the next page starts
PAGER_PREV = PAGER.prev
PAGER_NEXT = PAGER.next
PAGER_TEXT = PAGER.text
PAGING = PAGER.paging
LAST = PAGER.last
OPTIONS_READY = "invoices-options-ready"
HEAD = ("Number", "Kind", "Status", "Client", "Job", "Total", "Created", "E-mailed")


def _cells(r: Mapping[str, str]) -> list[Any]:
    return [
        r["number"],
        r["kind"],
        html.Span(r["status_label"], className=f"status inv-{r['status']}"),
        r["client"],
        dcc.Link(r["job"], href=job_href(r["job"])) if r["job"] else "",
        r["total"],
        r["created"],
        r["emailed"],
    ]


def table(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return html.P("No invoice matches.", className="muted")
    return panels.table(HEAD, [_cells(r) for r in rows], "invoices")


def page(_query: Mapping[str, list[str]]) -> html.Div:
    """The billing office's invoices and credit notes, newest first."""
    statuses = [
        {"label": v, "value": k.value} for k, v in INVOICE_STATUS_LABELS.items()
    ]
    return html.Div(
        [
            html.Div(html.H3("Invoices"), className="office-title"),
            html.Div(
                [
                    html.Div(  # a box of its own: it wraps at a phone's width
                        dcc.Dropdown(
                            id=F_STATUS,
                            options=statuses,
                            multi=True,
                            placeholder="Status",
                        ),
                        className="office-filter",
                    ),
                    html.Div(
                        dcc.Dropdown(id=F_CLIENT, placeholder="Client"),
                        className="office-filter",
                    ),
                    *day_range_inputs(F_FROM, F_TO),
                ],
                className="office-filters",
            ),
            html.Div(id=LIST_ERROR, className="field-error"),
            html.Div(id=LIST),
            PAGER.row(),
            *PAGER.stores(),
            dcc.Store(id=OPTIONS_READY, data=0),
        ],
        className="office",
    )
