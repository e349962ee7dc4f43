"""Layout of the audit: pickers, evidence, map with replay and the fixes behind
each edge. Reads no data: its callbacks fill every part by id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from dash import dash_table, dcc, html

from dashboard.shell import BLANK, MAP_CONFIG

PATH = "/audit"

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
AUDIT_LEAD = "audit-lead"  # the answer and the booked window, first on the page
AUDIT_ANSWER = "audit-answer"
AUDIT_BOOKED = "audit-booked"
AUDIT_EVIDENCE_BOX = "audit-evidence-box"
AUDIT_EVIDENCE = "audit-evidence"
AUDIT_RECON = "audit-recon"
AUDIT_MAP = "audit-map"
AUDIT_TIMELINE = "audit-timeline"
AUDIT_SLIDER = "audit-slider"
AUDIT_REPLAY_LABEL = "audit-replay-label"
AUDIT_TABLE = "audit-edge-fixes"
AUDIT_REQUEST = "audit-request"
AUDIT_TRAIL = "audit-trail"
AUDIT_P_TECH = "audit-presence-technician"
AUDIT_P_PROPERTY = "audit-presence-property"
AUDIT_P_CIRCLE = "audit-presence-circle"
AUDIT_P_ASK = "audit-presence-ask"
EXPORT_CSV = "export-csv"
EXPORT_PDF = "export-pdf"
DOWNLOAD = "download"


def page(query: Mapping[str, list[str]]) -> html.Div:
    """The audit for a link's ``?session=`` or ``?device=`` (empty pickers without)."""
    return audit_page(
        canonical_uuid(query.get("session", [None])[0]),
        query.get("device", [None])[0],
    )


def canonical_uuid(raw: str | None) -> str | None:
    """A session id as PostgreSQL prints it (links may carry other spellings)."""
    if not raw:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


def _picker(label: str, id_: str, placeholder: str, width_px: int) -> html.Div:
    """A labelled dropdown, at most the screen's width."""
    return html.Div(
        [html.Label(label), dcc.Dropdown(id=id_, placeholder=placeholder)],
        style={"width": f"{width_px}px", "maxWidth": "100%"},
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
                        # the picker's callback (dashboard/pickers.py) names it
                        options=[{"label": session_id, "value": session_id}]
                        if session_id
                        else [],
                        value=session_id,
                        placeholder="Pick a session",
                    ),
                ],
                style={"width": "380px", "maxWidth": "100%"},
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
                style={"width": "260px", "maxWidth": "100%"},
            ),
            _picker("at job site", AUDIT_SITE, "Job site (optional)", 240),
            html.Div(
                [
                    html.Label("From (company time)"),
                    dcc.Input(
                        id=AUDIT_START, placeholder="YYYY-MM-DD HH:MM", debounce=True
                    ),
                ],
            ),
            html.Div(
                [
                    html.Label("To (company time)"),
                    dcc.Input(
                        id=AUDIT_END, placeholder="YYYY-MM-DD HH:MM", debounce=True
                    ),
                ],
            ),
            html.Button("Show", id=AUDIT_LOAD),
            dcc.Checklist(
                id=AUDIT_OPTIONS,
                options=[{"label": " accuracy circles", "value": "accuracy"}],
                value=[],
            ),
        ],
        className="panel audit-form",
    )
    presence = html.Div(
        [
            html.Strong(
                "Presence: was a technician at a place between From and To?",
                style={"width": "100%"},
            ),
            _picker("Technician", AUDIT_P_TECH, "Technician", 240),
            _picker("at property", AUDIT_P_PROPERTY, "Property (fence)", 300),
            html.Div(
                [
                    html.Label("…or lat, lon, radius m"),
                    dcc.Input(
                        id=AUDIT_P_CIRCLE,
                        placeholder="48.1372, 11.5756, 60",
                        debounce=True,
                    ),
                ],
            ),
            html.Button("Ask", id=AUDIT_P_ASK),
        ],
        className="panel audit-form audit-presence",
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
                    html.Span(id=AUDIT_EVIDENCE_BOX),
                    dcc.Download(id=DOWNLOAD),
                ],
                style={
                    "marginTop": "10px",
                    "display": "flex",
                    "flexWrap": "wrap",
                    "gap": "8px 0",
                },
            ),
        ],
        className="panel audit-evidence",
    )
    map_part = html.Div(
        [
            dcc.Graph(
                id=AUDIT_MAP,
                figure=BLANK,
                config=MAP_CONFIG,
                className="audit-map",
                style={"height": "52vh"},
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
        className="audit-map-column",
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
                        "fix_flags",
                    )
                ],
                data=[],
                page_size=25,
                style_table={"overflowX": "auto"},
                style_cell={"fontFamily": "monospace", "fontSize": "12px"},
                style_data_conditional=[
                    {
                        "if": {"filter_query": "{in_window} = 'yes'"},
                        "backgroundColor": "#fefcbf",
                    },
                    {
                        # a less certain fix (every fix_flags wording has a space;
                        # a fix as the device sent it has none): orange italics
                        "if": {"filter_query": "{fix_flags} contains ' '"},
                        "color": "#c05621",
                        "fontStyle": "italic",
                    },
                ],
            ),
        ],
        className="panel",
    )
    return html.Div(
        [
            dcc.Store(id=AUDIT_REQUEST),
            dcc.Store(id=AUDIT_TRAIL),
            dcc.Store(id=AUDIT_SHOWN),
            controls,
            presence,
            html.Div(id=AUDIT_LEAD, className="panel audit-lead"),
            html.Div([evidence, map_part], className="audit-body"),
            table,
        ]
    )
