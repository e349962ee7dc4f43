"""The Technicians page's callbacks: the teams and the list, the edit form.

Reads are ``services.directory``'s; a save is ``update_technician`` (the API's
``PATCH /technicians/{id}``) through :meth:`dashboard.actions.Office.edit_record`
(role matrix, the page's version as If-Match, the service's checks at their field).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from dashboard import forms
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.technicians import layout
from jobs_domain.actors import Actor, Role
from jobs_domain.permissions import Act, allowed
from services import directory
from storage.clients import TechnicianRecord

#: The most technicians the page lists.
LIMIT = 500


def _row(t: TechnicianRecord) -> dict[str, str]:
    return {
        "name": t.name,
        "team": t.team or "—",
        "phone": t.phone or "—",
        "devices": ", ".join(t.device_ids) or "—",
    }


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Technicians page's callbacks to ``app``."""

    @app.callback(
        Output(layout.TEAMS, "children"),
        Output(layout.LIST, "children"),
        Output(layout.PICK, "options"),
        Output(layout.TEAM_NAMES, "children"),
        Output(layout.SAVE, "disabled"),
        Input(layout.REFRESH, "data"),
    )
    def _list(_refresh: Any) -> Any:
        user, office = current_user(ctx)

        async def read(conn: Conn, _actor: Actor) -> Any:
            techs = await directory.list_technicians(conn, after=None, limit=LIMIT)
            return sorted(techs, key=lambda t: (t.team, t.name)), await directory.teams(
                conn
            )

        techs, teams = office.read(user, read)
        summary = (
            html.P(
                [html.Strong("Teams: ")]
                + [f"{name} ({size})  " for name, size in teams],
                id="tech-team-summary",
            )
            if teams
            else html.P("No team yet.", className="muted")
        )
        return (
            summary,
            layout.table([_row(t) for t in techs]),
            [{"label": t.name, "value": str(t.id)} for t in techs],
            [html.Option(value=name) for name, _size in teams],
            not allowed(Role(user.role), Act.EDIT_DIRECTORY),
        )

    @app.callback(
        Output(layout.NAME, "value"),
        Output(layout.PHONE, "value"),
        Output(layout.TEAM, "value"),
        Output(layout.VERSION, "data"),
        Input(layout.PICK, "value"),
        Input(layout.REFRESH, "data"),
    )
    def _pick(technician_id: str | None, _refresh: Any) -> Any:
        if not technician_id:
            return "", "", "", None
        user, office = current_user(ctx)

        async def read(conn: Conn, _actor: Actor) -> TechnicianRecord:
            return await directory.get_technician(conn, technician_id)

        t = office.read(user, read)
        return t.name, t.phone or "", t.team, t.version

    def save(
        office: Office,
        user: OfficeUser,
        technician_id: str | None,
        version: int | None,
        name: str | None,
        phone: str | None,
        team: str | None,
    ) -> Done:
        if not technician_id:
            raise PreventUpdate
        changes = {
            "name": name or "",
            "phone": (phone or "").strip() or None,
            "team": team or "",
        }

        async def edit(conn: Conn, check: Any) -> TechnicianRecord:
            return await directory.update_technician(
                conn, technician_id, changes, check=check
            )

        return office.edit_record(
            user, Act.EDIT_DIRECTORY, version, edit, f"{(name or '').strip()} saved."
        )

    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.SAVE, layout.FIELDS),
        result=layout.RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.PICK, "value"),
            State(layout.VERSION, "data"),
            State(layout.NAME, "value"),
            State(layout.PHONE, "value"),
            State(layout.TEAM, "value"),
        ],
        run=save,
    )
