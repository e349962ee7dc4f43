"""The Estimates page's callbacks: the list, New Estimate, Approve, Convert to Job.

Reads are the API's use cases (``services.estimates``) as the logged-in user;
every edit goes through :class:`dashboard.actions.Office` (role matrix, the
use case's rules, problems at their fields). The line items are the Job page's
picker (:mod:`dashboard.line_items`): each one added is priced by the API's own
``services.jobs.new_line_item`` at once (a problem shown at its field), and the
estimate is created with them in one call.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import forms, line_items
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.estimates import layout, model
from dashboard.pages.job import model as job_model
from dashboard.pages.job import panels
from dashboard.pages.jobs import callbacks as jobs_callbacks
from dashboard.pages.jobs.model import address_text, job_href
from dashboard.paging import Paging
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import DomainError, InvalidInput
from jobs_domain.job import LineItem
from jobs_domain.permissions import Act, allowed
from services import directory, price_book
from services import estimates as service
from services import jobs as jobs_service


def _draft_view(draft: list[dict[str, Any]] | None) -> Any:
    rows, totals = job_model.line_item_rows(model.draft_items(draft))
    return panels.line_items(rows, totals)


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Estimates page's callbacks to ``app``."""

    @app.callback(
        Output(layout.F_CLIENT, "options"),
        Output(layout.NEW_CLIENT, "options"),
        Output(layout.LI.family, "options"),
        Output(layout.NEW_OPEN, "disabled"),
        Input(layout.OPTIONS_READY, "data"),
    )
    def _options(_ready: Any) -> Any:
        user, office = current_user(ctx)

        async def read(conn: Conn, actor: Actor) -> Any:
            found = await jobs_callbacks.choices(conn, actor)
            return found["clients"], await price_book.list_families(conn)

        clients, families = office.read(user, read)
        may_create = allowed(Role(user.role), Act.CREATE_ESTIMATE)
        return clients, clients, line_items.family_options(families), not may_create

    jobs_callbacks.register_new_form(
        app,
        ctx,
        layout.NEW_OPEN,
        layout.NEW_PANEL,
        layout.NEW_CLIENT,
        layout.NEW_PROPERTY,
    )

    line_items.register_search(app, ctx, layout.LI)
    _register_draft(app, ctx)
    _register_list(app, ctx)
    _register_estimate(app, ctx)

    def save(
        office: Office,
        user: OfficeUser,
        client: str | None,
        prop: str | None,
        description: str | None,
        internal: str | None,
        public: str | None,
        draft: list[dict[str, Any]] | None,
    ) -> Done:
        if not client:
            return forms.refused("no client", "/client_id", "pick a client")
        new = service.NewEstimate(
            client_id=client,
            description=description or "",
            property_id=prop or None,
            line_items=model.draft_bodies(draft),
            notes=model.notes_of(internal, public),
        )
        return office.create_estimate(user, new)

    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.NEW_SAVE, layout.NEW_FIELDS),
        result=layout.NEW_RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.NEW_CLIENT, "value"),
            State(layout.NEW_PROPERTY, "value"),
            State(layout.NEW_DESCRIPTION, "value"),
            State(layout.NEW_NOTE_INTERNAL, "value"),
            State(layout.NEW_NOTE_PUBLIC, "value"),
            State(layout.DRAFT, "data"),
        ],
        run=save,
        clear=[
            layout.NEW_DESCRIPTION,
            layout.NEW_NOTE_INTERNAL,
            layout.NEW_NOTE_PUBLIC,
        ],
        reload=lambda done: done.ok,
    )


def _register_draft(app: dash.Dash, ctx: Context) -> None:
    """The line items of the estimate being written: added one at a time (each
    priced and checked by the API's use case), shown with their totals."""
    ids = layout.LI
    fields = forms.field_ids({**ids.book_fields, **ids.custom_fields})

    @app.callback(
        Output(layout.DRAFT, "data", allow_duplicate=True),
        Output(ids.result, "children", allow_duplicate=True),
        Output(ids.desc, "value"),
        Output(ids.price, "value"),
        *[Output(forms.error_slot(f), "children") for f in fields],
        Input(ids.add, "n_clicks"),
        Input(ids.cadd, "n_clicks"),
        *[State(i, "value") for i in ids.slots],
        State(layout.DRAFT, "data"),
        prevent_initial_call=True,
    )
    def _add(_book: Any, _custom: Any, *rest: Any) -> Any:
        *typed, draft = rest
        user, office = current_user(ctx)
        trigger = dash.ctx.triggered_id
        raw = line_items.raw_item(ids, trigger, *typed)
        pointers = ids.book_fields if trigger == ids.add else ids.custom_fields
        priced: LineItem | None = None
        if isinstance(raw, Done):
            done = raw
        else:
            body = raw
            try:
                priced = office.read(
                    user, lambda c, _a: jobs_service.new_line_item(c, body, "")
                )
                done = Done(True, f"Added: {priced.description}.")
            except InvalidInput as exc:
                problems = {p.pointer: p.message for p in exc.problems}
                done = Done(False, f"Not added: {exc.message}", problems=problems)
            except DomainError as exc:
                done = Done(False, f"Not added: {exc.message}")
        shown, slots = forms.done_view(done, pointers, fields)
        if priced is None or isinstance(raw, Done):
            return dash.no_update, shown, dash.no_update, dash.no_update, *slots
        added = [*(draft or []), model.draft_entry(raw, priced)]
        return added, shown, "", "", *slots

    @app.callback(
        Output(layout.DRAFT, "data", allow_duplicate=True),
        Output(ids.result, "children", allow_duplicate=True),
        Input(layout.DRAFT_CLEAR, "n_clicks"),
        Input(layout.REFRESH, "data"),
        prevent_initial_call=True,
    )
    def _clear(_clicks: Any, _saved: Any) -> Any:
        return [], None  # emptied on request, and once the estimate is saved

    @app.callback(Output(layout.DRAFT_VIEW, "children"), Input(layout.DRAFT, "data"))
    def _view(draft: list[dict[str, Any]] | None) -> Any:
        return _draft_view(draft)


def _register_list(app: dash.Dash, ctx: Context) -> None:
    layout.PAGER.register(
        app,
        [
            Input(layout.F_TEXT, "value"),
            Input(layout.F_STATUS, "value"),
            Input(layout.F_CLIENT, "value"),
        ],
    )

    @app.callback(
        Output(layout.LIST, "children"),
        *layout.PAGER.outputs(),
        Input(layout.PAGING, "data"),
        Input(layout.REFRESH, "data"),
        State(layout.F_TEXT, "value"),
        State(layout.F_STATUS, "value"),
        State(layout.F_CLIENT, "value"),
    )
    def _list(
        raw: dict[str, Any] | None,
        _refresh: Any,
        text: str | None,
        status: str | None,
        client: str | None,
    ) -> Any:
        user, office = current_user(ctx)
        paging = Paging[int].of(raw)

        async def read(conn: Conn, _actor: Actor) -> tuple[list[Any], Any]:
            found = await service.search(
                conn,
                status=status or None,
                client_id=client or None,
                text=text,
                after=paging.current,
                limit=paging.limit,
            )
            found, more = paging.cut(found)
            names = {
                c: (await directory.get_client(conn, c)).name
                for c in dict.fromkeys(e.client_id for e in found)
            }
            rows = [model.row(e, names[e.client_id]) for e in found]
            return rows, (found[-1].number if more else None)

        rows, last = office.read(user, read)
        return (layout.table(rows), *layout.PAGER.shown(paging, last))


def _register_estimate(app: dash.Dash, ctx: Context) -> None:
    """One estimate: what it quotes, Approve, Convert to Job (which opens the job)."""

    @app.callback(
        Output(layout.HEADER, "children"),
        Output(layout.BODY, "children"),
        Output(layout.SEEN, "data"),
        Output(layout.APPROVE, "hidden"),
        Output(layout.CONVERT, "hidden"),
        Input(layout.ESTIMATE, "data"),
        Input(layout.REFRESH, "data"),
    )
    def _load(estimate_id: str, _refresh: Any) -> Any:
        user, office = current_user(ctx)

        async def read(conn: Conn, actor: Actor) -> Any:
            estimate = await service.load(conn, estimate_id)
            client = await directory.get_client(conn, estimate.client_id)
            site = (
                None
                if estimate.property_id is None
                else await directory.get_property(conn, estimate.property_id)
            )
            job = (
                None
                if estimate.job_id is None
                else await jobs_service.load_visible(conn, actor, estimate.job_id)
            )
            return estimate, client.name, site, job

        try:
            estimate, client, site, job = office.read(user, read)
        except DomainError as exc:
            nothing = (dash.no_update,) * 2
            return html.H3("No estimate"), exc.message, None, *nothing
        may_approve, may_convert = model.offered(estimate, Role(user.role))
        header = panels.header(
            estimate.display_number,
            f"est-{estimate.status.value}",
            model.STATUS_LABELS[estimate.status],
            client,
            estimate.description,
        )
        facts: list[tuple[str, Any]] = [
            ("Site", "no property" if site is None else address_text(site)),
            ("Created", job_model.when(estimate.created_at, ctx.zone)),
        ]
        if estimate.approved_at is not None:
            facts.append(("Approved", job_model.when(estimate.approved_at, ctx.zone)))
        if job is not None:
            facts.append(
                (
                    "Converted to",
                    dcc.Link(
                        job.display_number,
                        href=job_href(job.display_number),
                        id="estimate-job-link",
                    ),
                )
            )
        rows, totals = job_model.line_item_rows(estimate.line_items)
        body = [
            panels.facts(facts),
            html.H4("Line items"),
            html.Div(panels.line_items(rows, totals), className="table-scroll"),
            html.H4("Notes"),
            panels.notes(job_model.note_rows(estimate.notes, ctx.zone)),
        ]
        seen = {"id": estimate.id, "version": estimate.version}
        return header, body, seen, not may_approve, not may_convert

    def _seen(seen: dict[str, Any] | None) -> tuple[str, int]:
        if not seen:
            raise PreventUpdate
        return str(seen["id"]), int(seen["version"])

    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.APPROVE, {}),
        result=layout.RESULT,
        refresh=layout.REFRESH,
        states=[State(layout.SEEN, "data")],
        run=lambda office, user, seen: office.approve_estimate(user, *_seen(seen)),
    )
    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.CONVERT, {}),
        result=layout.RESULT,
        refresh=layout.REFRESH,
        states=[State(layout.SEEN, "data")],
        run=lambda office, user, seen: office.convert_estimate(user, _seen(seen)[0]),
        duplicate_result=True,
        reload=lambda _done: True,  # refused: converted meanwhile; show it so
        go=(
            layout.GO,
            lambda done: job_href(done.job_number) if done.job_number else None,
        ),
    )
