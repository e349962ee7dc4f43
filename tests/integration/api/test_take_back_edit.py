"""Editing a take back in place (the pencil in the app) moves the units exactly as
undoing it and taking the corrected serial back would (issue 12)."""

from __future__ import annotations

from typing import Any

from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import Seed
from tests.integration.api.test_take_back_undo import (
    another_clients_seed,
    found,
    seeded_job,
    started_job,
)


async def take(w: World, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await w.call(
        "tess", "POST", f"/jobs/{job_id}/take-backs", 201, body
    )
    return result


async def correct(
    w: World, job_id: str, take_back_id: str, body: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    path = f"/jobs/{job_id}/take-backs/{take_back_id}"
    result: dict[str, Any] = await w.call("tess", "PATCH", path, status, body)
    return result


async def install_pump(w: World, s: Seed, job_id: str, serial: str) -> None:
    body = {"item_id": s.items["pump"], "quantity": 1, "serials": [serial]}
    await w.call("tess", "POST", f"/jobs/{job_id}/parts", 201, body)


async def unknown_serial_taken_back(w: World) -> tuple[Seed, str, dict[str, Any]]:
    """Tess's started job with X-77, not on record, taken back as a pump in OK."""
    s, job_id = await seeded_job(w)
    body = {"serial": "X-77", "condition": "ok", "item_id": s.items["pump"]}
    return s, job_id, await take(w, job_id, body)


async def history_kinds(w: World, serial: str) -> list[str]:
    unit = await w.call("admin", "GET", f"/serials/{serial}", 200)
    return [h["kind"] for h in unit["history"]]


async def test_correcting_a_mistyped_unknown_serial_leaves_the_mistyped_one_unknown(
    world: World,
) -> None:
    w = world
    s, job_id = await seeded_job(w)
    pump = s.items["pump"]
    record = await take(
        w, job_id, {"serial": "X-77", "condition": "ok", "item_id": pump}
    )

    edited = await correct(w, job_id, record["id"], {"serial": "X-78"})

    assert (edited["id"], edited["serial"], edited["item_id"]) == (
        record["id"],
        "X-78",
        pump,
    )
    assert edited["found_at_client"] is False
    # X-77 is as unknown as before: no unit, not in the van, free for another client
    await w.call("admin", "GET", "/serials/X-77", 404)
    stock = await w.call("admin", "GET", f"/depots/{s.depots['tess']}/stock", 200)
    assert {u["serial"] for u in stock["serials"]} == {"P-1", "P-2", "OLD-1", "X-78"}
    other_job = await started_job(w, await another_clients_seed(w, s))
    assert await found(w, other_job, "X-77") is False
    assert await history_kinds(w, "X-78") == ["taken_back"]
    # the corrected take back still undoes to "unknown"
    await w.call("tess", "DELETE", f"/jobs/{job_id}/take-backs/{record['id']}", 204)
    await w.call("admin", "GET", "/serials/X-78", 404)


async def test_correcting_the_condition_of_an_unknown_serial_keeps_its_part(
    world: World,
) -> None:
    w = world
    s, job_id, record = await unknown_serial_taken_back(w)

    edited = await correct(w, job_id, record["id"], {"condition": "needs_repair"})

    assert (edited["serial"], edited["condition"]) == ("X-77", "needs_repair")
    unit = await w.call("admin", "GET", "/serials/X-77", 200)
    assert (unit["condition"], unit["usable"], unit["item_id"]) == (
        "needs_repair",
        False,
        s.items["pump"],
    )
    assert [h["kind"] for h in unit["history"]] == [
        "taken_back",
        "take_back_cancelled",
        "taken_back",
    ]
    parts = await w.call("tess", "GET", f"/jobs/{job_id}/parts", 200)
    assert [t["condition"] for t in parts["take_backs"]] == ["needs_repair"]


async def test_correcting_a_found_serial_to_obsolete_retires_it_and_keeps_it_undoable(
    world: World,
) -> None:
    w = world
    s, job_id = await seeded_job(w)
    await install_pump(w, s, job_id, "P-1")
    record = await take(w, job_id, {"serial": "P-1", "condition": "ok"})

    edited = await correct(w, job_id, record["id"], {"condition": "obsolete"})

    assert edited["to_location"]["kind"] == "retired"
    assert edited["previous_condition"] == "ok"
    unit = await w.call("admin", "GET", "/serials/P-1", 200)
    assert (unit["condition"], unit["location"]["kind"]) == ("obsolete", "retired")
    await w.call("tess", "DELETE", f"/jobs/{job_id}/take-backs/{record['id']}", 204)
    assert await found(w, job_id, "P-1") is True
    assert await history_kinds(w, "P-1") == [
        "received",
        "installed",
        "taken_back",
        "take_back_cancelled",
        "taken_back",
        "take_back_cancelled",
    ]


async def test_the_job_history_says_what_a_take_back_edit_changed(
    world: World,
) -> None:
    w = world
    s, job_id, record = await unknown_serial_taken_back(w)

    await correct(w, job_id, record["id"], {"serial": "X-78", "condition": "obsolete"})

    history = await w.call("admin", "GET", f"/jobs/{job_id}/history", 200)
    [entry] = [h for h in history["items"] if h["action"] == "take_back_edited"]
    assert entry["details"]["take_back_id"] == record["id"]
    assert entry["details"]["before"] == {
        "serial": "X-77",
        "condition": "ok",
        "to": f"depot {s.depots['tess']}",
    }
    assert entry["details"]["after"] == {
        "serial": "X-78",
        "condition": "obsolete",
        "to": "retired",
    }
    assert entry["actor_name"] == "Tess"


async def test_a_take_back_cannot_be_corrected_to_a_serial_at_another_client(
    world: World,
) -> None:
    w = world
    s, job_id, record = await unknown_serial_taken_back(w)
    other_job = await started_job(w, await another_clients_seed(w, s))
    await install_pump(w, s, other_job, "P-2")

    await correct(w, job_id, record["id"], {"serial": "P-2"}, 409)

    # nothing moved: X-77 is still taken back, P-2 still at the other client
    unit = await w.call("admin", "GET", "/serials/X-77", 200)
    assert unit["location"]["depot_id"] == s.depots["tess"]
    assert await found(w, other_job, "P-2") is True


async def test_another_technicians_take_back_is_not_found(world: World) -> None:
    w = world
    _, job_id, record = await unknown_serial_taken_back(w)
    path = f"/jobs/{job_id}/take-backs/{record['id']}"
    await w.call("sam", "PATCH", path, 404, {"condition": "obsolete"})
