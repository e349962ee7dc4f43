"""Ad-hoc presence over HTTP: ``POST /api/v1/presence``.

"Was technician X at this place between T1 and T2?" without a job or a fence
set up beforehand; the rules are :mod:`services.presence` (shared with the
audit page). The visits have the shape of ``GET /sessions/{id}/visits``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import Ctx
from api.http.registry import Api
from api.http.responses import json_ok
from api.job_request import parse_time
from api.tracking import VISIT
from services import presence as service

PLACE_IN: s.S = {
    "type": "object",
    "description": "One of: `property_id` (its stored fence, named by its "
    "address); `lat`, `lon`, `radius_m` (a circle); `polygon` (a GeoJSON Polygon, "
    "[lon, lat] positions). `label` names the place in the sentence.",
    "properties": {
        "property_id": s.UUID_S,
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "radius_m": {"type": "number"},
        "polygon": {"type": "object"},
        "label": {"type": "string", "maxLength": 200},
    },
}
PRESENCE_IN: s.S = {
    "type": "object",
    "required": ["technician_id", "start", "end", "place"],
    "additionalProperties": False,
    "properties": {
        "technician_id": s.UUID_S,
        "start": s.TIME,
        "end": s.TIME,
        "place": PLACE_IN,
    },
}
PRESENCE_OUT: s.S = {
    "type": "object",
    "required": ["sentence", "present", "visits", "fix_count", "input_digest"],
    "properties": {
        "sentence": {
            "type": "string",
            "description": "The answer in plain words, in the company's time zone",
        },
        "time_zone": {"type": "string"},
        "present": {
            "type": ["boolean", "null"],
            "description": "A stay on site overlaps the range; null when there "
            "are no fixes to say",
        },
        "technician": {"type": "object"},
        "place": {"type": "object"},
        "start": s.TIME,
        "end": s.TIME,
        "read_from": s.TIME,
        "read_to": s.TIME,
        "fix_count": {"type": "integer", "description": "Fixes inside the range"},
        "fixes_read": {"type": "integer", "description": "Fixes read, margins too"},
        "input_digest": {
            "type": "string",
            "description": "sha256 of the fixes read, as the derive worker records",
        },
        "params_digest": {"type": "string"},
        "visits": {"type": "array", "items": VISIT},
    },
}


def presence_json(answer: service.PresenceAnswer, zone: str) -> dict[str, Any]:
    p = answer.presence
    fence = answer.place.fence
    present = bool(p.visits) if (p.visits or p.fix_count) else None
    visits = [v.to_dict() for v in p.visits]
    return {
        "sentence": answer.sentence,
        "time_zone": zone,
        "present": present,
        "technician": {"id": answer.technician_id, "name": answer.technician},
        "place": {
            "label": answer.place.label,
            "property_id": answer.place.property_id,
            "fence": fence.to_geojson(),
            "fence_digest": fence.digest,
        },
        "start": p.start,
        "end": p.end,
        "read_from": p.start - service.MARGIN,
        "read_to": p.end + service.MARGIN,
        "fix_count": p.fix_count,
        "fixes_read": len(answer.fixes),
        "input_digest": answer.input_digest,
        "params_digest": visits[0]["params_digest"] if visits else None,
        "visits": visits,
    }


async def ask_presence(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(PRESENCE_IN)
    start = parse_time(body["start"], "/start")
    end = parse_time(body["end"], "/end")
    service.check_range(start, end)
    place = await service.parse_place(ctx.conn, body["place"])
    zone = ctx.settings.company_zone
    answer = await service.ask(
        ctx.conn, str(body["technician_id"]), place, start, end, zone
    )
    return json_ok(presence_json(answer, str(zone)))


def setup(api: Api) -> None:
    api.route(
        "POST",
        "/presence",
        ask_presence,
        summary="Was a technician at a place between two moments? (ad-hoc presence)",
        tag="tracking",
        roles=service.PRESENCE_ROLES,
        body=PRESENCE_IN,
        responses={200: PRESENCE_OUT},
        description="No job or fence needed beforehand: the place is a property's "
        "fence, a circle or a GeoJSON polygon (there is no offline geocoder, so "
        "not a free address). The technician's fixes from all their devices over "
        "the range widened by 2 h each side are derived as a session's visits "
        "are (same windows, ± and edge evidence); `sentence` answers in the "
        "company's time zone. 404 for an unknown technician; 422 for end <= "
        "start, a range over 31 days, or an unusable place. Read-only.",
    )
