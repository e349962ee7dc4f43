"""Booking a technician twice at the same time is said, and refused when the company wants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from api.app import init_app
from crewtrack.settings import Settings
from tests.integration.api.conftest import ClientFactory, People
from tests.integration.api.test_help_pages import (
    V1,
    create_job,
    make_client_and_property,
    ok,
    post,
)

START = datetime(2026, 12, 7, 9, tzinfo=UTC)


def window(start: datetime, hours: int) -> dict[str, str]:
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
    }


async def two_jobs_for_tess(
    client: TestClient[Any, Any], people: People
) -> tuple[Any, Any]:
    """J-1 scheduled for Tess 09:00–12:00; J-2 still pending."""
    client_id, _ = await make_client_and_property(client, people)
    first = await create_job(client, people, client_id, "Boiler")
    second = await create_job(client, people, client_id, "Radiators")
    tess = people.technician_ids["tess"]
    await ok(
        await post(
            client,
            f"/jobs/{first['id']}/schedule",
            people,
            "dispatcher",
            {**window(START, 3), "technician_id": tess},
        )
    )
    return first, second


async def test_scheduling_a_technician_already_booked_then_warns_with_the_other_job(
    client: TestClient[Any, Any], people: People
) -> None:
    first, second = await two_jobs_for_tess(client, people)
    tess = people.technician_ids["tess"]
    clash = await ok(
        await post(
            client,
            f"/jobs/{second['id']}/schedule",
            people,
            "dispatcher",
            {**window(START + timedelta(hours=2), 2), "technician_id": tess},
        )
    )
    assert clash["status"] == "scheduled", "a warning, not a refusal, by default"
    assert clash["warnings"] == [
        {
            "code": "double-booked",
            "message": f"Tess is already booked on {first['number']} then",
            "ref": first["id"],
        }
    ]
    later = await ok(
        await post(
            client,
            f"/jobs/{second['id']}/reschedule",
            people,
            "dispatcher",
            window(START + timedelta(hours=3), 2),  # starts as J-1 ends: no clash
        )
    )
    assert later["warnings"] == []


async def test_with_refusal_set_a_double_booking_is_a_409_and_changes_nothing(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    client = await aiohttp_client(
        init_app(settings.replace(refuse_double_booking=True))
    )
    first, second = await two_jobs_for_tess(client, people)
    tess = people.technician_ids["tess"]
    refused = await post(
        client,
        f"/jobs/{second['id']}/schedule",
        people,
        "dispatcher",
        {**window(START + timedelta(hours=1), 1), "technician_id": tess},
    )
    problem = await refused.json()
    assert refused.status == 409, problem
    assert problem["blocking_items"] == [
        {
            "code": "double-booked",
            "message": f"Tess is already booked on {first['number']} then",
            "ref": first["id"],
        }
    ]
    still = await ok(
        await client.get(f"{V1}/jobs/{second['id']}", headers=people.auth("dispatcher"))
    )
    assert still["status"] == "pending"
    assert still["crew"] == []
