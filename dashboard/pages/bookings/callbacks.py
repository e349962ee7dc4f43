"""The Bookings page's callbacks: the list, Confirm and Decline, New booking.

The list is ``services.estimates.awaiting_confirmation`` (bookings whose job is
Pending). Confirm schedules the job through :meth:`dashboard.actions.Office.schedule`
— the same schedule use case the Job page and the day board use (Job Manager,
window, double booking) — with the version the page showed; Decline cancels it
with a reason (:meth:`~dashboard.actions.Office.status`). Once confirmed or
declined the booking leaves the list. New booking is the API's office booking
(``POST /bookings``) through :meth:`~dashboard.actions.Office.take_booking`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import forms
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.bookings import layout, model
from dashboard.pages.job import model as job_model
from dashboard.pages.job import panels
from dashboard.pages.jobs import callbacks as jobs_callbacks
from dashboard.pages.jobs.model import (
    NewJobForm,
    address_text,
    job_href,
    planned_window,
)
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import DomainError, InvalidInput
from jobs_domain.job import JobStatus, parse_job_number
from jobs_domain.permissions import Act, allowed
from services import estimates as service
from services import jobs as jobs_service


def _window(
    day: str | None, start: str | None, end: str | None, ctx: Context
) -> tuple[Any, Any] | Done:
    """The typed window (company zone) in UTC, or the form's problems."""
    try:
        window = planned_window(
            NewJobForm(None, None, "", day, start, end, None), ctx.zone
        )
    except InvalidInput as exc:
        problems = {p.pointer: p.message for p in exc.problems}
        return Done(False, f"Not saved: {exc.message}", problems=problems)
    if window is None:
        return forms.refused("no window", "/day", "required")
    return window


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Bookings page's callbacks to ``app``."""

    @app.callback(
        Output(layout.NEW_CLIENT, "options"),
        Output(layout.NEW_MANAGER, "options"),
        Output(layout.NEW_OPEN, "disabled"),
        Input(layout.OPTIONS_READY, "data"),
    )
    def _options(_ready: Any) -> Any:
        user, office = current_user(ctx)
        found = office.read(user, jobs_callbacks.choices)
        may_book = allowed(Role(user.role), Act.TAKE_BOOKING)
        return found["clients"], found["technicians"], not may_book

    jobs_callbacks.register_new_form(
        app,
        ctx,
        layout.NEW_OPEN,
        layout.NEW_PANEL,
        layout.NEW_CLIENT,
        layout.NEW_PROPERTY,
    )

    @app.callback(Output(layout.LIST, "children"), Input(layout.REFRESH, "data"))
    def _list(_refresh: Any) -> Any:
        user, office = current_user(ctx)

        async def read(conn: Conn, _actor: Actor) -> list[dict[str, str]]:
            waiting = await service.awaiting_confirmation(conn, model.LIMIT)
            overviews = await jobs_service.overviews(conn, [w.job for w in waiting])
            return [
                model.row(w.booking, o.job, o.client.name, o.property, ctx.zone)
                for w, o in zip(waiting, overviews, strict=True)
            ]

        return layout.table(office.read(user, read))

    @app.callback(
        Output(layout.FACTS, "children"),
        Output(layout.SEEN, "data"),
        Output(layout.FORM, "hidden"),
        Output(layout.MANAGER, "options"),
        Output(layout.MANAGER, "value"),
        Output(layout.DAY, "value"),
        Output(layout.START, "value"),
        Output(layout.END, "value"),
        Input(layout.NUMBER, "data"),
        Input(layout.REFRESH, "data"),
    )
    def _booking(number: str, _refresh: Any) -> Any:
        user, office = current_user(ctx)
        n = parse_job_number(number or "")
        if n is None:
            return html.P("No such job.", className="refused"), *(dash.no_update,) * 7

        async def read(conn: Conn, actor: Actor) -> Any:
            job = await jobs_service.load_visible_by_number(conn, actor, n)
            (overview,) = await jobs_service.overviews(conn, [job])
            booking = (
                {}
                if job.booking_id is None
                else await service.load_booking(conn, job.booking_id)
            )
            found = await jobs_callbacks.choices(conn, actor)
            return overview, booking, found["technicians"]

        try:
            overview, booking, techs = office.read(user, read)
        except DomainError as exc:
            return html.P(exc.message, className="refused"), *(dash.no_update,) * 7
        job = overview.job
        r = model.row(booking, job, overview.client.name, overview.property, ctx.zone)
        facts = panels.facts(
            [
                ("Job", dcc.Link(job.display_number, href=job_href(r["number"]))),
                ("Status", job_model.status_label(job.status)),
                ("Reference", r["reference"]),
                ("Received", r["received"]),
                ("Contact", r["contact"]),
                (
                    "Address",
                    ""
                    if overview.property is None
                    else address_text(overview.property),
                ),
                ("Service", r["service"]),
                ("Preferred window", r["window"]),
            ]
        )
        waiting = job.status is JobStatus.PENDING and allowed(
            Role(user.role), Act.SCHEDULE
        )
        day, start, end = model.confirm_defaults(job, ctx.zone)
        seen = {"id": job.id, "version": job.version}
        return facts, seen, not waiting, techs, job.job_manager, day, start, end

    def decide(
        office: Office,
        user: OfficeUser,
        seen: dict[str, Any] | None,
        manager: str | None,
        day: str | None,
        start: str | None,
        end: str | None,
        reason: str | None,
    ) -> Done:
        if not seen:
            raise PreventUpdate
        job_id, version = str(seen["id"]), int(seen["version"])
        if dash.ctx.triggered_id == layout.DECLINE:
            return office.status(user, job_id, version, Act.CANCEL, reason or "")
        if not manager:
            return forms.refused("no Job Manager", "/technician_id", "pick one")
        window = _window(day, start, end, ctx)
        if isinstance(window, Done):
            return window
        return office.schedule(
            user, job_id, version, start=window[0], end=window[1], technician_id=manager
        )

    forms.wire(
        app,
        ctx,
        submit=forms.Submit(
            (
                (layout.CONFIRM, layout.CONFIRM_FIELDS),
                (layout.DECLINE, layout.DECLINE_FIELDS),
            )
        ),
        result=layout.RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.SEEN, "data"),
            State(layout.MANAGER, "value"),
            State(layout.DAY, "value"),
            State(layout.START, "value"),
            State(layout.END, "value"),
            State(layout.REASON, "value"),
        ],
        run=decide,
    )

    def book(
        office: Office,
        user: OfficeUser,
        client: str | None,
        prop: str | None,
        description: str | None,
        day: str | None,
        start: str | None,
        end: str | None,
        manager: str | None,
    ) -> Done:
        if not client:
            return forms.refused("no client", "/client_id", "pick a client")
        window = _window(day, start, end, ctx)
        if isinstance(window, Done):
            return window
        new = service.NewBooking(
            client_id=client,
            description=(description or "").strip(),
            requested_start=window[0],
            requested_end=window[1],
            property_id=prop or None,
            technician_id=manager or None,
        )
        return office.take_booking(user, new)

    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.NEW_SAVE, layout.NEW_FIELDS),
        result=layout.NEW_RESULT,
        refresh=layout.REFRESH,
        states=[
            State(i, "value")
            for i in (
                layout.NEW_CLIENT,
                layout.NEW_PROPERTY,
                layout.NEW_DESCRIPTION,
                layout.NEW_DAY,
                layout.NEW_START,
                layout.NEW_END,
                layout.NEW_MANAGER,
            )
        ],
        run=book,
        clear=[layout.NEW_DESCRIPTION],
        reload=lambda done: done.ok,
    )
