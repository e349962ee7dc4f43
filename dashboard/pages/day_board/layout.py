"""The day board's layout: the day and team, the timeline, the tray, the plan form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flask
from dash import dcc, html

from dashboard.shell import BLANK
from jobs_domain.actors import Role
from jobs_domain.permissions import Act, allowed

PATH = "/board"

BOARD_DAY = "board-day"
BOARD_PREV = "board-prev"
BOARD_NEXT = "board-next"
BOARD_TODAY = "board-today"
BOARD_TEAM = "board-team"
BOARD_GRAPH = "board-graph"
BOARD_TRAY = "board-tray"
BOARD_TICK = "board-tick"
BOARD_DONE = "board-done"  # bumps after a change: the board redraws at once
PLAN_JOB = "plan-job"
PLAN_TECH = "plan-technician"
PLAN_START = "plan-start"
PLAN_END = "plan-end"
PLAN_REASON = "plan-reason"
PLAN_SAVE = "plan-save"
PLAN_RESULT = "plan-result"
PLAN_SEEN = "plan-seen"  # {job_id: version} of the jobs the board shows
PLAN_LINKS = "plan-links"
BOARD_DROP = "board-drop"  # a dragged window let go (assets/board-drag.js)
BOARD_ROWS = "board-rows"  # the technician id of each row, top to bottom

BOARD_INTERVAL_MS = 15_000  # visits and statuses change every few minutes


def may_plan(role: str) -> bool:
    """Whether the plan form is open to ``role``: the API's matrix for Schedule
    and for the crew (the board's reassign). The actions refuse the same roles
    server-side; this only keeps the form from offering what will be refused."""
    try:
        r = Role(role)
    except ValueError:
        return False
    return allowed(r, Act.SCHEDULE) and allowed(r, Act.ASSIGN_CREW)


def viewer_role() -> str:
    """The logged-in user's role (``""`` outside a request or logged out)."""
    user = flask.g.get("user") if flask.has_request_context() else None
    return str(user.role) if user is not None else ""


def page(query: Mapping[str, list[str]], role: str | None = None) -> html.Div:
    """The page at ``PATH``; ``?day=YYYY-MM-DD`` opens another day. ``role`` is
    the logged-in user's (read from the request when not given)."""
    day = (query.get("day") or [""])[0]
    role = viewer_role() if role is None else role
    closed = not may_plan(role)
    refusal = (
        html.P(
            f"Your role ({role or 'none'}) cannot schedule or reassign jobs; "
            "the board is read-only for you.",
            className="muted",
        )
        if closed
        else None
    )
    form = html.Div(
        [
            html.H4("Plan a job"),
            html.Label("Job", htmlFor=PLAN_JOB),
            dcc.Dropdown(id=PLAN_JOB, placeholder="Pick on the board or here"),
            html.Label("Technician (Job Manager)", htmlFor=PLAN_TECH),
            dcc.Dropdown(id=PLAN_TECH, placeholder="Technician", disabled=closed),
            html.Div(
                [
                    html.Div(
                        [
                            html.Label("From", htmlFor=PLAN_START),
                            dcc.Input(
                                id=PLAN_START,
                                placeholder="HH:MM",
                                className="time",
                                disabled=closed,
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("To", htmlFor=PLAN_END),
                            dcc.Input(
                                id=PLAN_END,
                                placeholder="HH:MM",
                                className="time",
                                disabled=closed,
                            ),
                        ]
                    ),
                ],
                className="plan-times",
            ),
            html.Label("Reason (for a reschedule)", htmlFor=PLAN_REASON),
            dcc.Input(id=PLAN_REASON, type="text", className="search", disabled=closed),
            html.Button(
                "Save",
                id=PLAN_SAVE,
                n_clicks=0,
                className="primary",
                disabled=closed,
            ),
            html.Div(refusal, id=PLAN_RESULT, className="plan-result"),
            html.Div(id=PLAN_LINKS),
        ],
        className="panel plan-form",
    )
    return html.Div(
        [
            dcc.Interval(id=BOARD_TICK, interval=BOARD_INTERVAL_MS),
            dcc.Store(id=BOARD_DONE, data=0),
            dcc.Store(id=PLAN_SEEN),
            dcc.Store(id=BOARD_DROP),
            dcc.Store(id=BOARD_ROWS),
            html.Div(
                [
                    html.Button("◀", id=BOARD_PREV, title="The day before"),
                    dcc.Input(
                        id=BOARD_DAY,
                        value=day,
                        placeholder="YYYY-MM-DD",
                        debounce=True,
                        className="day",
                    ),
                    html.Button("▶", id=BOARD_NEXT, title="The day after"),
                    html.Button("Today", id=BOARD_TODAY),
                    html.Label("Team ", htmlFor=BOARD_TEAM),
                    dcc.Dropdown(
                        id=BOARD_TEAM,
                        placeholder="All teams",
                        className="team-picker",
                        persistence=True,
                        persistence_type="local",
                    ),
                ],
                className="panel board-controls",
            ),
            html.Div(
                [
                    html.Div(
                        dcc.Graph(
                            id=BOARD_GRAPH,
                            figure=BLANK,
                            config={"displaylogo": False, "displayModeBar": False},
                        ),
                        className="panel board-timeline",
                    ),
                    html.Div(
                        [
                            form,
                            html.Div(
                                [html.H4("Tray"), html.Div(id=BOARD_TRAY)],
                                className="panel",
                            ),
                        ],
                        className="board-side",
                    ),
                ],
                className="board-body",
            ),
        ],
        className="day-board",
    )


def tray_list(items: list[dict[str, Any]]) -> Any:
    """Jobs not scheduled yet, nobody assigned, or on hold: a click plans one."""
    if not items:
        return html.P("Every job is planned.", className="muted")
    return html.Ul(
        [
            html.Li(
                [
                    html.Strong(i["number"]),
                    f" · {i['client']}",
                    html.Div(i["why"], className="muted"),
                ],
                id={"type": "tray-job", "id": i["job_id"]},
                n_clicks=0,
                className="tray-job",
                title="Plan this job",
            )
            for i in items
        ],
        className="tray",
    )
