"""The office's directory walked through the Clients page (see conftest).

A dispatcher finds a client by name, opens its profile (contacts, properties,
jobs, New Job), draws a polygon fence on the property's map, is told next to
the field what is wrong with a bad corner, saves it and sees it without a
reload; the API reads the same fence. An edit made through the API meanwhile
makes the page's next save say it is stale instead of overwriting. Billing sees
the fence but cannot save it (the role matrix). Screenshots:
test-output/e2e/directory-*.png at desktop and phone width.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Page, expect
from psycopg.types.json import Jsonb

from storage.users import create_user
from tests.e2e.conftest import OUTPUT, Stack, Watched, login
from tests.e2e.test_office import Api, api  # noqa: F401 (the API fixture)

pytestmark = pytest.mark.e2e

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
BILLING = "billing-directory@example.com"


def _seed(stack: Stack) -> tuple[str, str]:
    """A client with one site fenced by a circle (as the API stores them)."""
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO clients (name, email, phone) VALUES "
            "('Maison Verte', 'office@maison-verte.example', '+33 1 23 45 67 89') "
            "RETURNING id"
        ).fetchone()
        assert row is not None
        client = str(row[0])
        row = conn.execute(
            "INSERT INTO properties (client_id, address, lat, lon, geofence) "
            "VALUES (%s, %s, 48.8530, 2.3499, %s) RETURNING id",
            (
                client,
                Jsonb({"line1": "3 Quai aux Fleurs", "city": "Paris"}),
                Jsonb({"radius_m": 60}),
            ),
        ).fetchone()
        assert row is not None
        if not conn.execute(
            "SELECT 1 FROM users WHERE email = %s", (BILLING,)
        ).fetchone():
            create_user(
                conn, "Bea Billing", "billing", BILLING, "correct horse battery"
            )
    return client, str(row[0])


def _patch(server: Api, path: str, body: dict[str, Any], etag: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 (our own http URL)
        server.url + "/api/v1" + path,
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {server.token}",
            "Content-Type": "application/json",
            "If-Match": etag,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


def _etag(server: Api, path: str) -> str:
    request = urllib.request.Request(  # noqa: S310 (our own http URL)
        server.url + "/api/v1" + path,
        headers={"Authorization": f"Bearer {server.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return str(answer.headers["ETag"])


def _shot(p: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(OUTPUT / f"directory-{name}.png"), full_page=True)


def _save_and_expect(p: Page, text: str) -> None:
    p.click("#fence-save")
    expect(p.locator("#fence-result")).to_contain_text(text)


def test_the_office_finds_a_client_and_draws_its_sites_polygon_fence_and_the_api_agrees(
    stack: Stack,
    page: Watched,
    api: Api,  # noqa: F811 (the fixture imported above)
) -> None:
    client, prop = _seed(stack)
    p = page.page
    login(p, stack.url, stack.dispatcher, next_path="/clients")
    expect(p.locator("#clients-list")).to_be_visible()
    p.fill("#clients-search", "maison ver")
    p.press("#clients-search", "Enter")
    expect(p.locator(".client-row")).to_have_count(1)
    _shot(p, "list")
    p.locator(".client-row a", has_text="Maison Verte").click()

    # the profile: contacts, the site, New Job into the existing creation form
    expect(p.locator("#client-profile h3")).to_have_text("Maison Verte")
    expect(p.locator("#client-profile")).to_contain_text("+33 1 23 45 67 89")
    expect(p.locator(".property-row")).to_contain_text("circle, 60 m")
    expect(p.locator("#client-new-job")).to_have_attribute(
        "href", f"/jobs?client={client}"
    )
    _shot(p, "profile")
    p.locator(".property-row a", has_text="Edit fence").click()
    expect(p.locator("#fence-radius")).to_have_value("60")

    # a polygon: three corners clicked on the map, one typed badly
    p.locator("#fence-kind label", has_text="Polygon").click()
    graph = p.locator("#fence-map .js-plotly-plot")
    expect(graph).to_be_visible()
    box = graph.bounding_box()
    assert box is not None
    corners = p.locator("#fence-vertices")
    for n, (dx, dy) in enumerate([(0.4, 0.35), (0.6, 0.35), (0.5, 0.65)], 1):
        p.wait_for_timeout(500)  # the map redrawn with the last corner
        p.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
        expect(corners).to_have_value(re.compile(rf"^[^\n]+(\n[^\n]+){{{n - 1}}}$"))
    drawn = corners.input_value()
    corners.fill(drawn + "\nsomewhere")
    _save_and_expect(p, "Not saved")
    expect(p.locator("#fence-vertices-error")).to_contain_text("corner 4")
    _shot(p, "fence-problem")
    corners.fill(drawn)
    _save_and_expect(p, "Fence saved.")
    expect(p.locator(".property-row")).to_contain_text("polygon, 3 points")
    expect(p.locator("#fence-vertices-error")).to_be_empty()
    _shot(p, "fence-saved")

    # the API reads the fence the page drew
    got = api.get(f"/properties/{prop}")
    typed = [[float(v) for v in line.split(",")] for line in drawn.splitlines()]
    flat = [v for point in got["geofence"]["polygon"] for v in point]
    assert flat == pytest.approx([v for point in typed for v in point], abs=1e-6)

    # someone edits it through the API: the page's next save says so
    path = f"/properties/{prop}"
    _patch(api, path, {"geofence": {"radius_m": 75}}, _etag(api, path))
    p.locator("#fence-kind label", has_text="Polygon").click()
    corners.fill(drawn)
    _save_and_expect(p, "Someone changed this since you opened it")
    expect(p.locator("#fence-radius")).to_have_value("75")  # their version shown
    assert api.get(path)["geofence"] == {"radius_m": 75.0}
    page.assert_clean()


def test_billing_sees_a_sites_fence_but_cannot_save_it(
    stack: Stack, phone: Watched
) -> None:
    client, prop = _seed(stack)
    p = phone.page
    login(p, stack.url, BILLING, next_path="/clients")
    expect(p.locator(".client-row").first).to_be_visible()
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "list-phone")
    p.goto(f"{stack.url}/clients?client={client}&property={prop}")
    expect(p.locator(".property-row").first).to_be_visible()
    expect(p.locator("#client-new-job")).to_have_count(0)  # billing makes no job
    expect(p.locator("#fence-save")).to_be_disabled()
    expect(p.locator("#fence-radius")).to_have_value("60")
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "fence-phone")
    phone.assert_clean()
