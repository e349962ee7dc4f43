"""Page layouts: named parts, every component id a constant.

The layout is a function (``shell``) evaluated per page load, so it can show
who is logged in; nothing here reads data — callbacks fill the parts.
"""

from __future__ import annotations

from typing import Any

from dash import dash_table, dcc, html

from dashboard.pages.live_map.model import JOB_STATUSES, STATE_LABELS, STATES

# --- shell
URL = "url"
PAGE = "page"
# --- live map
LIVE_MAP = "live-map"
LIVE_TICK = "live-tick"
LIVE_SIG = "live-signature"
LIVE_DELTA = "live-delta"
SLOW_TICK = "slow-tick"
FILTER_STATES = "filter-states"
FILTER_JOB_STATUS = "filter-job-status"
FILTER_TECHS = "filter-technicians"
FILTER_TEAMS = "filter-teams"
LIVE_COUNTS = "live-counts"
ALERTS = "alerts"
DETAILS = "details"
# --- audit
AUDIT_SESSION = "audit-session"
AUDIT_DEVICE = "audit-device"
AUDIT_SITE = "audit-site"
AUDIT_VERSION = "audit-version"
AUDIT_VERSION_BOX = "audit-version-box"
AUDIT_SHOWN = "audit-shown"
AUDIT_START = "audit-start"
AUDIT_END = "audit-end"
AUDIT_LOAD = "audit-load"
AUDIT_OPTIONS = "audit-options"
AUDIT_SUMMARY = "audit-summary"
AUDIT_RECON = "audit-recon"
AUDIT_MAP = "audit-map"
AUDIT_TIMELINE = "audit-timeline"
AUDIT_SLIDER = "audit-slider"
AUDIT_REPLAY_LABEL = "audit-replay-label"
AUDIT_TABLE = "audit-edge-fixes"
AUDIT_REQUEST = "audit-request"
AUDIT_TRAIL = "audit-trail"
EXPORT_CSV = "export-csv"
EXPORT_PDF = "export-pdf"
DOWNLOAD = "download"

LIVE_INTERVAL_MS = 1000  # a stored fix reaches the map within 2 s
SLOW_INTERVAL_MS = 5000  # alerts and pickers change more slowly

PANEL = {
    "background": "#fff",
    "border": "1px solid #e2e8f0",
    "borderRadius": "6px",
    "padding": "10px",
    "marginBottom": "10px",
}
MAP_CONFIG: Any = {"scrollZoom": True, "displaylogo": False}
#: What a graph shows before its first data arrives (no empty axes).
BLANK: Any = {
    "layout": {
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
    }
}


def shell(user_name: str, role: str) -> html.Div:
    """Header with navigation and the logged-in user; the page goes below."""
    return html.Div(
        [
            dcc.Location(id=URL),
            html.Header(
                [
                    html.Strong("crewtrack", style={"marginRight": "20px"}),
                    dcc.Link("Jobs map", href="/", style={"marginRight": "14px"}),
                    dcc.Link("Location history & arrival audit", href="/audit"),
                    html.Span(
                        [
                            f"{user_name} · {role} · ",
                            html.A("Log out", href="/logout", id="logout"),
                        ],
                        style={"float": "right"},
                    ),
                ],
                style={
                    "padding": "10px 16px",
                    "background": "#1a365d",
                    "color": "#fff",
                },
                className="topbar",
            ),
            html.Div(id=PAGE, style={"padding": "10px 16px"}),
        ],
        style={"fontFamily": "system-ui, sans-serif", "background": "#f7fafc"},
    )


def _checklist(id_: str, options: list[dict[str, str]], value: list[str]) -> Any:
    return dcc.Checklist(
        id=id_,
        options=options,
        value=value,
        persistence=True,
        persistence_type="local",  # the dispatcher's filters survive a reload
        labelStyle={"display": "block"},
    )


def live_page() -> html.Div:
    """The dispatcher's jobs map: filters, map, counts, alerts, details."""
    filters = html.Div(
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
            dcc.Dropdown(
                id=FILTER_TECHS,
                multi=True,
                placeholder="All technicians",
                persistence=True,
                persistence_type="local",
            ),
            html.H4("Team"),
            dcc.Dropdown(
                id=FILTER_TEAMS,
                multi=True,
                placeholder="All teams",
                persistence=True,
                persistence_type="local",
            ),
            html.Div(id=LIVE_COUNTS, style={"marginTop": "12px"}),
        ],
        style={**PANEL, "width": "220px", "flex": "none"},
    )
    centre = html.Div(
        [
            dcc.Graph(
                id=LIVE_MAP,
                figure=BLANK,
                config=MAP_CONFIG,
                style={"height": "72vh"},
            ),
            html.Div(id=DETAILS, style=PANEL),
        ],
        style={"flex": "1", "minWidth": "0", "margin": "0 10px"},
    )
    alerts = html.Div(
        [html.H4("Alerts"), html.Div(id=ALERTS)],
        style={
            **PANEL,
            "width": "300px",
            "flex": "none",
            "maxHeight": "80vh",
            "overflowY": "auto",
        },
    )
    return html.Div(
        [
            dcc.Interval(id=LIVE_TICK, interval=LIVE_INTERVAL_MS),
            dcc.Interval(id=SLOW_TICK, interval=SLOW_INTERVAL_MS),
            dcc.Store(id=LIVE_SIG),
            dcc.Store(id=LIVE_DELTA),
            html.Div([filters, centre, alerts], style={"display": "flex"}),
        ]
    )


def audit_page(session_id: str | None, device_id: str | None) -> html.Div:
    """Location history and arrival audit for a session or a technician + range."""
    controls = html.Div(
        [
            html.Div(
                [
                    html.Label("Job session"),
                    dcc.Dropdown(
                        id=AUDIT_SESSION,
                        # the linked value must be among the options or it is dropped;
                        # the full list replaces this one when it has loaded
                        options=[{"label": session_id, "value": session_id}]
                        if session_id
                        else [],
                        value=session_id,
                        placeholder="Pick a session",
                    ),
                ],
                style={"width": "380px", "marginRight": "16px"},
            ),
            html.Div(
                [
                    html.Label("…or technician"),
                    dcc.Dropdown(
                        id=AUDIT_DEVICE,
                        options=[{"label": device_id, "value": device_id}]
                        if device_id
                        else [],
                        value=device_id,
                        placeholder="Technician",
                    ),
                ],
                style={"width": "260px", "marginRight": "8px"},
            ),
            html.Div(
                [
                    html.Label("at job site"),
                    dcc.Dropdown(id=AUDIT_SITE, placeholder="Job site (optional)"),
                ],
                style={"width": "240px", "marginRight": "8px"},
            ),
            html.Div(
                [
                    html.Label("From (UTC)"),
                    dcc.Input(
                        id=AUDIT_START, placeholder="YYYY-MM-DD HH:MM", debounce=True
                    ),
                ],
                style={"marginRight": "8px"},
            ),
            html.Div(
                [
                    html.Label("To (UTC)"),
                    dcc.Input(
                        id=AUDIT_END, placeholder="YYYY-MM-DD HH:MM", debounce=True
                    ),
                ],
                style={"marginRight": "8px"},
            ),
            html.Button("Show", id=AUDIT_LOAD, style={"alignSelf": "end"}),
            dcc.Checklist(
                id=AUDIT_OPTIONS,
                options=[{"label": " accuracy circles", "value": "accuracy"}],
                value=[],
                style={"alignSelf": "end", "marginLeft": "16px"},
            ),
        ],
        style={**PANEL, "display": "flex", "flexWrap": "wrap"},
    )
    evidence = html.Div(
        [
            html.Div(
                [
                    html.Label("Visit record version"),
                    dcc.Dropdown(id=AUDIT_VERSION, clearable=False),
                ],
                id=AUDIT_VERSION_BOX,
                style={"display": "none"},
            ),
            html.Div(id=AUDIT_SUMMARY),
            html.H4("Reconciliation"),
            html.Div(id=AUDIT_RECON),
            html.Div(
                [
                    html.Button("Export fixes (CSV)", id=EXPORT_CSV),
                    html.Button(
                        "Evidence report (PDF)",
                        id=EXPORT_PDF,
                        style={"marginLeft": "8px"},
                    ),
                    dcc.Download(id=DOWNLOAD),
                ],
                style={"marginTop": "10px"},
            ),
        ],
        style={**PANEL, "width": "430px", "flex": "none"},
    )
    map_part = html.Div(
        [
            dcc.Graph(
                id=AUDIT_MAP, figure=BLANK, config=MAP_CONFIG, style={"height": "52vh"}
            ),
            html.Div(
                [
                    html.Span("Replay: ", style={"marginRight": "6px"}),
                    html.Span(id=AUDIT_REPLAY_LABEL),
                ]
            ),
            dcc.Slider(id=AUDIT_SLIDER, min=0, max=0, step=1, value=0, marks=None),
            dcc.Graph(id=AUDIT_TIMELINE, figure=BLANK, config=MAP_CONFIG),
        ],
        style={"flex": "1", "minWidth": "0", "marginLeft": "10px"},
    )
    table = html.Div(
        [
            html.H4("Fixes behind each edge"),
            dash_table.DataTable(  # type: ignore[attr-defined]
                id=AUDIT_TABLE,
                columns=[
                    {"name": n, "id": n}
                    for n in (
                        "edge",
                        "time",
                        "lat",
                        "lon",
                        "accuracy_m",
                        "distance_m",
                        "side",
                        "in_window",
                        "evidence",
                    )
                ],
                data=[],
                page_size=25,
                style_cell={"fontFamily": "monospace", "fontSize": "12px"},
                style_data_conditional=[
                    {
                        "if": {"filter_query": "{in_window} = 'yes'"},
                        "backgroundColor": "#fefcbf",
                    }
                ],
            ),
        ],
        style=PANEL,
    )
    return html.Div(
        [
            dcc.Store(id=AUDIT_REQUEST),
            dcc.Store(id=AUDIT_TRAIL),
            dcc.Store(id=AUDIT_SHOWN),
            controls,
            html.Div([evidence, map_part], style={"display": "flex"}),
            table,
        ]
    )


def not_found(path: str) -> html.Div:
    return html.Div([html.H3("Not found"), html.P(f"No page at {path}.")])
