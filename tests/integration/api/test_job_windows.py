"""A job's planned window obeys the same limits however it is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.integration.api.conftest import People

V1 = "/api/v1"


async def call(
    client: TestClient[Any, Any],
    people: People,
    path: str,
    body: dict[str, Any],
    status: int,
) -> Any:
    response = await client.post(V1 + path, json=body, headers=people.auth("admin"))
    data = await response.json()
    assert response.status == status, data
    return data


async def test_creating_a_job_with_a_window_longer_than_a_reschedule_allows_is_refused(
    client: TestClient[Any, Any], people: People
) -> None:
    client_id = (await call(client, people, "/clients", {"name": "Mr Long"}, 201))["id"]
    start = datetime(2025, 5, 6, 8, tzinfo=UTC)
    end = start + timedelta(days=32)
    pending = await call(
        client, people, "/jobs", {"client_id": client_id, "description": "Fit"}, 201
    )
    by_reschedule = await call(
        client,
        people,
        f"/jobs/{pending['id']}/reschedule",
        {"start": start.isoformat(), "end": end.isoformat()},
        422,
    )
    window = {
        "description": "Refit the whole house",
        "scheduled_start": start.isoformat(),
        "scheduled_end": end.isoformat(),
    }

    by_create = await call(
        client, people, "/jobs", {"client_id": client_id, **window}, 422
    )
    by_client_create = await call(
        client, people, f"/clients/{client_id}/jobs", window, 422
    )

    # The reschedule's problem, pointing at the field the creation sent.
    expected = {
        **by_reschedule,
        "errors": [{**e, "pointer": "/scheduled_end"} for e in by_reschedule["errors"]],
    }
    assert by_reschedule["errors"] == [{"pointer": "/end", "detail": "at most 31 days"}]
    assert by_create == expected
    assert by_client_create == expected
    listed = await client.get(
        f"{V1}/jobs?client_id={client_id}", headers=people.auth("admin")
    )
    assert [j["id"] for j in (await listed.json())["items"]] == [pending["id"]]


async def test_a_booking_asking_for_more_than_31_days_is_refused_like_a_job(
    client: TestClient[Any, Any], people: People
) -> None:
    client_id = (await call(client, people, "/clients", {"name": "Ms Far"}, 201))["id"]
    start = datetime(2025, 5, 6, 8, tzinfo=UTC)
    refused = await call(
        client,
        people,
        "/bookings",
        {
            "client_id": client_id,
            "description": "Renovation",
            "requested_start": start.isoformat(),
            "requested_end": (start + timedelta(days=32)).isoformat(),
        },
        422,
    )
    assert refused["errors"] == [
        {"pointer": "/requested_end", "detail": "at most 31 days"}
    ]
    listed = await client.get(
        f"{V1}/jobs?client_id={client_id}", headers=people.auth("admin")
    )
    assert (await listed.json())["items"] == []
