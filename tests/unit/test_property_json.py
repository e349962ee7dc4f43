"""A property as the API answers it, whatever shape its stored address has."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from api.directory import property_json
from storage.clients import PropertyRecord


def site(address: object, lat: float | None = None) -> PropertyRecord:
    return PropertyRecord(
        id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        address=address,  # type: ignore[arg-type]
        lat=lat,
        lon=None if lat is None else 2.35,
        geofence=None,
        version=1,
        created_at=datetime.now(UTC),
    )


def test_a_list_shaped_address_is_answered_as_an_address_object_in_reading_order() -> (
    None
):
    answer = property_json(site(["8 Rue des Lilas", "Bât. B", "75011 Paris"]))
    json.dumps(answer, default=str)
    assert answer["address"] == {
        "line1": "8 Rue des Lilas",
        "line2": "Bât. B, 75011 Paris",
    }
    assert answer["navigation_url"].endswith(
        "8%20Rue%20des%20Lilas,%20B%C3%A2t.%20B,%2075011%20Paris"
    )


def test_an_address_object_is_answered_as_stored() -> None:
    stored = {"line1": "12 rue de Médan", "city": "Paris"}
    assert property_json(site(stored, lat=48.85))["address"] == stored
