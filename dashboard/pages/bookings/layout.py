"""The Bookings page's layout: the bookings to confirm, one booking's Confirm
and Decline (``?number=J-000051``), and New booking (taken by phone)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard.forms import field, form_block
from dashboard.pages.bookings.model import PATH
from dashboard.pages.job import panels
from dashboard.pages.jobs.layout import client_and_site

__all__ = ["PATH", "page"]

LIST = "bookings-list"
REFRESH = "bookings-refresh"  # bumps after a confirm, a decline or a booking
OPTIONS_READY = "bookings-options-ready"

NUMBER = "booking-job"  # the job number of the booking shown (store)
SEEN = "booking-seen"  # {"id", "version"} of its job as shown
PANEL = "booking-panel"
FACTS = "booking-facts"
FORM = "booking-form"  # hidden once the booking is no longer waiting
MANAGER = "booking-manager"
DAY = "booking-day"
START = "booking-start"
END = "booking-end"
CONFIRM = "booking-confirm"
REASON = "booking-reason"
DECLINE = "booking-decline"
RESULT = "booking-result"
CONFIRM_FIELDS: Mapping[str, str] = {
    "/day": DAY,
    "/scheduled_start": START,
    "/start": START,
    "/scheduled_end": END,
    "/end": END,
    "/technician_id": MANAGER,
}
DECLINE_FIELDS: Mapping[str, str] = {"/reason": REASON}

NEW_OPEN = "new-booking-open"
NEW_PANEL = "new-booking-panel"
NEW_CLIENT = "new-booking-client"
NEW_PROPERTY = "new-booking-property"
NEW_DESCRIPTION = "new-booking-description"
NEW_DAY = "new-booking-day"
NEW_START = "new-booking-start"
NEW_END = "new-booking-end"
NEW_MANAGER = "new-booking-manager"
NEW_SAVE = "new-booking-save"
NEW_RESULT = "new-booking-result"
NEW_FIELDS: Mapping[str, str] = {
    "/client_id": NEW_CLIENT,
    "/property_id": NEW_PROPERTY,
    "/description": NEW_DESCRIPTION,
    "/day": NEW_DAY,
    "/scheduled_start": NEW_START,
    "/scheduled_end": NEW_END,
    "/requested_end": NEW_END,
    "/technician_id": NEW_MANAGER,
}
HEAD = ("Job", "Received", "Reference", "Contact", "Address", "Service", "Window")


def table(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return html.P("No booking waits for confirmation.", className="muted")
    return panels.table(
        HEAD,
        [
            [
                dcc.Link(f"Confirm {r['number']}", href=r["href"]),
                r["received"],
                r["reference"],
                r["contact"],
                r["address"],
                r["service"],
                r["window"],
            ]
            for r in rows
        ],
        "bookings",
    )


def _window_fields(day: str, start: str, end: str) -> list[Any]:
    return [
        field("Day", day, dcc.Input(id=day, placeholder="YYYY-MM-DD")),
        field("From", start, dcc.Input(id=start, placeholder="HH:MM")),
        field("To", end, dcc.Input(id=end, placeholder="HH:MM")),
    ]


def confirm_panel(number: str) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=NUMBER, data=number),
            dcc.Store(id=SEEN),
            html.H4(f"Booking {number}"),
            html.Div(id=FACTS),
            html.Div(
                [
                    form_block(
                        [
                            field(
                                "Job Manager",
                                MANAGER,
                                dcc.Dropdown(id=MANAGER, placeholder="Technician"),
                            ),
                            *_window_fields(DAY, START, END),
                        ],
                        [html.Button("Confirm", id=CONFIRM, className="primary")],
                        heading="Confirm: schedule it",
                    ),
                    form_block(
                        [
                            field(
                                "Reason",
                                REASON,
                                dcc.Input(id=REASON, className="office-wide"),
                            )
                        ],
                        [html.Button("Decline", id=DECLINE)],
                        heading="Decline: cancel the job",
                    ),
                ],
                id=FORM,
            ),
            html.Div(id=RESULT),
        ],
        id=PANEL,
        className="panel",
    )


def new_booking_form() -> html.Div:
    return html.Div(
        [
            html.H4("New booking (taken by phone)"),
            html.Div(
                [
                    *client_and_site(NEW_CLIENT, NEW_PROPERTY),
                    field(
                        "Service",
                        NEW_DESCRIPTION,
                        dcc.Textarea(id=NEW_DESCRIPTION, className="office-text"),
                    ),
                    *_window_fields(NEW_DAY, NEW_START, NEW_END),
                    field(
                        "Job Manager",
                        NEW_MANAGER,
                        dcc.Dropdown(id=NEW_MANAGER, placeholder="Optional"),
                    ),
                ],
                className="office-form",
            ),
            html.Button("Book", id=NEW_SAVE, className="primary"),
            html.Div(id=NEW_RESULT),
        ],
        id=NEW_PANEL,
        className="panel",
        hidden=True,
    )


def page(query: Mapping[str, list[str]]) -> html.Div:
    """The bookings waiting for the office; ``?number=J-000051`` opens that
    booking's Confirm and Decline above the list."""
    number = (query.get("number") or [""])[0]
    return html.Div(
        [
            dcc.Store(id=REFRESH, data=0),
            dcc.Store(id=OPTIONS_READY, data=0),
            html.Div(
                [
                    html.H3("Bookings to confirm"),
                    html.Button("New booking", id=NEW_OPEN, className="primary"),
                ],
                className="office-title",
            ),
            new_booking_form(),
            *([confirm_panel(number)] if number else []),
            html.Div(id=LIST, className="panel table-scroll"),
        ],
        className="office",
    )
