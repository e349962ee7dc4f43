"""The day board's timeline: a row per technician, time across, in the company's zone.

Each row holds the technician's booked windows (upper half, coloured by job
status, labelled with the job number), their time on site from the derived
visits and the travel between sites (lower half), late/early flags, and a
line at "now". Pure: from a :class:`~dashboard.pages.day_board.model.Board`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go

from dashboard.clock import stamp
from dashboard.pages.day_board.model import BOOKED_BAND, Board, Segment
from dashboard.pages.live_map.figures import JOB_COLOURS, JOB_LABELS, STATE_COLOURS

ON_SITE_COLOUR = STATE_COLOURS["clocked_in"]
TRAVEL_COLOUR = STATE_COLOURS["travelling"]
FLAG_COLOURS = {"late": "#c53030", "early": "#dd6b20"}
ROW_PX = 44


def _local(t: datetime, zone: ZoneInfo) -> str:
    return stamp(t, zone)


def _bars(
    segments: Sequence[tuple[str, Segment]],
    zone: ZoneInfo,
    *,
    name: str,
    colours: list[str],
    offset: float,
    width: float,
    kind: str,
) -> go.Bar:
    hover = [
        f"{who} · {s.label}"
        + (f" · {JOB_LABELS.get(s.status, s.status)}" if s.status else "")
        + f"<br>{s.start.astimezone(zone):%H:%M}–{s.end.astimezone(zone):%H:%M}"
        for who, s in segments
    ]
    return go.Bar(
        name=name,
        orientation="h",
        y=[who for who, _ in segments],
        base=[_local(s.start, zone) for _, s in segments],
        x=[(s.end - s.start).total_seconds() * 1000 for _, s in segments],
        offset=offset,
        width=width,
        marker={"color": colours, "line": {"width": 0}},
        hovertext=hover,
        hoverinfo="text",
        customdata=[[kind, s.ref] for _, s in segments],
    )


#: The hours a day shows unless something happens outside them.
DAY_FROM_H, DAY_TO_H = 6, 20


def working_hours(board: Board, now: datetime) -> tuple[datetime, datetime]:
    """06:00–20:00 of the board's day, widened to every bar on it and to "now"."""
    start = board.start.replace(hour=DAY_FROM_H)
    end = board.start.replace(hour=DAY_TO_H)
    if board.start <= now < board.end:
        start = max(min(start, now - timedelta(hours=1)), board.start)
        end = min(max(end, now + timedelta(hours=1)), board.end)
    for r in board.rows:
        for s in r.segments:
            start = min(start, max(s.start, board.start))
            end = max(end, min(s.end, board.end))
    return start, end


def booked_shapes(
    booked: Sequence[tuple[str, Segment]],
    names: Sequence[str],
    zone: ZoneInfo,
    *,
    editable: bool,
) -> list[dict[str, Any]]:
    """The booked windows as rectangles, the job id as the shape's name. When
    ``editable`` the dispatcher drags one sideways to reschedule it, to another
    row to reassign it, by an edge to resize it (``assets/board-drag.js`` sends
    the drop to the server); otherwise they stay put."""
    rows = {name: i for i, name in enumerate(names)}
    return [
        {
            "type": "rect",
            "name": f"job:{s.ref}",
            "editable": editable,
            "layer": "between",
            "xref": "x",
            "yref": "y",
            "x0": _local(s.start, zone),
            "x1": _local(s.end, zone),
            "y0": rows[who] + BOOKED_BAND[0],
            "y1": rows[who] + BOOKED_BAND[1],
            "fillcolor": JOB_COLOURS.get(s.status, "#4a5568"),
            "line": {"width": 0},
            "label": {
                "text": s.label,
                "textposition": "middle left",
                "font": {"color": "#fff", "size": 11},
            },
        }
        for who, s in booked
    ]


#: The name of the "now" line's shape (``assets/board-drag.js`` scrolls to it).
NOW_LINE = "now"


def board_figure(
    board: Board, now: datetime, zone: ZoneInfo, *, editable: bool
) -> go.Figure:
    """The whole day for every row of ``board``; the booked windows can be
    dragged only when ``editable`` (the viewer's role may plan: ``layout.may_plan``)."""
    names = [r.technician.name for r in board.rows]
    booked = [
        (r.technician.name, s)
        for r in board.rows
        for s in r.segments
        if s.kind == "booked"
    ]
    on_site = [
        (r.technician.name, s)
        for r in board.rows
        for s in r.segments
        if s.kind == "on_site"
    ]
    travel = [
        (r.technician.name, s)
        for r in board.rows
        for s in r.segments
        if s.kind == "travel"
    ]
    flags = [(r.technician.name, f) for r in board.rows for f in r.flags]
    fig = go.Figure()
    span = working_hours(board, now)
    fig.add_trace(  # every technician gets a row, booked or not
        go.Scatter(
            name="rows",
            x=[_local(span[0], zone)] * len(names),
            y=names,
            mode="markers",
            marker={"opacity": 0},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(  # the legend's entry for the booked windows (drawn as shapes)
        go.Bar(
            name="Booked (drag to move)" if editable else "Booked",
            orientation="h",
            x=[None],
            y=[names[0]] if names else [],
            marker={"color": JOB_COLOURS["scheduled"]},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        _bars(
            on_site,
            zone,
            name="On site",
            colours=[ON_SITE_COLOUR] * len(on_site),
            offset=0.06,
            width=0.3,
            kind="session",
        )
    )
    fig.add_trace(
        _bars(
            travel,
            zone,
            name="Travel",
            colours=[TRAVEL_COLOUR] * len(travel),
            offset=0.14,
            width=0.14,
            kind="travel",
        )
    )
    fig.add_trace(
        go.Scatter(
            name="Late / left early",
            mode="markers",
            x=[_local(f.at, zone) for _, f in flags],
            y=[who for who, _ in flags],
            marker={
                "symbol": "triangle-down",
                "size": 13,
                "color": [FLAG_COLOURS[f.kind] for _, f in flags],
                "line": {"width": 1, "color": "#fff"},
            },
            hovertext=[f"{who} · {f.text}" for who, f in flags],
            hoverinfo="text",
            customdata=[["job", f.job_id] for _, f in flags],
        )
    )
    shapes = booked_shapes(booked, names, zone, editable=editable)
    if board.start <= now < board.end:
        x = _local(now, zone)
        shapes.append(
            {
                "type": "line",
                "name": NOW_LINE,
                "x0": x,
                "x1": x,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": "#e53e3e", "width": 2},
            }
        )
    day = board.start.astimezone(zone)
    fig.update_layout(
        title={
            "text": f"{day:%A %d %B %Y} · times in {zone.key}",
            "x": 0,
            "font": {"size": 14},
        },
        barmode="overlay",
        height=90 + ROW_PX * max(len(names), 1),
        margin={"l": 10, "r": 10, "t": 60, "b": 30},
        xaxis={
            "type": "date",
            "range": [_local(t, zone) for t in span],
            "side": "top",
            "tickformat": "%H:%M",
            "gridcolor": "#edf2f7",
            "fixedrange": True,
        },
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": names,
            "autorange": "reversed",
            "automargin": True,
            "fixedrange": True,
        },
        legend={"orientation": "h", "y": -0.02, "yanchor": "top", "x": 0},
        plot_bgcolor="#fff",
        shapes=shapes,
        clickmode="event",
        # no zoom or pan: on a phone a swipe scrolls the timeline's panel
        # (assets/board-scroll.js), which plotly would otherwise swallow
        dragmode=False,
        uirevision="day-board",
        # a dragged window's new place is the server's to give: every drawing
        # resets it (a refused move springs back; zoom stays, per uirevision)
        editrevision=now.isoformat(),
        activeshape={"fillcolor": "#2b6cb0", "opacity": 0.7},
    )
    return fig
