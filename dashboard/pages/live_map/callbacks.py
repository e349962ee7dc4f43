"""The jobs map's callbacks: inputs → queries → shaping → figures and panels.

``register(app, ctx)`` wires the page for one app instance; the per-app
:class:`~dashboard.context.Context` is closed over, never a global. The map
refresh is :func:`live_update`, a plain function the benchmark times.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import dash
import flask
from dash import ALL, ClientsideFunction, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from dashboard import pickers, queries, shell
from dashboard.context import Context
from dashboard.pages.live_map import figures, layout, model, panels
from storage import alert_stream


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


#: Where the browser fetches a figure the map callback answered a reference to
#: (relative: the map is the page at ``/``; the key is the figure's digest).
FIGURE_URL = "live-map/figure/"
#: A figure's key is the digest of its bytes: the browser may keep it.
FIGURE_CACHE = "private, max-age=86400, immutable"


def _kept(ctx: Context, value: Any) -> tuple[str, bytes]:
    """Keep ``value``'s JSON in ``ctx.figures`` under its digest: key, JSON."""
    body = json.dumps(value, separators=(",", ":")).encode()
    key = hashlib.blake2b(body, digest_size=16).hexdigest()
    ctx.figures.put(key, body)
    return key, body


def figure_ref(
    ctx: Context, fig: dict[str, Any], sig: str, fences: str | None = None
) -> dict[str, str]:
    """Keep the figure's JSON for the browser to fetch; its reference
    ``{key, url, sig}`` is what the callback answers (docs/dashboard.md), with
    ``fences``: the URL of the map's fence layers, which live-map.js fetches
    once the markers are drawn (the fences were most of a first load's bytes)."""
    key, _ = _kept(ctx, fig)
    ref = {"key": key, "url": f"{FIGURE_URL}{key}.json", "sig": sig}
    if fences is not None:
        ref["fences"] = fences
    return ref


#: The fence layers' URLs are named by the job sites' signature (which covers
#: every site's place and fence), so the map's callback can answer before the
#: layers are built: they are built when the browser asks for them, after it
#: drew the markers (1,000 sites: ~100 ms off the first figure's answer).
FENCES_PREFIX = "fences-"


def fences_url(ctx: Context, sites_sig: str, sites: list[queries.JobSite]) -> str:
    """The URL of the fence layers of ``sites``; they are built on the first
    request of it (:func:`fences_body`), once per set of sites."""
    if ctx.fences.get(sites_sig) is None:
        ctx.fences.put(sites_sig, sites)
    return f"{FIGURE_URL}{FENCES_PREFIX}{sites_sig}.json"


def figure_body(ctx: Context, key: str) -> bytes | None:
    """The JSON at ``FIGURE_URL`` + ``key`` + ``.json``: a figure, or the fence
    layers :func:`fences_url` named (None: not known here: evicted, or another
    dashboard process answered the figure)."""
    if not key.startswith(FENCES_PREFIX):
        body: bytes | None = ctx.figures.get(key)
        return body
    sites_sig = key.removeprefix(FENCES_PREFIX)
    kept = ctx.fences.get(sites_sig)
    if kept is None or isinstance(kept, bytes):
        return kept
    body = json.dumps(figures.site_fence_layers(kept), separators=(",", ":")).encode()
    ctx.fences.put(sites_sig, body)
    return body


def live_update(
    ctx: Context,
    trigger: str | None,
    states: list[str] | None,
    job_statuses: list[str] | None,
    tech_ids: list[str] | None,
    teams: list[str] | None,
    previous: dict[str, Any] | None,
    now_ms: int | None = None,
    viewport: dict[str, Any] | None = None,
    focus: dict[str, Any] | None = None,
) -> tuple[Any, Any, Any, Any]:
    """Figure reference, marker delta, view store and counts for one map refresh.

    On load, a filter change or a change of the job sites: the whole figure,
    kept in ``ctx.figures`` for the browser to fetch (its reference is what
    the callback answers: Dash never carries the figure itself).
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
    markers = figures.tech_markers(techs, model.site_briefs(sites))
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
        "rev": (previous or {}).get("rev", figures.UI_REVISION),
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
        # the view it applies to and the one it makes (live-map.js checks)
        delta.update(base=previous.get("sig"), sig=sig)
        return no_update, delta, store, counts
    fences = fences_url(ctx, sites_sig, sites)
    # the markers come first; live-map.js adds the fences (a second request)
    fig = figures.live_map(
        techs, sites, ctx.tile_url, ctx.zone, layout.map_size(viewport), []
    )
    fig["layout"]["uirevision"] = store["rev"]  # the dispatcher's pan and zoom stay
    if focus and focus.get("pan"):  # opened from an alert's link: start there
        fig["layout"]["map"]["center"] = {"lat": focus["lat"], "lon": focus["lon"]}
        fig["layout"]["map"]["zoom"] = FOCUS_ZOOM
    return figure_ref(ctx, fig, sig, fences), no_update, store, counts


#: The zoom the map pans to for a picked technician or job (a few streets).
FOCUS_ZOOM = 15.0


def everyone(ctx: Context, now: datetime) -> list[model.LiveTech]:
    """Every technician's live state: what both side panels show on a tick."""
    techs, _, _ = live_view(ctx, model.Filters(), int(now.timestamp() * 1000))
    return techs


def current_alerts(
    ctx: Context, techs: list[model.LiveTech], now: datetime
) -> tuple[list[model.Alert], int]:
    """Every alert beside the map not acknowledged yet: the stream's (its
    newest, and every open alarm), the live state's (``techs``), the
    records'; jobs and people by name. With how many older alerts of the
    stream are not shown."""
    sources = ctx.sources
    acknowledged = alert_stream.acknowledged_sync(sources.redis)
    recent = queries.recent_alerts(sources, acknowledged)
    stream = recent.alerts
    sites = queries.job_sites(sources)
    on_site = {t.job for t in techs if t.job and t.state != model.OFFLINE}
    discrepancies = [
        model.discrepancy_alert(d, ctx.zone)
        for d in sources.cache.get(
            "discrepancies", lambda: queries.recent_discrepancies(sources)
        )
    ]
    known = {s.job_id for s in sites}
    wanted = {a.text("job_id") for a in stream} | {t.job for t in techs if t.job}
    names = model.Names(
        jobs={
            **model.site_briefs(sites),
            **queries.job_briefs(sources, {j for j in wanted - known if j}),
        },
        users=queries.user_names(
            sources, {a.text("raised_by") for a in stream if a.text("raised_by")}
        ),
        zone=ctx.zone,
    )
    alerts = model.build_alerts(
        stream, techs, sites, on_site, discrepancies, now, names, acknowledged
    )
    return alerts, recent.older


def technician_list(
    ctx: Context,
    techs: list[model.LiveTech],
    search: str | None,
    now: datetime,
    trigger: object = None,
    page: int | None = 0,
) -> tuple[Any, int, bool, bool, bool]:
    """The technician list beside the map (``techs``, searched by name, team,
    device, job), one page of it: the list, the page after ``trigger``
    (Prev/Next, a new search), whether Prev and Next are disabled, whether
    the pager is hidden."""
    all_sites = queries.job_sites(ctx.sources)
    rows = model.tech_rows(techs, all_sites, {}, now, ctx.zone, search or "")
    page = panels.turn_page(trigger, page, len(rows))
    shown = {r.device_id for r in panels.page_rows(rows, page)}
    levels = queries.batteries(ctx.sources.redis, sorted(shown))
    rows = [
        r._replace(battery=levels.get(r.device_id)) if r.device_id in shown else r
        for r in rows
    ]
    last = panels.page_count(len(rows)) - 1
    return panels.tech_list(rows, page), page, page == 0, page == last, last == 0


#: What redraws only the technician list (a search, a page turn), and only
#: the alerts (an acknowledgement); a tick redraws both.
LIST_ONLY = (layout.TECH_QUERY, layout.TECH_PREV, layout.TECH_NEXT)
ALERTS_ONLY = (layout.ACK_DONE,)


def side_panels(
    ctx: Context,
    trigger: object,
    search: str | None,
    page: int | None,
    now: datetime,
) -> tuple[Any, ...]:
    """Both panels beside the map from one read of the live view: the alerts,
    then the technician list with its pager (:func:`technician_list`'s five).
    What ``trigger`` does not concern is ``no_update``."""
    techs = everyone(ctx, now)
    alerts: Any = no_update
    if trigger not in LIST_ONLY:
        shown, older = current_alerts(ctx, techs, now)
        alerts = panels.alerts_panel(shown, ctx.zone, older)
    if trigger in ALERTS_ONLY:
        return (alerts, *([no_update] * 5))
    return (alerts, *technician_list(ctx, techs, search, now, trigger, page))


def details(ctx: Context, focus: dict[str, Any] | None) -> Any:
    """The details panel for what the dispatcher picked (map click or list)."""
    if not focus or not focus.get("id"):
        return panels.nothing_picked()
    kind, ident = focus.get("kind"), str(focus["id"])
    sources = ctx.sources
    if kind == "tech":
        techs, _, _ = live_view(
            ctx, model.Filters(), int(datetime.now(UTC).timestamp() * 1000)
        )
        live = next((t for t in techs if t.device_id == ident), None)
        jobs = model.site_briefs(queries.job_sites(sources))
        if live is not None and live.job and live.job not in jobs:
            jobs.update(queries.job_briefs(sources, {live.job}))
        return panels.tech_details(
            ident,
            queries.technicians(sources).get(ident),
            live,
            queries.live_detail(sources.redis, ident),
            jobs,
            ctx.zone,
        )
    return panels.site_details(ident, queries.job_site(sources, ident), ctx.zone)


def picked(click: dict[str, Any] | None) -> dict[str, str] | None:
    """What a click on the map picked: the top-most marker's kind and id."""
    if not click or not click.get("points"):
        return None
    custom = click["points"][0].get("customdata")
    if not custom or len(custom) < 2:
        return None
    return {"kind": str(custom[0]), "id": str(custom[1])}


#: Shows a browser notification for each new alert when the dispatcher asked for
#: them (the permission is asked when the box is ticked).
NOTIFY_JS = """
function (children, notify, seen) {
  const nu = window.dash_clientside.no_update;
  const on = notify && notify.indexOf('on') >= 0;
  const items = Array.from(document.querySelectorAll('#alerts li.alert'));
  const keys = items.map(li => (li.querySelector('button.ack') || {}).id || '');
  if (!on || !('Notification' in window)) { return keys; }
  if (Notification.permission === 'default') { Notification.requestPermission(); }
  const before = new Set(seen || []);
  if (seen && Notification.permission === 'granted') {
    items.forEach((li, k) => {
      if (!before.has(keys[k])) {
        const title = (li.querySelector('strong') || {}).textContent || 'crewtrack';
        const body = (li.querySelector('.alert-detail') || {}).textContent || '';
        // an SOS stays on the screen until the dispatcher dismisses it
        new Notification(title, {body: body, tag: keys[k],
                                 requireInteraction: li.classList.contains('alert-sos')});
      }
    });
  }
  return keys;
}
"""


#: The technician list's query from its search box: trimmed, in lower case
#: (:func:`dashboard.pages.live_map.model.tech_rows` matches so), and only
#: when it differs from the one the list shows.
QUERY_JS = """
function (value, shown) {
  const query = (value || '').trim().toLowerCase();
  return query === (shown || '') ? window.dash_clientside.no_update : query;
}
"""


#: What a click on one of a panel's rows or buttons (pattern-matching ids)
#: was on: ``{key, at}`` (the id's ``key`` or ``id``; ``at`` makes a second
#: click on it a change); nothing when the panel was only redrawn.
CLICKED_JS = """
function (clicks) {
  const cc = window.dash_clientside.callback_context;
  const hit = (cc.triggered || []).find((t) => t.value);
  if (!hit) { return window.dash_clientside.no_update; }
  const id = JSON.parse(hit.prop_id.slice(0, hit.prop_id.lastIndexOf('.')));
  return {key: id.key || id.id, at: Date.now()};
}
"""


def _pan(lat: float, lon: float) -> dict[str, Any]:
    return {"pan": True, "lat": lat, "lon": lon, "zoom": FOCUS_ZOOM}


def focus_for(ctx: Context, focus: dict[str, Any] | None) -> dict[str, Any] | None:
    """The focus with where to pan the map (a technician's or job's position)."""
    if not focus or not focus.get("id"):
        return focus
    ident = str(focus["id"])
    if focus.get("kind") == "tech":
        pos = queries.live_detail(ctx.sources.redis, ident)
        if pos and pos.get("lat") is not None:
            return {**focus, **_pan(pos["lat"], pos["lon"])}
    elif focus.get("kind") == "job":
        site = queries.job_site(ctx.sources, ident)
        if site is not None:
            return {**focus, **_pan(site.lat, site.lon)}
    return {**focus, "pan": False}


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the jobs map's callbacks to ``app``."""

    server: flask.Flask = app.server

    @server.route(f"/{FIGURE_URL}<key>.json")
    def _figure(key: str) -> flask.Response:
        body = figure_body(ctx, key)
        if body is None:  # evicted, or another process made it: the map asks again
            return flask.Response("no such figure", status=404, mimetype="text/plain")
        response = flask.Response(body, mimetype="application/json")
        response.headers["Cache-Control"] = FIGURE_CACHE
        return response

    @app.callback(
        Output(layout.LIVE_FIGURE, "data"),
        Output(layout.LIVE_DELTA, "data"),
        Output(layout.LIVE_SIG, "data"),
        Output(layout.LIVE_COUNTS, "children"),
        Input(layout.LIVE_TICK, "n_intervals"),
        Input(layout.FILTER_STATES, "value"),
        Input(layout.FILTER_JOB_STATUS, "value"),
        Input(layout.FILTER_TECHS, "value"),
        Input(layout.FILTER_TEAMS, "value"),
        Input(shell.VIEWPORT, "data"),
        State(layout.FOCUS, "data"),  # a figure drawn after a pick starts there
        State(layout.LIVE_SIG, "data"),
    )
    def _live(
        _n: int | None,
        states: list[str] | None,
        job_statuses: list[str] | None,
        techs: list[str] | None,
        teams: list[str] | None,
        viewport: dict[str, Any] | None,
        focus: dict[str, Any] | None,
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
            viewport=viewport,
            focus=focus,
        )

    # dashboard/assets/live-map.js: start plotly.js (deferred) beside the map's
    # first callback - the same inputs, so Dash sends both at once and the
    # server makes the figure while the browser evaluates plotly.js
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("live_map", "start_plotly"),
        Output(layout.LIVE_PLOTLY, "data"),
        Input(layout.FILTER_STATES, "value"),
        Input(layout.FILTER_JOB_STATUS, "value"),
        Input(layout.FILTER_TECHS, "value"),
        Input(layout.FILTER_TEAMS, "value"),
        Input(shell.VIEWPORT, "data"),
    )
    # fetch and draw the figure; apply a tick's marker delta, or pan to what the
    # dispatcher picked, in place
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("live_map", "draw"),
        Output(layout.LIVE_DRAWN, "data"),
        Input(layout.LIVE_FIGURE, "data"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("live_map", "apply"),
        Output(layout.LIVE_APPLIED, "data"),
        Input(layout.LIVE_DELTA, "data"),
        Input(layout.FOCUS, "data"),
        prevent_initial_call=True,
    )

    # a redrawn panel's new buttons and rows "change" their n_clicks to 0:
    # the browser passes on only a real click (each redraw asked the server)
    app.clientside_callback(  # type: ignore[no-untyped-call]
        CLICKED_JS,
        Output(layout.ACK_CLICK, "data"),
        Input({"type": panels.ACK, "key": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        CLICKED_JS,
        Output(layout.ROW_CLICK, "data"),
        Input({"type": panels.TECH_ROW, "id": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(layout.ACK_DONE, "children"),
        Input(layout.ACK_CLICK, "data"),
        prevent_initial_call=True,
    )
    def _acknowledge(click: dict[str, Any] | None) -> Any:
        if not click or not click.get("key"):
            raise PreventUpdate
        key = str(click["key"])
        alert_stream.acknowledge_sync(ctx.sources.redis, key, time.time())
        return key

    app.clientside_callback(  # type: ignore[no-untyped-call]
        NOTIFY_JS,
        Output(layout.NOTIFIED, "data"),
        Input(layout.ALERTS, "children"),
        Input(layout.NOTIFY, "value"),
        State(layout.NOTIFIED, "data"),
    )

    # the alerts and the technician list: one callback, so that a tick reads
    # and shapes the live view once for both (it was read twice, ~50 ms each
    # at 2,000 technicians); a search or a page turn redraws only the list
    @app.callback(
        Output(layout.ALERTS, "children"),
        Output(layout.TECH_LIST, "children"),
        Output(layout.TECH_PAGE, "data"),
        Output(layout.TECH_PREV, "disabled"),
        Output(layout.TECH_NEXT, "disabled"),
        Output(layout.TECH_PAGER, "hidden"),
        Input(layout.SLOW_TICK, "n_intervals"),
        Input(layout.ACK_DONE, "children"),
        Input(layout.LIVE_READY, "data"),  # first drawn after the map
        Input(layout.TECH_QUERY, "data"),
        Input(layout.TECH_PREV, "n_clicks"),
        Input(layout.TECH_NEXT, "n_clicks"),
        State(layout.TECH_PAGE, "data"),
        prevent_initial_call=True,
    )
    def _side_panels(
        _n: int | None,
        _acked: Any,
        _ready: Any,
        search: str | None,
        _prev: int | None,
        _next: int | None,
        page: int | None,
    ) -> tuple[Any, ...]:
        return side_panels(ctx, dash.ctx.triggered_id, search, page, datetime.now(UTC))

    # the search box asks for a new list only when its query changed (the
    # browser re-sent it on leaving the box, which also sent the list back
    # to its first page)
    app.clientside_callback(  # type: ignore[no-untyped-call]
        QUERY_JS,
        Output(layout.TECH_QUERY, "data"),
        Input(layout.TECH_SEARCH, "value"),
        State(layout.TECH_QUERY, "data"),
        prevent_initial_call=True,
    )

    # the technician picker is given the options for what was typed, a few at
    # a time (dcc.Dropdown indexed all 2,000 on every first load and tick)
    pickers.register(
        app, layout.FILTER_TECHS, lambda _chosen: queries.device_choices(ctx.sources)
    )

    @app.callback(
        Output(layout.FILTER_TEAMS, "options"),
        Input(layout.SLOW_TICK, "n_intervals"),
    )
    def _team_options(_n: int | None) -> Any:
        techs = queries.technicians(ctx.sources)
        teams = sorted({t.team for t in techs.values() if t.team})
        return [{"label": t, "value": t} for t in teams]

    # a click on the map and one on the list are two callbacks: the list is
    # redrawn (every slow tick, and first after the map), and a redraw
    # re-asks its callback, which made Dash drop the answer to a map click
    @app.callback(
        Output(layout.FOCUS, "data"),
        Input(layout.LIVE_CLICK, "data"),
        prevent_initial_call=True,
    )
    def _pick_on_map(click: dict[str, Any] | None) -> Any:
        chosen = picked(click)
        if chosen is None:
            raise PreventUpdate
        return {**chosen, "pan": False}  # clicked on the map: it is in view

    @app.callback(
        Output(layout.FOCUS, "data", allow_duplicate=True),
        Input(layout.ROW_CLICK, "data"),
        prevent_initial_call=True,
    )
    def _pick_in_list(click: dict[str, Any] | None) -> Any:
        if not click or not click.get("key"):
            raise PreventUpdate
        return focus_for(ctx, {"kind": "tech", "id": str(click["key"])})

    @app.callback(
        Output(layout.DETAILS, "children"),
        Input(layout.FOCUS, "data"),
    )
    def _details(focus: dict[str, Any] | None) -> Any:
        return details(ctx, focus)

    @app.callback(
        Output(layout.FOCUS, "data", allow_duplicate=True),
        Input(layout.FOCUS_REQUEST, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _focus_from_link(request: dict[str, Any] | None) -> Any:
        if not request:
            raise PreventUpdate
        return focus_for(ctx, request)
