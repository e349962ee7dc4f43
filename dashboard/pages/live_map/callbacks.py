"""The jobs map's callbacks: inputs → queries → shaping → figures and panels.

``register(app, ctx)`` wires the page for one app instance; the per-app
:class:`~dashboard.context.Context` is closed over, never a global. The map
refresh is :func:`live_update`, a plain function the benchmark times.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from dashboard import queries
from dashboard.context import Context
from dashboard.pages.live_map import figures, layout, model, panels


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
    counts: Any = panels.counts_panel(everyone, techs)
    if (
        previous
        and trigger == layout.LIVE_TICK
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


def current_alerts(ctx: Context, now: datetime) -> list[model.Alert]:
    """Every alert beside the map: the stream's, the live state's, the records'."""
    sources = ctx.sources
    now_ms = int(now.timestamp() * 1000)
    stream = queries.recent_alerts(sources)
    sites = queries.job_sites(sources)
    techs, _, _ = live_view(ctx, model.Filters(), now_ms)
    on_site = {t.job for t in techs if t.job and t.state != model.OFFLINE}
    discrepancies = [
        model.discrepancy_alert(d)
        for d in sources.cache.get(
            "discrepancies", lambda: queries.recent_discrepancies(sources)
        )
    ]
    return model.build_alerts(stream, techs, sites, on_site, discrepancies, now)


def details(ctx: Context, click: dict[str, Any] | None) -> Any:
    """The details panel for the technician or job site clicked on the map."""
    if not click or not click.get("points"):
        return panels.nothing_picked()
    custom = click["points"][0].get("customdata")
    if not custom or len(custom) < 2:
        raise PreventUpdate
    kind, ident = custom[0], custom[1]
    sources = ctx.sources
    if kind == "tech":
        return panels.tech_details(
            ident,
            queries.technicians(sources).get(ident),
            queries.live_detail(sources.redis, ident),
        )
    return panels.site_details(ident, queries.job_site(sources, ident))


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the jobs map's callbacks to ``app``."""

    @app.callback(
        Output(layout.LIVE_MAP, "figure"),
        Output(layout.LIVE_DELTA, "data"),
        Output(layout.LIVE_SIG, "data"),
        Output(layout.LIVE_COUNTS, "children"),
        Input(layout.LIVE_TICK, "n_intervals"),
        Input(layout.FILTER_STATES, "value"),
        Input(layout.FILTER_JOB_STATUS, "value"),
        Input(layout.FILTER_TECHS, "value"),
        Input(layout.FILTER_TEAMS, "value"),
        State(layout.LIVE_SIG, "data"),
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
        Output(layout.LIVE_MAP, "figure", allow_duplicate=True),
        Input(layout.LIVE_DELTA, "data"),
        State(layout.LIVE_MAP, "figure"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(layout.ALERTS, "children"),
        Input(layout.SLOW_TICK, "n_intervals"),
    )
    def _alerts(_n: int | None) -> Any:
        return panels.alerts_panel(current_alerts(ctx, datetime.now(UTC)))

    @app.callback(
        Output(layout.FILTER_TECHS, "options"),
        Output(layout.FILTER_TEAMS, "options"),
        Input(layout.SLOW_TICK, "n_intervals"),
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
        Output(layout.DETAILS, "children"),
        Input(layout.LIVE_MAP, "clickData"),
    )
    def _details(click: dict[str, Any] | None) -> Any:
        return details(ctx, click)
