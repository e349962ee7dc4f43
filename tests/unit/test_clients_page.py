"""The Clients page's model: a property's fence read from and into the editor's form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from dashboard.pages.clients import model
from jobs_domain.actors import Role
from jobs_domain.errors import InvalidInput
from jobs_domain.permissions import Act, allowed
from storage.clients import PropertyRecord


def _prop(geofence: dict[str, Any] | None, lat: float | None = 48.86) -> Any:
    return PropertyRecord(
        id=uuid4(),
        client_id=uuid4(),
        address={"line1": "1 Rue X"},
        lat=lat,
        lon=None if lat is None else 2.35,
        geofence=geofence,
        version=3,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_circle_fence_reads_into_the_form_and_back_into_the_api_body() -> None:
    form = model.FenceForm.of(_prop({"radius_m": 40}))
    assert (form.kind, form.radius) == (model.CIRCLE, "40")
    assert form.changes() == {
        "location": {"lat": 48.86, "lon": 2.35},
        "geofence": {"radius_m": 40.0},
    }


def test_a_polygon_is_typed_one_lon_lat_a_line_and_blank_lines_are_skipped() -> None:
    form = model.FenceForm(model.POLYGON, "", "", "", "2.1, 48.1\n\n2.2 48.1\n2.2;48.2")
    assert form.changes() == {
        "geofence": {"polygon": [[2.1, 48.1], [2.2, 48.1], [2.2, 48.2]]}
    }


def test_text_that_is_not_a_number_is_answered_at_its_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        model.FenceForm(model.CIRCLE, "north", "2.3", "big", "").changes()
    assert {p.pointer for p in raised.value.problems} == {
        "/location/lat",
        "/geofence/radius_m",
    }
    with pytest.raises(InvalidInput) as raised:
        model.FenceForm(model.POLYGON, "", "", "", "2.1, 48.1\nhere").changes()
    assert [p.pointer for p in raised.value.problems] == ["/geofence/polygon/1"]


def test_a_click_adds_a_corner_on_its_own_line() -> None:
    text = model.add_vertex(None, 2.1, 48.1)
    assert (
        model.add_vertex(text, 2.2, 48.2) == "2.100000, 48.100000\n2.200000, 48.200000"
    )


def test_the_same_corner_twice_in_a_row_is_one_corner() -> None:
    text = model.add_vertex(None, 2.1, 48.1)
    assert model.add_vertex(text, 2.1, 48.1) == text


def test_the_click_grid_covers_the_view_around_its_centre() -> None:
    lats, lons = model.click_grid({"lat": 48.0, "lon": 2.0}, 15.0, (900.0, 360.0))
    assert len(lats) == model.GRID**2
    assert min(lons) < 2.0 < max(lons)
    assert min(lats) < 48.0 < max(lats)
    assert max(lons) - min(lons) == pytest.approx(900 * 360 / (512 * 2**15))


def test_only_the_office_edits_clients_and_properties() -> None:
    assert [r for r in Role if allowed(r, Act.EDIT_DIRECTORY)] == [
        Role.ADMIN,
        Role.DISPATCHER,
    ]
