"""Callbacks: inputs → queries → shaping → figures.

``register(app, ctx)`` wires everything for one app instance; the per-app
:class:`Context` (connections, settings) is closed over, never a global. The
live-map refresh is :func:`live_update`, a plain function the benchmark times.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import dash
from dash import Input, Output, Patch, State, html, no_update
from dash.exceptions import PreventUpdate

from core.reconcile import Flag
from dashboard import queries, shell
from dashboard.pages.audit import export
from dashboard.pages.audit import figures as audit_figures
from dashboard.pages.audit import layout as audit_layout
from dashboard.pages.audit import model as audit_mod
from dashboard.pages.live_map import figures, model
from dashboard.pages.live_map import layout as live_layout
from dashboard.queries import Sources
from storage.visits import SESSION_MARGIN  # the derive worker's window

DEFAULT_AUDIT_SPAN = timedelta(hours=12)


@dataclass(frozen=True)
class Context:
    """What the callbacks of one app instance read from."""

    sources: Sources
    tile_url: str
    views: model.ViewCache = field(default_factory=model.ViewCache)


# ----------------------------------------------------------------- live map
def live_view(
    ctx: Context, f: model.Filters, now_ms: int
) -> tuple[list[model.LiveTech], list[model.LiveTech], list[queries.JobSite]]:
    """All technicians, the filtered ones, and the filtered job sites."""
    sources = ctx.sources
    positions = queries.live_positions(sources.redis)
    sites = queries.job_sites(sources)
    sessions = sources.cache.get(
        "open_sessions", lambda: queries.open_sessions(sources)
    )
    status = {s.job_id: s.status for s in sites}
    techs = model.live_techs(
        positions, queries.technicians(sources), sessions, status, now_ms
    )
    return techs, model.apply_filters(techs, f), model.filter_sites(sites, f)


def _digest(*parts: object) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\x1f")
    return h.hexdigest()


def _sites_signature(sites: list[queries.JobSite]) -> str:
    return _digest([(s.job_id, s.status, s.lat, s.lon, repr(s.fence)) for s in sites])


def live_update(
    ctx: Context,
    trigger: str | None,
    states: list[str] | None,
    job_statuses: list[str] | None,
    tech_ids: list[str] | None,
    teams: list[str] | None,
    previous: dict[str, Any] | None,
    now_ms: int | None = None,
) -> tuple[Any, Any, Any, Any]:
    """Figure, marker delta, view store and counts for one map refresh.

    On load, a filter change or a change of the job sites: the whole figure.
    On a tick: only what changed since the view the browser holds (its store
    carries that view's signature; the markers behind it are in
    ``ctx.views``): the moved markers' coordinates and the restyled markers'
    colours, by index, applied in the browser by a clientside callback; every
    marker array when the set of markers changed; nothing (``no_update``)
    when nothing did.
    """
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    f = model.Filters.from_inputs(states, tech_ids, teams, job_statuses)
    everyone, techs, sites = live_view(ctx, f, now_ms)
    markers = figures.tech_markers(techs)
    filters_key = repr(f)
    sites_sig = _sites_signature(sites)
    sig = _digest(
        filters_key,
        markers.ids,
        markers.lat,
        markers.lon,
        markers.colour,
        markers.hover,
    )
    counts_key = _digest(len(techs), sorted(t.state for t in everyone))
    ctx.views.put(sig, markers)
    store = {
        "sig": sig,
        "filters": filters_key,
        "sites": sites_sig,
        "counts": counts_key,
    }
    counts: Any = _counts(everyone, techs)
    if (
        previous
        and trigger == live_layout.LIVE_TICK
        and previous.get("filters") == filters_key
        and previous.get("sites") == sites_sig
    ):
        if previous.get("counts") == counts_key:
            counts = no_update
        if previous.get("sig") == sig:
            return no_update, no_update, no_update, counts
        base = ctx.views.get(str(previous.get("sig")))
        if base is not None and base.ids == markers.ids:
            delta = figures.marker_delta(base, markers)
        else:
            delta = {
                "trace": figures.TECH_TRACE,
                "all": figures.tech_trace_data(markers),
            }
        return no_update, delta, store, counts
    fig = figures.live_map(techs, sites, ctx.tile_url)
    return fig, no_update, store, counts


#: Applies a marker delta to the figure in the browser (no round trip): copies
#: of the changed arrays, so Plotly.react sees new arrays and redraws.
APPLY_DELTA_JS = """
function (delta, fig) {
  const nu = window.dash_clientside.no_update;
  if (!delta || !fig || !fig.data || !fig.data[delta.trace]) { return nu; }
  const data = fig.data.slice();
  const tr = Object.assign({}, data[delta.trace]);
  tr.marker = Object.assign({}, tr.marker);
  if (delta.all) {
    tr.lat = delta.all.lat;
    tr.lon = delta.all.lon;
    tr.customdata = delta.all.customdata;
    tr.hovertext = delta.all.hovertext;
    tr.marker.color = delta.all.marker.color;
  } else {
    if (!tr.lat || tr.lat.length !== delta.n) { return nu; }
    const lat = tr.lat.slice(), lon = tr.lon.slice();
    delta.i.forEach((j, k) => { lat[j] = delta.lat[k]; lon[j] = delta.lon[k]; });
    tr.lat = lat;
    tr.lon = lon;
    if (delta.si.length) {
      const c = tr.marker.color.slice(), h = tr.hovertext.slice();
      delta.si.forEach((j, k) => { c[j] = delta.c[k]; h[j] = delta.h[k]; });
      tr.marker.color = c;
      tr.hovertext = h;
    }
  }
  data[delta.trace] = tr;
  return Object.assign({}, fig, {data: data});
}
"""


def _counts(everyone: list[model.LiveTech], shown: list[model.LiveTech]) -> Any:
    by_state = {s: 0 for s in model.STATES}
    for t in everyone:
        by_state[t.state] += 1
    items = [
        html.Li(
            [
                html.Span(
                    "●", style={"color": figures.STATE_COLOURS[s], "marginRight": "4px"}
                ),
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


def alerts_panel(ctx: Context, now: datetime) -> Any:
    sources = ctx.sources
    now_ms = int(now.timestamp() * 1000)
    stream = queries.recent_alerts(sources)
    sites = queries.job_sites(sources)
    techs, _, _ = live_view(ctx, model.Filters(), now_ms)
    on_site = {t.job for t in techs if t.job and t.state != model.OFFLINE}
    discrepancies = [
        model.Alert(
            "discrepancy",
            "warning",
            f"Clock vs arrival: {d.job_number} ({d.technician})",
            d.message,
            d.derived_at,
            d.device_id,
            d.session_id,
        )
        for d in sources.cache.get(
            "discrepancies", lambda: queries.recent_discrepancies(sources)
        )
    ]
    alerts = model.build_alerts(stream, techs, sites, on_site, discrepancies, now)
    if not alerts:
        return html.P("No alerts.", style={"color": "#718096"})
    colours = {"danger": "#c53030", "warning": "#dd6b20", "info": "#2b6cb0"}
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
                    "borderLeft": f"4px solid {colours.get(a.severity, '#2b6cb0')}",
                    "padding": "4px 8px",
                    "marginBottom": "6px",
                    "listStyle": "none",
                },
            )
            for a in alerts[:50]
        ],
        style={"padding": 0},
    )


def details_panel(ctx: Context, click: dict[str, Any] | None) -> Any:
    if not click or not click.get("points"):
        return html.P("Click a technician or a job on the map for details.")
    custom = click["points"][0].get("customdata")
    if not custom or len(custom) < 2:
        raise PreventUpdate
    kind, ident = custom[0], custom[1]
    sources = ctx.sources
    if kind == "tech":
        tech = queries.technicians(sources).get(ident)
        pos = queries.live_detail(sources.redis, ident)
        rows = [("Device", ident), ("Team", tech.team if tech and tech.team else "—")]
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
                html.H4(tech.name if tech else ident, id="details-title"),
                _rows(rows),
                dcc_link("Location history", f"/audit?device={ident}"),
            ]
        )
    site = queries.job_site(sources, ident)
    if site is None:
        return html.P(f"Job {ident} not found.")
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


# -------------------------------------------------------------------- audit
def _parse_time(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        t = datetime.fromisoformat(raw.strip().replace("T", " "))
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def resolve_request(
    session_id: str | None,
    device_id: str | None,
    start_raw: str | None,
    end_raw: str | None,
    now: datetime,
    site_id: str | None = None,
    version: int | None = None,
) -> dict[str, Any] | None:
    """What to audit: a session (a stored version, default the newest), or a
    device over a range (default: last 12 h), optionally against a job site."""
    if session_id:
        req: dict[str, Any] = {"session": session_id}
        if version is not None:
            req["version"] = int(version)
        return req
    if not device_id:
        return None
    end = _parse_time(end_raw) or now
    start = _parse_time(start_raw) or end - DEFAULT_AUDIT_SPAN
    req = {"device": device_id, "start": start.isoformat(), "end": end.isoformat()}
    if site_id:
        req["site"] = site_id
    return req


def _record(
    ctx: Context, session_id: str, version: int | None
) -> tuple[audit_mod.StoredRecord, list[queries.VersionRow]] | None:
    """The stored visit record (a version, or the newest), parsed; None if none."""
    versions = queries.derivation_versions(ctx.sources, session_id)
    if not versions:
        return None
    if version not in {v.version for v in versions}:
        version = None  # a version that does not exist: show the newest
    row = queries.derivation(ctx.sources, session_id, version)
    assert row is not None
    return audit_mod.stored_record(row, versions[-1].version), versions


def build_audit(
    ctx: Context, request: dict[str, Any]
) -> tuple[audit_mod.Audit, str, list[queries.VersionRow]]:
    """Fetch and shape the audit for a request; returns it with a title and versions."""
    sources = ctx.sources
    if "session" in request:
        row = queries.session(sources, request["session"])
        if row is None:
            raise PreventUpdate
        info = audit_mod.session_info(row)
        found = _record(ctx, row.session_id, request.get("version"))
        record, versions = found if found is not None else (None, [])
        site = queries.job_site(sources, row.job_id)
        if record is not None:
            # exactly the fixes the record was derived from (its stored window)
            start, end = record.window_start, record.window_end
        else:
            start = row.clocked_in_at - SESSION_MARGIN
            end = (row.clocked_out_at or datetime.now(UTC)) + SESSION_MARGIN
        title = (
            f"Job {row.job_number}"
            + (f" · {site.client} · {site.address}" if site else "")
            + f" · technician {row.technician}"
        )
        frame = queries.fixes(sources, row.device_id, start, end)
        fence = queries.site_geofence(site) if site is not None else None
        audit = audit_mod.session_audit(
            frame, record, fence, row.device_id, start, end, info
        )
        return audit, title, versions
    device = request["device"]
    start = datetime.fromisoformat(request["start"])
    end = datetime.fromisoformat(request["end"])
    tech = queries.technicians(sources).get(device)
    title = f"Technician {tech.name if tech else device}"
    fence = None
    if request.get("site"):
        site = queries.job_site(sources, request["site"])
        if site is not None:
            fence = queries.site_geofence(site)
            title += f" · job {site.number} · {site.address}"
    frame = queries.fixes(sources, device, start, end)
    return audit_mod.range_audit(frame, fence, device, start, end), title, []


def _flag_text(flags: tuple[Flag, ...]) -> Any:
    if not flags:
        return html.Span("no flag", style={"color": "#1a9850"})
    return html.Span(
        "; ".join(f.message for f in flags),
        style={
            "color": "#c53030"
            if any(f.severity == "warning" for f in flags)
            else "#2b6cb0"
        },
    )


def _recon_table(a: audit_mod.Audit) -> Any:
    if a.session is None:
        return html.P(
            "Clock comparisons are shown for a job session (its stored visit record)."
        )
    if a.record is None:
        return html.P(
            "Not derived yet: the derive worker has not stored visits for this "
            "session, so there is no reconciliation to show.",
            id="recon-not-derived",
        )
    header = html.Tr([html.Th(h) for h in ("check", "clock", "GPS", "delta", "flags")])
    body = [
        html.Tr(
            [
                html.Td(r.label),
                html.Td(r.clock),
                html.Td(r.gps),
                html.Td(audit_mod.hms(r.delta_s)),
                html.Td(_flag_text(r.flags), className="recon-flag"),
            ]
        )
        for r in a.recon
    ]
    flags = (
        html.Ul(
            [
                html.Li(
                    [html.Strong(f"{f.severity} · {f.code}: "), f.message],
                    className=f"recon-flag-{f.severity}",
                )
                for f in a.flags
            ],
            id="recon-flags",
        )
        if a.flags
        else html.P("No flags in this version.", id="recon-flags")
    )
    return html.Div(
        [
            html.Table([header, *body], id="recon-table", style={"fontSize": "12px"}),
            html.H5("Flags (as stored)"),
            flags,
        ]
    )


def _summary(a: audit_mod.Audit, title: str) -> Any:
    items: list[Any] = [
        html.H4(title),
        html.Ul(
            [html.Li(line) for line in audit_mod.coverage_lines(a.coverage)],
            id="audit-coverage",
            style={"paddingLeft": "16px", "fontSize": "13px"},
        ),
    ]
    if a.stops:
        items.append(
            html.Details(
                [
                    html.Summary(f"{len(a.stops)} stops from the trail alone"),
                    html.Ul([html.Li(line) for line in audit_mod.stop_lines(a)]),
                ],
                id="audit-stops",
            )
        )
    if a.record is not None:
        items.append(html.P(a.record.label, id="audit-record"))
        if not a.digest_matches:
            items.append(
                html.P(
                    "The stored fixes in this window have changed since this "
                    f"version (now {a.digest}); a newer version holds them.",
                    className="audit-digest-differs",
                )
            )
    elif a.session is not None:
        items.append(
            html.P(
                "Not derived yet: no visit record is stored for this session.",
                id="audit-record",
            )
        )
    elif a.derived_now:
        items.append(
            html.P(
                "Visits derived now from these fixes (no job session: not a "
                "stored visit record).",
                id="audit-record",
            )
        )
    if a.fence is None:
        items.append(html.P("No job site fence: showing the trail only."))
    if not a.visits and a.fence is not None and (a.record or a.derived_now):
        items.append(html.P("No visit to the site in this range."))
    for n, v in enumerate(a.visits, start=1):
        dw = v.departure_window
        items.append(
            html.Div(
                [
                    html.Div(
                        f"Arrival {n}: {audit_mod._fmt(v.arrival)} UTC "
                        f"(window {audit_mod._fmt(v.arrival_window.earliest)} – "
                        f"{audit_mod._fmt(v.arrival_window.latest)})",
                        className="audit-arrival",
                    ),
                    html.Div(
                        f"Departure {n}: {audit_mod._fmt(v.departure)} UTC"
                        + (
                            ""
                            if dw is None
                            else f" (window {audit_mod._fmt(dw.earliest)} – "
                            f"{audit_mod._fmt(dw.latest)})"
                        ),
                        className="audit-departure",
                    ),
                ],
                style={"marginBottom": "6px"},
            )
        )
    items.append(
        html.Small(
            f"Digest of the fixes shown: {a.digest}", style={"wordBreak": "break-all"}
        )
    )
    return html.Div(items)


def _version_options(
    versions: list[queries.VersionRow],
) -> list[dict[str, Any]]:
    return [
        {
            "label": f"v{v.version} of {len(versions)} · {v.derived_at:%Y-%m-%d %H:%M:%S}"
            f" UTC · {v.fix_count} fixes · {v.input_digest[:16]}…",
            "value": v.version,
        }
        for v in reversed(versions)
    ]


def _canonical_uuid(raw: str | None) -> str | None:
    """A session id as PostgreSQL prints it (links may carry other spellings)."""
    if not raw:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


# ------------------------------------------------------------------ wiring
def register(app: dash.Dash, ctx: Context) -> None:
    """Attach every callback to ``app``."""

    @app.callback(
        Output(shell.PAGE, "children"),
        Input(shell.URL, "pathname"),
        State(shell.URL, "search"),
    )
    def route(pathname: str | None, search: str | None) -> Any:
        if pathname in (None, "/"):
            return live_layout.live_page()
        if pathname == "/audit":
            q = parse_qs((search or "").lstrip("?"))
            return audit_layout.audit_page(
                _canonical_uuid(q.get("session", [None])[0]), q.get("device", [None])[0]
            )
        return shell.not_found(pathname or "")

    @app.callback(
        Output(live_layout.LIVE_MAP, "figure"),
        Output(live_layout.LIVE_DELTA, "data"),
        Output(live_layout.LIVE_SIG, "data"),
        Output(live_layout.LIVE_COUNTS, "children"),
        Input(live_layout.LIVE_TICK, "n_intervals"),
        Input(live_layout.FILTER_STATES, "value"),
        Input(live_layout.FILTER_JOB_STATUS, "value"),
        Input(live_layout.FILTER_TECHS, "value"),
        Input(live_layout.FILTER_TEAMS, "value"),
        State(live_layout.LIVE_SIG, "data"),
    )
    def _live(
        _n: int | None,
        states: list[str] | None,
        job_statuses: list[str] | None,
        techs: list[str] | None,
        teams: list[str] | None,
        previous: dict[str, Any] | None,
    ) -> tuple[Any, Any, Any, Any]:
        trigger = dash.ctx.triggered_id
        return live_update(
            ctx,
            str(trigger) if trigger else None,
            states,
            job_statuses,
            techs,
            teams,
            previous,
        )

    app.clientside_callback(  # type: ignore[no-untyped-call]
        APPLY_DELTA_JS,
        Output(live_layout.LIVE_MAP, "figure", allow_duplicate=True),
        Input(live_layout.LIVE_DELTA, "data"),
        State(live_layout.LIVE_MAP, "figure"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(live_layout.ALERTS, "children"),
        Input(live_layout.SLOW_TICK, "n_intervals"),
    )
    def _alerts(_n: int | None) -> Any:
        return alerts_panel(ctx, datetime.now(UTC))

    @app.callback(
        Output(live_layout.FILTER_TECHS, "options"),
        Output(live_layout.FILTER_TEAMS, "options"),
        Input(live_layout.SLOW_TICK, "n_intervals"),
    )
    def _filter_options(_n: int | None) -> tuple[Any, Any]:
        techs = queries.technicians(ctx.sources)
        tech_opts = [
            {"label": label, "value": d}
            for d, label in queries.device_choices(ctx.sources)
        ]
        teams = sorted({t.team for t in techs.values() if t.team})
        return tech_opts, [{"label": t, "value": t} for t in teams]

    @app.callback(
        Output(live_layout.DETAILS, "children"),
        Input(live_layout.LIVE_MAP, "clickData"),
    )
    def _details(click: dict[str, Any] | None) -> Any:
        return details_panel(ctx, click)

    @app.callback(
        Output(audit_layout.AUDIT_SESSION, "options"),
        Output(audit_layout.AUDIT_DEVICE, "options"),
        Output(audit_layout.AUDIT_SITE, "options"),
        Input(shell.URL, "pathname"),
    )
    def _audit_options(pathname: str | None) -> tuple[Any, Any, Any]:
        if pathname != "/audit":
            raise PreventUpdate
        sessions = [
            {
                "label": f"{s.job_number} · {s.technician} · "
                f"{s.clocked_in_at:%Y-%m-%d %H:%M}",
                "value": s.session_id,
            }
            for s in queries.recent_sessions(ctx.sources)
        ]
        devices = [
            {"label": label, "value": d}
            for d, label in queries.device_choices(ctx.sources)
        ]
        sites = [
            {"label": f"{s.number} · {s.address or s.title}", "value": s.job_id}
            for s in queries.job_sites(ctx.sources)
        ]
        return sessions, devices, sites

    @app.callback(
        Output(audit_layout.AUDIT_REQUEST, "data"),
        Input(audit_layout.AUDIT_LOAD, "n_clicks"),
        Input(audit_layout.AUDIT_SESSION, "value"),
        Input(audit_layout.AUDIT_VERSION, "value"),
        State(audit_layout.AUDIT_DEVICE, "value"),
        State(audit_layout.AUDIT_START, "value"),
        State(audit_layout.AUDIT_END, "value"),
        State(audit_layout.AUDIT_SITE, "value"),
        State(audit_layout.AUDIT_SHOWN, "data"),
    )
    def _audit_request(
        _clicks: int | None,
        session_id: str | None,
        version: int | None,
        device_id: str | None,
        start: str | None,
        end: str | None,
        site_id: str | None,
        shown: dict[str, Any] | None,
    ) -> Any:
        trigger = dash.ctx.triggered_id
        if trigger == audit_layout.AUDIT_LOAD and device_id:
            session_id = None  # the button with a technician picked: the range wins
        if trigger == audit_layout.AUDIT_VERSION:
            # the audit itself sets the picker to the version it shows
            if (
                shown
                and shown.get("session") == session_id
                and shown.get("version") == version
            ):
                raise PreventUpdate
        elif trigger == audit_layout.AUDIT_SESSION:
            version = None  # another session: its newest version
        request = resolve_request(
            session_id, device_id, start, end, datetime.now(UTC), site_id, version
        )
        if request is None:
            raise PreventUpdate
        return request

    @app.callback(
        Output(audit_layout.AUDIT_SUMMARY, "children"),
        Output(audit_layout.AUDIT_RECON, "children"),
        Output(audit_layout.AUDIT_MAP, "figure"),
        Output(audit_layout.AUDIT_TIMELINE, "figure"),
        Output(audit_layout.AUDIT_TABLE, "data"),
        Output(audit_layout.AUDIT_SLIDER, "max"),
        Output(audit_layout.AUDIT_SLIDER, "value"),
        Output(audit_layout.AUDIT_TRAIL, "data"),
        Output(audit_layout.AUDIT_VERSION, "options"),
        Output(audit_layout.AUDIT_VERSION, "value"),
        Output(audit_layout.AUDIT_VERSION_BOX, "style"),
        Output(audit_layout.AUDIT_SHOWN, "data"),
        Input(audit_layout.AUDIT_REQUEST, "data"),
        Input(audit_layout.AUDIT_OPTIONS, "value"),
    )
    def _audit(
        request: dict[str, Any] | None, options: list[str] | None
    ) -> tuple[Any, ...]:
        if not request:
            raise PreventUpdate
        a, title, versions = build_audit(ctx, request)
        fence_geo = a.fence.to_geojson() if a.fence is not None else None
        fig = audit_figures.audit_map(
            a.trail,
            a.fixes,
            fence_geo,
            audit_mod.edges_for_map(a.visits),
            audit_mod.clock_for_map(a.session),
            a.gaps,
            "accuracy" in (options or []),
            ctx.tile_url,
        )
        timeline = audit_figures.audit_timeline(
            list(a.fixes["time"]),
            [float(d) for d in a.fixes["distance_m"].fillna(0.0)],
            audit_mod.edge_windows(a.visits),
            audit_mod.clock_for_timeline(a.session),
        )
        trail = {
            "t": [t.strftime("%Y-%m-%d %H:%M:%S") for t in a.fixes["time"]],
            "lat": [round(float(x), 6) for x in a.fixes["lat"]],
            "lon": [round(float(x), 6) for x in a.fixes["lon"]],
        }
        shown = a.record.version if a.record is not None else None
        box = {"display": "block" if len(versions) > 1 else "none"}
        remembered = {"session": request.get("session"), "version": shown}
        return (
            _summary(a, title),
            _recon_table(a),
            fig,
            timeline,
            a.edge_rows,
            max(len(a.fixes) - 1, 0),
            0,
            trail,
            _version_options(versions),
            shown,
            box,
            remembered,
        )

    @app.callback(
        Output(audit_layout.AUDIT_MAP, "figure", allow_duplicate=True),
        Output(audit_layout.AUDIT_REPLAY_LABEL, "children"),
        Input(audit_layout.AUDIT_SLIDER, "value"),
        State(audit_layout.AUDIT_TRAIL, "data"),
        prevent_initial_call=True,
    )
    def _replay(
        index: int | None, trail: dict[str, list[Any]] | None
    ) -> tuple[Any, Any]:
        if not trail or not trail["t"] or index is None:
            raise PreventUpdate
        i = min(max(int(index), 0), len(trail["t"]) - 1)
        patch = Patch()
        patch["data"][audit_figures.AUDIT_REPLAY]["lat"] = [trail["lat"][i]]
        patch["data"][audit_figures.AUDIT_REPLAY]["lon"] = [trail["lon"][i]]
        patch["data"][audit_figures.AUDIT_TRAIL]["lat"] = trail["lat"][: i + 1]
        patch["data"][audit_figures.AUDIT_TRAIL]["lon"] = trail["lon"][: i + 1]
        return patch, f"{trail['t'][i]} UTC (fix {i + 1} of {len(trail['t'])})"

    @app.callback(
        Output(audit_layout.DOWNLOAD, "data"),
        Input(audit_layout.EXPORT_CSV, "n_clicks"),
        Input(audit_layout.EXPORT_PDF, "n_clicks"),
        State(audit_layout.AUDIT_REQUEST, "data"),
        State(audit_layout.AUDIT_SHOWN, "data"),
        prevent_initial_call=True,
    )
    def _export(
        _csv: int | None,
        _pdf: int | None,
        request: dict[str, Any] | None,
        shown: dict[str, Any] | None,
    ) -> Any:
        if not request:
            raise PreventUpdate
        if (
            shown
            and shown.get("version")
            and shown.get("session") == request.get("session")
        ):
            # export the version on screen, even if a newer one was stored since
            request = {**request, "version": shown["version"]}
        a, title, _ = build_audit(ctx, request)
        return export_download(
            a, title, dash.ctx.triggered_id == audit_layout.EXPORT_CSV
        )


def export_download(a: audit_mod.Audit, title: str, as_csv: bool) -> dict[str, Any]:
    """The CSV or PDF download of an audit, named after the record version."""
    stamp = a.start.strftime("%Y%m%d-%H%M")
    name = f"crewtrack-{a.device_id}-{stamp}"
    if a.record is not None:
        name += f"-v{a.record.version}"
    if as_csv:
        return {
            "content": export.fixes_csv(a),
            "filename": f"{name}.csv",
            "type": "text/csv",
        }
    pdf = export.evidence_pdf(a, title)
    return {
        "content": base64.b64encode(pdf).decode(),
        "filename": f"{name}.pdf",
        "type": "application/pdf",
        "base64": True,
    }
