"""The HTML of the jobs map's side panels: counts, technician list, alerts, details.

Pure functions from what the page's callbacks read and shaped to Dash
components; no queries here. Every time shown is in the company's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboard import clock
from dashboard.pages.live_map import model
from dashboard.pages.live_map.figures import JOB_COLOURS, JOB_LABELS, STATE_COLOURS
from dashboard.queries import JobBrief, JobSite, Technician

ALERT_COLOURS = {
    "sos": "#63171b",
    "danger": "#c53030",
    "warning": "#dd6b20",
    "info": "#2b6cb0",
}
#: Pattern-matching ids of the per-row controls (one callback serves them all).
ACK = "alert-ack"
TECH_ROW = "tech-row"
#: The technician list's pager (buttons in the layout, the page in a store).
TECH_PREV = "tech-prev"
TECH_NEXT = "tech-next"
TECH_PAGE = "tech-page"
TECH_PAGER = "tech-pager"  # hidden while everyone fits on one page
TECH_SEARCH = "tech-search"
#: The query the list shows (the search box's, set only when it changed).
TECH_QUERY = "tech-query"
#: Rows the technician list draws a page (search narrows the rest down). Each row is
#: about ten Dash components, and Dash's renderer re-runs a selector for every
#: component on every store update: at 200 rows (2,200 components) that was
#: ~15 s of the browser's main thread before the map could draw
#: (docs/performance.md, "Dashboard weight").
MAX_TECH_ROWS = 30


def page_count(rows: int) -> int:
    """Pages of ``MAX_TECH_ROWS`` for ``rows`` technicians (at least one)."""
    return max(1, -(-rows // MAX_TECH_ROWS))


def turn_page(trigger: object, page: int | None, rows: int) -> int:
    """The list's page after ``trigger``: Prev/Next step, a new query starts
    over, a tick keeps the page; always a page that exists."""
    page = page or 0
    if trigger == TECH_PREV:
        page -= 1
    elif trigger == TECH_NEXT:
        page += 1
    elif trigger == TECH_QUERY:
        page = 0
    return min(max(page, 0), page_count(rows) - 1)


def page_rows(rows: list[model.TechRow], page: int) -> list[model.TechRow]:
    """The rows of ``page`` (clamped to the pages there are)."""
    page = turn_page(None, page, len(rows))
    return rows[page * MAX_TECH_ROWS : (page + 1) * MAX_TECH_ROWS]


def _dot(colour: str) -> Any:
    return html.Span("●", style={"color": colour, "marginRight": "4px"})


def counts_panel(everyone: list[model.LiveTech], shown: list[model.LiveTech]) -> Any:
    """How many technicians are shown, and how many are in each state."""
    by_state = {s: 0 for s in model.STATES}
    for t in everyone:
        by_state[t.state] += 1
    items = [
        html.Li([_dot(STATE_COLOURS[s]), f"{model.STATE_LABELS[s]}: {by_state[s]}"])
        for s in model.STATES
    ]
    return html.Div(
        [
            html.Div(
                f"{len(shown)} of {len(everyone)} technicians shown", id="shown-count"
            ),
            html.Ul(items, className="legend"),
            html.Div("Job sites", className="legend-title"),
            html.Ul(
                [
                    html.Li([_dot(JOB_COLOURS[s]), JOB_LABELS[s]])
                    for s in model.JOB_STATUSES
                ],
                className="legend",
            ),
        ]
    )


def tech_list(rows: list[model.TechRow], page: int = 0) -> Any:
    """Technicians beside the map: state, job or next job, last seen, battery,
    one page of them (``page_rows``) and where that page is in the whole.
    A click on a row focuses the map on them and shows their details."""
    if not rows:
        return html.P("No technician matches.", className="muted")
    body = [
        html.Tr(
            [
                html.Td(
                    [
                        _dot(STATE_COLOURS[r.state]),
                        html.Strong(r.name),
                        html.Div(
                            model.STATE_LABELS[r.state]
                            + (f" · {r.team}" if r.team else ""),
                            className="muted",
                        ),
                    ]
                ),
                html.Td(
                    [
                        html.Div(r.job or "—"),
                        html.Div(
                            f"next {r.next_job}" if r.next_job else "",
                            className="muted",
                        ),
                    ]
                ),
                html.Td(
                    [
                        html.Div(r.last_seen, className="nowrap"),
                        html.Div(
                            "" if r.battery is None else f"battery {r.battery:.0f} %",
                            className="muted",
                        ),
                    ]
                ),
            ],
            id={"type": TECH_ROW, "id": r.device_id},
            n_clicks=0,
            className="tech-row",
            title=f"Show {r.name} on the map",
        )
        for r in page_rows(rows, page)
    ]
    first = turn_page(None, page, len(rows)) * MAX_TECH_ROWS
    more = (
        [
            html.P(
                f"{first + 1:,}–{first + len(body):,} of {len(rows):,}"
                " · Prev/Next or search to narrow down",
                className="muted tech-page",
            )
        ]
        if len(rows) > MAX_TECH_ROWS
        else []
    )
    return html.Div(
        [
            html.Table(
                [
                    html.Thead(
                        html.Tr(
                            [html.Th("Technician"), html.Th("Job"), html.Th("Seen")]
                        )
                    ),
                    html.Tbody(body),
                ],
                className="tech-table",
            ),
            *more,
        ]
    )


def alert_links(a: model.Alert) -> list[Any]:
    """Where an alert leads: the job on the map, the session's audit; an SOS
    first to the technician (where they are), then to their job."""
    links: list[Any] = []
    if a.device_id and (a.kind == model.SOS_KIND or not a.job_id):
        links.append(
            dcc.Link("Show technician", href="/?" + urlencode({"tech": a.device_id}))
        )
    if a.job_id:
        links.append(dcc.Link("Show job", href="/?" + urlencode({"job": a.job_id})))
    if a.session_id:
        links.append(
            dcc.Link("Audit", href="/audit?" + urlencode({"session": a.session_id}))
        )
    return links


#: Alerts the panel lists (SOS and open alarms first, then the newest).
MAX_ALERTS = 50


def alerts_panel(alerts: list[model.Alert], zone: ZoneInfo, older: int = 0) -> Any:
    """The first ``MAX_ALERTS`` alerts, each edged in its severity's colour,
    with where it leads and a button that acknowledges it for every
    dispatcher; then how many older ones are not shown (``older`` the stream's
    the panel did not read, and those past ``MAX_ALERTS``)."""
    hidden = older + max(len(alerts) - MAX_ALERTS, 0)
    more = (
        [
            html.P(
                f"{hidden:,} older alert{'s' if hidden != 1 else ''} not shown",
                className="muted alerts-more",
            )
        ]
        if hidden
        else []
    )
    if not alerts:
        return html.Div([html.P("No alerts.", className="muted"), *more])
    listed = html.Ul(
        [
            html.Li(
                [
                    html.Strong(a.title),
                    html.Div(
                        f"{clock.local(a.at, zone):%H:%M:%S} · {a.detail}",
                        className="alert-detail",
                    ),
                    html.Div(
                        [
                            *alert_links(a),
                            html.Button(
                                "Acknowledge",
                                id={"type": ACK, "key": a.key},
                                n_clicks=0,
                                className="ack",
                            ),
                        ],
                        className="alert-actions",
                    ),
                ],
                className=f"alert alert-{a.kind}",
                style={
                    "borderLeft": f"4px solid {ALERT_COLOURS.get(a.severity, '#2b6cb0')}"
                },
            )
            for a in alerts[:MAX_ALERTS]
        ],
        className="alerts",
    )
    return html.Div([listed, *more]) if more else listed


def nothing_picked() -> Any:
    """The details panel before a click on the map."""
    return html.P(
        "Click a technician or a job on the map, or a technician in the list, "
        "for details.",
        className="muted",
    )


def tech_details(
    device_id: str,
    tech: Technician | None,
    live: model.LiveTech | None,
    pos: dict[str, Any] | None,
    jobs: Mapping[str, JobBrief],
    zone: ZoneInfo,
) -> Any:
    """A technician's state (the marker's), job, last fix, speed and battery,
    with a link to their location history."""
    team = tech.team if tech and tech.team else "—"
    rows: list[tuple[str, Any]] = []
    if live is not None:
        rows.append(
            (
                "State",
                html.Span(
                    [_dot(STATE_COLOURS[live.state]), model.STATE_LABELS[live.state]]
                ),
            )
        )
        rows.append(
            ("Clocked into", model.job_label(live.job, jobs) if live.job else "no job")
        )
    rows += [("Team", team), ("Device", device_id)]
    if pos is not None:
        fix_at = datetime.fromtimestamp((pos["t"] or 0) / 1000, tz=UTC)
        spd, bat = pos["spd"], pos["bat"]
        rows += [
            ("Last fix", f"{clock.local(fix_at, zone):%Y-%m-%d %H:%M:%S}"),
            (
                "Position",
                f"{pos['lat']:.5f}, {pos['lon']:.5f} (±{pos['acc'] or 0:.0f} m)",
            ),
            ("Speed", "—" if spd is None else f"{spd * 3.6:.0f} km/h"),
            ("Battery", "—" if bat is None else f"{bat:.0f} %"),
        ]
    return html.Div(
        [
            html.H4(tech.name if tech else device_id, id="details-title"),
            _rows(rows),
            html.A(
                "Location history",
                href="/audit?" + urlencode({"device": device_id}),
                className="details-link",
            ),
        ]
    )


def site_details(job_id: str, site: JobSite | None, zone: ZoneInfo) -> Any:
    """A job site's status, client, address, booked window and crew."""
    if site is None:
        return html.P("This job is not on the map any more.")
    window = "not scheduled"
    if site.scheduled_start is not None:
        day = clock.local(site.scheduled_start, zone)
        window = (
            f"{day:%a %d %b} {clock.hhmm(site.scheduled_start, zone)}–"
            f"{clock.hhmm(site.scheduled_end, zone)}"
        )
    rows: list[tuple[str, Any]] = [
        (
            "Status",
            html.Span(
                [
                    _dot(JOB_COLOURS.get(site.status, "#4a5568")),
                    JOB_LABELS.get(site.status, site.status),
                ]
            ),
        ),
        ("Client", site.client),
        ("Address", site.address),
        ("Booked", window),
        ("Technicians", site.technician or "unassigned"),
        ("Description", site.title or "—"),
    ]
    return html.Div([html.H4(f"Job {site.number}", id="details-title"), _rows(rows)])


def _rows(rows: list[tuple[str, Any]]) -> Any:
    return html.Table(
        [html.Tr([html.Th(k), html.Td(v)]) for k, v in rows], className="details"
    )
