"""The day board's callbacks: read the day, draw it, plan a job from it.

Reading goes through :mod:`dashboard.queries`; every change through
:mod:`dashboard.actions` (the API's services and rules, the logged-in user as
the actor).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import dash
import flask
from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import queries
from dashboard.actions import BoardChange
from dashboard.context import Context
from dashboard.pages.day_board import figures, layout, model


def board_day(raw: str | None, ctx: Context, now: datetime) -> date:
    """The day the board shows: the picked one, else today in the company's zone."""
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    return now.astimezone(ctx.zone).date()


def _why(job: queries.BoardJob, ctx: Context) -> str:
    when = (
        ""
        if job.start is None
        else f" · booked {job.start.astimezone(ctx.zone):%a %d %b %H:%M}"
    )
    if job.status == "on_hold":
        return "on hold" + when
    if job.start is None:
        return "not scheduled yet"
    return "nobody assigned" + when


def board_view(
    ctx: Context, day: date, team: str | None, now: datetime, role: str
) -> tuple[
    Any,
    Any,
    list[dict[str, str]],
    list[dict[str, str]],
    list[dict[str, str]],
    dict[str, int],
    list[str],
]:
    """Figure, tray, team options, job options, technician options, job versions,
    the technician of each row; the booked windows drag only for a ``role`` that
    may plan (the API's matrix, ``layout.may_plan``)."""
    sources = ctx.sources
    start, end = model.day_bounds(day, ctx.zone)
    techs = queries.board_technicians(sources)
    jobs = queries.board_jobs(sources, start, end)
    visits = queries.board_visits(sources, start, end)
    board = model.build_board(techs, jobs, visits, start, end, now, team or "")
    tray = layout.tray_list(
        [
            {
                "job_id": j.job_id,
                "number": j.number,
                "client": j.client,
                "why": _why(j, ctx),
            }
            for j in board.tray
        ]
    )
    teams = sorted({t.team for t in techs if t.team})
    job_options = [
        {
            "label": f"{j.number} · {j.client}"
            + (f" · {j.start.astimezone(ctx.zone):%a %H:%M}" if j.start else ""),
            "value": j.job_id,
        }
        for j in jobs
        if j.status in ("pending", "scheduled", "on_hold", "in_progress")
    ]
    tech_options = [
        {"label": t.name + (f" ({t.team})" if t.team else ""), "value": t.technician_id}
        for t in techs
    ]
    return (
        figures.board_figure(board, now, ctx.zone, editable=layout.may_plan(role)),
        tray,
        [{"label": t, "value": t} for t in teams],
        job_options,
        tech_options,
        {j.job_id: j.version for j in jobs},
        [r.technician.technician_id for r in board.rows],
    )


def _hhmm(t: datetime | None, ctx: Context) -> str | None:
    return None if t is None else f"{t.astimezone(ctx.zone):%H:%M}"


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the day board's callbacks to ``app``."""

    @app.callback(
        Output(layout.BOARD_GRAPH, "figure"),
        Output(layout.BOARD_TRAY, "children"),
        Output(layout.BOARD_TEAM, "options"),
        Output(layout.PLAN_JOB, "options"),
        Output(layout.PLAN_TECH, "options"),
        Output(layout.PLAN_SEEN, "data"),
        Output(layout.BOARD_ROWS, "data"),
        Output(layout.BOARD_DAY, "placeholder"),
        Input(layout.BOARD_TICK, "n_intervals"),
        Input(layout.BOARD_DAY, "value"),
        Input(layout.BOARD_TEAM, "value"),
        Input(layout.BOARD_DONE, "data"),
    )
    def _board(_n: Any, day: str | None, team: str | None, _done: Any) -> Any:
        now = datetime.now(UTC)
        shown = board_day(day, ctx, now)
        # an empty day field says which day it stands for (today, in the company's zone)
        return (
            *board_view(ctx, shown, team, now, layout.viewer_role()),
            shown.isoformat(),
        )

    @app.callback(
        Output(layout.BOARD_DAY, "value"),
        Input(layout.BOARD_PREV, "n_clicks"),
        Input(layout.BOARD_NEXT, "n_clicks"),
        Input(layout.BOARD_TODAY, "n_clicks"),
        State(layout.BOARD_DAY, "value"),
        prevent_initial_call=True,
    )
    def _move_day(_p: Any, _n: Any, _t: Any, day: str | None) -> str:
        now = datetime.now(UTC)
        trigger = dash.ctx.triggered_id
        if trigger == layout.BOARD_TODAY:
            return now.astimezone(ctx.zone).date().isoformat()
        step = timedelta(days=-1 if trigger == layout.BOARD_PREV else 1)
        return (board_day(day, ctx, now) + step).isoformat()

    @app.callback(
        Output(layout.PLAN_JOB, "value"),
        Input(layout.BOARD_GRAPH, "clickData"),
        Input({"type": "tray-job", "id": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def _pick(click: dict[str, Any] | None, tray: list[int | None]) -> Any:
        trigger = dash.ctx.triggered_id
        if isinstance(trigger, dict):
            if not any(tray):
                raise PreventUpdate  # the tray was redrawn, nobody clicked
            return str(trigger["id"])
        points = (click or {}).get("points") or []
        custom = points[0].get("customdata") if points else None
        if not custom or custom[0] != "job":
            raise PreventUpdate
        return custom[1]

    @app.callback(
        Output(layout.PLAN_TECH, "value"),
        Output(layout.PLAN_START, "value"),
        Output(layout.PLAN_END, "value"),
        Output(layout.PLAN_LINKS, "children"),
        Output(layout.PLAN_RESULT, "children", allow_duplicate=True),
        Input(layout.PLAN_JOB, "value"),
        State(layout.BOARD_DAY, "value"),
        prevent_initial_call=True,
    )
    def _fill(job_id: str | None, day: str | None) -> Any:
        if not job_id:
            raise PreventUpdate
        now = datetime.now(UTC)
        start, end = model.day_bounds(board_day(day, ctx, now), ctx.zone)
        job = next(
            (
                j
                for j in queries.board_jobs(ctx.sources, start, end)
                if j.job_id == job_id
            ),
            None,
        )
        if job is None:
            raise PreventUpdate
        links = html.Div(
            [
                dcc.Link("Show on the map", href="/?" + urlencode({"job": job_id})),
                html.Span(f" · {job.address}" if job.address else ""),
            ],
            className="muted",
        )
        user = flask.g.get("user")
        # a role that may not plan keeps the note saying so
        cleared = (
            "" if user is not None and layout.may_plan(user.role) else dash.no_update
        )
        return (
            job.manager_id,
            _hhmm(job.start, ctx),
            _hhmm(job.end, ctx),
            links,
            cleared,
        )

    @app.callback(
        Output(layout.PLAN_RESULT, "children"),
        Output(layout.BOARD_DONE, "data"),
        Input(layout.PLAN_SAVE, "n_clicks"),
        State(layout.PLAN_JOB, "value"),
        State(layout.PLAN_TECH, "value"),
        State(layout.PLAN_START, "value"),
        State(layout.PLAN_END, "value"),
        State(layout.PLAN_REASON, "value"),
        State(layout.BOARD_DAY, "value"),
        State(layout.PLAN_SEEN, "data"),
        State(layout.BOARD_DONE, "data"),
        prevent_initial_call=True,
    )
    def _save(
        clicks: int | None,
        job_id: str | None,
        tech_id: str | None,
        start: str | None,
        end: str | None,
        reason: str | None,
        day: str | None,
        seen: dict[str, int] | None,
        done: int | None,
    ) -> Any:
        if not clicks:
            raise PreventUpdate
        if not job_id:
            return html.P("Pick a job first.", className="refused"), dash.no_update
        if not start or not end:
            return html.P(
                "Give the window: From and To.", className="refused"
            ), dash.no_update
        the_day = board_day(day, ctx, datetime.now(UTC))
        try:
            window = model.window_from_form(the_day, start, end, ctx.zone)
        except ValueError as exc:
            return html.P(str(exc), className="refused"), dash.no_update
        return _apply(
            BoardChange(
                job_id,
                int((seen or {}).get(job_id, -1)),
                tech_id,
                window[0],
                window[1],
                reason or "",
            ),
            done,
        )[:2]

    @app.callback(
        Output(layout.PLAN_RESULT, "children", allow_duplicate=True),
        Output(layout.BOARD_DONE, "data", allow_duplicate=True),
        Output(layout.PLAN_TECH, "value", allow_duplicate=True),
        Output(layout.PLAN_START, "value", allow_duplicate=True),
        Output(layout.PLAN_END, "value", allow_duplicate=True),
        Input(layout.BOARD_DROP, "data"),
        State(layout.BOARD_ROWS, "data"),
        State(layout.PLAN_SEEN, "data"),
        State(layout.BOARD_DONE, "data"),
        State(layout.PLAN_JOB, "value"),
        prevent_initial_call=True,
    )
    def _drop(
        raw: dict[str, Any] | None,
        rows: list[str] | None,
        seen: dict[str, int] | None,
        done: int | None,
        in_form: str | None,
    ) -> Any:
        if not raw:
            raise PreventUpdate
        unchanged = (dash.no_update,) * 3
        try:
            drop = model.drop_from_board(raw, rows or [], ctx.zone)
        except ValueError as exc:  # the board redraws: the window springs back
            return html.P(str(exc), className="refused"), (done or 0) + 1, *unchanged
        result, redraw, ok = _apply(
            BoardChange(
                drop.job_id,
                int((seen or {}).get(drop.job_id, -1)),
                drop.technician_id,
                drop.start,
                drop.end,
                "moved on the day board",
            ),
            done,
        )
        if not ok or in_form != drop.job_id:
            return result, redraw, *unchanged
        # the form holds this job: it shows where the job now is
        return (
            result,
            redraw,
            drop.technician_id,
            _hhmm(drop.start, ctx),
            _hhmm(drop.end, ctx),
        )

    def _apply(change: BoardChange, done: int | None) -> tuple[Any, int, bool]:
        """Plan through the API's rules as the logged-in user: the message, the
        redraw counter (the board redraws either way: a refused drag springs
        back), whether it was done."""
        user = flask.g.get("user")
        if user is None or ctx.actions is None:
            raise PreventUpdate
        outcome = ctx.actions.plan(str(user.user_id), user.name, user.role, change)
        lines = [html.P(outcome.message, className="ok" if outcome.ok else "refused")]
        lines += [html.P(f"⚠ {w}", className="warning") for w in outcome.warnings]
        return html.Div(lines), (done or 0) + 1, outcome.ok
