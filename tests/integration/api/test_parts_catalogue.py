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
