"""The Estimates page's layout: the list (filters, pager) with New Estimate, and
one estimate (``?estimate=<id>``) with Approve and Convert to Job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard import line_items
from dashboard.forms import field, form_block
from dashboard.pager import Pager
from dashboard.pages.estimates.model import PATH, STATUS_LABELS
from dashboard.pages.job import panels
from dashboard.pages.jobs.layout import client_and_site

__all__ = ["PATH", "page"]

F_TEXT = "estimates-search"
F_STATUS = "estimates-status"
F_CLIENT = "estimates-client"
LIST = "estimates-list"
PAGER = Pager("estimates")  # where the next page starts: the last number shown
PAGER_PREV = PAGER.prev
PAGER_NEXT = PAGER.next
PAGER_TEXT = PAGER.text
PAGING = PAGER.paging
LAST = PAGER.last
REFRESH = "estimates-refresh"  # bumps after a save: the list (or estimate) shows it
OPTIONS_READY = "estimates-options-ready"

NEW_OPEN = "new-estimate-open"
NEW_PANEL = "new-estimate-panel"
NEW_CLIENT = "new-estimate-client"
NEW_PROPERTY = "new-estimate-property"
NEW_DESCRIPTION = "new-estimate-description"
NEW_NOTE_INTERNAL = "new-estimate-note-internal"
NEW_NOTE_PUBLIC = "new-estimate-note-public"
NEW_SAVE = "new-estimate-save"
NEW_RESULT = "new-estimate-result"
DRAFT = "new-estimate-items"  # the line items added so far (store)
DRAFT_VIEW = "new-estimate-items-view"
DRAFT_CLEAR = "new-estimate-items-clear"
LI = line_items.Ids("new-estimate-li")
#: Where each problem pointer of the save's answer is shown (id of its slot).
NEW_FIELDS: Mapping[str, str] = {
    "/client_id": NEW_CLIENT,
    "/property_id": NEW_PROPERTY,
    "/description": NEW_DESCRIPTION,
}

ESTIMATE = "estimate-id"  # the estimate shown (store)
SEEN = "estimate-seen"  # the version shown (Approve sends it)
HEADER = "estimate-header"
BODY = "estimate-body"
ACTIONS = "estimate-actions"
APPROVE = "estimate-approve"
CONVERT = "estimate-convert"
RESULT = "estimate-result"
GO = "estimate-go"  # opens the job a conversion made


def table(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return html.P("No estimate matches.", className="muted")
    head = ["Estimate", "Status", "Client", "Description", "Total"]
    return panels.table(
        head,
        [
            [
                dcc.Link(r["number"], href=r["href"]),
                html.Span(r["status_label"], className=f"status est-{r['status']}"),
                r["client"],
                r["description"],
                r["total"],
            ]
            for r in rows
        ],
        "estimates",
    )


def new_estimate_form() -> html.Div:
    return html.Div(
        [
            html.H4("New Estimate"),
            html.Div(
                [
                    *client_and_site(NEW_CLIENT, NEW_PROPERTY),
                    field(
                        "Description",
                        NEW_DESCRIPTION,
                        dcc.Textarea(id=NEW_DESCRIPTION, className="office-text"),
                    ),
                ],
                className="office-form",
            ),
            html.H4("Line items"),
            html.Div(id=DRAFT_VIEW, className="table-scroll"),
            html.Button("Remove all line items", id=DRAFT_CLEAR),
            *line_items.picker(LI),
            form_block(
                [
                    field(
                        "Internal note (staff only)",
                        NEW_NOTE_INTERNAL,
                        dcc.Textarea(id=NEW_NOTE_INTERNAL, className="office-text"),
                    ),
                    field(
                        "Public note (on the estimate and the job)",
                        NEW_NOTE_PUBLIC,
                        dcc.Textarea(id=NEW_NOTE_PUBLIC, className="office-text"),
                    ),
                ],
                [html.Button("Save estimate", id=NEW_SAVE, className="primary")],
                result=NEW_RESULT,
                heading="Notes",
            ),
        ],
        id=NEW_PANEL,
        className="panel",
        hidden=True,
    )


def _list_page() -> list[Any]:
    statuses = [{"label": v, "value": k.value} for k, v in STATUS_LABELS.items()]
    return [
        *PAGER.stores(),
        dcc.Store(id=REFRESH, data=0),
        dcc.Store(id=OPTIONS_READY, data=0),
        dcc.Store(id=DRAFT, data=[]),
        html.Div(
            [
                html.H3("Estimates"),
                html.Button("New Estimate", id=NEW_OPEN, className="primary"),
            ],
            className="office-title",
        ),
        new_estimate_form(),
        html.Div(
            [
                dcc.Input(
                    id=F_TEXT,
                    type="search",
                    placeholder="Estimate number or client",
                    debounce=True,
                    className="office-search",
                ),
                dcc.Dropdown(
                    id=F_STATUS,
                    options=statuses,
                    placeholder="Status",
                    className="office-filter",
                ),
                dcc.Dropdown(
                    id=F_CLIENT, placeholder="Client", className="office-filter"
                ),
            ],
            className="office-filters panel",
        ),
        html.Div(id=LIST, className="panel table-scroll"),
        PAGER.row(),
    ]


def _estimate_page(estimate_id: str) -> list[Any]:
    return [
        dcc.Store(id=ESTIMATE, data=estimate_id),
        dcc.Store(id=SEEN),
        dcc.Store(id=REFRESH, data=0),
        dcc.Location(id=GO, refresh="callback-nav"),
        dcc.Link("← All estimates", href=PATH),
        html.Div(id=HEADER),
        html.Div(
            [
                html.Button("Approve", id=APPROVE, hidden=True),
                html.Button("Convert to Job", id=CONVERT, className="primary"),
            ],
            id=ACTIONS,
            className="job-action-buttons",
        ),
        html.Div(id=RESULT),
        html.Div(id=BODY),
    ]


def page(query: Mapping[str, list[str]]) -> html.Div:
    """The list, or with ``?estimate=<id>`` that estimate."""
    estimate = (query.get("estimate") or [""])[0]
    parts = _estimate_page(estimate) if estimate else _list_page()
    return html.Div(parts, className="office")
