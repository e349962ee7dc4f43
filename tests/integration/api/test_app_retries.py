"""A retried request from the app's outbox (same Idempotency-Key) is applied once.

The technician app sends every action with its client id as ``Idempotency-Key``;
a phone that lost the answer sends the same request again. End (clock out then
complete) and a signature's validation must then have one effect and give the
same answer; the same key with another request is refused as a problem.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.api.conftest import World
from tests.integration.api.test_perform_a_job import (
    PNG,
    job_with_report,
    make_job,
    seed,
)


async def send(
    w: World, method: str, path: str, key: str, body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    response = await w.api.request(
        method,
        "/api/v1" + path,
        json=body,
        headers={**w.people.auth("tess"), "Idempotency-Key": key},
    )
    return response.status, await response.json(), dict(response.headers)


async def started(w: World) -> str:
    job_id = await make_job(w, await seed(w), "Replace the pump", auxiliary=False)
    await w.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    at = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    await w.call(
        "tess", "POST", f"/jobs/{job_id}/sessions", 201, {"event": "clock_in", "at": at}
    )
    return job_id


async def test_an_end_sent_twice_with_the_same_key_clocks_out_and_completes_once(
    world: World,
) -> None:
    w = world
    job_id = await started(w)
    out = {"event": "clock_out", "at": datetime.now(UTC).isoformat()}
    first_out = await send(w, "POST", f"/jobs/{job_id}/sessions", "end-1", out)
    again_out = await send(w, "POST", f"/jobs/{job_id}/sessions", "end-1", out)
    assert first_out[0] == again_out[0] == 200
    assert first_out[1] == again_out[1]

    first = await send(w, "POST", f"/jobs/{job_id}/complete", "complete-1")
    again = await send(w, "POST", f"/jobs/{job_id}/complete", "complete-1")
    assert first[0] == 200, first[1]
    assert (again[0], again[1]) == (first[0], first[1])
    assert again[2].get("Idempotent-Replayed") == "true"
    assert first[1]["status"] == "completed"

    sessions = await w.call("tess", "GET", f"/jobs/{job_id}/sessions", 200)
    assert len(sessions["items"]) == 1
    # A new key is a new request: completing a completed job is refused.
    other = await send(w, "POST", f"/jobs/{job_id}/complete", "complete-2")
    assert other[0] == 409, other[1]


async def test_the_same_complete_key_with_another_request_is_a_problem(
    world: World,
) -> None:
    w = world
    job_id = await started(w)
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/sessions",
        200,
        {"event": "clock_out", "at": datetime.now(UTC).isoformat()},
    )
    first = await send(w, "POST", f"/jobs/{job_id}/complete", "complete-1")
    assert first[0] == 200, first[1]
    other = await send(w, "POST", f"/jobs/{job_id}/complete", "complete-1", {"x": 1})
    assert other[0] in (409, 422), other[1]
    assert other[1]["errors"][0]["pointer"] == "/headers/Idempotency-Key"


async def test_a_signature_validated_twice_with_the_same_key_is_validated_once(
    world: World,
) -> None:
    w = world
    _, job_id = await job_with_report(w, "Annual boiler service")
    await w.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    await w.call(
        "tess",
        "PUT",
        f"/jobs/{job_id}/report/signatures/customer",
        200,
        {"signer_name": "Émile Zola", "image": PNG},
    )
    path = f"/jobs/{job_id}/report/signatures/customer/validate"
    first = await send(w, "POST", path, "validate-1")
    again = await send(w, "POST", path, "validate-1")
    assert first[0] == 200, first[1]
    assert (again[0], again[1]) == (first[0], first[1])
    assert first[1]["validated"] is True

    report = await w.call("tess", "GET", f"/jobs/{job_id}/report", 200)
    customer = report["signatures"]["customer"]
    assert customer["validated_at"] == first[1]["validated_at"]

    other = await send(w, "POST", path, "validate-1", {"signer_name": "Someone"})
    assert other[0] in (409, 422), other[1]
    assert other[1]["errors"][0]["pointer"] == "/headers/Idempotency-Key"
