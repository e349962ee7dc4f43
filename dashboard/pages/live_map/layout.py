"""The jobs map's layout (filters, map, counts, alerts, details); ids as constants."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from dashboard.pages.live_map.model import JOB_STATUSES, STATE_LABELS, STATES
from dashboard.shell import BLANK, MAP_CONFIG, PANEL

PATH = "/"

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

LIVE_INTERVAL_MS = 1000  # a stored fix reaches the map within 2 s
SLOW_INTERVAL_MS = 5000  # alerts and pickers change more slowly


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
    """The page at ``PATH`` (it takes no URL parameters)."""
    return live_page()


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
            _picker(FILTER_TECHS, "All technicians"),
            html.H4("Team"),
            _picker(FILTER_TEAMS, "All teams"),
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
