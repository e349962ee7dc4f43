"""The Technicians page's layout: the teams, the list, the edit form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard.pages.clients.layout import cell_label
from dashboard.pages.jobs.layout import field

PATH = "/technicians"

TEAMS = "tech-teams"
TEAM_NAMES = "tech-team-names"
LIST = "tech-list"
REFRESH = "tech-refresh"  # bumps after a save: the list shows it at once
PICK = "tech-pick"
VERSION = "tech-version"
NAME = "tech-name"
PHONE = "tech-phone"
TEAM = "tech-team"
SAVE = "tech-save"
RESULT = "tech-result"
#: Where each problem pointer of the save's answer is shown (id of its slot).
FIELDS: Mapping[str, str] = {"/name": NAME, "/phone": PHONE, "/team": TEAM}


def table(rows: Sequence[Mapping[str, str]]) -> Any:
    if not rows:
        return html.P("No technician yet.", className="muted")
    head = ["Technician", "Team", "Phone", "Devices"]
    keys = ["name", "team", "phone", "devices"]
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(r[k], **cell_label(h))
                            for h, k in zip(head, keys, strict=True)
                        ],
                        className="tech-row",
                    )
                    for r in rows
                ]
            ),
        ],
        className="office-table",
    )


def page(_query: Mapping[str, list[str]]) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=REFRESH, data=0),
            dcc.Store(id=VERSION),
            html.Div([html.H3("Technicians & teams")], className="office-title"),
            html.Div(id=TEAMS, className="panel"),
            html.Div(id=LIST, className="panel table-scroll"),
            html.Div(
                [
                    html.H4("Edit a technician"),
                    html.Div(
                        [
                            field(
                                "Technician",
                                PICK,
                                dcc.Dropdown(id=PICK, className="office-wide"),
                            ),
                            field("Name", NAME, dcc.Input(id=NAME)),
                            field("Phone", PHONE, dcc.Input(id=PHONE)),
                            field(
                                "Team (empty: none)",
                                TEAM,
                                dcc.Input(id=TEAM, list=TEAM_NAMES),
                            ),
                            html.Datalist(id=TEAM_NAMES),
                        ],
                        className="office-form",
                    ),
                    html.Button("Save", id=SAVE, className="primary"),
                    html.Div(id=RESULT),
                ],
                className="panel",
            ),
        ],
        className="office",
    )
