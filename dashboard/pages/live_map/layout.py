"""The jobs map's layout (filters, map, details, technician list, alerts); ids as
constants. The look (a grid that stacks on a phone) is dashboard/assets/board.css."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from dashboard import maps
from dashboard.pages.live_map import panels
from dashboard.pages.live_map.model import JOB_STATUSES, STATE_LABELS, STATES

PATH = "/"

LIVE_MAP = "live-map"
LIVE_TICK = "live-tick"
LIVE_SIG = "live-signature"
LIVE_DELTA = "live-delta"
LIVE_FIGURE = "live-figure"  # the reference of the figure to draw: {key, url, sig}
LIVE_DRAWN = "live-drawn"  # the key of the figure drawn (dashboard/assets/live-map.js)
LIVE_APPLIED = "live-applied"  # written by nothing: the delta step's output
LIVE_CLICK = "live-click"  # a click on the map: {points: [{customdata}], at}
#: Set once by live-map.js when the first figure is drawn (or could not be):
#: the tick and the panels beside the map start then, so that nothing
#: competes with the first figure (docs/performance.md, "Login to map painted").
LIVE_READY = "live-ready"
#: written by nothing: the output of the step that starts plotly.js beside the
#: map's first callback (dashboard/plotly_loading.py, deferred)
LIVE_PLOTLY = "live-plotly"
SLOW_TICK = "slow-tick"
FILTER_STATES = "filter-states"
FILTER_JOB_STATUS = "filter-job-status"
FILTER_TECHS = "filter-technicians"
FILTER_TEAMS = "filter-teams"
LIVE_COUNTS = "live-counts"
ALERTS = "alerts"
DETAILS = "details"
TECH_LIST = "tech-list"
# the list's pager (its callback turns pages on these ids)
TECH_SEARCH = panels.TECH_SEARCH
TECH_QUERY = panels.TECH_QUERY
TECH_PREV = panels.TECH_PREV
TECH_NEXT = panels.TECH_NEXT
TECH_PAGE = panels.TECH_PAGE
TECH_PAGER = panels.TECH_PAGER
FOCUS = "focus"  # what the dispatcher picked: {"kind": "tech"|"job", "id": …}
FOCUS_REQUEST = "focus-request"  # the focus an alert's link asks for (?job=, ?tech=)
NOTIFY = "notify"
NOTIFIED = "notified"  # alert keys the browser already notified about
ACK_DONE = "ack-done"
#: The alert whose Acknowledge was clicked, the list row clicked: {key, at}
#: (set in the browser only on a click, not when the panel is redrawn).
ACK_CLICK = "ack-click"
ROW_CLICK = "tech-row-click"

LIVE_INTERVAL_MS = 1000  # a stored fix reaches the map within 2 s
SLOW_INTERVAL_MS = 5000  # alerts and pickers change more slowly


def map_size(viewport: dict[str, Any] | None) -> tuple[float, float]:
    """The jobs map's size in this window (board.css: 220 px filters and a 360 px
    side column beside it, all stacked under 760 px; 72 vh high, 58 on a phone)."""
    narrow = (viewport or {}).get("w", 1400) < 760
    beside = 220 + 360 + 20 + 32
    if not narrow and (viewport or {}).get("w", 1400) < 1100:
        beside = 320 + 10 + 32
    return maps.map_size(viewport, beside, 0.58 if narrow else 0.72, 760)


def _checklist(id_: str, options: list[dict[str, str]], value: list[str]) -> Any:
    return dcc.Checklist(
        id=id_,
        options=options,
        value=value,
        persistence=True,
        persistence_type="local",  # the dispatcher's filters survive a reload
        labelStyle={"display": "block"},
    )


def _picker(id_: str, placeholder: str) -> Any:
    """A multiple choice filled by a callback; kept in the browser like the checklists."""
    return dcc.Dropdown(
        id=id_,
        multi=True,
        placeholder=placeholder,
        persistence=True,
        persistence_type="local",
    )


def page(query: Mapping[str, list[str]]) -> html.Div:
    """The page at ``PATH``; ``?job=<id>`` or ``?tech=<device>`` (where an
    alert leads) opens it focused on that job or technician."""
    focus = None
    if query.get("job"):
        focus = {"kind": "job", "id": query["job"][0]}
    elif query.get("tech"):
        focus = {"kind": "tech", "id": query["tech"][0]}
    return live_page(focus)


def live_page(focus: dict[str, str] | None = None) -> html.Div:
    """The dispatcher's jobs map: filters, map and details, technicians, alerts."""
    filters = html.Aside(
        [
            html.H4("Technicians"),
            _checklist(
                FILTER_STATES,
                [{"label": STATE_LABELS[s], "value": s} for s in STATES],
                list(STATES),
            ),
            html.H4("Jobs"),
            _checklist(
                FILTER_JOB_STATUS,
                [
                    {"label": s.replace("_", " ").capitalize(), "value": s}
                    for s in JOB_STATUSES
                ],
                [s for s in JOB_STATUSES if s != "completed"],
            ),
            html.H4("Technician"),
            _picker(FILTER_TECHS, "All technicians"),
            html.H4("Team"),
            _picker(FILTER_TEAMS, "All teams"),
            html.Div(id=LIVE_COUNTS, className="counts"),
        ],
        className="panel filters",
    )
    centre = html.Main(
        [
            # drawn by dashboard/assets/live-map.js with plotly.js, outside
            # Dash's props (a dcc.Graph's ~2 MB figure cost seconds in Dash)
            html.Div(
                html.P("Loading the map…", className="map-loading"),
                id=LIVE_MAP,
                className="live-map",
                style={"height": "72vh"},  # board.css: 58 vh on a phone
            ),
            html.Div(id=DETAILS, className="panel details-panel"),
        ],
        className="map-column",
    )
    side = html.Aside(
        [
            html.Div(
                [
                    html.H4("Technicians on the road"),
                    dcc.Input(
                        id=TECH_SEARCH,
                        type="search",
                        placeholder="Search name, team, job…",
                        debounce=True,
                        className="search",
                    ),
                    html.Div(id=TECH_LIST, className="tech-list"),
                    dcc.Store(id=TECH_QUERY, data=""),
                    dcc.Store(id=TECH_PAGE, data=0),
                    html.Div(
                        [
                            html.Button("‹ Prev", id=TECH_PREV, n_clicks=0),
                            html.Button("Next ›", id=TECH_NEXT, n_clicks=0),
                        ],
                        id=TECH_PAGER,
                        className="tech-pager",
                        hidden=True,
                    ),
                ],
                className="panel",
            ),
            html.Div(
                [
                    html.H4("Alerts"),
                    dcc.Checklist(
                        id=NOTIFY,
                        options=[{"label": " Browser notifications", "value": "on"}],
                        value=[],
                        persistence=True,
                        persistence_type="local",
                        className="notify",
                    ),
                    html.Div(id=ALERTS),
                ],
                className="panel alerts-panel",
            ),
        ],
        className="side",
    )
    return html.Div(
        [
            # enabled by live-map.js once the first figure is drawn: a tick
            # sent while the first figure is on its way made Dash drop it
            dcc.Interval(id=LIVE_TICK, interval=LIVE_INTERVAL_MS, disabled=True),
            dcc.Interval(id=SLOW_TICK, interval=SLOW_INTERVAL_MS),
            dcc.Store(id=LIVE_SIG),
            dcc.Store(id=LIVE_DELTA),
            dcc.Store(id=LIVE_FIGURE),
            dcc.Store(id=LIVE_DRAWN),
            dcc.Store(id=LIVE_APPLIED),
            dcc.Store(id=LIVE_CLICK),
            dcc.Store(id=LIVE_READY),
            dcc.Store(id=LIVE_PLOTLY),
            dcc.Store(id=FOCUS_REQUEST, data=focus),
            dcc.Store(id=FOCUS),
            dcc.Store(id=NOTIFIED),
            dcc.Store(id=ACK_CLICK),
            dcc.Store(id=ROW_CLICK),
            html.Div(id=ACK_DONE, hidden=True),
            html.Div([filters, centre, side], className="board-grid"),
        ],
        className="live-page",
    )
