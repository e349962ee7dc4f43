"""The Add Item screen's catalogue: family and kind filters (issue 12)."""

from __future__ import annotations

import uuid

from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import seed


async def names(w: World, query: str) -> list[str]:
    found = await w.call("tess", "GET", f"/parts/catalog?{query}", 200)
    return [item["name"] for item in found["items"]]


async def test_the_catalogue_family_filter_takes_a_family_id_as_well_as_a_name(
    world: World,
) -> None:
    w = world
    await seed(w)
    families = await w.call("admin", "GET", "/price-book/families", 200)
    pumps = next(f["id"] for f in families["items"] if f["name"] == "Pumps")
    assert await names(w, "family=Pumps") == ["Circulator pump"]
    assert await names(w, f"family={pumps}") == ["Circulator pump"]
    assert await names(w, f"family={pumps}&kind=service") == []
    assert await names(w, f"family={uuid.uuid4()}") == []


async def test_a_service_billed_from_sessions_is_still_found_as_a_service(
    world: World,
) -> None:
    w = world
    await seed(w)  # "Labour (hourly)" is a service billed from clocked time
    assert await names(w, "kind=service") == [
        "Labour (hourly)",
        "Annual boiler service",
    ]
    assert await names(w, "kind=labour") == ["Labour (hourly)"]
    assert await names(w, "kind=part") == ['Ball valve ½"', "Circulator pump"]
    found = await w.call("tess", "GET", "/parts/catalog?kind=service&q=Labour", 200)
    assert [(i["kind"], i["bill_from_sessions"]) for i in found["items"]] == [
        ("labour", True)
    ]
