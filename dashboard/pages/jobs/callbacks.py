"""The Jobs page's callbacks: the filter choices, the list and its pager, New Job.

The list is the API's listing (``services.jobs.search_jobs``, one page by job
number) read as the logged-in user; New Job is ``services.jobs.create_job``
through :class:`dashboard.actions.Office` (role matrix, field problems).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc
from dash.exceptions import PreventUpdate

from dashboard import forms
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.jobs import layout, model
from dashboard.paging import Paging
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import InvalidInput
from jobs_domain.job import CrewRole
from jobs_domain.permissions import Act, allowed
from services import directory
from services import jobs as service

#: The most choices a filter's drop-down lists (it filters as you type).
MAX_CHOICES = 500


async def choices(conn: Conn, _actor: Actor) -> dict[str, list[dict[str, str]]]:
    techs = await directory.list_technicians(conn, after=None, limit=MAX_CHOICES)
    clients = await directory.list_clients(conn, q=None, after=None, limit=MAX_CHOICES)
    teams = await directory.teams(conn)
    return {
        "technicians": sorted(
            (
                {
                    "label": t.name + (f" ({t.team})" if t.team else ""),
                    "value": str(t.id),
                }
                for t in techs
            ),
            key=lambda o: o["label"],
        ),
        "clients": sorted(
            ({"label": c.name, "value": str(c.id)} for c in clients),
            key=lambda o: o["label"],
        ),
        "teams": [{"label": name, "value": name} for name, _size in teams],
    }


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Jobs page's callbacks to ``app``."""

    @app.callback(
        Output(layout.F_TECH, "options"),
        Output(layout.F_TEAM, "options"),
        Output(layout.F_CLIENT, "options"),
        Output(layout.NEW_CLIENT, "options"),
        Output(layout.NEW_MANAGER, "options"),
        Output(layout.NEW_AUX, "options"),
        Output(layout.NEW_CLIENT, "value"),
        Output(layout.NEW_PANEL, "hidden", allow_duplicate=True),
        Output(layout.NEW_OPEN, "disabled"),
        Input(layout.OPTIONS_READY, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _options(client: str | None) -> Any:
        user, office = current_user(ctx)
        found = office.read(user, choices)
        techs, clients = found["technicians"], found["clients"]
        may_create = allowed(Role(user.role), Act.CREATE_JOB)
        preset = (
            client if client and any(c["value"] == client for c in clients) else None
        )
        return (
            techs,
            found["teams"],
            clients,
            clients,
            techs,
            techs,
            preset,
            not (may_create and preset is not None),
            not may_create,
        )

    register_new_form(
        app,
        ctx,
        layout.NEW_OPEN,
        layout.NEW_PANEL,
        layout.NEW_CLIENT,
        layout.NEW_PROPERTY,
    )

    layout.PAGER.register(
        app,
        [
            Input(layout.F_STATUS, "value"),
            Input(layout.F_TECH, "value"),
            Input(layout.F_TEAM, "value"),
            Input(layout.F_CLIENT, "value"),
            Input(layout.F_FROM, "value"),
            Input(layout.F_TO, "value"),
            Input(layout.F_TEXT, "value"),
        ],
    )

    @app.callback(
        Output(layout.LIST, "children"),
        *layout.PAGER.outputs(),
        Output(layout.LIST_ERROR, "children"),
        Input(layout.PAGING, "data"),
        Input(layout.REFRESH, "data"),
        State(layout.F_STATUS, "value"),
        State(layout.F_TECH, "value"),
        State(layout.F_TEAM, "value"),
        State(layout.F_CLIENT, "value"),
        State(layout.F_FROM, "value"),
        State(layout.F_TO, "value"),
        State(layout.F_TEXT, "value"),
    )
    def _list(
        raw: dict[str, Any] | None,
        _refresh: Any,
        statuses: list[str] | None,
        tech: str | None,
        team: str | None,
        client: str | None,
        day_from: str | None,
        day_to: str | None,
        text: str | None,
    ) -> Any:
        user, office = current_user(ctx)
        paging = Paging[int].of(raw)
        try:
            filters = model.filters_from(
                ctx.zone,
                statuses=statuses,
                technician_id=tech,
                team=team,
                client_id=client,
                day_from=day_from,
                day_to=day_to,
                text=text,
            )
        except InvalidInput as exc:
            message = "; ".join(p.message for p in exc.problems)
            return dash.no_update, None, "", True, True, f"Filters: {message}"

        async def read(conn: Conn, actor: Actor) -> tuple[list[dict[str, str]], Any]:
            jobs = await service.search_jobs(
                conn,
                actor,
                **filters.search_args(),
                after_number=paging.current,
                limit=paging.limit,
            )
            jobs, more = paging.cut(jobs)
            rows = [model.row(o, ctx.zone) for o in await service.overviews(conn, jobs)]
            return rows, (jobs[-1].number if more else None)

        rows, last = office.read(user, read)
        return (layout.table(rows), *layout.PAGER.shown(paging, last), None)

    def _created(done: Done) -> list[Any]:
        if not (done.ok and done.job_number):
            return []
        return [
            dcc.Link(
                f"Open {done.job_number}",
                href=model.job_href(done.job_number),
                id="new-job-link",
            )
        ]

    def _create(
        office: Office,
        user: OfficeUser,
        client: str | None,
        prop: str | None,
        description: str | None,
        day: str | None,
        start: str | None,
        end: str | None,
        manager: str | None,
        aux: list[str] | None,
    ) -> Done:
        form = model.NewJobForm(
            client, prop, description or "", day, start, end, manager, tuple(aux or ())
        )
        return create_from_form(office, user, form, ctx)

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
                layout.NEW_AUX,
            )
        ],
        run=_create,
        extra=_created,
        reload=lambda done: done.ok,
    )


def register_new_form(
    app: dash.Dash,
    ctx: Context,
    open_id: str,
    panel_id: str,
    client_id: str,
    property_id: str,
) -> None:
    """A New form (job, estimate, booking): its button shows and hides it, and
    its site drop-down lists the chosen client's sites (``layout.client_and_site``)."""

    @app.callback(
        Output(panel_id, "hidden"),
        Input(open_id, "n_clicks"),
        State(panel_id, "hidden"),
        prevent_initial_call=True,
    )
    def _toggle(clicks: int | None, hidden: bool | None) -> bool:
        if not clicks:
            raise PreventUpdate
        return not hidden

    @app.callback(
        Output(property_id, "options"),
        Output(property_id, "value"),
        Input(client_id, "value"),
    )
    def _properties(client: str | None) -> Any:
        if not client:
            return [], None
        return _property_choices(ctx, client)


def _property_choices(ctx: Context, client_id: str) -> tuple[list[dict[str, str]], Any]:
    """A client's sites for a drop-down, and the one to preselect (their only one)."""
    user, office = current_user(ctx)

    async def read(conn: Conn, _actor: Actor) -> list[dict[str, str]]:
        found = await directory.list_properties(
            conn, client_id=client_id, after=None, limit=MAX_CHOICES
        )
        return [
            {"label": model.address_text(p) or "(no address)", "value": str(p.id)}
            for p in found
        ]

    options = office.read(user, read)
    return options, (options[0]["value"] if len(options) == 1 else None)


def create_from_form(
    office: Office, user: OfficeUser, form: model.NewJobForm, ctx: Context
) -> Done:
    """Create the job the form describes (its problems answered as the API's)."""
    try:
        client_id = model.required_choice(form.client_id, "/client_id", "client")
        window = model.planned_window(form, ctx.zone)
    except InvalidInput as exc:
        return Done(
            False,
            f"Not saved: {exc.message}",
            problems={p.pointer: p.message for p in exc.problems},
        )
    crew = [(t, CrewRole.JOB_MANAGER) for t in [form.job_manager] if t] + [
        (t, CrewRole.AUXILIARY) for t in form.auxiliaries if t != form.job_manager
    ]
    return office.create_job(
        user,
        service.NewJob(
            client_id=client_id,
            description=form.description,
            property_id=form.property_id,
            window=window,
        ),
        crew,
    )
