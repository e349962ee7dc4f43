"""A technician opens the customer's online view of their own job, and only of it."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.integration.api.conftest import People
from tests.integration.api.test_help_pages import (
    V1,
    create_job,
    make_client_and_property,
    ok,
    post,
    window,
)


async def test_a_technician_on_the_crew_opens_the_online_view_and_others_cannot(
    client: TestClient[Any, Any], people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    job = await create_job(client, people, client_id, "Gutters")
    start, end = window()
    await ok(
        await post(
            client,
            f"/jobs/{job['id']}/schedule",
            people,
            "dispatcher",
            {
                "start": start,
                "end": end,
                "technician_id": people.technician_ids["tess"],
            },
        )
    )
    link = await ok(
        await post(client, f"/jobs/{job['id']}/online-links", people, "tess"), 201
    )
    view = await ok(await client.get(link["url"]))
    assert (view["number"], view["description"]) == (job["number"], "Gutters")
    stranger = await post(client, f"/jobs/{job['id']}/online-links", people, "alex")
    assert stranger.status == 404, "a technician not on the crew does not see the job"
    revoke = await client.delete(
        f"{V1}/jobs/{job['id']}/online-links", headers=people.auth("tess")
    )
    assert revoke.status == 403, "revoking stays with the office"
