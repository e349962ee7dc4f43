"""The API foundation: health, problem+json, auth, the OpenAPI document."""

from __future__ import annotations

import io
from typing import Any

from aiohttp.test_utils import TestClient

from tests.integration.api.conftest import People


async def test_health_reports_the_database_reachable(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/api/v1/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}


async def test_unknown_paths_answer_problem_json(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert (await response.json())["status"] == 404


async def test_the_openapi_document_is_version_3_1(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/api/v1/openapi.json")
    document = await response.json()
    assert document["openapi"] == "3.1.0"
    assert "/api/v1/health" in document["paths"]


async def test_a_seeded_token_belongs_to_its_role(
    client: TestClient[Any, Any], people: People
) -> None:
    assert set(people.tokens) >= {"admin", "tess"}
    # Office staff may list technicians; technicians may not.
    statuses = {
        who: (await client.get("/api/v1/technicians", headers=people.auth(who))).status
        for who in people.tokens
    }
    assert statuses == {
        "admin": 200,
        "dispatcher": 200,
        "billing": 200,
        "tess": 403,
        "alex": 403,
        "sam": 403,
    }


async def test_every_kind_of_error_names_a_problem_type_of_ours(
    client: TestClient[Any, Any], people: People
) -> None:
    """A client switches on one namespace, whatever layer refused."""
    base = "https://crewtrack.dev/problems/"
    unknown_route = await client.get("/api/v1/nothing-here")
    no_token = await client.get("/api/v1/jobs")
    bad_input = await client.post(
        "/api/v1/clients", json={"name": 7}, headers=people.auth("admin")
    )
    too_large = await client.post(
        "/api/v1/clients",
        data=io.BytesIO(b"{" + b" " * (2 * 1024 * 1024) + b"}"),
        headers={**people.auth("admin"), "Content-Type": "application/json"},
    )
    types = {
        r.status: (await r.json())["type"]
        for r in (unknown_route, no_token, bad_input, too_large)
    }
    assert types == {
        404: base + "not-found",
        401: base + "unauthorized",
        422: base + "invalid-input",
        413: base + "payload-too-large",
    }
