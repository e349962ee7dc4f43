"""The app learns from /me what the company settings let a technician do."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from api.app import init_app
from crewtrack.settings import Settings
from tests.integration.api.conftest import People, World
from tests.integration.api.test_perform_a_job import make_job, seed


async def test_me_says_what_the_settings_allow_a_technician(world: World) -> None:
    me = await world.call("tess", "GET", "/me", 200)
    assert me["may"] == {"decline": True, "reschedule": True, "duplicate": True}


async def test_a_technician_is_refused_a_duplicate_when_the_settings_forbid_it(
    world: World, settings: Settings, aiohttp_client: Any, people: People
) -> None:
    job_id = await make_job(world, await seed(world), "Boiler", auxiliary=False)
    closed = settings.replace(
        technician_can_duplicate=False,
        technician_can_decline=False,
        technician_can_reschedule=False,
    )
    client: TestClient[Any, Any] = await aiohttp_client(init_app(closed))
    me = await client.get("/api/v1/me", headers=people.auth("tess"))
    assert (await me.json())["may"] == {
        "decline": False,
        "reschedule": False,
        "duplicate": False,
    }
    path = f"/api/v1/jobs/{job_id}/duplicate"
    refused = await client.post(path, headers=people.auth("tess"))
    assert refused.status == 403, await refused.text()
    assert "duplicate" in (await refused.json())["title"] + str(await refused.text())
    office = await client.post(path, headers=people.auth("dispatcher"))
    assert office.status == 201, await office.text()
