"""The Clients page's callbacks: the list, a client's profile, the fence editor.

Reads are the API's use cases (``services.directory``, ``services.jobs``) as
the logged-in user; the fence is saved by ``services.directory.update_property``
through :meth:`dashboard.actions.Office.edit_record` (role matrix, the page's
version as the API's If-Match, the domain's checks answered at their field).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from dash import ctx as triggered
from dash.exceptions import PreventUpdate

from dashboard import forms
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.clients import figures, layout, model
from dashboard.pages.jobs import layout as jobs_layout
from dashboard.pages.jobs import model as jobs_model
from dashboard.paging import Paging
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import DomainError, InvalidInput
from jobs_domain.permissions import Act, allowed
from services import directory
from services import jobs as jobs_service
from storage.clients import ClientRecord, PropertyRecord

#: The most jobs and properties a profile lists.
PROFILE_LIMIT = 50


def _contact(client: ClientRecord) -> html.Div:
    rows = [("E-mail", client.email or "—"), ("Phone", client.phone or "—")]
    if client.notes:
        rows.append(("Notes", client.notes))
    return html.Div(
        [html.P([html.Strong(f"{k}: "), v]) for k, v in rows], className="panel"
    )


def _properties(client_id: str, props: list[PropertyRecord]) -> html.Div:
    if not props:
        body: Any = html.P("No property yet.", className="muted")
    else:
        body = html.Table(
            [
                html.Thead(html.Tr([html.Th("Site"), html.Th("Fence"), html.Th("")])),
                html.Tbody(
                    [
                        html.Tr(
                            [
                                html.Td(
                                    jobs_model.address_text(p) or "(no address)",
                                    **layout.cell_label("Site"),
                                ),
                                html.Td(
                                    model.fence_text(p), **layout.cell_label("Fence")
                                ),
                                html.Td(
                                    dcc.Link(
                                        "Edit fence",
                                        href=layout.client_href(client_id, str(p.id)),
                                    )
                                ),
                            ],
                            className="property-row",
                        )
                        for p in props
                    ]
                ),
            ],
            className="office-table",
        )
    return html.Div([html.H4("Properties"), body], className="panel")


def _profile(
    client: ClientRecord,
    props: list[PropertyRecord],
    jobs: list[dict[str, str]],
    may_create: bool,
) -> list[Any]:
    title: list[Any] = [html.H3(client.name)]
    if may_create:
        title.append(
            dcc.Link(
                "New Job",
                href=f"{jobs_layout.PATH}?client={client.id}",
                id="client-new-job",
                className="button primary",
            )
        )
    return [
        html.Div(title, className="office-title"),
        _contact(client),
        _properties(str(client.id), props),
        html.Div(
            [
                html.H4("Jobs"),
                jobs_layout.table(jobs)
                if jobs
                else html.P("No job for this client yet.", className="muted"),
            ],
            className="panel table-scroll",
        ),
    ]


async def list_page(
    conn: Conn, text: str | None, paging: Paging[str]
) -> tuple[list[ClientRecord], bool]:
    """A page of the clients list (ordered by name, as it says), and whether
    more follow."""
    found = await directory.list_clients(
        conn,
        q=(text or "").strip() or None,
        after=paging.current,
        limit=paging.limit,
        by_name=True,
    )
    return paging.cut(found)


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Clients page's callbacks to ``app``."""

    layout.PAGER.register(app, [Input(layout.SEARCH, "value")])

    @app.callback(
        Output(layout.LIST, "children"),
        *layout.PAGER.outputs(),
        Input(layout.PAGING, "data"),
        State(layout.SEARCH, "value"),
    )
    def _list(data: Any, text: str | None) -> Any:
        user, office = current_user(ctx)
        paging = Paging[str].of(data)

        async def read(conn: Conn, _actor: Actor) -> tuple[list[ClientRecord], bool]:
            return await list_page(conn, text, paging)

        found, more = office.read(user, read)
        rows = [
            {
                "name": c.name,
                "email": c.email or "—",
                "phone": c.phone or "—",
                "href": layout.client_href(str(c.id)),
            }
            for c in found
        ]
        last = str(found[-1].id) if more else None
        return layout.table(rows), *layout.PAGER.shown(paging, last)

    @app.callback(
        Output(layout.PROFILE, "children"),
        Input(layout.CLIENT, "data"),
        Input(layout.FENCE_RELOAD, "data"),
    )
    def _client(client_id: str, _reload: Any) -> Any:
        user, office = current_user(ctx)

        async def read(conn: Conn, actor: Actor) -> Any:
            client = await directory.get_client(conn, client_id)
            props = await directory.list_properties(
                conn, client_id=client_id, after=None, limit=PROFILE_LIMIT
            )
            jobs = await jobs_service.search_jobs(
                conn,
                actor,
                statuses=(),
                technician_id=None,
                client_id=client_id,
                date_from=None,
                date_to=None,
                after_number=None,
                limit=PROFILE_LIMIT,
            )
            overviews = await jobs_service.overviews(conn, jobs)
            return client, props, [jobs_model.row(o, ctx.zone) for o in overviews]

        try:
            client, props, jobs = office.read(user, read)
        except DomainError as exc:
            return html.P(exc.message, className="refused")
        may_create = allowed(Role(user.role), Act.CREATE_JOB)
        return _profile(client, props, jobs, may_create)

    def _property(user: OfficeUser, office: Office, property_id: str) -> PropertyRecord:
        async def read(conn: Conn, _actor: Actor) -> PropertyRecord:
            return await directory.get_property(conn, property_id)

        return office.read(user, read)

    @app.callback(
        Output(layout.FENCE_TITLE, "children"),
        Output(layout.FENCE_VERSION, "data"),
        Output(layout.FENCE_KIND, "value"),
        Output(layout.FENCE_LAT, "value"),
        Output(layout.FENCE_LON, "value"),
        Output(layout.FENCE_RADIUS, "value"),
        Output(layout.FENCE_VERTICES, "value", allow_duplicate=True),
        Output(layout.FENCE_SAVE, "disabled"),
        Input(layout.PROPERTY, "data"),
        Input(layout.FENCE_RELOAD, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _load(property_id: str, _reload: Any) -> Any:
        user, office = current_user(ctx)
        prop = _property(user, office, property_id)
        form = model.FenceForm.of(prop)
        may_edit = allowed(Role(user.role), Act.EDIT_DIRECTORY)
        title = f"Fence of {jobs_model.address_text(prop) or 'the site'}"
        return (
            title,
            prop.version,
            form.kind,
            form.lat,
            form.lon,
            form.radius,
            form.vertices,
            not may_edit,
        )

    @app.callback(
        Output(layout.FENCE_MAP, "figure"),
        Input(layout.FENCE_KIND, "value"),
        Input(layout.FENCE_LAT, "value"),
        Input(layout.FENCE_LON, "value"),
        Input(layout.FENCE_RADIUS, "value"),
        Input(layout.FENCE_VERTICES, "value"),
        State(layout.PROPERTY, "data"),
    )
    def _map(
        kind: str, lat: str, lon: str, radius: str, vertices: str, property_id: str
    ) -> Any:
        user, office = current_user(ctx)
        prop = _property(user, office, property_id)
        form = model.FenceForm(
            kind, lat or "", lon or "", str(radius or ""), vertices or ""
        )
        return figures.fence_map(prop, form, ctx.tile_url)

    @app.callback(
        Output(layout.FENCE_VERTICES, "value", allow_duplicate=True),
        Output(layout.FENCE_LAT, "value", allow_duplicate=True),
        Output(layout.FENCE_LON, "value", allow_duplicate=True),
        Output(layout.FENCE_MAP, "clickData"),
        Input(layout.FENCE_MAP, "clickData"),
        Input(layout.FENCE_CLEAR, "n_clicks"),
        State(layout.FENCE_KIND, "value"),
        State(layout.FENCE_VERTICES, "value"),
        prevent_initial_call=True,
    )
    def _click(click: Any, _clear: Any, kind: str, vertices: str | None) -> Any:
        """A click on the map: a corner (polygon) or the centre (circle). The
        click is taken once (cleared), and a corner twice in a row adds nothing."""
        keep = dash.no_update
        if triggered.triggered_id == layout.FENCE_CLEAR:
            return "", keep, keep, None
        points = (click or {}).get("points") or []
        if not points:
            raise PreventUpdate
        lat, lon = float(points[0]["lat"]), float(points[0]["lon"])
        if kind == model.POLYGON:
            return model.add_vertex(vertices, lon, lat), keep, keep, None
        return keep, f"{lat:.6f}", f"{lon:.6f}", None

    def save(
        office: Office,
        user: OfficeUser,
        property_id: str,
        version: int | None,
        kind: str,
        lat: str | None,
        lon: str | None,
        radius: str | None,
        vertices: str | None,
    ) -> Done:
        form = model.FenceForm(
            kind, lat or "", lon or "", str(radius or ""), vertices or ""
        )
        try:
            changes = form.changes()
        except InvalidInput as exc:
            problems = {p.pointer: p.message for p in exc.problems}
            return _at_fields(
                Done(False, f"Not saved: {exc.message}", problems=problems)
            )

        async def edit(conn: Conn, check: Any) -> PropertyRecord:
            return await directory.update_property(
                conn, property_id, changes, check=check
            )

        done = office.edit_record(
            user, Act.EDIT_DIRECTORY, version, edit, "Fence saved."
        )
        return _at_fields(done)

    # a save, or someone else's, re-reads the record; a refusal keeps the form
    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.FENCE_SAVE, layout.FENCE_FIELDS),
        result=layout.FENCE_RESULT,
        refresh=layout.FENCE_RELOAD,
        states=[
            State(layout.PROPERTY, "data"),
            State(layout.FENCE_VERSION, "data"),
            State(layout.FENCE_KIND, "value"),
            State(layout.FENCE_LAT, "value"),
            State(layout.FENCE_LON, "value"),
            State(layout.FENCE_RADIUS, "value"),
            State(layout.FENCE_VERTICES, "value"),
        ],
        run=save,
    )


def _at_fields(done: Done) -> Done:
    """A corner's problem (``/geofence/polygon/3``) is shown at the corners'
    field, naming the corner (line 4)."""
    problems: dict[str, str] = {}
    for pointer, message in done.problems.items():
        head, _, index = pointer.rpartition("/")
        if head == "/geofence/polygon" and index.isdigit():
            pointer, message = head, f"corner {int(index) + 1}: {message}"
        problems[pointer] = message
    return dataclasses.replace(done, problems=problems)
