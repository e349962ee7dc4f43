"""The Clients page's layout: the list (search, pager), a client's profile and
a property's fence editor (``?client=<id>``, ``&property=<id>``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard.pager import Pager
from dashboard.pages.clients.model import CIRCLE, POLYGON
from dashboard.pages.jobs.layout import field
from dashboard.shell import BLANK, MAP_CONFIG

PATH = "/clients"

SEARCH = "clients-search"
LIST = "clients-list"
PAGER = Pager("clients")
PAGER_PREV = PAGER.prev
PAGER_NEXT = PAGER.next
PAGER_TEXT = PAGER.text
PAGING = PAGER.paging
LAST = PAGER.last  # the last id on the page shown, None on the last page

CLIENT = "client-id"  # the profile's client (store)
PROFILE = "client-profile"

PROPERTY = "property-id"  # the fence editor's property (store)
FENCE_PANEL = "fence-panel"
FENCE_TITLE = "fence-title"
FENCE_VERSION = "fence-version"  # the version the editor shows (stale check)
FENCE_RELOAD = "fence-reload"  # bumps after a save or a stale answer
FENCE_KIND = "fence-kind"
FENCE_LAT = "fence-lat"
FENCE_LON = "fence-lon"
FENCE_RADIUS = "fence-radius"
FENCE_VERTICES = "fence-vertices"
FENCE_CLEAR = "fence-clear"
FENCE_MAP = "fence-map"
FENCE_SAVE = "fence-save"
FENCE_RESULT = "fence-result"
#: Where each problem pointer of the save's answer is shown (id of its slot).
FENCE_FIELDS: Mapping[str, str] = {
    "/location": FENCE_LAT,
    "/location/lat": FENCE_LAT,
    "/location/lon": FENCE_LON,
    "/geofence": FENCE_KIND,
    "/geofence/radius_m": FENCE_RADIUS,
    "/geofence/polygon": FENCE_VERTICES,
}


def client_href(client_id: str, property_id: str | None = None) -> str:
    query = {"client": client_id} | ({"property": property_id} if property_id else {})
    return f"{PATH}?{urlencode(query)}"


def cell_label(heading: str) -> Any:
    return {"data-label": heading}


ORDER_TEXT = "Ordered by name, A to Z"


def table(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return html.P("No client matches.", className="muted")
    head = ["Client ↑", "E-mail", "Phone"]  # the list is ordered by name
    return html.Table(
        [
            html.Caption(ORDER_TEXT, className="muted"),
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(
                                dcc.Link(r["name"], href=r["href"]),
                                **cell_label("Client"),
                            ),
                            html.Td(r["email"], **cell_label("E-mail")),
                            html.Td(r["phone"], **cell_label("Phone")),
                        ],
                        className="client-row",
                    )
                    for r in rows
                ]
            ),
        ],
        className="office-table",
    )


def fence_editor() -> html.Div:
    return html.Div(
        [
            html.H4(id=FENCE_TITLE),
            html.P(
                "Circle: the site's centre and a radius; click the map to move "
                "the centre. Polygon: click the map at each corner in turn "
                "(or type one “lon, lat” a line).",
                className="muted",
            ),
            html.Div(
                [
                    field(
                        "Fence",
                        FENCE_KIND,
                        dcc.RadioItems(
                            id=FENCE_KIND,
                            options=[
                                {"label": "Circle", "value": CIRCLE},
                                {"label": "Polygon", "value": POLYGON},
                            ],
                            value=CIRCLE,
                            inline=True,
                        ),
                    ),
                    field("Centre latitude", FENCE_LAT, dcc.Input(id=FENCE_LAT)),
                    field("Centre longitude", FENCE_LON, dcc.Input(id=FENCE_LON)),
                    field(
                        "Radius (m)",
                        FENCE_RADIUS,
                        dcc.Input(id=FENCE_RADIUS),
                    ),
                    field(
                        "Polygon corners (lon, lat)",
                        FENCE_VERTICES,
                        dcc.Textarea(id=FENCE_VERTICES, className="office-text"),
                    ),
                ],
                className="office-form",
            ),
            dcc.Graph(
                id=FENCE_MAP,
                figure=BLANK,
                config=MAP_CONFIG,
                style={"height": "360px"},
            ),
            html.Div(
                [
                    html.Button("Save fence", id=FENCE_SAVE, className="primary"),
                    html.Button("Clear corners", id=FENCE_CLEAR),
                ],
                className="office-pager",
            ),
            html.Div(id=FENCE_RESULT),
        ],
        id=FENCE_PANEL,
        className="panel",
    )


def _list_page() -> list[Any]:
    return [
        *PAGER.stores(),
        html.Div([html.H3("Clients & properties")], className="office-title"),
        html.Div(
            dcc.Input(
                id=SEARCH,
                type="search",
                placeholder="Client name",
                debounce=True,
                className="office-search",
            ),
            className="office-filters panel",
        ),
        html.Div(id=LIST, className="panel table-scroll"),
        PAGER.row(),
    ]


def page(query: Mapping[str, list[str]]) -> html.Div:
    """The list, or with ``?client=<id>`` that client's profile (and with
    ``&property=<id>`` the editor of that site's fence)."""
    client = (query.get("client") or [""])[0]
    prop = (query.get("property") or [""])[0]
    if not client:
        return html.Div(_list_page(), className="office")
    parts: list[Any] = [
        dcc.Store(id=CLIENT, data=client),
        dcc.Store(id=FENCE_RELOAD, data=0),
        dcc.Link("← All clients", href=PATH),
        html.Div(id=PROFILE),
    ]
    if prop:
        parts += [
            dcc.Store(id=PROPERTY, data=prop),
            dcc.Store(id=FENCE_VERSION),
            fence_editor(),
        ]
    return html.Div(parts, className="office")
