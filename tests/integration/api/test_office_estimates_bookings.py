"""The office's Estimates and Bookings pages make jobs through the API's own use
cases: an estimate converts once, with its line items, prices and notes; a
booking waits on the page until it is confirmed (the schedule use case) or
declined; a booking taken by phone is the API's office booking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.actions import ESTIMATE_STALE, Conn
from jobs_domain.actors import Actor
from jobs_domain.job import NoteVisibility
from jobs_domain.permissions import Act
from services import estimates
from tests.integration.api.conftest import World
from tests.integration.api.test_office_pages import _as, _site, _tomorrow, _user


async def _valve(w: World) -> str:
    family = await w.call(
        "admin", "POST", "/price-book/families", 201, {"name": "Valves"}
    )
    item = await w.call(
        "admin",
        "POST",
        "/price-book/items",
        201,
        {
            "family_id": family["id"],
            "kind": "part",
            "code": "VLV-1",
            "name": "Safety valve 3 bar",
            "unit_price": "24.50",
            "tax_rate": "20",
        },
    )
    return str(item["id"])


async def _estimate(w: World, who: str = "dispatcher") -> tuple[str, str, Any]:
    client_id, site_id = await _site(w)
    new = estimates.NewEstimate(
        client_id=client_id,
        property_id=site_id,
        description="Replace the safety valve",
        line_items=[
            {"price_book_item_id": await _valve(w), "quantity": "2"},
            {"description": "Call-out", "unit_price": "40", "tax_rate": "0"},
        ],
        notes=[
            (NoteVisibility.INTERNAL, "Gate code 4711"),
            (NoteVisibility.PUBLIC, "Valve under warranty"),
        ],
    )
    user = _user(w, who)
    return client_id, site_id, await _as(w, lambda o: o.create_estimate(user, new))


async def test_an_estimate_approved_and_converted_is_the_apis_job_with_its_items_and_notes(
    world: World,
) -> None:
    client_id, site_id, made = await _estimate(world)
    assert made.ok, made
    assert made.message == f"{made.made} created."
    (listed,) = (await world.call("billing", "GET", f"/estimates?q={made.made}", 200))[
        "items"
    ]
    assert listed["totals"]["gross"] == "98.80"  # 2 × 24.50 + 20 %, and 40
    by_client = await world.call(
        "billing", "GET", f"/estimates?client_id={client_id}&q=zola", 200
    )
    assert [e["number"] for e in by_client["items"]] == [made.made]
    bad = await world.call("billing", "GET", "/estimates?client_id=nope", 422)
    assert bad["errors"][0]["pointer"] == "/query/client_id"
    user = _user(world, "dispatcher")

    stale = await _as(world, lambda o: o.approve_estimate(user, listed["id"], 99))
    approved = await _as(world, lambda o: o.approve_estimate(user, listed["id"], 0))
    converted = await _as(world, lambda o: o.convert_estimate(user, listed["id"]))
    again = await _as(world, lambda o: o.convert_estimate(user, listed["id"]))

    assert (stale.ok, stale.stale, stale.message) == (False, True, ESTIMATE_STALE)
    assert approved.ok, approved
    assert converted.ok, converted
    assert converted.job_number is not None
    assert (again.ok, again.message, again.blockers) == (
        False,
        "Not changed: the estimate was already converted",
        ("an estimate converts once",),
    )
    jobs = (await world.call("dispatcher", "GET", "/jobs?status=pending", 200))["items"]
    (job,) = [j for j in jobs if j["number"] == converted.job_number]
    assert (job["description"], job["property"]["id"]) == (
        "Replace the safety valve",
        site_id,
    )
    items = await world.call("dispatcher", "GET", f"/jobs/{job['id']}/line-items", 200)
    assert [(i["description"], i["unit_price"]) for i in items["items"]] == [
        ("Safety valve 3 bar", "24.50"),
        ("Call-out", "40.00"),
    ]
    assert items["totals"]["gross"] == "98.80"
    notes = (await world.call("dispatcher", "GET", f"/jobs/{job['id']}/notes", 200))[
        "items"
    ]
    assert sorted((n["visibility"], n["text"]) for n in notes) == [
        ("internal", "Gate code 4711"),
        ("public", "Valve under warranty"),
    ]
    shown = await world.call("dispatcher", "GET", f"/estimates/{listed['id']}", 200)
    assert (shown["status"], shown["job_id"]) == ("converted", job["id"])


async def test_billing_may_not_write_an_estimate_as_the_api_refuses_it(
    world: World,
) -> None:
    _client, _site_id, made = await _estimate(world, who="billing")
    document = await (await world.api.get("/api/v1/openapi.json")).json()
    roles = document["paths"]["/api/v1/estimates"]["post"]["x-roles"]

    assert not made.ok
    assert (
        made.message == f"Not changed: this needs one of the roles: {', '.join(roles)}"
    )
    assert "billing" not in roles
    assert (await world.call("billing", "GET", "/estimates", 200))["items"] == []


def _online_form(hour: int) -> dict[str, Any]:
    start, end = _tomorrow(hour)
    return {
        "contact": {"name": "Émile Zola", "phone": "+33 1 23 45 67 89"},
        "address": {"line1": "3 rue Lepic", "city": "Paris"},
        "service": {"description": "The kitchen tap leaks"},
        "preferred_start": start.isoformat(),
        "preferred_end": end.isoformat(),
    }


async def _waiting(w: World) -> list[estimates.AwaitingBooking]:
    user = _user(w, "dispatcher")

    async def read(conn: Conn, _actor: Actor) -> list[estimates.AwaitingBooking]:
        return await estimates.awaiting_confirmation(conn, 100)

    return await _as(w, lambda o: o.read(user, read))


async def test_an_online_booking_waits_until_confirmed_or_declined_on_the_page(
    world: World,
) -> None:
    for hour in (9, 14):
        answer = await world.api.post(
            "/api/v1/online/bookings", json=_online_form(hour)
        )
        assert answer.status == 201, await answer.text()
    first, second = await _waiting(world)
    assert first.booking["reference"].startswith("BK-")
    assert first.job.scheduled_start is not None
    user = _user(world, "dispatcher")
    tess = world.people.technician_ids["tess"]
    start, end = first.job.scheduled_start, first.job.scheduled_end

    confirmed = await _as(
        world,
        lambda o: o.schedule(
            user,
            first.job.id,
            first.job.version,
            start=start,
            end=end,
            technician_id=tess,
        ),
    )
    declined = await _as(
        world,
        lambda o: o.status(
            user, second.job.id, second.job.version, Act.CANCEL, "no such street"
        ),
    )

    assert confirmed.ok, confirmed
    assert declined.ok, declined
    assert await _waiting(world) == []
    job = await world.call("dispatcher", "GET", f"/jobs/{first.job.id}", 200)
    assert job["status"] == "scheduled"
    assert job["crew"][0]["technician_id"] == tess
    gone = await world.call("dispatcher", "GET", f"/jobs/{second.job.id}", 200)
    assert gone["status"] == "cancelled"


async def test_a_booking_taken_by_phone_is_the_apis_office_booking(
    world: World,
) -> None:
    client_id, site_id = await _site(world)
    start = datetime.now(UTC) + timedelta(days=2)
    new = estimates.NewBooking(
        client_id=client_id,
        description="Boiler makes a noise",
        requested_start=start,
        requested_end=start + timedelta(hours=1),
        property_id=site_id,
    )
    user = _user(world, "dispatcher")

    done = await _as(world, lambda o: o.take_booking(user, new))
    refused = await _as(world, lambda o: o.take_booking(_user(world, "billing"), new))

    assert done.ok, done
    assert done.message == f"{done.job_number} booked (pending)."
    assert not refused.ok
    (waiting,) = await _waiting(world)
    assert waiting.job.display_number == done.job_number
    booking = await world.call(
        "dispatcher", "GET", f"/bookings/{waiting.job.booking_id}", 200
    )
    assert booking["request"]["description"] == "Boiler makes a noise"
