"""The day board plans jobs through the API's own services and rules.

``dashboard.actions.Actions`` runs in the dashboard's (synchronous) threads;
here it runs in a worker thread against the same database as the API under
test, and the API then reads back what it did.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from dashboard.actions import Actions, BoardChange, Outcome
from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import make_job, seed


def _user(w: World, email: str) -> tuple[str, str, str]:
    with psycopg.connect(w.settings.database_url) as conn:
        row = conn.execute(
            "SELECT id::text, name, role FROM users WHERE email = %s", (email,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


async def _plan(w: World, who: str, change: BoardChange) -> Outcome:
    user = _user(w, f"{who}@example.test")
    return await asyncio.to_thread(Actions(w.settings).plan, *user, change)


async def _job(w: World, job_id: str) -> dict[str, object]:
    return await w.call("dispatcher", "GET", f"/jobs/{job_id}", 200)  # type: ignore[no-any-return]


def _later(hours: int) -> tuple[datetime, datetime]:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=hours, minute=0, second=0, microsecond=0
    )
    return start, start + timedelta(hours=1)


async def test_a_reassign_on_the_board_makes_the_new_technician_job_manager_alone(
    world: World,
) -> None:
    s = await seed(world)
    job_id = await make_job(world, s, "Boiler service", auxiliary=False)
    before = await _job(world, job_id)
    start, end = _later(9)
    outcome = await _plan(
        world,
        "dispatcher",
        BoardChange(
            job_id,
            int(before["version"]),  # type: ignore[call-overload]
            world.people.technician_ids["alex"],
            start,
            end,
            "customer asked",
        ),
    )
    assert outcome.ok, outcome.message
    assert outcome.message.endswith("rescheduled and reassigned.")
    after = await _job(world, job_id)
    assert datetime.fromisoformat(str(after["scheduled_start"])) == start
    crew = await world.call("dispatcher", "GET", f"/jobs/{job_id}/crew", 200)
    assert [(m["technician_id"], m["role"]) for m in crew["items"]] == [
        (world.people.technician_ids["alex"], "job_manager")
    ]


async def test_the_board_warns_of_a_double_booking_as_the_api_does(
    world: World,
) -> None:
    s = await seed(world)
    first = await make_job(world, s, "Boiler service", auxiliary=False)
    second = await make_job(world, s, "Leak repair", auxiliary=False)
    start, end = _later(14)
    for job_id in (first, second):
        version = int((await _job(world, job_id))["version"])  # type: ignore[call-overload]
        outcome = await _plan(
            world,
            "dispatcher",
            BoardChange(
                job_id, version, world.people.technician_ids["tess"], start, end
            ),
        )
        assert outcome.ok, outcome.message
    assert outcome.warnings == (
        f"Tess is already booked on {(await _job(world, first))['number']} then",
    )


async def test_billing_staff_and_a_stale_board_are_refused_and_nothing_changes(
    world: World,
) -> None:
    s = await seed(world)
    job_id = await make_job(world, s, "Boiler service", auxiliary=False)
    before = await _job(world, job_id)
    start, end = _later(10)
    tess = world.people.technician_ids["tess"]
    version = int(before["version"])  # type: ignore[call-overload]
    billing = await _plan(
        world, "billing", BoardChange(job_id, version, tess, start, end)
    )
    assert not billing.ok
    assert "billing staff do not reschedule jobs" in billing.message
    stale = await _plan(
        world, "dispatcher", BoardChange(job_id, version - 1, tess, start, end)
    )
    assert not stale.ok
    assert "changed since the board showed it" in stale.message
    assert await _job(world, job_id) == before


async def test_billing_staff_can_neither_schedule_nor_reassign_from_the_board(
    world: World,
) -> None:
    """The board applies the API's role matrix before any rule of the job: the
    API answers 403 to billing on /schedule and /crew, so the board refuses."""
    s = await seed(world)
    pending = await world.call(
        "dispatcher",
        "POST",
        "/jobs",
        201,
        {"client_id": s.client_id, "property_id": s.site_id, "description": "Gutter"},
    )
    start, end = _later(11)
    tess = world.people.technician_ids["tess"]
    await world.call(
        "billing",
        "POST",
        f"/jobs/{pending['id']}/schedule",
        403,
        {"start": start.isoformat(), "end": end.isoformat(), "technician_id": tess},
    )
    before = await _job(world, str(pending["id"]))
    scheduled = await _plan(
        world,
        "billing",
        BoardChange(str(pending["id"]), int(before["version"]), tess, start, end),  # type: ignore[call-overload]
    )
    assert not scheduled.ok
    assert "admin, dispatcher" in scheduled.message
    assert await _job(world, str(pending["id"])) == before

    job_id = await make_job(world, s, "Boiler service", auxiliary=False)
    booked = await _job(world, job_id)
    same_window = (
        datetime.fromisoformat(str(booked["scheduled_start"])),
        datetime.fromisoformat(str(booked["scheduled_end"])),
    )
    reassigned = await _plan(
        world,
        "billing",
        BoardChange(
            job_id,
            int(booked["version"]),  # type: ignore[call-overload]
            world.people.technician_ids["alex"],
            *same_window,
        ),
    )
    assert not reassigned.ok
    assert "admin, dispatcher" in reassigned.message
    assert await _job(world, job_id) == booked
