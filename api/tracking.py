"""Tracking for API users: where every device is now (the live state), and the
evidence for billing: a session's derived visits (every version) and a device's
fixes as JSON or CSV.

Derived visits are versioned: a figure once shown to a customer stays
retrievable by its version, together with the parameters, the fence and the
digest of the fixes it came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import REDIS, Ctx
from api.http.problems import HttpProblem
from api.http.registry import Api
from api.http.responses import json_ok
from core.messages import is_device_id
from core.reconcile import Reconciliation
from core.visits import Visit
from jobs_domain.actors import STAFF_READERS
from jobs_domain.errors import FieldProblem, InvalidInput, NotFound
from storage import live, session_answer
from storage import visits as store

MAX_RANGE = dt.timedelta(
    days=31
)  # one billing month per request keeps payloads bounded
MAX_FIXES = 200_000  # a month at one fix every 15 s; more is a sign of a wrong range

WINDOW: s.S = {
    "type": "object",
    "properties": {"earliest": s.NULL_STR, "latest": s.NULL_STR},
}
VISIT: s.S = {
    "type": "object",
    "required": ["arrival", "departure", "arrival_window"],
    "properties": {
        "arrival": {"type": "string"},
        "departure": s.NULL_STR,
        "arrival_window": WINDOW,
        "departure_window": {"anyOf": [WINDOW, {"type": "null"}]},
        "departure_provisional": {"type": "boolean"},
    },
}
DERIVATION_OUT: s.S = {
    "type": "object",
    "required": ["session_id", "version", "visits", "input_digest", "versions"],
    "properties": {
        "session_id": s.UUID_S,
        "version": {"type": "integer"},
        "versions": {"type": "array", "items": {"type": "object"}},
        "params_digest": {"type": "string"},
        "params": {"type": "object"},
        "fence_digest": {"type": "string"},
        "fence": {"type": "object"},
        "input_digest": {"type": "string"},
        "fix_count": {"type": "integer"},
        "window_start": s.TIME,
        "window_end": s.TIME,
        "session_state": {"type": "string"},
        "status": {"enum": ["provisional", "final"]},
        "result_digest": s.NULL_STR,
        "latest_inputs": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        "visits": {"type": "array", "items": VISIT},
        "reconciliation": {"type": "object"},
        "summary": {
            "type": "object",
            "description": "The answer in plain words (core.answer): `sentence` in "
            "the company's time zone, and the figures behind it (UTC times, seconds, "
            "labour hours billed as a decimal string).",
            "required": ["sentence"],
            "properties": {"sentence": {"type": "string"}},
        },
    },
}
FIX_OUT: s.S = {
    "type": "object",
    "required": ["time", "lat", "lon"],
    "properties": {
        "time": s.TIME,
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "accuracy": {"type": ["number", "null"]},
        "altitude": {"type": ["number", "null"]},
        "speed": {"type": ["number", "null"]},
        "heading": {"type": ["number", "null"]},
        "battery": {"type": ["number", "null"]},
        "source": {"type": ["string", "null"]},
        "mock": {"type": ["boolean", "null"]},
        "received_at": s.TIME,
    },
}
FIXES_OUT: s.S = {
    "type": "object",
    "required": ["device_id", "from", "to", "count", "fixes"],
    "properties": {
        "device_id": {"type": "string"},
        "from": s.TIME,
        "to": s.TIME,
        "count": {"type": "integer"},
        "truncated": {"type": "boolean"},
        "fixes": {"type": "array", "items": FIX_OUT},
    },
}


async def session_visits(ctx: Ctx) -> web.StreamResponse:
    session_id = ctx.path_id("session_id", "session")
    raw_version = ctx.request.query.get("version")
    version: int | None = None
    if raw_version is not None:
        if not raw_version.isdigit() or int(raw_version) < 1:
            raise InvalidInput(
                "bad version", [FieldProblem("/query/version", "a version number ≥ 1")]
            )
        version = int(raw_version)
    derivation = await store.aderivation(ctx.conn, session_id, version)
    if derivation is None:
        what = "that version" if version else "derived visits"
        raise NotFound(f"this session has no {what} (yet)")
    body: dict[str, Any] = dict(vars(derivation))
    body["session_id"] = str(derivation.session_id)
    body["versions"] = await store.aversions(ctx.conn, session_id)
    latest = await store.alatest_inputs(ctx.conn, session_id)
    body["latest_inputs"] = None if latest is None else dict(vars(latest))
    if latest is not None:
        body["latest_inputs"]["session_id"] = str(latest.session_id)
    facts = await session_answer.asession_facts(ctx.conn, session_id)
    if facts is not None:
        body["summary"] = session_answer.answer(
            facts,
            sorted(
                (Visit.from_dict(v) for v in derivation.visits), key=lambda v: v.arrival
            ),
            Reconciliation.from_dict(derivation.reconciliation),
            derivation.session_state,
            ctx.settings.company_zone,
        ).to_dict()
    return json_ok(body)


def _time_param(ctx: Ctx, name: str) -> dt.datetime:
    raw = ctx.request.query.get(name)
    problem = FieldProblem(f"/query/{name}", "an ISO 8601 time with a UTC offset")
    if raw is None:
        raise InvalidInput(f"{name} is required", [problem])
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"bad {name}", [problem]) from exc
    if value.tzinfo is None:
        raise InvalidInput(f"bad {name}", [problem])
    return value


async def device_fixes(ctx: Ctx) -> web.StreamResponse:
    device_id = ctx.request.match_info["device_id"]
    if not is_device_id(device_id) or not await store.adevice_exists(
        ctx.conn, device_id
    ):
        raise NotFound("no such device")
    start, end = _time_param(ctx, "from"), _time_param(ctx, "to")
    if not start <= end <= start + MAX_RANGE:
        raise InvalidInput(
            "bad range",
            [
                FieldProblem(
                    "/query/to", f"must be after from, at most {MAX_RANGE.days} days"
                )
            ],
        )
    fmt = ctx.request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidInput("bad format", [FieldProblem("/query/format", "json or csv")])
    fixes = await store.adevice_fixes(ctx.conn, device_id, start, end, MAX_FIXES + 1)
    truncated = len(fixes) > MAX_FIXES
    fixes = fixes[:MAX_FIXES]
    if fmt == "csv":
        if truncated:
            raise HttpProblem(
                422, "Too many fixes", "narrow the range for a CSV export"
            )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(store.SERVED_FIX_COLUMNS)
        for fix in fixes:
            writer.writerow(
                v.isoformat()
                if isinstance(v, dt.datetime)
                else ("" if v is None else v)
                for v in fix.values()
            )
        name = f"{device_id}_{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}.csv"
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return json_ok(
        {
            "device_id": device_id,
            "from": start,
            "to": end,
            "count": len(fixes),
            "truncated": truncated,
            "fixes": fixes,
        }
    )


LIVE_POSITION: s.S = s.obj(
    ["device_id", "lat", "lon", "fix_time", "status"],
    device_id={"type": "string"},
    lat={"type": "number"},
    lon={"type": "number"},
    accuracy_m={"type": ["number", "null"]},
    fix_time=s.NULL_STR,
    speed_mps={"type": ["number", "null"]},
    heading_deg={"type": ["number", "null"]},
    battery_pct={"type": ["number", "null"]},
    job_id={"type": ["string", "null"]},
    received_at=s.NULL_STR,
    status={"type": "string"},
)


def _ms_time(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def live_position_json(p: dict[str, Any]) -> dict[str, Any]:
    """A device's live state (the ingest's Redis contract) in the API's terms."""
    return {
        "device_id": p["device_id"],
        "lat": p["lat"],
        "lon": p["lon"],
        "accuracy_m": p["acc"],
        "fix_time": _ms_time(p["t"]),
        "speed_mps": p["spd"],
        "heading_deg": p["hdg"],
        "battery_pct": p["bat"],
        "job_id": p["job"] or None,
        "received_at": _ms_time(p["received_at"]),
        "status": p["status"],
    }


async def live_positions(ctx: Ctx) -> web.StreamResponse:
    positions = await live.live_positions(ctx.request.app[REDIS])
    return json_ok({"items": [live_position_json(p) for p in positions]})


def setup(api: Api) -> None:
    api.tag("tracking", "GPS evidence: derived visits per job session, and fixes")
    derivation = api.schema("VisitDerivation", DERIVATION_OUT)
    api.route(
        "GET",
        "/live/positions",
        live_positions,
        summary="Where every device is now: its newest fix, job and status",
        tag="tracking",
        roles=STAFF_READERS,
        responses={200: s.items_of(LIVE_POSITION)},
        description="The live state the ingest keeps (what the jobs map shows), "
        "one item per device with a position, by device id.",
    )
    api.route(
        "GET",
        "/sessions/{session_id}/visits",
        session_visits,
        summary="A job session's derived arrival and departure (any version)",
        tag="tracking",
        roles=STAFF_READERS,
        query=[
            {
                "name": "version",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1},
            }
        ],
        responses={200: {"$ref": derivation}},
        description="The newest version by default. Each version names the "
        "parameters, the fence geometry and the sha256 digest of the input fixes.",
    )
    api.route(
        "GET",
        "/devices/{device_id}/fixes",
        device_fixes,
        summary="A device's fixes in a time range (JSON, or CSV for the customer)",
        tag="tracking",
        roles=STAFF_READERS,
        query=[
            {"name": "from", "in": "query", "required": True, "schema": s.TIME},
            {"name": "to", "in": "query", "required": True, "schema": s.TIME},
            {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
        ],
        responses={200: {"$ref": api.schema("DeviceFixes", FIXES_OUT)}},
        also={"text/csv": {"type": "string"}},  # ?format=csv
    )
