"""The Invoices page's callbacks: the client choices, the list and its pager.

The list is ``services.invoicing.list_invoices`` (the API's listing) read as the
logged-in user, for the roles the matrix lets read invoices.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from dashboard.actions import Conn
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.invoices import layout, model
from dashboard.paging import OffsetPaging
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import InvalidInput
from jobs_domain.permissions import Act, allowed, require
from services import directory, invoicing

MAX_CHOICES = 500  # clients the filter lists (it filters as you type)


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Invoices page's callbacks to ``app``."""

    @app.callback(
        Output(layout.F_CLIENT, "options"),
        Input(layout.OPTIONS_READY, "data"),
    )
    def _clients(_ready: Any) -> Any:
        user, office = current_user(ctx)
        if not allowed(Role(user.role), Act.READ_INVOICES):
            return []

        async def read(conn: Conn, _actor: Actor) -> list[dict[str, str]]:
            found = await directory.list_clients(
                conn, q=None, after=None, limit=MAX_CHOICES
            )
            return sorted(
                ({"label": c.name, "value": str(c.id)} for c in found),
                key=lambda o: o["label"],
            )

        return office.read(user, read)

    layout.PAGER.register(
        app,
        [
            Input(layout.F_STATUS, "value"),
            Input(layout.F_CLIENT, "value"),
            Input(layout.F_FROM, "value"),
            Input(layout.F_TO, "value"),
        ],
    )

    @app.callback(
        Output(layout.LIST, "children"),
        *layout.PAGER.outputs(),
        Output(layout.LIST_ERROR, "children"),
        Input(layout.PAGING, "data"),
        State(layout.F_STATUS, "value"),
        State(layout.F_CLIENT, "value"),
        State(layout.F_FROM, "value"),
        State(layout.F_TO, "value"),
    )
    def _list(
        data: Any,
        statuses: list[str] | None,
        client: str | None,
        day_from: str | None,
        day_to: str | None,
    ) -> Any:
        user, office = current_user(ctx)
        paging = OffsetPaging.of(data)
        try:
            filters = model.filters_from(
                ctx.zone,
                statuses=statuses,
                client_id=client,
                day_from=day_from,
                day_to=day_to,
            )
        except InvalidInput as exc:
            message = "; ".join(p.message for p in exc.problems)
            return dash.no_update, None, "", True, True, f"Filters: {message}"
        if not allowed(Role(user.role), Act.READ_INVOICES):
            raise PreventUpdate

        async def read(conn: Conn, actor: Actor) -> tuple[list[dict[str, str]], bool]:
            require(actor, Act.READ_INVOICES)
            found = await invoicing.list_invoices(conn, **filters.list_args(paging))
            shown, more = paging.cut(found)
            numbers = {
                s.invoice.job_id: ref
                for s in shown
                if s.invoice.job_id
                and (ref := await invoicing.job_reference(conn, s.invoice))
            }
            return model.rows(shown, numbers, ctx.zone), more

        rows, more = office.read(user, read)
        after = paging.forward().offset if more else None  # the next page's offset
        return layout.table(rows), *layout.PAGER.shown(paging, after), None
