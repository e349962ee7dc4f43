"""The office edits clients and technicians in place, with If-Match like every record."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.integration.api.conftest import People
from tests.integration.api.test_help_pages import V1, make_client_and_property, ok

Client = TestClient[Any, Any]


async def test_an_office_user_edits_a_client_and_a_stale_etag_is_refused(
    client: Client, people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    url = f"{V1}/clients/{client_id}"
    first = await client.get(url, headers=people.auth("dispatcher"))
    etag = first.headers["ETag"]
    edited = await client.patch(
        url,
        json={"phone": "+44 113 496 0000", "email": None, "notes": "Gate code 4711"},
        headers={**people.auth("dispatcher"), "If-Match": etag},
    )
    body = await ok(edited)
    assert (body["name"], body["phone"], body["email"], body["notes"]) == (
        "Mrs Jones",
        "+44 113 496 0000",
        None,
        "Gate code 4711",
    )
    assert body["version"] == 1
    assert edited.headers["ETag"] != etag
    stale = await client.patch(
        url,
        json={"name": "Ms Jones"},
        headers={**people.auth("admin"), "If-Match": etag},
    )
    assert stale.status == 412
    again = await ok(await client.get(url, headers=people.auth("dispatcher")))
    assert again["name"] == "Mrs Jones", "the stale edit changed nothing"
    blank = await client.patch(url, json={"name": "  "}, headers=people.auth("admin"))
    assert blank.status == 422
    assert (await blank.json())["errors"] == [
        {"pointer": "/name", "detail": "must not be empty"}
    ]
    tech = await client.patch(url, json={"notes": "x"}, headers=people.auth("tess"))
    assert tech.status == 403


async def test_an_office_user_changes_a_technicians_hourly_cost(
    client: Client, people: People
) -> None:
    tess = people.technician_ids["tess"]
    url = f"{V1}/technicians/{tess}"
    edited = await ok(
        await client.patch(
            url,
            json={"hourly_cost": 52.5, "phone": "0700"},
            headers=people.auth("admin"),
        )
    )
    assert (edited["hourly_cost"], edited["phone"], edited["name"]) == (
        "52.50",
        "0700",
        "Tess",
    )
    missing = await client.patch(
        f"{V1}/technicians/00000000-0000-0000-0000-000000000000",
        json={"phone": "1"},
        headers=people.auth("admin"),
    )
    assert missing.status == 404
    empty = await client.patch(url, json={}, headers=people.auth("admin"))
    assert empty.status == 422


async def test_technicians_are_put_in_teams_that_the_teams_list_names(
    client: Client, people: People
) -> None:
    auth = people.auth("dispatcher")
    for who, team in (("tess", "North"), ("alex", " North "), ("sam", "Boilers")):
        edited = await ok(
            await client.patch(
                f"{V1}/technicians/{people.technician_ids[who]}",
                json={"team": team},
                headers=auth,
            )
        )
        assert edited["team"] == team.strip()
    teams = await ok(await client.get(f"{V1}/teams", headers=auth))
    assert teams["items"] == [
        {"name": "Boilers", "technicians": 1},
        {"name": "North", "technicians": 2},
    ]
    await ok(
        await client.patch(
            f"{V1}/technicians/{people.technician_ids['sam']}",
            json={"team": ""},
            headers=auth,
        )
    )
    teams = await ok(await client.get(f"{V1}/teams", headers=auth))
    assert teams["items"] == [{"name": "North", "technicians": 2}]
