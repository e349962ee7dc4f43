"""The Jobs page's layout: filters, the list with its pager, the New Job form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard.forms import day_range_inputs, error_slot, field
from dashboard.pager import Pager
from dashboard.pages.jobs.model import STATUS_LABELS

__all__ = ["error_slot", "field"]

PATH = "/jobs"

F_STATUS = "jobs-status"
F_TECH = "jobs-technician"
F_TEAM = "jobs-team"
F_CLIENT = "jobs-client"
F_FROM = "jobs-from"
F_TO = "jobs-to"
F_TEXT = "jobs-search"
LIST = "jobs-list"
LIST_ERROR = "jobs-list-error"
PAGER = Pager("jobs")  # where the next page starts: the last number shown
PAGER_PREV = PAGER.prev
PAGER_NEXT = PAGER.next
PAGER_TEXT = PAGER.text
PAGING = PAGER.paging
LAST = PAGER.last
REFRESH = "jobs-refresh"  # bumps after New Job: the list shows it at once
OPTIONS_READY = "jobs-options-ready"

NEW_OPEN = "new-job-open"
NEW_PANEL = "new-job-panel"
NEW_CLIENT = "new-job-client"
NEW_PROPERTY = "new-job-property"
NEW_DESCRIPTION = "new-job-description"
NEW_DAY = "new-job-day"
NEW_START = "new-job-start"
NEW_END = "new-job-end"
NEW_MANAGER = "new-job-manager"
NEW_AUX = "new-job-auxiliary"
NEW_SAVE = "new-job-save"
NEW_RESULT = "new-job-result"
#: Where each problem pointer of the New Job's answer is shown (id of its slot).
NEW_FIELDS: Mapping[str, str] = {
    "/client_id": NEW_CLIENT,
    "/property_id": NEW_PROPERTY,
    "/description": NEW_DESCRIPTION,
    "/day": NEW_DAY,
    "/scheduled_start": NEW_START,
    "/scheduled_end": NEW_END,
    "/path/technician_id": NEW_MANAGER,
}


def client_and_site(client_id: str, property_id: str) -> list[html.Div]:
    """A New form's client and its site (the site's choices follow the client:
    ``callbacks.register_new_form``)."""
    return [
        field("Client", client_id, dcc.Dropdown(id=client_id)),
        field(
            "Property (job site)",
            property_id,
            dcc.Dropdown(id=property_id, placeholder="Pick a client first"),
        ),
    ]


def new_job_form() -> html.Div:
    return html.Div(
        [
            html.H4("New Job"),
            html.Div(
                [
                    *client_and_site(NEW_CLIENT, NEW_PROPERTY),
                    field(
                        "Description",
                        NEW_DESCRIPTION,
                        dcc.Textarea(id=NEW_DESCRIPTION, className="office-text"),
                    ),
                    field(
                        "Day", NEW_DAY, dcc.Input(id=NEW_DAY, placeholder="YYYY-MM-DD")
                    ),
                    field(
                        "From", NEW_START, dcc.Input(id=NEW_START, placeholder="HH:MM")
                    ),
                    field("To", NEW_END, dcc.Input(id=NEW_END, placeholder="HH:MM")),
                    field(
                        "Job Manager",
                        NEW_MANAGER,
                        dcc.Dropdown(id=NEW_MANAGER, placeholder="Technician"),
                    ),
                    field(
                        "Auxiliary",
                        NEW_AUX,
                        dcc.Dropdown(id=NEW_AUX, multi=True, placeholder="Optional"),
                    ),
                ],
                className="office-form",
            ),
            html.Button("Create job", id=NEW_SAVE, className="primary"),
            html.Div(id=NEW_RESULT),
        ],
        id=NEW_PANEL,
        className="panel",
        hidden=True,
    )


def filters() -> html.Div:
    return html.Div(
        [
            dcc.Input(
                id=F_TEXT,
                type="search",
                placeholder="Job number or client",
                debounce=True,
                className="office-search",
            ),
            dcc.Dropdown(
                id=F_STATUS,
                options=[
                    {"label": v, "value": k.value} for k, v in STATUS_LABELS.items()
                ],
                multi=True,
                placeholder="Status",
                className="office-filter",
            ),
            dcc.Dropdown(
                id=F_TECH, placeholder="Technician", className="office-filter"
            ),
            dcc.Dropdown(id=F_TEAM, placeholder="Team", className="office-filter"),
            dcc.Dropdown(id=F_CLIENT, placeholder="Client", className="office-filter"),
            *day_range_inputs(F_FROM, F_TO),
        ],
        className="office-filters panel",
    )


def _label(heading: str) -> Any:
    """The cell's column heading, shown beside it where the table stacks (phone)."""
    return {"data-label": heading}


def table(rows: Sequence[Mapping[str, str]]) -> Any:
    """The list: each job's number links its Job page."""
    if not rows:
        return html.P("No job matches these filters.", className="muted")
    head = ["Job", "Status", "Client", "Site", "When", "Job Manager", "Auxiliary"]
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(
                                dcc.Link(r["number"], href=r["href"]), **_label("Job")
                            ),
                            html.Td(
                                html.Span(
                                    r["status_label"], className=f"status {r['status']}"
                                )
                            ),
                            html.Td(r["client"], **_label("Client")),
                            html.Td(r["site"], **_label("Site")),
                            html.Td(r["when"], **_label("When")),
                            html.Td(r["manager"], **_label("Job Manager")),
                            html.Td(r["auxiliary"], **_label("Auxiliary")),
                        ],
                        className="job-row",
                    )
                    for r in rows
                ]
            ),
        ],
        className="office-table",
    )


def page(query: Mapping[str, list[str]]) -> html.Div:
    """The page at ``PATH``; ``?client=<id>`` opens New Job for that client
    (a client's profile links here)."""
    client = (query.get("client") or [""])[0]
    return html.Div(
        [
            *PAGER.stores(),
            dcc.Store(id=REFRESH, data=0),
            dcc.Store(id=OPTIONS_READY, data=client),
            html.Div(
                [
                    html.H3("Jobs"),
                    html.Button("New Job", id=NEW_OPEN, className="primary"),
                ],
                className="office-title",
            ),
            new_job_form(),
            filters(),
            html.Div(id=LIST_ERROR, className="field-error"),
            html.Div(id=LIST, className="panel table-scroll"),
            PAGER.row(),
        ],
        className="office",
    )
