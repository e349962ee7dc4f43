"""The office edits the price book and report templates (issue 16) without
changing what jobs already hold: a line keeps the price it was given, a report
keeps the template it was started from; a stale edit is refused (412)."""

from __future__ import annotations

from typing import Any

from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import (
    job_with_report,
    make_job,
    make_job_with_report,
    seed,
)
from tests.report_templates import boiler_template


async def _item(w: World, who: str = "dispatcher") -> tuple[dict[str, Any], str]:
    """A new item and its ETag."""
    family = await w.call(who, "POST", "/price-book/families", 201, {"name": "Valves"})
    response = await w.api.post(
        "/api/v1/price-book/items",
        json={
            "family_id": family["id"],
            "kind": "part",
            "code": "VLV-9",
            "name": "Gate valve",
            "unit_price": "14.50",
            "tax_rate": "20",
        },
        headers=w.people.auth(who),
    )
    assert response.status == 201, await response.text()
    return await response.json(), response.headers["ETag"]


async def test_an_item_edit_with_a_stale_etag_is_refused_and_changes_nothing(
    world: World,
) -> None:
    item, etag = await _item(world)
    path = f"/price-book/items/{item['id']}"
    first = await world.api.patch(
        "/api/v1" + path,
        json={"unit_price": "15.00"},
        headers={**world.people.auth("admin"), "If-Match": etag},
    )
    assert first.status == 200, await first.text()
    assert (await first.json())["unit_price"] == "15.00"
    stale = await world.api.patch(
        "/api/v1" + path,
        json={"name": "Brass gate valve"},
        headers={**world.people.auth("dispatcher"), "If-Match": etag},
    )
    assert stale.status == 412
    now = await world.call("admin", "GET", path, 200)
    assert (now["name"], now["unit_price"], now["version"]) == (
        "Gate valve",
        "15.00",
        1,
    )
    refused = await world.call(
        "admin", "PATCH", path, 422, {"tax_rate": "120"}
    )  # the create's rule, at its field
    assert refused["errors"][0]["pointer"] == "/tax_rate"
    for who in ("billing", "tess"):  # the matrix's EDIT_PRICE_BOOK
        await world.call(who, "PATCH", path, 403, {"name": "x"})


async def test_an_archived_item_is_not_offered_and_jobs_keep_the_line_it_gave(
    world: World,
) -> None:
    s = await seed(world)
    job_id = await make_job(world, s, "Replace the valve", auxiliary=False)
    item_id = s.items["valve"]
    await world.call(
        "dispatcher",
        "POST",
        f"/jobs/{job_id}/line-items",
        201,
        {"price_book_item_id": item_id, "quantity": "2"},
    )
    path = f"/price-book/items/{item_id}"
    await world.call("admin", "PATCH", path, 200, {"unit_price": "12.00"})
    await world.call("admin", "DELETE", path, 204)
    await world.call("admin", "DELETE", path, 409)  # already archived
    offered = await world.call("tess", "GET", "/price-book/items?q=valve", 200)
    assert offered["items"] == []
    listed = await world.call(
        "admin", "GET", "/price-book/items?q=valve&include_archived=true", 200
    )
    assert [(i["id"], i["active"]) for i in listed["items"]] == [(item_id, False)]
    refused = await world.call(
        "dispatcher",
        "POST",
        f"/jobs/{job_id}/line-items",
        422,
        {"price_book_item_id": item_id},
    )
    assert refused["errors"][0]["pointer"].endswith("/price_book_item_id")
    lines = await world.call("dispatcher", "GET", f"/jobs/{job_id}/line-items", 200)
    valve = [li for li in lines["items"] if li.get("price_book_item_id") == item_id]
    assert [(li["description"], li["unit_price"]) for li in valve] == [
        ('Ball valve ½"', "9.99")
    ]
    restored = await world.call("admin", "POST", path + "/restore", 200)
    assert restored["active"] is True
    offered = await world.call("tess", "GET", "/price-book/items?q=valve", 200)
    assert [i["unit_price"] for i in offered["items"]] == ["12.00"]


async def test_a_template_edit_leaves_started_reports_as_they_were(
    world: World,
) -> None:
    s, job_id = await job_with_report(world, "Annual boiler check")
    path = f"/report-templates/{s.template_id}"
    read = await world.api.get("/api/v1" + path, headers=world.people.auth("admin"))
    etag = read.headers["ETag"]
    body = boiler_template()
    body["families"][1]["fields"].append(
        {"key": "co_ppm", "label": "CO (ppm)", "type": "number", "mandatory": True}
    )
    body["required_signatures"] = ["technician"]
    await world.call("dispatcher", "PUT", path, 403, body)
    saved = await world.api.put(
        "/api/v1" + path,
        json=body,
        headers={**world.people.auth("admin"), "If-Match": etag},
    )
    assert saved.status == 200, await saved.text()
    assert saved.headers["ETag"] != etag
    stale = await world.api.put(
        "/api/v1" + path,
        json=boiler_template(),
        headers={**world.people.auth("admin"), "If-Match": etag},
    )
    assert stale.status == 412
    old = await world.call("dispatcher", "GET", f"/jobs/{job_id}/report", 200)
    old_keys = [f["key"] for fam in old["families"] for f in fam["fields"]]
    assert "co_ppm" not in old_keys
    assert sorted(old["template"]["required_signatures"]) == ["customer", "technician"]
    new_job = await make_job_with_report(world, s, "Second boiler")
    new = await world.call("dispatcher", "GET", f"/jobs/{new_job}/report", 200)
    new_keys = [f["key"] for fam in new["families"] for f in fam["fields"]]
    assert "co_ppm" in new_keys
    assert new["template"]["required_signatures"] == ["technician"]
    bad = await world.call("admin", "PUT", path, 422, {**body, "families": []})
    assert bad["errors"][0]["pointer"] == "/families"
