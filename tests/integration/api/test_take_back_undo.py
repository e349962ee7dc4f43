"""Undoing a take back puts the serial back exactly as it was before (issue 12)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import Seed, make_job, seed


async def seeded_job(w: World) -> tuple[Seed, str]:
    s = await seed(w)
    return s, await started_job(w, s)


async def started_job(w: World, s: Seed) -> str:
    job_id = await make_job(w, s, "Replace the pump", auxiliary=False)
    await w.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    return job_id


async def another_clients_seed(w: World, s: Seed) -> Seed:
    client = await w.call("admin", "POST", "/clients", 201, {"name": "Other client"})
    site = await w.call(
        "admin",
        "POST",
        "/properties",
        201,
        {"client_id": client["id"], "address": {"line1": "3 rue Lepic"}},
    )
    return replace(s, client_id=client["id"], site_id=site["id"])


async def found(w: World, job_id: str, serial: str) -> bool:
    path = f"/jobs/{job_id}/take-backs/check?serial={serial}"
    return bool((await w.call("tess", "GET", path, 200))["found"])


async def take_back_and_undo(w: World, job_id: str, body: dict[str, Any]) -> None:
    record = await w.call("tess", "POST", f"/jobs/{job_id}/take-backs", 201, body)
    await w.call("tess", "DELETE", f"/jobs/{job_id}/take-backs/{record['id']}", 204)


async def test_undoing_the_take_back_of_an_unknown_serial_leaves_it_unknown(
    world: World,
) -> None:
    w = world
    s, job_id = await seeded_job(w)
    assert await found(w, job_id, "X-77") is False
    pump = s.items["pump"]
    await take_back_and_undo(
        w, job_id, {"serial": "X-77", "condition": "ok", "item_id": pump}
    )

    # As unknown as before: not found here, not on record, not in any depot.
    assert await found(w, job_id, "X-77") is False
    await w.call("admin", "GET", "/serials/X-77", 404)
    stock = await w.call("admin", "GET", f"/depots/{s.depots['tess']}/stock", 200)
    assert "X-77" not in {u["serial"] for u in stock["serials"]}
    assert (await w.call("tess", "GET", f"/jobs/{job_id}/parts", 200))[
        "take_backs"
    ] == []

    # Another client's technician can take the same serial back.
    other_job = await started_job(w, await another_clients_seed(w, s))
    assert await found(w, other_job, "X-77") is False
    body = {"serial": "X-77", "condition": "needs_repair", "item_id": pump}
    await w.call("tess", "POST", f"/jobs/{other_job}/take-backs", 201, body)
    unit = await w.call("admin", "GET", "/serials/X-77", 200)
    assert (unit["condition"], unit["location"]["depot_id"]) == (
        "needs_repair",
        s.depots["tess"],
    )


async def test_undoing_the_take_back_of_a_serial_found_at_the_client_reinstalls_it(
    world: World,
) -> None:
    w = world
    s, job_id = await seeded_job(w)
    install = {"item_id": s.items["pump"], "quantity": 1, "serials": ["P-1"]}
    await w.call("tess", "POST", f"/jobs/{job_id}/parts", 201, install)
    await take_back_and_undo(w, job_id, {"serial": "P-1", "condition": "needs_repair"})
    assert await found(w, job_id, "P-1") is True
    unit = await w.call("admin", "GET", "/serials/P-1", 200)
    assert unit["condition"] == "ok"
    assert [h["kind"] for h in unit["history"]] == [
        "received",
        "installed",
        "taken_back",
        "take_back_cancelled",
    ]
