"""The presence use case: its checks on a question before any data is read, and
how the audit page shows an answer."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.presence import presence as derive_presence
from dashboard.pages.audit import export, panels
from dashboard.pages.audit.model import presence_audit
from jobs_domain.errors import InvalidInput
from services import presence
from tests.unit.core.test_presence import FENCE, T0, TRACK

T1 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def _pointer(exc: pytest.ExceptionInfo[InvalidInput]) -> str:
    return exc.value.problems[0].pointer


def _place(raw: object) -> presence.Place:
    # property_id is the only form that reads the database
    conn: Any = None
    return asyncio.run(presence.parse_place(conn, raw))


def test_a_range_must_run_forward_have_offsets_and_stay_within_31_days() -> None:
    presence.check_range(T1, T1 + dt.timedelta(days=31))
    for end, pointer in [
        (T1, "/end"),
        (T1 - dt.timedelta(seconds=1), "/end"),
        (T1 + dt.timedelta(days=31, seconds=1), "/end"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            presence.check_range(T1, end)
        assert _pointer(exc) == pointer
    with pytest.raises(InvalidInput) as exc:
        presence.check_range(T1.replace(tzinfo=None), T1 + dt.timedelta(hours=1))
    assert _pointer(exc) == "/start"


def test_a_circle_is_named_by_its_centre_and_radius_and_json_decimals_are_numbers() -> (
    None
):
    place = _place({"lat": Decimal("48.1372"), "lon": 11.5756, "radius_m": 60})
    assert place.label == "48.13720, 11.57560 (within 60 m)"
    assert place.fence.radius_m == 60
    assert place.property_id is None
    labelled = _place({"lat": 48.0, "lon": 11.0, "radius_m": 60, "label": " Shop "})
    assert labelled.label == "Shop"
    assert labelled.fence.digest == presence.circle_place(48.0, 11.0, 60).fence.digest


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        ("1 Main St", "/place"),
        ({}, "/place"),
        ({"lat": 48.0, "lon": 11.0}, "/place/radius_m"),
        ({"lat": "48", "lon": 11.0, "radius_m": 50}, "/place/lat"),
        ({"lat": True, "lon": 11.0, "radius_m": 50}, "/place/lat"),
        ({"lat": 91.0, "lon": 11.0, "radius_m": 50}, "/place"),
        ({"lat": 48.0, "lon": 11.0, "radius_m": -1}, "/place/radius_m"),
        ({"lat": 48.0, "lon": 11.0, "radius_m": 5001}, "/place/radius_m"),
        ({"polygon": {"type": "Point", "coordinates": [11, 48]}}, "/place/polygon"),
        ({"polygon": "not geojson"}, "/place/polygon"),
        (
            {"polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}},
            "/place/polygon",
        ),
    ],
)
def test_an_unusable_place_is_refused_at_its_field(raw: object, pointer: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        _place(raw)
    assert _pointer(exc) == pointer


def test_a_polygon_keeps_its_ring_and_is_called_the_drawn_area() -> None:
    ring = [[11.0, 48.0], [11.001, 48.0], [11.001, 48.001], [11.0, 48.0]]
    place = _place({"polygon": {"type": "Polygon", "coordinates": [ring]}})
    assert place.label == "the drawn area"
    assert place.fence.contains(48.0004, 11.0006)


def test_the_audit_of_an_answer_leads_with_it_and_its_csv_says_it_in_utc() -> None:
    end = T0 + dt.timedelta(hours=2)
    p = derive_presence(TRACK, FENCE, T0, end)
    place = presence.Place(FENCE, "1 Main St")
    answer = presence.PresenceAnswer(
        "t-1",
        "Tess Meyer",
        place,
        p,
        TRACK,
        p.answer("Tess Meyer", "1 Main St", BERLIN),
    )
    audit = presence_audit(answer, BERLIN)
    assert audit.visits == p.visits
    assert audit.digest == answer.input_digest
    lead = panels.lead(audit, "Presence")
    assert lead[1].children == answer.sentence
    header = dict(
        line[2:].split(": ", 1)
        for line in export.fixes_csv(audit).splitlines()
        if line.startswith("# ")
    )
    assert header["format"] == "crewtrack-fixes/2"
    assert header["presence"] == f"{T0:%Y-%m-%dT%H:%M:%S}Z/{end:%Y-%m-%dT%H:%M:%S}Z"
    utc = p.answer("Tess Meyer", "1 Main St", ZoneInfo("UTC"))
    assert header["answer"] == utc + " (times UTC)"
    assert utc != answer.sentence  # Berlin is an hour ahead
