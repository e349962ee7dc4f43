"""Which operations answer without a token: exactly the ones meant for anyone."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

PUBLIC = {
    ("get", "/api/v1/health"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/online/jobs/{token}"),
    ("post", "/api/v1/online/bookings"),
    ("post", "/api/v1/payments/stripe/webhook"),
    ("get", "/api/v1/payments/thanks"),
    ("get", "/api/v1/payments/cancelled"),
    ("post", "/api/v1/auth/login"),  # the technician app's login (rate limited)
}


async def test_only_the_operations_meant_for_anyone_go_without_a_token(
    client: TestClient[Any, Any],
) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    public = {
        (method, path)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if op.get("security") == []
    }
    assert public == PUBLIC
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            # the authorisation matrix skips what has no roles: only public ones
            assert ("x-roles" in op) != ((method, path) in PUBLIC), (method, path)


async def test_online_booking_is_documented_as_public_rate_limited_and_idempotent(
    client: TestClient[Any, Any],
) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    op = document["paths"]["/api/v1/online/bookings"]["post"]
    assert op["security"] == []
    assert "Retry-After" in op["responses"]["429"]["headers"]
    assert {"201", "413", "422", "429", "503"} <= set(op["responses"])
    assert "Idempotency-Key" in {p["name"] for p in op["parameters"]}
    assert op["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "contact",
        "address",
        "service",
        "preferred_start",
        "preferred_end",
    ]
