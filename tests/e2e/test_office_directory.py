"""The office's directory walked through the Clients, Technicians, Price book
and Report templates pages (see conftest).

A dispatcher finds a client by name, opens its profile (contacts, properties,
jobs, New Job), draws a polygon fence on the property's map, is told next to
the field what is wrong with a bad corner, saves it and sees it without a
reload; the API reads the same fence. An edit made through the API meanwhile
makes the page's next save say it is stale instead of overwriting. Billing sees
the fence but cannot save it (the role matrix). An administrator adds a
price-book item and a report template's field through the screens, and the
item is then used on a job. Screenshots: test-output/e2e/directory-*.png,
office-price-book*.png and office-report-templates*.png at desktop and phone
width.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Page, expect
from psycopg.types.json import Jsonb

from storage.users import create_user
from tests.e2e.conftest import OUTPUT, Stack, Watched, login
from tests.e2e.test_office import Api, _pick, api  # noqa: F401 (the API fixture)

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


def _click_until(p: Page, x: float, y: float, lines: int) -> None:
    """Click the map until the corners list has ``lines`` lines: a click while
    the map is being redrawn (after the last corner) is lost, as a person's
    would be, and they click again."""
    corners = p.locator("#fence-vertices")
    for _attempt in range(10):
        p.mouse.click(x, y)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if len(corners.input_value().splitlines()) >= lines:
                return
            p.wait_for_timeout(100)
    raise AssertionError(f"the map took no corner {lines}: {corners.input_value()!r}")


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
    expect(p.locator("#fence-map .maplibregl-canvas")).to_be_visible()
    p.wait_for_timeout(1000)  # the map redrawn for the polygon
    box = graph.bounding_box()
    assert box is not None
    corners = p.locator("#fence-vertices")
    for n, (dx, dy) in enumerate([(0.4, 0.35), (0.6, 0.35), (0.5, 0.65)], 1):
        _click_until(p, box["x"] + box["width"] * dx, box["y"] + box["height"] * dy, n)
    drawn = corners.input_value()
    assert len(set(drawn.splitlines())) == 3, drawn
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
    expect(p.locator("#fence-map .js-plotly-plot")).to_be_visible()
    p.wait_for_timeout(500)  # the map drawn
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "fence-phone")
    phone.assert_clean()


def test_the_office_moves_a_technician_to_another_team_and_the_api_agrees(
    stack: Stack,
    page: Watched,
    api: Api,  # noqa: F811 (the fixture imported above)
) -> None:
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT id FROM technicians WHERE name = 'Tech 01'"
        ).fetchone()
        assert row is not None
    p = page.page
    login(p, stack.url, stack.dispatcher, next_path="/technicians")
    expect(p.locator("#tech-team-summary")).to_contain_text("North")
    p.locator("#tech-pick").click()
    p.locator(".dash-dropdown-content input.dash-dropdown-search").fill("Tech 01")
    p.locator(".dash-dropdown-option", has_text="Tech 01").first.click()
    expect(p.locator("#tech-team")).to_have_value("South")
    p.fill("#tech-name", "   ")
    p.click("#tech-save")
    expect(
        p.locator("#tech-name-error")
    ).not_to_be_empty()  # a blank name, at its field
    p.fill("#tech-name", "Tech 01")
    p.fill("#tech-team", "East")
    p.click("#tech-save")
    expect(p.locator("#tech-result")).to_contain_text("Tech 01 saved.")
    expect(p.locator(".tech-row", has_text="Tech 01")).to_contain_text("East")
    expect(p.locator("#tech-team-summary")).to_contain_text("East (1)")
    _shot(p, "technicians")
    assert api.get(f"/technicians/{row[0]}")["team"] == "East"
    p.set_viewport_size({"width": 390, "height": 844})
    p.wait_for_timeout(300)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "technicians-phone")
    page.assert_clean()


ADMIN = "admin-accounts@example.com"


def test_an_admin_adds_a_technician_registers_their_phone_sees_its_qr_codes_and_disables_them(
    stack: Stack, page: Watched
) -> None:
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM users WHERE email = %s", (ADMIN,)
        ).fetchone():
            create_user(conn, "Ada Admin", "admin", ADMIN, "correct horse battery")
    p = page.page
    login(p, stack.url, ADMIN, "correct horse battery", next_path="/users")
    expect(p.locator(".topbar a", has_text="Users & devices")).to_be_visible()
    expect(p.locator(".user-row", has_text="Dana Dispatch")).to_be_visible()

    # a technician: the password is generated and shown once
    p.fill("#user-add-name", "Nina Field")
    p.fill("#user-add-email", "not-an-address")
    p.locator("#user-add-role").click()
    p.locator(".dash-dropdown-option", has_text="Technician").first.click()
    p.click("#user-add")
    expect(p.locator("#user-add-email-error")).to_contain_text("e-mail")
    p.fill("#user-add-email", "nina.field@example.com")
    p.click("#user-add")
    expect(p.locator("#user-add-result")).to_contain_text("Nina Field added")
    expect(p.locator("#user-add-result")).to_contain_text("Shown once")
    assert len(p.locator("#shown-password").inner_text()) >= 16
    expect(p.locator(".user-row", has_text="Nina Field")).to_contain_text("technician")

    # her phone: the login and both apps' QR codes, once
    p.locator("#phone-technician").click()
    p.locator(".dash-dropdown-content input.dash-dropdown-search").fill("Nina")
    p.locator(".dash-dropdown-option", has_text="Nina Field").first.click()
    p.fill("#phone-label", "Nina's Pixel")
    p.click("#phone-register")
    expect(p.locator("#phone-result")).to_contain_text("registered for Nina Field")
    setup = p.locator("#phone-setup")
    expect(setup).to_contain_text("MQTT password")
    expect(setup).to_contain_text("/api/v1/osmand?token=dev_")
    for app in ("#setup-owntracks", "#setup-traccar-client"):
        qr = p.locator(f"{app} img.setup-qr")
        expect(qr).to_be_visible()
        assert qr.evaluate("i => i.complete && i.naturalWidth > 100")
    owntracks = p.locator("#setup-owntracks a").get_attribute("href") or ""
    assert owntracks.startswith("owntracks:///config?inline=")
    device = p.locator(".device-row", has_text="Nina Field")
    expect(device).to_contain_text("active")
    expect(device).to_contain_text("never heard from")
    setup.scroll_into_view_if_needed()
    _shot(p, "users-phone-setup")
    p.set_viewport_size({"width": 390, "height": 844})
    p.wait_for_timeout(300)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    qr_box = p.locator("#setup-owntracks img.setup-qr").bounding_box()
    assert qr_box is not None
    assert qr_box["width"] >= 200
    _shot(p, "users-phone-setup-phone")
    p.set_viewport_size({"width": 1280, "height": 900})

    # disabled: her phone is revoked with her; a reload shows no secret again
    p.locator("#user-pick").click()
    p.locator(".dash-dropdown-content input.dash-dropdown-search").fill("Nina")
    p.locator(".dash-dropdown-option", has_text="Nina Field").first.click()
    expect(p.locator("#user-role")).to_contain_text("Technician")
    p.click("#user-disable")
    expect(p.locator("#user-edit-result")).to_contain_text("Nina Field saved")
    expect(p.locator(".user-row", has_text="Nina Field")).to_contain_text("disabled")
    expect(p.locator(".device-row", has_text="Nina Field")).to_contain_text("revoked")
    p.reload()
    expect(p.locator(".user-row", has_text="Nina Field")).to_contain_text("disabled")
    expect(p.locator("#phone-setup")).to_have_count(0)
    expect(p.locator("#shown-password")).to_have_count(0)
    _shot(p, "users")
    with psycopg.connect(stack.settings.database_url) as conn:
        row = conn.execute(
            "SELECT u.disabled_at IS NOT NULL, d.revoked_at IS NOT NULL FROM users u "
            "JOIN devices d ON d.user_id = u.id WHERE u.email = 'nina.field@example.com'"
        ).fetchone()
    assert row == (True, True)


def _office_shot(p: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(OUTPUT / f"office-{name}.png"), full_page=True)


def _at_phone_width(p: Page, name: str) -> None:
    p.set_viewport_size({"width": 390, "height": 844})
    p.wait_for_timeout(300)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _office_shot(p, f"{name}-phone")
    p.set_viewport_size({"width": 1400, "height": 900})


def test_the_office_adds_a_price_book_item_and_a_template_field_and_bills_the_item(
    stack: Stack,
    page: Watched,
    api: Api,  # noqa: F811 (the fixture imported above)
) -> None:
    admin = api.as_user(stack, "Ada Admin", "admin", "admin-e2e@example.com")
    client = admin.send("POST", "/clients", {"name": "Jauge & Fils"})
    job = admin.send(
        "POST", "/jobs", {"client_id": client["id"], "description": "Swap the gauge"}
    )
    p = page.page
    login(p, stack.url, "admin-e2e@example.com", next_path="/price-book")

    # the price book: a family, an item (a bad price said at its field), the list
    p.fill("#pb-family-name", "Gauges")
    p.click("#pb-family-save")
    expect(p.locator("#pb-family-result")).to_contain_text("Family Gauges added.")
    expect(p.locator("#pb-family-summary")).to_contain_text("Gauges (0)")
    _pick(p, "pb-new-family-id", "Gauges")
    p.fill("#pb-new-code", "GAU-1")
    p.fill("#pb-new-name", "Pressure gauge 0-4 bar")
    p.fill("#pb-new-unit-price", "twelve")
    p.fill("#pb-new-tax-rate", "20")
    p.click("#pb-new-save")
    expect(p.locator("#pb-new-unit-price-error")).not_to_be_empty()
    p.fill("#pb-new-unit-price", "12.40")
    p.click("#pb-new-save")
    expect(p.locator("#pb-new-result")).to_contain_text("Pressure gauge 0-4 bar added.")
    expect(p.locator("#pb-new-unit-price-error")).to_be_empty()
    p.fill("#pb-search", "gauge")
    p.press("#pb-search", "Enter")
    rows = p.locator(".pb-items tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("12.40")

    # edit: someone changes it through the API meanwhile, the page says so
    _pick(p, "pb-edit-pick", "Pressure gauge")
    expect(p.locator("#pb-edit-unit-price")).to_have_value("12.40")
    (item,) = admin.get("/price-book/items?q=GAU-1")["items"]
    path = f"/price-book/items/{item['id']}"
    _patch(admin, path, {"unit_price": "13.00"}, _etag(admin, path))
    p.fill("#pb-edit-unit-price", "12.90")
    p.click("#pb-edit-save")
    expect(p.locator("#pb-edit-result")).to_contain_text(
        "Someone changed this since you opened it"
    )
    expect(p.locator("#pb-edit-unit-price")).to_have_value("13.00")
    p.fill("#pb-edit-unit-price", "12.90")
    p.click("#pb-edit-save")
    expect(p.locator("#pb-edit-result")).to_contain_text(
        "Pressure gauge 0-4 bar saved."
    )
    expect(rows).to_contain_text("12.90")
    _office_shot(p, "price-book")
    _at_phone_width(p, "price-book")

    # a new template, then a mandatory field added to it: red, as on the Report tab
    p.goto(f"{stack.url}/report-templates")
    p.fill("#rt-new-name", "Gauge check")
    p.fill("#rt-new-family", "Readings")
    p.fill("#rt-new-label", "Reading (bar)")
    _pick(p, "rt-new-type", "Number")
    p.click("#rt-new-save")
    expect(p.locator("#rt-new-result")).to_contain_text("Template Gauge check created.")
    expect(p.locator("#rt-list")).to_contain_text("Gauge check")
    _pick(p, "rt-pick", "Gauge check")
    view = p.locator("#rt-view")
    expect(view).to_contain_text("Reading (bar)")
    expect(view.locator(".report-family-red")).to_have_count(0)
    p.fill("#rt-field-family", "Readings")
    p.fill("#rt-field-label", "Gauge sealed")
    _pick(p, "rt-field-type", "Checkbox")
    p.locator("#rt-field-mandatory label").click()
    p.click("#rt-add-field")
    expect(p.locator("#rt-edit-result")).to_contain_text(
        "Field Gauge sealed added to Readings."
    )
    expect(view.locator(".report-family-red")).to_have_text("Readings")
    expect(view.locator(".report-missing")).to_contain_text("Gauge sealed")
    _office_shot(p, "report-templates")
    _at_phone_width(p, "report-templates")
    (template,) = [
        t for t in admin.get("/report-templates")["items"] if t["name"] == "Gauge check"
    ]
    assert [
        (f["key"], f["type"], f["mandatory"]) for f in template["families"][0]["fields"]
    ] == [("reading_bar", "number", False), ("gauge_sealed", "checkbox", True)]

    # the item on a job: the Job page's Line Items offer it, at its new price
    p.goto(f"{stack.url}/job?number={job['number']}&tab=line-items")
    _pick(p, "job-li-family", "Gauges")
    _pick(p, "job-li-item", "Pressure gauge")
    p.locator("#job-li-add").click()
    expect(p.locator("#job-body-line-items")).to_contain_text("Pressure gauge 0-4 bar")
    lines = admin.get(f"/jobs/{job['id']}/line-items")["items"]
    assert [(li["description"], li["unit_price"]) for li in lines] == [
        ("Pressure gauge 0-4 bar", "12.90")
    ]
    page.assert_clean()
