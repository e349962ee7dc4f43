"""The help pages' scenarios, end to end through a real server and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient

from jobs_domain.sessions import DeviceEvent, SessionKind
from services.sessions import apply_device_event
from tests.integration.api.conftest import People

V1 = "/api/v1"
Client = TestClient[Any, Any]


async def post(
    client: Client,
    path: str,
    people: People,
    who: str,
    body: Any = None,
    **headers: str,
) -> Any:
    response = await client.post(
        V1 + path,
        json=body if body is not None else {},
        headers={**people.auth(who), **headers},
    )
    return response


async def ok(response: Any, status: int = 200) -> Any:
    data = await response.json()
    assert response.status == status, data
    return data


async def make_client_and_property(client: Client, people: People) -> tuple[str, str]:
    c = await ok(
        await post(client, "/clients", people, "dispatcher", {"name": "Mrs Jones"}), 201
    )
    p = await ok(
        await post(
            client,
            "/properties",
            people,
            "dispatcher",
            {
                "client_id": c["id"],
                "address": {"line1": "1 High St", "city": "Leeds"},
                "location": {"lat": 53.8, "lon": -1.55},
                "geofence": {"radius_m": 80},
            },
        ),
        201,
    )
    return c["id"], p["id"]


async def create_job(
    client: Client, people: People, client_id: str, description: str, **fields: Any
) -> Any:
    """A job the dispatcher created for the client (Pending until scheduled)."""
    body = {"client_id": client_id, "description": description, **fields}
    return await ok(await post(client, "/jobs", people, "dispatcher", body), 201)


def window(hours: int = 1) -> tuple[str, str]:
    start = datetime.now(UTC) - timedelta(minutes=5)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


async def test_estimate_to_completed_job_with_a_device_clock_in(
    client: Client, people: People, db_url: str
) -> None:
    client_id, property_id = await make_client_and_property(client, people)
    estimate = await ok(
        await post(
            client,
            "/estimates",
            people,
            "dispatcher",
            {
                "client_id": client_id,
                "property_id": property_id,
                "description": "Replace boiler",
                "line_items": [
                    {
                        "description": "Boiler",
                        "quantity": 1,
                        "unit_price": "2500.00",
                        "tax_rate": 20,
                    },
                    {
                        "description": "Labour",
                        "quantity": "4",
                        "unit_price": 65,
                        "tax_rate": 20,
                    },
                ],
                "notes": [{"visibility": "public", "text": "2-year warranty"}],
            },
        ),
        201,
    )
    refused = await post(
        client, f"/estimates/{estimate['id']}/convert", people, "dispatcher"
    )
    assert refused.status == 409
    await ok(
        await post(client, f"/estimates/{estimate['id']}/approve", people, "dispatcher")
    )
    job = await ok(
        await post(
            client, f"/estimates/{estimate['id']}/convert", people, "dispatcher"
        ),
        201,
    )
    again = await post(
        client, f"/estimates/{estimate['id']}/convert", people, "dispatcher"
    )
    assert again.status == 409
    assert (await again.json())["blocking_items"][0]["code"] == "already-converted"
    jid = job["id"]
    items = await ok(
        await client.get(f"{V1}/jobs/{jid}/line-items", headers=people.auth("admin"))
    )
    assert [i["unit_price"] for i in items["items"]] == ["2500.00", "65.00"]
    assert items["totals"]["gross"] == "3312.00"
    notes = await ok(
        await client.get(f"{V1}/jobs/{jid}/notes", headers=people.auth("admin"))
    )
    assert [n["text"] for n in notes["items"]] == ["2-year warranty"]

    start, end = window()
    tess, alex = people.technician_ids["tess"], people.technician_ids["alex"]
    job = await ok(
        await post(
            client,
            f"/jobs/{jid}/schedule",
            people,
            "dispatcher",
            {"start": start, "end": end, "technician_id": tess},
        )
    )
    assert job["status"] == "scheduled"
    response = await client.put(
        f"{V1}/jobs/{jid}/crew/{alex}",
        json={"role": "auxiliary"},
        headers=people.auth("dispatcher"),
    )
    await ok(response)
    task = await ok(
        await post(
            client,
            f"/jobs/{jid}/tasks",
            people,
            "dispatcher",
            {"title": "Check safety valve", "required": True},
        ),
        201,
    )

    # The technician's phone clocks in over MQTT; the ingest calls this.
    with psycopg.connect(db_url) as sync:
        user = sync.execute(
            "SELECT user_id FROM technicians WHERE id = %s", (tess,)
        ).fetchone()
        assert user is not None
        sync.execute(
            "INSERT INTO devices (id, user_id, mqtt_password_hash) VALUES ('phone-tess', %s, 'x')",
            (user[0],),
        )
    event = DeviceEvent(
        event_id="ev-1",
        kind=SessionKind.CLOCK_IN,
        at=datetime.now(UTC),
        job_id=job["number"],
    )
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        async with conn.transaction():
            first = await apply_device_event(conn, "phone-tess", event)
        async with conn.transaction():
            replay = await apply_device_event(conn, "phone-tess", event)
    assert first.applied
    assert replay.duplicate
    assert replay.session_id == first.session_id
    job = await ok(await client.get(f"{V1}/jobs/{jid}", headers=people.auth("tess")))
    assert job["status"] == "in_progress"

    await ok(
        await post(
            client, f"/jobs/{jid}/hold", people, "tess", {"reason": "waiting for parts"}
        )
    )
    await ok(await post(client, f"/jobs/{jid}/resume", people, "tess"))
    check = await ok(
        await client.get(
            f"{V1}/jobs/{jid}/completion-check", headers=people.auth("tess")
        )
    )
    assert [b["ref"] for b in check["blocking_items"]] == [task["id"]]
    blocked = await post(client, f"/jobs/{jid}/complete", people, "tess")
    assert blocked.status == 409
    assert blocked.content_type == "application/problem+json"
    assert (await blocked.json())["blocking_items"][0]["code"] == "required-task-open"
    response = await client.patch(
        f"{V1}/jobs/{jid}/tasks/{task['id']}",
        json={"done": True},
        headers=people.auth("alex"),
    )
    await ok(response)
    aux = await post(client, f"/jobs/{jid}/complete", people, "alex")
    assert aux.status == 403
    done = await ok(await post(client, f"/jobs/{jid}/complete", people, "tess"))
    assert done["status"] == "completed"
    sessions = await ok(
        await client.get(f"{V1}/jobs/{jid}/sessions", headers=people.auth("admin"))
    )
    assert sessions["items"][0]["device_id"] == "phone-tess"
    assert sessions["items"][0]["state"] == "closed"
    history = await ok(
        await client.get(f"{V1}/jobs/{jid}/history", headers=people.auth("admin"))
    )
    actions = [h["action"] for h in history["items"]]
    assert actions[0] == "created"
    assert {
        "scheduled",
        "clocked_in",
        "started",
        "put_on_hold",
        "resumed",
        "completed",
    } <= set(actions)
    assert any(h["source"] == "device phone-tess" for h in history["items"])


async def test_a_booking_creates_a_pending_job_by_default(
    client: Client, people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    start, end = window()
    job = await ok(
        await post(
            client,
            "/bookings",
            people,
            "dispatcher",
            {
                "client_id": client_id,
                "description": "Leaking tap",
                "requested_start": start,
                "requested_end": end,
                "technician_id": people.technician_ids["tess"],
            },
        ),
        201,
    )
    assert job["status"] == "pending"
    assert job["booking_id"] is not None


async def test_a_booking_creates_a_scheduled_job_when_set_to_auto_confirm(
    aiohttp_client: Any, settings: Any, people: People
) -> None:
    from api.app import init_app

    client = await aiohttp_client(
        init_app(settings.replace(booking_default_status="scheduled"))
    )
    client_id, _ = await make_client_and_property(client, people)
    start, end = window()
    job = await ok(
        await post(
            client,
            "/bookings",
            people,
            "dispatcher",
            {
                "client_id": client_id,
                "description": "Leaking tap",
                "requested_start": start,
                "requested_end": end,
                "technician_id": people.technician_ids["tess"],
            },
        ),
        201,
    )
    assert job["status"] == "scheduled"
    assert job["crew"][0]["role"] == "job_manager"


async def test_cancelling_keeps_the_history_and_who_when_why(
    client: Client, people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    job = await create_job(client, people, client_id, "Quick fix")
    jid = job["id"]
    cancelled = await ok(
        await post(
            client, f"/jobs/{jid}/cancel", people, "admin", {"reason": "customer moved"}
        )
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancellation"]["reason"] == "customer moved"
    again = await ok(
        await client.get(f"{V1}/jobs/{jid}", headers=people.auth("billing"))
    )
    assert again["cancellation"]["by_name"] == "Admin"
    history = await ok(
        await client.get(f"{V1}/jobs/{jid}/history", headers=people.auth("admin"))
    )
    assert [h["action"] for h in history["items"]] == ["created", "cancelled"]


async def test_stale_if_match_gets_412_and_idempotency_keys_replay(
    client: Client, people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    body = {"client_id": client_id, "description": "Gutter clean"}
    first = await post(
        client, "/jobs", people, "dispatcher", body, **{"Idempotency-Key": "k1"}
    )
    second = await post(
        client, "/jobs", people, "dispatcher", body, **{"Idempotency-Key": "k1"}
    )
    assert (await ok(first, 201))["id"] == (await ok(second, 201))["id"]
    other = await post(
        client,
        "/jobs",
        people,
        "dispatcher",
        {**body, "description": "x"},
        **{"Idempotency-Key": "k1"},
    )
    assert other.status == 422
    job = await first.json()
    stale = await client.patch(
        f"{V1}/jobs/{job['id']}",
        json={"description": "Gutters"},
        headers={**people.auth("dispatcher"), "If-Match": '"stale"'},
    )
    assert stale.status == 412
    fresh = await client.patch(
        f"{V1}/jobs/{job['id']}",
        json={"description": "Gutters"},
        headers={**people.auth("dispatcher"), "If-Match": first.headers["ETag"]},
    )
    assert (await ok(fresh))["description"] == "Gutters"


async def test_photos_are_stored_by_sha256_and_type_checked(
    client: Client, people: People
) -> None:
    import hashlib

    from aiohttp import FormData

    client_id, _ = await make_client_and_property(client, people)
    job = await create_job(client, people, client_id, "Fence")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    form = FormData()
    form.add_field("kind", "photo_before")
    form.add_field("description", "Fence before")
    form.add_field("file", png, filename="before.png", content_type="image/png")
    response = await client.post(
        f"{V1}/jobs/{job['id']}/attachments",
        data=form,
        headers=people.auth("dispatcher"),
    )
    stored = await ok(response, 201)
    assert stored["sha256"] == hashlib.sha256(png).hexdigest()
    content = await client.get(stored["url"], headers=people.auth("dispatcher"))
    assert await content.read() == png
    fake = FormData()
    fake.add_field("kind", "permit")
    fake.add_field(
        "file", b"MZ not a pdf", filename="permit.pdf", content_type="application/pdf"
    )
    bad = await client.post(
        f"{V1}/jobs/{job['id']}/attachments",
        data=fake,
        headers=people.auth("dispatcher"),
    )
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["pointer"] == "/file"


async def test_the_online_view_shows_public_notes_only_until_revoked(
    client: Client, people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    job = await create_job(client, people, client_id, "Roof")
    jid = job["id"]
    for visibility in ("internal", "public"):
        await ok(
            await post(
                client,
                f"/jobs/{jid}/notes",
                people,
                "dispatcher",
                {"visibility": visibility, "text": f"{visibility} note"},
            ),
            201,
        )
    link = await ok(
        await post(client, f"/jobs/{jid}/online-links", people, "dispatcher"), 201
    )
    view = await ok(await client.get(link["url"]))
    assert [n["text"] for n in view["public_notes"]] == ["public note"]
    await client.delete(
        f"{V1}/jobs/{jid}/online-links", headers=people.auth("dispatcher")
    )
    gone = await client.get(link["url"])
    assert gone.status == 404


async def test_jobs_estimates_and_bookings_refuse_another_clients_property(
    client: Client, people: People
) -> None:
    mine, _ = await make_client_and_property(client, people)
    _, theirs = await make_client_and_property(client, people)
    start, end = window()
    line = {"description": "Visit", "quantity": 1, "unit_price": "80", "tax_rate": 20}
    bodies = {
        "/jobs": {"client_id": mine, "property_id": theirs, "description": "Tap"},
        "/estimates": {
            "client_id": mine,
            "property_id": theirs,
            "description": "Tap",
            "line_items": [line],
        },
        "/bookings": {
            "client_id": mine,
            "property_id": theirs,
            "description": "Tap",
            "requested_start": start,
            "requested_end": end,
        },
    }
    for path, body in bodies.items():
        refused = await post(client, path, people, "dispatcher", body)
        problem = await refused.json()
        assert refused.status == 422, (path, problem)
        assert problem["errors"] == [
            {"pointer": "/property_id", "detail": "belongs to another client"}
        ], path


async def test_job_and_client_lists_page_through_every_row_once(
    client: Client, people: People
) -> None:
    client_id, _ = await make_client_and_property(client, people)
    for _ in range(2):
        await make_client_and_property(client, people)
    created = {
        (await create_job(client, people, client_id, f"Job {i}"))["id"]
        for i in range(5)
    }
    for path, expected in (
        ("/jobs", created),
        ("/clients", None),
    ):
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
            page = await ok(
                await client.get(V1 + path + query, headers=people.auth("dispatcher"))
            )
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)), path  # no row twice
        if expected is not None:
            assert set(seen) == expected
        else:
            assert len(seen) == 3
        assert pages == -(-len(seen) // 2)  # no empty last page
        bad = await client.get(
            f"{V1}{path}?cursor=not-a-cursor", headers=people.auth("dispatcher")
        )
        assert bad.status == 422, path
