"""What an offline technician app sends, retried and late, lands once and counts right."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import FormData

from tests.integration.api.conftest import People
from tests.integration.api.test_help_pages import (
    V1,
    Client,
    create_job,
    make_client_and_property,
    ok,
    post,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _photo_form() -> FormData:
    form = FormData()
    form.add_field("kind", "photo_before")
    form.add_field("description", "Boiler before")
    form.add_field("file", PNG, filename="before.png", content_type="image/png")
    return form


async def test_a_retried_photo_upload_with_an_idempotency_key_is_stored_once(
    client: Client, people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    job = await create_job(client, people, client_id, "Boiler")
    headers = {**people.auth("dispatcher"), "Idempotency-Key": "photo-1"}
    url = f"{V1}/jobs/{job['id']}/attachments"
    first = await ok(await client.post(url, data=_photo_form(), headers=headers), 201)
    assert first["sha256"] == hashlib.sha256(PNG).hexdigest()
    retry = await client.post(url, data=_photo_form(), headers=headers)
    assert retry.status == 201
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert (await retry.json())["id"] == first["id"]
    listed = await ok(await client.get(url, headers=people.auth("dispatcher")))
    assert [a["id"] for a in listed["items"]] == [first["id"]]
    other = FormData()
    other.add_field("kind", "photo_after")
    other.add_field(
        "file", PNG + b"\x01", filename="after.png", content_type="image/png"
    )
    reused = await client.post(url, data=other, headers=headers)
    assert reused.status == 422, "the same key with another photo is refused"


async def _scheduled_job_with_tess(client: Client, people: People) -> str:
    client_id, _ = await make_client_and_property(client, people)
    job = await create_job(client, people, client_id, "Heat pump")
    start = datetime.now(UTC) - timedelta(minutes=5)
    await ok(
        await post(
            client,
            f"/jobs/{job['id']}/schedule",
            people,
            "dispatcher",
            {
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
                "technician_id": people.technician_ids["tess"],
            },
        )
    )
    return str(job["id"])


async def _clock(client: Client, people: People, jid: str, event: str) -> Any:
    return await ok(
        await post(client, f"/jobs/{jid}/sessions", people, "tess", {"event": event}),
        201 if event == "clock_in" else 200,
    )


async def test_resuming_a_job_after_on_hold_resumes_the_sessions_the_hold_paused(
    client: Client, people: People
) -> None:
    jid = await _scheduled_job_with_tess(client, people)
    await _clock(client, people, jid, "clock_in")
    await ok(
        await post(client, f"/jobs/{jid}/hold", people, "tess", {"reason": "parts"})
    )
    held = await ok(
        await client.get(f"{V1}/jobs/{jid}/sessions", headers=people.auth("tess"))
    )
    assert [s["state"] for s in held["items"]] == ["paused"]
    await ok(await post(client, f"/jobs/{jid}/resume", people, "tess"))
    resumed = await ok(
        await client.get(f"{V1}/jobs/{jid}/sessions", headers=people.auth("tess"))
    )
    assert [s["state"] for s in resumed["items"]] == ["running"], (
        "worked time counts again once the job is back in progress"
    )
    await _clock(client, people, jid, "clock_out")


async def test_a_session_the_technician_paused_before_the_hold_stays_paused(
    client: Client, people: People
) -> None:
    jid = await _scheduled_job_with_tess(client, people)
    await _clock(client, people, jid, "clock_in")
    await _clock(client, people, jid, "pause")  # lunch, before the hold
    await ok(
        await post(client, f"/jobs/{jid}/hold", people, "tess", {"reason": "parts"})
    )
    await ok(await post(client, f"/jobs/{jid}/resume", people, "tess"))
    sessions = await ok(
        await client.get(f"{V1}/jobs/{jid}/sessions", headers=people.auth("tess"))
    )
    assert [s["state"] for s in sessions["items"]] == ["paused"]


async def test_a_description_of_only_spaces_is_refused_not_saved_empty(
    client: Client, people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    start = datetime.now(UTC) + timedelta(days=1)
    attempts = {
        "/jobs": {"client_id": client_id, "description": "   "},
        "/estimates": {"client_id": client_id, "description": " \t ", "line_items": []},
        "/bookings": {
            "client_id": client_id,
            "description": "  ",
            "requested_start": start.isoformat(),
            "requested_end": (start + timedelta(hours=1)).isoformat(),
        },
    }
    for path, body in attempts.items():
        refused = await post(client, path, people, "dispatcher", body)
        problem = await refused.json()
        assert refused.status == 422, (path, problem)
        assert problem["errors"] == [
            {"pointer": "/description", "detail": "must not be empty"}
        ], path
    jobs = await ok(await client.get(f"{V1}/jobs", headers=people.auth("dispatcher")))
    assert jobs["items"] == [], "nothing was saved"
