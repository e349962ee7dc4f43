"""Clients, properties and technicians are archived, never deleted, and can be restored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ingest.broker_auth import hash_mqtt_password
from storage.devices import add_device
from tests.integration.api.conftest import World

ADDRESS = {"line1": "1 High St", "city": "Leeds"}


async def new_client(w: World, name: str = "Mrs Jones") -> tuple[str, str]:
    """A client with one property: their ids."""
    client = await w.call("dispatcher", "POST", "/clients", 201, {"name": name})
    site = await w.call(
        "dispatcher",
        "POST",
        "/properties",
        201,
        {"client_id": client["id"], "address": ADDRESS},
    )
    return client["id"], site["id"]


async def new_job(w: World, client_id: str, property_id: str | None = None) -> Any:
    body: dict[str, Any] = {"client_id": client_id, "description": "Boiler service"}
    if property_id is not None:
        body["property_id"] = property_id
    return await w.call("dispatcher", "POST", "/jobs", 201, body)


def window() -> dict[str, str]:
    start = datetime.now(UTC) + timedelta(days=1)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}


def ids(page: Any) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_an_archived_client_leaves_the_lists_but_still_answers_by_id(
    world: World,
) -> None:
    w = world
    client_id, site_id = await new_client(w)
    other_id, _ = await new_client(w, "Mr Smith")
    assert await w.call("dispatcher", "DELETE", f"/clients/{client_id}", 204) == ""
    assert ids(await w.call("billing", "GET", "/clients", 200)) == [other_id]
    everyone = await w.call("billing", "GET", "/clients?include_archived=true", 200)
    assert sorted(ids(everyone)) == sorted([client_id, other_id])
    archived = await w.call("billing", "GET", f"/clients/{client_id}", 200)
    assert archived["name"] == "Mrs Jones"
    assert archived["archived_at"] is not None
    site = await w.call("billing", "GET", f"/properties/{site_id}", 200)
    assert site["archived_at"] == archived["archived_at"], "archived with its client"
    assert site_id not in ids(await w.call("billing", "GET", "/properties", 200))
    listed = await w.call(
        "billing",
        "GET",
        f"/properties?client_id={client_id}&include_archived=true",
        200,
    )
    assert ids(listed) == [site_id]
    await w.call("dispatcher", "DELETE", f"/clients/{client_id}", 204)
    again = await w.call("billing", "GET", f"/clients/{client_id}", 200)
    assert again["archived_at"] == archived["archived_at"], "archiving twice is one"
    await w.call("dispatcher", "GET", "/clients?include_archived=yes", 422)


async def test_restoring_a_client_brings_back_the_properties_archived_with_it(
    world: World,
) -> None:
    w = world
    client_id, site_id = await new_client(w)
    closed = await w.call(
        "dispatcher",
        "POST",
        "/properties",
        201,
        {"client_id": client_id, "address": {"line1": "Old shop"}},
    )
    await w.call("dispatcher", "DELETE", f"/properties/{closed['id']}", 204)
    await w.call("dispatcher", "DELETE", f"/clients/{client_id}", 204)
    restored = await w.call("admin", "POST", f"/clients/{client_id}/restore", 200)
    assert restored["archived_at"] is None
    assert client_id in ids(await w.call("billing", "GET", "/clients", 200))
    site = await w.call("billing", "GET", f"/properties/{site_id}", 200)
    assert site["archived_at"] is None
    shop = await w.call("billing", "GET", f"/properties/{closed['id']}", 200)
    assert shop["archived_at"] is not None, "archived on its own before: stays"
    again = await w.call("admin", "POST", f"/clients/{client_id}/restore", 200)
    assert again == restored, "restoring a live client changes nothing"


async def test_a_property_of_an_archived_client_is_restored_with_the_client(
    world: World,
) -> None:
    w = world
    client_id, site_id = await new_client(w)
    await w.call("dispatcher", "DELETE", f"/clients/{client_id}", 204)
    refused = await w.call("dispatcher", "POST", f"/properties/{site_id}/restore", 409)
    assert refused["blocking_items"] == [
        {
            "code": "client-archived",
            "message": "Mrs Jones is archived",
            "ref": client_id,
        }
    ]


async def test_archiving_with_open_jobs_is_refused_with_each_job_as_a_blocker(
    world: World,
) -> None:
    w = world
    client_id, site_id = await new_client(w)
    at_site = await new_job(w, client_id, site_id)
    elsewhere = await new_job(w, client_id)
    tess = w.people.technician_ids["tess"]
    await w.call(
        "dispatcher",
        "POST",
        f"/jobs/{elsewhere['id']}/schedule",
        200,
        {**window(), "technician_id": tess},
    )
    refused = await w.call("dispatcher", "DELETE", f"/clients/{client_id}", 409)
    assert refused["blocking_items"] == [
        {
            "code": "open-job",
            "message": f"{at_site['number']} is pending",
            "ref": at_site["id"],
        },
        {
            "code": "open-job",
            "message": f"{elsewhere['number']} is scheduled",
            "ref": elsewhere["id"],
        },
    ]
    site = await w.call("dispatcher", "DELETE", f"/properties/{site_id}", 409)
    assert [b["ref"] for b in site["blocking_items"]] == [at_site["id"]]
    tech = await w.call("admin", "DELETE", f"/technicians/{tess}", 409)
    assert [b["ref"] for b in tech["blocking_items"]] == [elsewhere["id"]]
    for job in (at_site, elsewhere):
        await w.call(
            "dispatcher", "POST", f"/jobs/{job['id']}/cancel", 200, {"reason": "moved"}
        )
    await w.call("dispatcher", "DELETE", f"/properties/{site_id}", 204)
    await w.call("dispatcher", "DELETE", f"/clients/{client_id}", 204)
    await w.call("admin", "DELETE", f"/technicians/{tess}", 204)
    kept = await w.call("dispatcher", "GET", f"/jobs/{at_site['id']}", 200)
    assert kept["client"] == {"id": client_id, "name": "Mrs Jones"}, "jobs keep them"


async def test_no_new_work_for_an_archived_client_or_property(world: World) -> None:
    w = world
    client_id, site_id = await new_client(w)
    _, live_site = await new_client(w, "Mr Smith")
    job = await new_job(w, client_id)
    await w.call("dispatcher", "DELETE", f"/properties/{site_id}", 204)
    body = {"client_id": client_id, "description": "x", "property_id": site_id}
    at_archived_site = await w.call("dispatcher", "POST", "/jobs", 422, body)
    assert at_archived_site["errors"] == [
        {"pointer": "/property_id", "detail": "the property is archived"}
    ]
    moved = await w.call(
        "dispatcher", "PATCH", f"/jobs/{job['id']}", 422, {"property_id": site_id}
    )
    assert moved["errors"][0]["pointer"] == "/property_id"
    await w.call(
        "dispatcher", "POST", f"/jobs/{job['id']}/cancel", 200, {"reason": "x"}
    )
    await w.call("dispatcher", "DELETE", f"/clients/{client_id}", 204)
    for path, body in (
        ("/jobs", {"client_id": client_id, "description": "x"}),
        ("/estimates", {"client_id": client_id, "description": "x", "line_items": []}),
        ("/properties", {"client_id": client_id, "address": ADDRESS}),
    ):
        refused = await w.call("dispatcher", "POST", path, 422, body)
        assert refused["errors"][0]["pointer"] == "/client_id", path
        assert "archived" in refused["errors"][0]["detail"], path
    assert live_site


async def test_an_archived_technician_is_shut_out_and_kept_off_crews(
    world: World,
) -> None:
    w = world
    tess = w.people.technician_ids["tess"]
    with psycopg.connect(w.settings.database_url, autocommit=True) as conn:
        add_device(
            conn,
            "tess-phone",
            hash_password=hash_mqtt_password,
            user_id=conn.execute(
                "SELECT user_id FROM technicians WHERE id = %s", (tess,)
            ).fetchone()[0],
        )
    await w.call("tess", "GET", "/jobs", 200)
    await w.call("admin", "DELETE", f"/technicians/{tess}", 204)
    await w.call("tess", "GET", "/jobs", 401)
    archived = await w.call("dispatcher", "GET", f"/technicians/{tess}", 200)
    assert (archived["device_ids"], archived["name"]) == ([], "Tess")
    assert archived["archived_at"] is not None
    assert tess not in ids(await w.call("dispatcher", "GET", "/technicians", 200))
    everyone = await w.call("dispatcher", "GET", "/technicians?include_archived=1", 422)
    assert everyone["errors"] == [
        {"pointer": "/query/include_archived", "detail": "true or false"}
    ]
    client_id, _ = await new_client(w)
    job = await new_job(w, client_id)
    crew = await w.call(
        "dispatcher",
        "PUT",
        f"/jobs/{job['id']}/crew/{tess}",
        422,
        {"role": "auxiliary"},
    )
    assert crew["errors"] == [
        {"pointer": "/path/technician_id", "detail": "the technician is archived"}
    ]
    scheduled = await w.call(
        "dispatcher",
        "POST",
        f"/jobs/{job['id']}/schedule",
        422,
        {**window(), "technician_id": tess},
    )
    assert scheduled["errors"][0]["pointer"] == "/technician_id"

    restored = await w.call("admin", "POST", f"/technicians/{tess}/restore", 200)
    assert (restored["archived_at"], restored["device_ids"]) == (None, ["tess-phone"])
    await w.call("tess", "GET", "/jobs", 200)
    await w.call(
        "dispatcher",
        "PUT",
        f"/jobs/{job['id']}/crew/{tess}",
        200,
        {"role": "auxiliary"},
    )


async def test_archiving_takes_the_office_and_a_current_etag(world: World) -> None:
    w = world
    client_id, site_id = await new_client(w)
    tess = w.people.technician_ids["tess"]
    await w.call("billing", "DELETE", f"/clients/{client_id}", 403)
    await w.call("tess", "DELETE", f"/properties/{site_id}", 403)
    await w.call("dispatcher", "DELETE", f"/technicians/{tess}", 403)
    await w.call("dispatcher", "POST", f"/technicians/{tess}/restore", 403)
    read = await w.api.get(
        f"/api/v1/clients/{client_id}", headers=w.people.auth("admin")
    )
    etag = read.headers["ETag"]
    await w.call("admin", "PATCH", f"/clients/{client_id}", 200, {"notes": "VIP"})
    stale = await w.api.delete(
        f"/api/v1/clients/{client_id}",
        headers={**w.people.auth("admin"), "If-Match": etag},
    )
    assert stale.status == 412
    await w.call(
        "admin", "DELETE", "/clients/00000000-0000-0000-0000-000000000000", 404
    )
