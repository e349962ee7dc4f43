"""The HTML of the jobs map's side panels: counts, alerts and details.

Pure functions from what the page's callbacks read and shaped to Dash
components; no queries here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import html

from dashboard.pages.live_map import model
from dashboard.pages.live_map.figures import STATE_COLOURS
from dashboard.queries import JobSite, Technician

ALERT_COLOURS = {"danger": "#c53030", "warning": "#dd6b20", "info": "#2b6cb0"}


def counts_panel(everyone: list[model.LiveTech], shown: list[model.LiveTech]) -> Any:
    """How many technicians are shown, and how many are in each state."""
    by_state = {s: 0 for s in model.STATES}
    for t in everyone:
        by_state[t.state] += 1
    items = [
        html.Li(
            [
                html.Span("●", style={"color": STATE_COLOURS[s], "marginRight": "4px"}),
                f"{model.STATE_LABELS[s]}: {by_state[s]}",
            ]
        )
        for s in model.STATES
    ]
    return html.Div(
        [
            html.Div(
                f"{len(shown)} of {len(everyone)} technicians shown", id="shown-count"
            ),
            html.Ul(items, style={"paddingLeft": "16px"}),
        ]
    )


def alerts_panel(alerts: list[model.Alert]) -> Any:
    """The newest 50 alerts, each edged in its severity's colour."""
    if not alerts:
        return html.P("No alerts.", style={"color": "#718096"})
    return html.Ul(
        [
            html.Li(
                [
                    html.Strong(a.title),
                    html.Br(),
                    html.Small(f"{a.at:%H:%M:%S} UTC · {a.detail}"),
                ],
                className=f"alert alert-{a.kind}",
                style={
                    "borderLeft": f"4px solid {ALERT_COLOURS.get(a.severity, '#2b6cb0')}",
                    "padding": "4px 8px",
                    "marginBottom": "6px",
                    "listStyle": "none",
                },
            )
            for a in alerts[:50]
        ],
        style={"padding": 0},
    )


def nothing_picked() -> Any:
    """The details panel before a click on the map."""
    return html.P("Click a technician or a job on the map for details.")


def tech_details(
    device_id: str, tech: Technician | None, pos: dict[str, Any] | None
) -> Any:
    """A technician's last fix, speed, battery and job, with a link to their history."""
    team = tech.team if tech and tech.team else "—"
    rows = [("Device", device_id), ("Team", team)]
    if pos is not None:
        fix_at = datetime.fromtimestamp((pos["t"] or 0) / 1000, tz=UTC)
        spd, bat = pos["spd"], pos["bat"]
        rows += [
            ("Last fix", f"{fix_at:%Y-%m-%d %H:%M:%S} UTC"),
            (
                "Position",
                f"{pos['lat']:.5f}, {pos['lon']:.5f} (±{pos['acc'] or 0:.0f} m)",
            ),
            ("Speed", "—" if spd is None else f"{spd * 3.6:.0f} km/h"),
            ("Battery", "—" if bat is None else f"{bat:.0f} %"),
            ("Status", pos["status"]),
            ("Clocked into", pos["job"] or "no job"),
        ]
    return html.Div(
        [
            html.H4(tech.name if tech else device_id, id="details-title"),
            _rows(rows),
            dcc_link("Location history", f"/audit?device={device_id}"),
        ]
    )


def site_details(job_id: str, site: JobSite | None) -> Any:
    """A job site's status, client, address, schedule and crew."""
    if site is None:
        return html.P(f"Job {job_id} not found.")
    rows = [
        ("Status", site.status.replace("_", " ")),
        ("Client", site.client),
        ("Address", site.address),
        ("Scheduled", _fmt(site.scheduled_start) + " – " + _fmt(site.scheduled_end)),
        ("Technicians", site.technician or "unassigned"),
        ("Description", site.title or "—"),
    ]
    return html.Div([html.H4(f"Job {site.number}", id="details-title"), _rows(rows)])


def dcc_link(text: str, href: str) -> Any:
    return html.A(text, href=href, className="details-link")


def _rows(rows: list[tuple[str, str]]) -> Any:
    return html.Table(
        [
            html.Tr(
                [
                    html.Th(k, style={"textAlign": "left", "paddingRight": "10px"}),
                    html.Td(v),
                ]
            )
            for k, v in rows
        ]
    )


def _fmt(t: datetime | None) -> str:
    return "—" if t is None else f"{t:%Y-%m-%d %H:%M} UTC"
