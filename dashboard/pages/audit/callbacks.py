"""The audit page's callbacks: pickers → request → audit → map, panels, export.

``register(app, ctx)`` wires the page for one app instance; the per-app
:class:`~dashboard.context.Context` is closed over, never a global.
:func:`build_audit` fetches and shapes one audit (the screen and the exports
both use it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import dash
import flask
import psycopg
from dash import Input, Output, Patch, State
from dash.exceptions import PreventUpdate

from dashboard import maps, pickers, queries, shell
from dashboard.context import Context
from dashboard.pages.audit import export, figures, layout, panels
from dashboard.pages.audit import model as audit_mod
from jobs_domain.errors import InvalidInput, NotFound
from services import evidence
from services import presence as presence_service
from services.evidence import NoSuchSession, Presentation
from storage import session_answer
from storage.visits import SESSION_MARGIN  # the derive worker's window

DEFAULT_AUDIT_SPAN = timedelta(hours=12)


def _parse_time(raw: str | None, zone: ZoneInfo) -> datetime | None:
    """A time typed on the page: the company's local time unless it names a zone."""
    if not raw:
        return None
    try:
        t = datetime.fromisoformat(raw.strip().replace("T", " "))
    except ValueError:
        return None
    return (t.replace(tzinfo=zone) if t.tzinfo is None else t).astimezone(UTC)


def resolve_request(
    session_id: str | None,
    device_id: str | None,
    start_raw: str | None,
    end_raw: str | None,
    now: datetime,
    site_id: str | None = None,
    version: int | None = None,
    zone: ZoneInfo = audit_mod.UTC_ZONE,
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
    end = _parse_time(end_raw, zone) or now
    start = _parse_time(start_raw, zone) or end - DEFAULT_AUDIT_SPAN
    req = {"device": device_id, "start": start.isoformat(), "end": end.isoformat()}
    if site_id:
        req["site"] = site_id
    return req


class Unanswerable(Exception):
    """A presence question the service refused (its message says why)."""


def presence_request(
    technician_id: str | None,
    property_id: str | None,
    circle: str | None,
    start_raw: str | None,
    end_raw: str | None,
    now: datetime,
    zone: ZoneInfo = audit_mod.UTC_ZONE,
) -> dict[str, Any] | None:
    """A presence question from the page: a technician, a property or typed
    ``lat, lon, radius m`` (the typed circle wins), the range (default 12 h)."""
    if not technician_id:
        return None
    end = _parse_time(end_raw, zone) or now
    start = _parse_time(start_raw, zone) or end - DEFAULT_AUDIT_SPAN
    place: dict[str, Any]
    if circle and circle.strip():
        try:
            lat, lon, radius = (float(x) for x in circle.replace(";", ",").split(","))
        except ValueError:
            place = {"problem": "Type the place as: lat, lon, radius in metres."}
        else:
            place = {"lat": lat, "lon": lon, "radius_m": radius}
    elif property_id:
        place = {"property_id": property_id}
    else:
        place = {"problem": "Pick a property or type lat, lon, radius m."}
    return {
        "presence": technician_id,
        "place": place,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }


def presence_audit(
    ctx: Context, request: dict[str, Any]
) -> tuple[audit_mod.Audit, str, list[queries.VersionRow]]:
    """Ask services.presence (the API's use case) and shape its answer."""
    if _role() not in {r.value for r in presence_service.PRESENCE_ROLES}:
        raise Unanswerable("Presence answers are for billing and admin.")
    if "problem" in request["place"]:
        raise Unanswerable(request["place"]["problem"])
    start = datetime.fromisoformat(request["start"])
    end = datetime.fromisoformat(request["end"])
    conninfo = ctx.sources.pool.conninfo
    assert isinstance(conninfo, str)  # the dashboard's pool is built from a URL

    async def ask() -> presence_service.PresenceAnswer:
        async with await psycopg.AsyncConnection.connect(conninfo) as conn:
            place = await presence_service.parse_place(conn, request["place"])
            return await presence_service.ask(
                conn, request["presence"], place, start, end, ctx.zone
            )

    try:
        answer = asyncio.run(ask())
    except InvalidInput as exc:
        why = "; ".join(p.message for p in exc.problems) or str(exc)
        raise Unanswerable(f"Cannot answer: {why}.") from exc
    except NotFound as exc:
        raise Unanswerable(f"Cannot answer: {exc}.") from exc
    title = f"Presence · {answer.technician} · {answer.place.label}"
    return audit_mod.presence_audit(answer, ctx.zone), title, []


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
    if "presence" in request:
        return presence_audit(ctx, request)
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
        with sources.conn() as conn:
            facts = session_answer.session_facts(conn, row.session_id)
        audit = audit_mod.session_audit(
            frame, record, fence, row.device_id, start, end, info, ctx.zone, facts
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
    audit = audit_mod.range_audit(frame, fence, device, start, end, ctx.zone)
    return audit, title, []


def session_presentation(ctx: Context, session_id: UUID) -> Presentation:
    """A session's PDF and CSV exactly as the audit page exports them: what its
    evidence bundle carries (the dashboard's download, the CLI and the API)."""
    try:
        audit, title, _ = build_audit(ctx, {"session": str(session_id)})
    except PreventUpdate as e:
        raise NoSuchSession(f"no job session {session_id}") from e
    return Presentation(
        export.evidence_pdf(audit, title, ctx.tile_url), export.fixes_csv(audit)
    )


def evidence_bundle(ctx: Context, session_id: UUID) -> bytes:
    """The session's evidence bundle, as ``crewtrack evidence export`` makes it
    (:func:`services.evidence.export_session`, with this page's PDF and CSV)."""
    if ctx.home is None:
        raise evidence.EvidenceError("this dashboard has no home for the signing key")
    key = evidence.signing_key(ctx.home)
    conninfo = ctx.sources.pool.conninfo
    assert isinstance(conninfo, str)  # the dashboard's pool is built from a URL
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return evidence.export_session(
            conn, session_id, key, lambda sid: session_presentation(ctx, sid)
        )


def picker_choices(ctx: Context) -> dict[str, Callable[[list[str]], pickers.Choices]]:
    """What each of the page's pickers chooses among, (value, label) each, given
    the chosen values: one linked from elsewhere (``?session=``, ``?device=``)
    is offered even if it is not among the usual choices, so it stays chosen."""
    sources = ctx.sources

    def sessions(chosen: list[str]) -> pickers.Choices:
        return [
            (
                s.session_id,
                f"{s.job_number} · {s.technician} · "
                f"{s.clocked_in_at.astimezone(ctx.zone):%Y-%m-%d %H:%M}",
            )
            for s in queries.session_choices(sources, chosen)
        ]

    def devices(chosen: list[str]) -> pickers.Choices:
        known = queries.device_choices(sources)
        listed = {d for d, _ in known}
        return [(d, d) for d in chosen if d not in listed] + known

    def sites(_chosen: list[str]) -> pickers.Choices:
        return [
            (s.job_id, f"{s.number} · {s.address or s.title}")
            for s in queries.job_sites(sources)
        ]

    def technicians(_chosen: list[str]) -> pickers.Choices:
        people = {
            t.technician_id: t.name
            for t in queries.technicians(sources).values()
            if t.technician_id
        }
        return sorted(people.items(), key=lambda kv: kv[1])

    def properties(_chosen: list[str]) -> pickers.Choices:
        return queries.fenced_properties(sources)

    return {
        layout.AUDIT_SESSION: sessions,
        layout.AUDIT_DEVICE: devices,
        layout.AUDIT_SITE: sites,
        layout.AUDIT_P_TECH: technicians,
        layout.AUDIT_P_PROPERTY: properties,
    }


def _role() -> str | None:
    """The signed-in user's role (the login hook put the user on ``flask.g``)."""
    user = flask.g.get("user") if flask.has_request_context() else None
    return None if user is None else str(user.role)


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the audit page's callbacks (and its bundle download) to ``app``."""

    server: flask.Flask = app.server

    @server.route(f"{panels.BUNDLE_PATH}/<raw>.zip")
    def _evidence_zip(raw: str) -> flask.Response:
        if _role() not in {r.value for r in evidence.EVIDENCE_ROLES}:
            return flask.Response("evidence bundles are for billing and admin", 403)
        session_id = layout.canonical_uuid(raw)
        if session_id is None:
            return flask.Response("no such session", 404)
        try:
            data = evidence_bundle(ctx, UUID(session_id))
        except NoSuchSession:
            return flask.Response("no such session", 404)
        except evidence.EvidenceError as exc:
            return flask.Response(str(exc), 409, mimetype="text/plain")
        name = evidence.bundle_name(UUID(session_id))
        return flask.Response(
            data,
            mimetype="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # each picker is given a page of options for what is typed (dcc.Dropdown
    # indexed every one of 2,000+ sessions, technicians and sites on page load)
    for picker_id, choices in picker_choices(ctx).items():
        pickers.register(app, picker_id, choices)

    @app.callback(
        Output(layout.AUDIT_REQUEST, "data"),
        Input(layout.AUDIT_LOAD, "n_clicks"),
        Input(layout.AUDIT_SESSION, "value"),
        Input(layout.AUDIT_VERSION, "value"),
        Input(layout.AUDIT_P_ASK, "n_clicks"),
        State(layout.AUDIT_DEVICE, "value"),
        State(layout.AUDIT_START, "value"),
        State(layout.AUDIT_END, "value"),
        State(layout.AUDIT_SITE, "value"),
        State(layout.AUDIT_SHOWN, "data"),
        State(layout.AUDIT_P_TECH, "value"),
        State(layout.AUDIT_P_PROPERTY, "value"),
        State(layout.AUDIT_P_CIRCLE, "value"),
    )
    def _audit_request(
        _clicks: int | None,
        session_id: str | None,
        version: int | None,
        _ask: int | None,
        device_id: str | None,
        start: str | None,
        end: str | None,
        site_id: str | None,
        shown: dict[str, Any] | None,
        p_tech: str | None,
        p_property: str | None,
        p_circle: str | None,
    ) -> Any:
        trigger = dash.ctx.triggered_id
        if trigger == layout.AUDIT_P_ASK:
            asked = presence_request(
                p_tech, p_property, p_circle, start, end, datetime.now(UTC), ctx.zone
            )
            if asked is None:
                raise PreventUpdate
            return asked
        if trigger == layout.AUDIT_LOAD and device_id:
            session_id = None  # the button with a technician picked: the range wins
        if trigger == layout.AUDIT_VERSION:
            # the audit itself sets the picker to the version it shows
            if (
                shown
                and shown.get("session") == session_id
                and shown.get("version") == version
            ):
                raise PreventUpdate
        elif trigger == layout.AUDIT_SESSION:
            version = None  # another session: its newest version
        request = resolve_request(
            session_id,
            device_id,
            start,
            end,
            datetime.now(UTC),
            site_id,
            version,
            ctx.zone,
        )
        if request is None:
            raise PreventUpdate
        return request

    @app.callback(
        Output(layout.AUDIT_LEAD, "children"),
        Output(layout.AUDIT_EVIDENCE_BOX, "children"),
        Output(layout.AUDIT_SUMMARY, "children"),
        Output(layout.AUDIT_RECON, "children"),
        Output(layout.AUDIT_MAP, "figure"),
        Output(layout.AUDIT_TIMELINE, "figure"),
        Output(layout.AUDIT_TABLE, "data"),
        Output(layout.AUDIT_SLIDER, "max"),
        Output(layout.AUDIT_SLIDER, "value"),
        Output(layout.AUDIT_TRAIL, "data"),
        Output(layout.AUDIT_VERSION, "options"),
        Output(layout.AUDIT_VERSION, "value"),
        Output(layout.AUDIT_VERSION_BOX, "style"),
        Output(layout.AUDIT_SHOWN, "data"),
        Input(layout.AUDIT_REQUEST, "data"),
        Input(layout.AUDIT_OPTIONS, "value"),
        Input(shell.VIEWPORT, "data"),
    )
    def _audit(
        request: dict[str, Any] | None,
        options: list[str] | None,
        viewport: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        if not request:
            raise PreventUpdate
        try:
            a, title, versions = build_audit(ctx, request)
        except Unanswerable as exc:
            return (panels.problem(str(exc)), *([dash.no_update] * 13))
        fence_geo = a.fence.to_geojson() if a.fence is not None else None
        fig = figures.audit_map(
            a.trail,
            a.fixes,
            fence_geo,
            audit_mod.edges_for_map(a.visits, a.zone),
            audit_mod.clock_for_map(a.session, a.zone),
            a.gaps,
            "accuracy" in (options or []),
            ctx.tile_url,
            maps.map_size(viewport, 430 + 10 + 32 + 20, 0.52, 900),
            a.zone,
        )
        timeline = figures.audit_timeline(
            list(a.fixes["time"]),
            [float(d) for d in a.fixes["distance_m"].fillna(0.0)],
            audit_mod.edge_windows(a.visits),
            audit_mod.clock_for_timeline(a.session),
            a.zone,
            a.booked,
        )
        trail = {
            "t": [
                audit_mod.fmt_time(t.to_pydatetime(), a.zone) for t in a.fixes["time"]
            ],
            "lat": [round(float(x), 6) for x in a.fixes["lat"]],
            "lon": [round(float(x), 6) for x in a.fixes["lon"]],
        }
        shown = a.record.version if a.record is not None else None
        box = {"display": "block" if len(versions) > 1 else "none"}
        remembered = {"session": request.get("session"), "version": shown}
        return (
            panels.lead(a, title),
            panels.evidence_link(a, _role()),
            panels.summary(a),
            panels.recon_table(a),
            fig,
            timeline,
            a.edge_rows,
            max(len(a.fixes) - 1, 0),
            0,
            trail,
            panels.version_options(versions, ctx.zone),
            shown,
            box,
            remembered,
        )

    @app.callback(
        Output(layout.AUDIT_MAP, "figure", allow_duplicate=True),
        Output(layout.AUDIT_REPLAY_LABEL, "children"),
        Input(layout.AUDIT_SLIDER, "value"),
        State(layout.AUDIT_TRAIL, "data"),
        prevent_initial_call=True,
    )
    def _replay(
        index: int | None, trail: dict[str, list[Any]] | None
    ) -> tuple[Any, Any]:
        if not trail or not trail["t"] or index is None:
            raise PreventUpdate
        i = min(max(int(index), 0), len(trail["t"]) - 1)
        patch = Patch()
        patch["data"][figures.AUDIT_REPLAY]["lat"] = [trail["lat"][i]]
        patch["data"][figures.AUDIT_REPLAY]["lon"] = [trail["lon"][i]]
        patch["data"][figures.AUDIT_TRAIL]["lat"] = trail["lat"][: i + 1]
        patch["data"][figures.AUDIT_TRAIL]["lon"] = trail["lon"][: i + 1]
        return patch, f"{trail['t'][i]} (fix {i + 1} of {len(trail['t'])})"

    @app.callback(
        Output(layout.DOWNLOAD, "data"),
        Input(layout.EXPORT_CSV, "n_clicks"),
        Input(layout.EXPORT_PDF, "n_clicks"),
        State(layout.AUDIT_REQUEST, "data"),
        State(layout.AUDIT_SHOWN, "data"),
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
        return export.download(
            a, title, dash.ctx.triggered_id == layout.EXPORT_CSV, ctx.tile_url
        )
