"""Online booking without a token (issue 12; help page "Via Online Booking": "When a
customer books via your website or portal, a job is automatically created in
"Pending" or "Scheduled" status, depending on your settings.")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from aiohttp.test_utils import TestClient
from psycopg.types.json import Jsonb

from api.app import init_app
from crewtrack.settings import Settings
from jobs_domain.bookings import BookingDefault, OnlineContact
from services import estimates as bookings
from tests.integration.api.conftest import ClientFactory, People

Client = TestClient[Any, Any]
BOOK = "/api/v1/online/bookings"
REFERENCE = re.compile(r"^BK-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def form(**changes: Any) -> dict[str, Any]:
    """A booking form as a website sends it: tomorrow 9-11, a leaking tap."""
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    body: dict[str, Any] = {
        "contact": {"name": "Émile Zola", "email": "emile@client.example"},
        "address": {"line1": "12 rue de Médan", "city": "Paris"},
        "service": {"description": "The kitchen tap leaks"},
        "preferred_start": start.isoformat(),
        "preferred_end": (start + timedelta(hours=2)).isoformat(),
    }
    body.update(changes)
    return body


async def app(
    aiohttp_client: ClientFactory, settings: Settings, **changes: Any
) -> Client:
    return await aiohttp_client(init_app(settings.replace(**changes)))


async def book(
    api: Client, body: dict[str, Any], status: int = 201, **headers: str
) -> dict[str, Any]:
    response = await api.post(BOOK, json=body, headers=headers)
    answer: dict[str, Any] = await response.json(content_type=None)
    assert response.status == status, answer
    return answer


async def office(api: Client, people: People, path: str) -> Any:
    response = await api.get("/api/v1" + path, headers=people.auth("dispatcher"))
    assert response.status == 200, await response.text()
    return await response.json()


async def online_jobs(api: Client, people: People) -> list[dict[str, Any]]:
    jobs = (await office(api, people, "/jobs"))["items"]
    return [j for j in jobs if j["booking_id"] is not None]


async def test_a_customer_books_without_a_token_and_gets_only_a_reference_to_quote(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)

    answer = await book(api, form())

    assert set(answer) == {"reference", "status", "preferred_start", "preferred_end"}
    assert REFERENCE.match(answer["reference"])
    assert answer["status"] == "pending"
    [job] = await online_jobs(api, people)
    assert (job["status"], job["description"]) == ("pending", "The kitchen tap leaks")
    assert job["site_contact"]["email"] == "emile@client.example"
    booking = await office(api, people, f"/bookings/{job['booking_id']}")
    assert booking["reference"] == answer["reference"]
    client = await office(api, people, f"/clients/{job['client']['id']}")
    assert (client["name"], client["email"]) == ("Émile Zola", "emile@client.example")
    assert job["property"]["address"] == {"line1": "12 rue de Médan", "city": "Paris"}
    history = (await office(api, people, f"/jobs/{job['id']}/history"))["items"]
    assert history[0]["details"]["origin"] == f"online booking {answer['reference']}"
    assert history[0]["source"] == "online booking 127.0.0.1"


async def test_a_booking_with_a_known_e_mail_joins_that_client_and_its_property(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)
    await book(api, form())

    again = form(
        contact={
            "name": "E. Zola",
            "email": "EMILE@client.example",
            "phone": "+33 1 23",
        },
        address={"line1": " 12 rue de Médan ", "city": "Paris", "postcode": ""},
    )
    await book(api, again)
    elsewhere = form(address={"line1": "3 rue Lepic", "city": "Paris"})
    await book(api, elsewhere)

    jobs = await online_jobs(api, people)
    assert len({j["client"]["id"] for j in jobs}) == 1
    assert len({j["property"]["id"] for j in jobs}) == 2
    clients = (await office(api, people, "/clients"))["items"]
    assert [c["name"] for c in clients] == ["Émile Zola"]  # the office's record stays


async def test_a_booking_by_phone_only_makes_a_new_client(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)
    await book(api, form(contact={"name": "Ana", "phone": "+33 6 12 34 56 78"}))
    await book(api, form(contact={"name": "Ana", "phone": "+33 6 12 34 56 78"}))
    clients = (await office(api, people, "/clients"))["items"]
    assert [c["phone"] for c in clients] == ["+33 6 12 34 56 78"] * 2


async def test_a_booked_price_book_service_is_on_the_job_at_its_price(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)
    admin = people.auth("admin")
    family = await (
        await api.post("/api/v1/price-book/families", json={"name": "S"}, headers=admin)
    ).json()
    item = await (
        await api.post(
            "/api/v1/price-book/items",
            json={
                "family_id": family["id"],
                "kind": "service",
                "code": "SRV-1",
                "name": "Annual boiler service",
                "unit_price": "80.00",
                "tax_rate": "10",
            },
            headers=admin,
        )
    ).json()

    await book(api, form(service={"price_book_item_id": item["id"]}))

    [job] = await online_jobs(api, people)
    assert job["description"] == "Annual boiler service"
    [line] = (await office(api, people, f"/jobs/{job['id']}/line-items"))["items"]
    assert (line["description"], line["unit_price"]) == (
        "Annual boiler service",
        "80.00",
    )
    unknown = form(
        service={"price_book_item_id": "00000000-0000-4000-8000-000000000000"}
    )
    problem = await book(api, unknown, 422)
    assert problem["errors"][0]["pointer"] == "/service/price_book_item_id"


async def test_with_auto_confirm_a_booking_goes_to_a_free_technician_or_stays_pending(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings, booking_default_status="scheduled")

    answers = [await book(api, form()) for _ in range(4)]

    assert [a["status"] for a in answers] == ["scheduled"] * 3 + ["pending"]
    jobs = {
        j["booking_id"]: j for j in await online_jobs(api, people)
    }  # one per technician: Alex, Sam, Tess (first free by name)
    managers = sorted(j["crew"][0]["technician_id"] for j in jobs.values() if j["crew"])
    assert managers == sorted(people.technician_ids.values())
    [waiting] = [j for j in jobs.values() if j["status"] == "pending"]
    history = (await office(api, people, f"/jobs/{waiting['id']}/history"))["items"]
    assert history[-1]["details"] == {
        "why": "no technician is free in the preferred window"
    }


async def test_a_double_submit_with_one_idempotency_key_books_once(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)
    key = {"Idempotency-Key": "form-7f3c"}
    first = await book(api, form(), **key)
    response = await api.post(BOOK, json=form(), headers=key)
    assert response.status == 201
    assert response.headers["Idempotent-Replayed"] == "true"
    assert (await response.json())["reference"] == first["reference"]
    assert len(await online_jobs(api, people)) == 1
    other = form(service={"description": "Another job"})
    await book(api, other, 422, **key)


async def test_a_form_whose_honeypot_is_filled_is_answered_but_books_nothing(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)
    answer = await book(api, form(website="http://spam.example"))
    assert REFERENCE.match(answer["reference"])
    assert await online_jobs(api, people) == []
    assert (await office(api, people, "/clients"))["items"] == []


async def test_the_limit_per_client_address_answers_429_with_retry_after(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(
        aiohttp_client,
        settings,
        online_booking_limit_per_ip=3,
        online_booking_window_s=600,
    )
    await book(api, form())
    await book(api, form(contact={"name": "x"}), 422)  # a refused form counts too
    await book(api, form())

    response = await api.post(BOOK, json=form())

    assert response.status == 429
    assert response.content_type == "application/problem+json"
    assert 1 <= int(response.headers["Retry-After"]) <= 600
    assert (await response.json())["status"] == 429
    assert len(await online_jobs(api, people)) == 2
    # the office, with a token, is not limited by the public form
    dispatcher = people.auth("dispatcher")
    assert (await api.get("/api/v1/jobs", headers=dispatcher)).status == 200


async def test_the_limit_for_everyone_answers_429_too(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(
        aiohttp_client,
        settings,
        online_booking_limit_per_ip=100,
        online_booking_limit_total=1,
    )
    await book(api, form())
    problem = await book(api, form(), 429)
    assert problem["title"] == "Too many requests"


async def test_a_booking_form_is_checked_before_anything_is_made(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)
    past = form(
        preferred_start="2020-01-01T09:00:00+00:00",
        preferred_end="2020-01-01T11:00:00+00:00",
    )
    cases = [
        (form(contact={"name": "Ana"}), "/contact"),
        (form(contact={"name": "Ana", "email": "ana@"}), "/contact/email"),
        (form(contact={"name": "Ana", "phone": "call me"}), "/contact/phone"),
        (form(contact={"name": " ", "phone": "0612345678"}), "/contact/name"),
        (past, "/preferred_start"),
        (form(preferred_end=form()["preferred_start"]), "/preferred_end"),
        (form(address={"line1": "  "}), "/address/line1"),
        (form(service={"description": "   "}), "/service/description"),
    ]
    for body, pointer in cases:
        problem = await book(api, body, 422)
        assert [e["pointer"] for e in problem["errors"]] == [pointer], body
    response = await api.post(BOOK, data=b"{" + b" " * 20_000 + b"}")
    assert response.status == 413
    assert await online_jobs(api, people) == []
    assert (await office(api, people, "/clients"))["items"] == []


async def test_a_booking_whose_address_comes_as_lines_makes_a_site_with_that_address(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)
    start = datetime.fromisoformat(form()["preferred_start"])
    new = bookings.OnlineBooking(
        contact=OnlineContact("Émile Zola", "emile@client.example"),
        address=["12 rue de Médan", "Paris"],  # as the older seeds keep addresses
        preferred_start=start,
        preferred_end=start + timedelta(hours=2),
        description="The kitchen tap leaks",
    )
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await bookings.book_online(
            conn,
            bookings.online_desk("test"),
            new,
            request={},
            default_status=BookingDefault.PENDING,
        )
        await conn.commit()

    [job] = await online_jobs(api, people)
    assert job["property"]["address"] == {"line1": "12 rue de Médan", "line2": "Paris"}


async def test_the_online_view_answers_a_list_shaped_address_as_the_address_object(
    aiohttp_client: ClientFactory, settings: Settings, people: People
) -> None:
    api = await app(aiohttp_client, settings)
    await book(api, form())
    [job] = await online_jobs(api, people)
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await conn.execute(
            "UPDATE properties SET address = %s WHERE id = %s",
            (Jsonb(["12 rue de Médan", "Paris"]), job["property"]["id"]),
        )
        await conn.commit()
    response = await api.post(
        f"/api/v1/jobs/{job['id']}/online-links", headers=people.auth("dispatcher")
    )
    assert response.status == 201, await response.text()
    link = await response.json()

    view = await api.get(f"/api/v1/online/jobs/{link['token']}")

    assert view.status == 200
    assert (await view.json())["address"] == {
        "line1": "12 rue de Médan",
        "line2": "Paris",
    }
