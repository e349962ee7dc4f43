"""Every jobs-module endpoint × every role, derived from the served OpenAPI document."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from tests.integration.api.conftest import People

Client = TestClient[Any, Any]
MY_TAGS = {"jobs", "clients", "price-book", "estimates"}
ROLES = {
    "admin": "admin",
    "dispatcher": "dispatcher",
    "billing": "billing",
    "tess": "technician",
}


def _fill(path: str, **ids: str) -> str:
    for name in (
        "job_id",
        "client_id",
        "property_id",
        "technician_id",
        "item_id",
        "task_id",
        "expense_id",
        "attachment_id",
        "estimate_id",
        "booking_id",
    ):
        path = path.replace("{" + name + "}", ids.get(name, str(uuid.uuid4())))
    return path


async def _call(
    client: Client, method: str, path: str, headers: dict[str, str], body: Any = None
) -> int:
    if path.endswith("/attachments") and method == "post":
        form = FormData()
        form.add_field("kind", "photo")
        form.add_field(
            "file", b"\x89PNG\r\n\x1a\n0000", filename="a.png", content_type="image/png"
        )
        response = await client.request(method, path, data=form, headers=headers)
    elif method in ("post", "put", "patch"):
        response = await client.request(method, path, json=body or {}, headers=headers)
    else:
        response = await client.request(method, path, headers=headers)
    await response.read()
    return response.status


async def _operations(client: Client) -> list[tuple[str, str, dict[str, Any]]]:
    document = await (await client.get("/api/v1/openapi.json")).json()
    return [
        (method, path, op)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if set(op["tags"]) & MY_TAGS
    ]


async def test_every_endpoint_answers_each_role_as_documented(
    client: Client, people: People
) -> None:
    mismatches = []
    for method, path, op in await _operations(client):
        url = _fill(path)
        if "x-roles" not in op:
            continue
        if await _call(client, method, url, {}) != 401:
            mismatches.append(f"{method} {path} without a token is not 401")
        for who, role in ROLES.items():
            status = await _call(client, method, url, people.auth(who))
            allowed = role in op["x-roles"]
            if allowed and status in (401, 403) and not path.endswith("/decline"):
                mismatches.append(f"{method} {path} refused {role} with {status}")
            if not allowed and status != 403:
                mismatches.append(f"{method} {path} gave {role} {status}, not 403")
    assert mismatches == []


def _valid_body(path: str) -> dict[str, Any]:
    start = datetime.now(UTC)
    window = {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
    }
    bodies: dict[str, dict[str, Any]] = {
        "/hold": {"reason": "x"},
        "/cancel": {"reason": "x"},
        "/decline": {"reason": "x"},
        "/reschedule": window,
        "/schedule": window,
        "/notes": {"visibility": "internal", "text": "x"},
        "/expenses": {"description": "x", "amount": 1},
        "/line-items": {"description": "x", "unit_price": 1},
        "/tasks": {"title": "x"},
        "/sessions": {"event": "clock_in"},
        "{task_id}": {"done": True},
        "{item_id}": {"quantity": 2},
        "{technician_id}": {"role": "auxiliary"},
        "{job_id}": {"description": "x"},
    }
    for suffix, body in bodies.items():
        if path.endswith(suffix):
            return body
    return {}


async def test_a_technician_reaching_for_another_technicians_job_gets_404(
    client: Client, people: People
) -> None:
    headers = people.auth("admin")
    created = await client.post("/api/v1/clients", json={"name": "C"}, headers=headers)
    client_id = (await created.json())["id"]
    job = await client.post(
        "/api/v1/jobs",
        json={"client_id": client_id, "description": "d"},
        headers=headers,
    )
    job_id = (await job.json())["id"]
    tess = people.technician_ids["tess"]
    await client.put(
        f"/api/v1/jobs/{job_id}/crew/{tess}",
        json={"role": "job_manager"},
        headers=headers,
    )
    leaks = []
    for method, path, op in await _operations(client):
        if "{job_id}" not in path or "technician" not in op.get("x-roles", []):
            continue
        url = _fill(path, job_id=job_id, technician_id=people.technician_ids["sam"])
        status = await _call(client, method, url, people.auth("sam"), _valid_body(path))
        if status != 404:
            leaks.append(f"{method} {path}: {status}")
    assert leaks == []
    listed = await client.get("/api/v1/jobs", headers=people.auth("sam"))
    assert (await listed.json())["items"] == []
    mine = await client.get("/api/v1/jobs", headers=people.auth("tess"))
    assert [j["id"] for j in (await mine.json())["items"]] == [job_id]
