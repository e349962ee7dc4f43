"""The technician app in a phone's Chromium (390 px, emulated geolocation) against
the running stack plus its API: "Perform a job" Steps 1-4 and 7 with the network,
then the same job with the network cut from Start to End, then restored: the
API shows the same report, signatures, sessions and fixes, each once.

Screenshots of each step: test-output/e2e/techapp-*.png.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from crewtrack.servers import PortAllocator
from storage.users import create_user, issue_token
from tests.e2e.conftest import (
    DESKTOP,
    OUTPUT,
    PASSWORD,
    ROOT,
    SITE,
    Stack,
    Watched,
    _wait_http,
)
from tests.report_templates import boiler_template

TECH_EMAIL = "tech0@example.com"  # Tech 00, whose phone is dev00
DEVICE = "dev00"
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 20  # what the API's type check reads
METER = "4006381333931"
# The browser's barcode API, as a phone that has one: it reads METER in any photo.
DETECTOR = (
    "window.BarcodeDetector = class { async detect() {"
    f" return [{{ rawValue: '{METER}', format: 'ean_13' }}]; }} }};"
)
NO_DETECTOR = "delete window.BarcodeDetector;"


@dataclass
class AppServer:
    url: str
    admin: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - our own server
            f"{self.url}/api/v1{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.admin}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            text = response.read()
        return json.loads(text) if text else None


@pytest.fixture(scope="module")
def app_server(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """``crewtrack api`` on the stack's database, Redis and broker (serves /app/)."""
    port = PortAllocator().free_port()
    settings = stack.settings.replace(api_port=port, api_host="127.0.0.1")
    log_path = tmp_path_factory.mktemp("techapp") / "api.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crewtrack", "api"],
            env={**os.environ, **settings.as_env()},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/api/v1/health", proc, log_path)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            admin = create_user(conn, "Ada Admin", "admin", "admin-techapp@example.com")
            token = issue_token(conn, admin.id, "e2e")
        yield AppServer(url, token)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=15)


TEMPLATE = boiler_template()


def price_book(app: AppServer, tag: str, client_id: str, site_id: str) -> None:
    """Pumps (one serialized) and a service in the price book, Tech 00's van with
    two pumps, and an earlier job that left pump OLD-<tag> at the client."""
    tech = tech_00(app)
    families = {
        name: app.call("POST", "/price-book/families", {"name": f"{name} {tag}"})["id"]
        for name in ("Pumps", "Services")
    }
    items = {}
    for key, family, kind, name, price in [
        ("pump", "Pumps", "part", "Circulator pump", "120.00"),
        ("seal", "Pumps", "part", "Seal kit", "12.50"),
        ("service", "Services", "service", "Flue check", "35.00"),
    ]:
        items[key] = app.call(
            "POST",
            "/price-book/items",
            {
                "family_id": families[family],
                "kind": kind,
                "code": f"{key}-{tag}",
                "name": f"{name} {tag}",
                "unit_price": price,
                "tax_rate": "20",
            },
        )["id"]
    app.call(
        "PUT", f"/parts/catalog/{items['pump']}/stock-settings", {"serialized": True}
    )
    depots = app.call("GET", "/depots")["items"]
    van = next((d for d in depots if d["technician_id"] == tech["id"]), None)
    if van is None:
        van = app.call(
            "POST",
            "/depots",
            {"name": "Van 00", "kind": "mobile", "technician_id": tech["id"]},
        )
    serials = [f"P-{tag}-1", f"P-{tag}-2", f"OLD-{tag}"]
    app.call(
        "POST",
        f"/depots/{van['id']}/stock",
        {"item_id": items["pump"], "serials": serials},
    )
    app.call(
        "POST", f"/depots/{van['id']}/stock", {"item_id": items["seal"], "quantity": 10}
    )
    earlier = app.call(
        "POST",
        "/jobs",
        {"client_id": client_id, "property_id": site_id, "description": "Pump fitted"},
    )
    app.call(
        "POST",
        f"/jobs/{earlier['id']}/parts",
        {
            "item_id": items["pump"],
            "quantity": 1,
            "serials": [f"OLD-{tag}"],
            "depot_id": van["id"],
        },
    )


def tech_00(app: AppServer) -> dict[str, Any]:
    techs = app.call("GET", "/technicians")["items"]
    return dict(next(t for t in techs if t["name"] == "Tech 00"))


def make_job(app: AppServer, description: str, tag: str) -> dict[str, Any]:
    """A job for Tech 00 now, at the seeded site, with a contact, the report and
    the price book (``price_book``)."""
    tech = tech_00(app)
    client = app.call(
        "POST", "/clients", {"name": "Émile Zola", "email": "emile@client.example"}
    )
    site = app.call(
        "POST",
        "/properties",
        {
            "client_id": client["id"],
            "address": {
                "line1": "12 Rue de Rivoli",
                "city": "Paris",
                "postcode": "75004",
            },
            "location": {"lat": SITE[0], "lon": SITE[1]},
        },
    )
    price_book(app, tag, client["id"], site["id"])
    template = app.call("POST", "/report-templates", TEMPLATE)
    job = app.call(
        "POST",
        "/jobs",
        {
            "client_id": client["id"],
            "property_id": site["id"],
            "description": description,
            "site_contact": {
                "name": "Mme Zola",
                "phone": "+33 1 23 45 67 89",
                "email": "zola@client.example",
            },
        },
    )
    start = datetime.now(UTC) - timedelta(minutes=15)
    app.call(
        "POST",
        f"/jobs/{job['id']}/schedule",
        {
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "technician_id": tech["id"],
        },
    )
    app.call("POST", f"/jobs/{job['id']}/report", {"template_id": template["id"]})
    return dict(app.call("GET", f"/jobs/{job['id']}"))


def shot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"techapp-{name}.png"), full_page=True)


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] if page.viewport_size else True, width


def log_in(page: Page, app: AppServer) -> None:
    page.goto(f"{app.url}/app/")
    page.fill("#login-email", TECH_EMAIL)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.get_by_role("heading", name="My jobs")).to_be_visible()


def draw_signature(page: Page, prefix: str, name: str, *, offline: bool) -> None:
    if not offline:  # a sync landing mid-stroke re-lays the page out under the finger
        expect(page.locator("#sync-summary")).to_have_text("All synced")
    page.fill(f"#{prefix}-name", name)
    pad = page.locator(f"#{prefix}-pad")
    # in the middle of the screen, clear of the sync bar fixed at the bottom
    pad.evaluate("el => el.scrollIntoView({block: 'center'})")
    # input is hit-tested where the compositor has the page: let it draw the scroll
    page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )
    box = pad.bounding_box()
    assert box is not None
    x, y = box["x"], box["y"]
    page.mouse.move(x + 20, y + box["height"] * 0.7)
    page.mouse.down()
    for k in range(1, 12):
        page.mouse.move(x + 20 + k * 22, y + box["height"] * (0.3 if k % 2 else 0.7))
    page.mouse.up()
    expect(page.locator(f"#{prefix}-sign")).to_be_enabled()
    page.click(f"#{prefix}-sign")


def fill_report(page: Page, *, offline: bool) -> None:
    page.click("#tab-report")
    page.check("#field-gas_tight")
    page.fill("#field-pressure", "1.4")
    page.press("#field-pressure", "Tab")
    page.locator("#field-approved").get_by_role("button", name="Yes").click()
    page.fill("#field-remarks", "Soot on the burner")
    page.press("#field-remarks", "Tab")
    if offline:  # no BarcodeDetector in this browser: the code is typed
        expect(page.locator("#field-meter-scan")).to_have_count(0)
        page.fill("#field-meter", METER)
        page.press("#field-meter", "Tab")
    else:  # the camera's photo, read by the (stubbed) BarcodeDetector
        page.set_input_files(
            "#field-meter-camera",
            {"name": "meter.jpg", "mimeType": "image/jpeg", "buffer": JPEG},
        )
        expect(page.locator("#field-meter")).to_have_value(METER)
    page.click("#reserve-remarks")
    page.fill("#reserve-comment-remarks", "Flue cracked")
    page.click("#reserve-raise-remarks")
    page.set_input_files(
        "#photo-album",
        {"name": "boiler.jpg", "mimeType": "image/jpeg", "buffer": JPEG},
    )
    page.fill("#photo-description", "Boiler plate")
    page.click("#photo-add")
    expect(page.locator(".thumb figcaption")).to_have_text(["Boiler plate"])
    for role, name in (("customer", "Émile Zola"), ("technician", "Tech 00")):
        draw_signature(page, f"sig-{role}", name, offline=offline)
        page.click(f"#sig-{role}-validate")
        expect(page.locator(f"#signature-{role}")).to_contain_text("validated")


def add_parts_and_take_back(page: Page, tag: str, *, offline: bool) -> None:
    """Invoicing: parts by family and search, serials, the total; take backs."""
    page.click("#tab-parts")
    page.select_option("#part-family", f"Pumps {tag}")
    page.fill("#part-search", "seal")
    expect(page.locator("#catalog [data-item]")).to_have_count(1)
    page.click(f'[data-item="Seal kit {tag}"]')
    page.fill("#part-quantity", "2")
    page.click("#part-confirm")
    page.fill("#part-search", "")
    page.click(f'[data-item="Circulator pump {tag}"]')
    page.fill("#part-serials", f"P-{tag}-1")
    page.click("#part-confirm")
    page.select_option("#part-family", "")
    page.select_option("#part-kind", "service")
    page.click(f'[data-item="Flue check {tag}"]')
    page.click("#part-confirm")
    page.locator(f'[data-part="Flue check {tag}"] .part-delete').click()
    expect(page.locator("#part-lines li")).to_have_count(2)
    expect(page.locator("#parts-total")).to_have_text("145.00")
    # the old pump: found at the client online; offline, chosen by family then part
    page.fill("#tb-serial", f"OLD-{tag}")
    page.click("#tb-check")
    if offline:
        page.select_option("#tb-family", f"Pumps {tag}")
        page.select_option("#tb-item", label=f"Circulator pump {tag}")
    else:
        expect(page.locator("#tb-found")).to_contain_text(f"Circulator pump {tag}")
    page.select_option("#tb-condition", "needs_repair")
    page.click("#tb-submit")
    # a take back typed wrong: deleted; the old pump's condition corrected
    page.fill("#tb-serial", f"WRONG-{tag}")
    page.click("#tb-check")
    if offline:
        page.select_option("#tb-family", f"Pumps {tag}")
    else:
        expect(page.locator("#tb-choose")).to_contain_text("Not found")
        page.select_option("#tb-family", f"Pumps {tag}")
    page.select_option("#tb-item", label=f"Circulator pump {tag}")
    page.click("#tb-submit")
    page.locator(f'[data-take-back="WRONG-{tag}"] .tb-delete').click()
    page.select_option(f"#tb-condition-OLD-{tag}", "obsolete")
    expect(page.locator("#take-backs li")).to_have_count(1)
    shot(page, f"{tag}-5c-parts")


def wall(at: datetime, stack: Stack) -> str:
    """``at`` as the company's wall clock, as a datetime-local input takes it."""
    return at.astimezone(stack.settings.company_zone).strftime("%Y-%m-%dT%H:%M")


def reschedule_and_duplicate(
    page: Page, app: AppServer, stack: Stack, job: dict[str, Any]
) -> None:
    """Step 1's own actions the settings allow: move the job by 30 min, copy it."""
    start = datetime.fromisoformat(job["scheduled_start"]).replace(
        second=0, microsecond=0
    )
    start += timedelta(minutes=30)
    page.click("#reschedule")
    page.fill("#reschedule-start", wall(start, stack))
    page.fill("#reschedule-end", wall(start + timedelta(hours=2), stack))
    page.fill("#action-reason", "Customer asked for later")
    page.click("#action-confirm")
    expect(page.locator("#planned")).to_contain_text(
        start.astimezone(stack.settings.company_zone).strftime("%H:%M")
    )
    page.click("#duplicate")
    expect(page.locator("#duplicated")).to_be_visible()
    shot(page, "online-1b-rescheduled-duplicated")
    expect(page.locator("#sync-summary")).to_have_text("All synced", timeout=30_000)
    moved = app.call("GET", f"/jobs/{job['id']}")
    assert datetime.fromisoformat(moved["scheduled_start"]) == start


def decline_the_copy(page: Page, app: AppServer, job: dict[str, Any]) -> None:
    """The copy came back with the sync; the technician declines it."""
    found = app.call("GET", "/jobs?status=pending")["items"]
    [copy] = [j for j in found if j["description"] == job["description"]]
    page.goto(f"{app.url}/app/#/")
    page.locator(f'[data-job="{copy["number"]}"]').click()
    page.click("#decline")
    page.fill("#action-reason", "Not my trade")
    page.click("#action-confirm")
    expect(page.locator("#sync-summary")).to_have_text("All synced", timeout=30_000)
    shot(page, "online-8-copy-declined")
    declined = app.call("GET", f"/jobs/{copy['id']}")
    assert declined["status"] == "pending"
    assert declined["crew"] == []


def walk(
    page: Page, context: BrowserContext, job: dict[str, Any], tag: str, *, offline: bool
) -> None:
    """Open the job, Start, try End, fill the report, sign, End; cut the network
    from Start to End when ``offline``."""
    page.locator(f'[data-job="{job["number"]}"]').click()
    expect(page.locator("#description")).to_contain_text("Mme Zola")
    expect(page.locator("#my-role")).to_have_text("Job Manager")
    expect(page.locator("#navigate")).to_have_attribute(
        "href",
        f"geo:{SITE[0]},{SITE[1]}?q={SITE[0]},{SITE[1]}(12%20Rue%20de%20Rivoli%2C%2075004%2C%20Paris)",
    )
    expect(page.locator('a[href^="tel:"]')).to_have_count(1)
    expect(page.locator('a[href^="mailto:"]')).to_have_count(1)
    shot(page, f"{tag}-2-description")
    if offline:
        # the shell is cached and the worker answers this page before the cut
        page.wait_for_function("navigator.serviceWorker?.controller != null")
        context.set_offline(True)
    page.click("#start")
    page.click("#start-confirm")
    expect(page.locator("#job-status")).to_have_text("In progress")
    for k in range(3):  # the technician walks about the site while clocked in
        context.set_geolocation(
            {"latitude": SITE[0] + 0.0001 * k, "longitude": SITE[1], "accuracy": 9}
        )
        page.wait_for_timeout(400)
    expect(page.locator("#duration")).not_to_have_text("0:00:00")
    shot(page, f"{tag}-3-started")
    page.click("#end")
    refused = page.locator("#end-refused")
    expect(refused).to_contain_text("Safety checks › Pressure (bar) is mandatory")
    expect(refused).to_contain_text("the customer's signature is missing")
    shot(page, f"{tag}-4-end-refused")
    fill_report(page, offline=offline)
    expect(refused).to_have_count(0)  # filled: nothing blocks any more
    shot(page, f"{tag}-5-report")
    add_parts_and_take_back(page, tag, offline=offline)
    if offline:  # the phone reopens the app with no signal: all of it is still there
        page.reload()
        expect(page.locator("#job-status")).to_have_text("In progress")
        page.click("#tab-report")
        expect(page.locator("#field-pressure")).to_have_value("1.4")
        expect(page.locator("#signature-customer")).to_contain_text("validated")
        shot(page, f"{tag}-5b-reloaded-offline")
    page.click("#end")
    expect(page.locator("#job-status")).to_have_text("Completed")
    if offline:
        expect(page.locator("#sync-summary")).to_contain_text("Offline")
        expect(page.locator("#sync-summary")).to_contain_text("waiting to sync")
        page.click("#sync-summary")
        expect(page.locator("#sync-list")).to_contain_text("complete the job")
        shot(page, f"{tag}-6-waiting")
        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#sync-summary")).to_contain_text("All synced", timeout=30_000)
    expect(page.locator(".server-refusal")).to_have_count(0)
    shot(page, f"{tag}-7-synced")


def server_state(
    app: AppServer, stack: Stack, job_id: str, since: datetime
) -> dict[str, Any]:
    """What the office sees of the job afterwards, with its counts."""
    job = app.call("GET", f"/jobs/{job_id}")
    report = app.call("GET", f"/jobs/{job_id}/report")
    sessions = app.call("GET", f"/jobs/{job_id}/sessions")
    parts = app.call("GET", f"/jobs/{job_id}/parts")
    values = {f["key"]: f["value"] for fam in report["families"] for f in fam["fields"]}
    with psycopg.connect(stack.settings.database_url) as conn:
        fixes = conn.execute(
            "SELECT count(*), count(DISTINCT time), min(accuracy) FROM fixes "
            "WHERE device_id = %s AND time >= %s",
            (DEVICE, since),
        ).fetchone()
    assert fixes is not None
    return {
        "status": job["status"],
        "values": values,
        "reserves": [
            (r["field_key"], r["comment"], r["status"]) for r in report["reserves"]
        ],
        "photos": [(a["kind"], a["description"]) for a in report["attachments"]],
        "signatures": {
            role: (s["signer_name"], s["validated"])
            for role, s in report["signatures"].items()
        },
        "sessions": [(s["state"], len(s["intervals"])) for s in sessions["items"]],
        "pending": sessions["pending"],
        "fixes": fixes,
        "parts": sorted(
            (p["name"].rsplit(" ", 1)[0], p["quantity"], p["serials"])
            for p in parts["items"]
        ),
        "net": parts["totals"]["net"],
        "take_backs": [
            (b["serial"].split("-")[0], b["condition"]) for b in parts["take_backs"]
        ],
    }


EXPECTED = {
    "status": "completed",
    "reserves": [("remarks", "Flue cracked", "unresolved")],
    "photos": [("photo", "Boiler plate")],
    "signatures": {"customer": ("Émile Zola", True), "technician": ("Tech 00", True)},
    "sessions": [("closed", 1)],
    "pending": [],
    "net": "145.00",
    "take_backs": [("OLD", "obsolete")],
}


def check(state: dict[str, Any]) -> None:
    assert {k: state[k] for k in EXPECTED} == EXPECTED
    assert state["values"]["gas_tight"] is True
    assert state["values"]["pressure"] == "1.4"
    assert state["values"]["approved"] is True
    assert state["values"]["remarks"] == "Soot on the burner"
    assert state["values"]["meter"] == METER
    count, distinct, accuracy = state["fixes"]
    assert count >= 1, "the positions while clocked in reached the API"
    assert count == distinct, "each fix once"
    assert accuracy == pytest.approx(9.0)
    assert [(name, qty) for name, qty, _ in state["parts"]] == [
        ("Circulator pump", "1"),
        ("Seal kit", "2"),
    ]
    assert [len(serials) for _, _, serials in state["parts"]] == [1, 0]


def prepare(phone: Watched, stack: Stack, app: AppServer) -> BrowserContext:
    context = phone.page.context
    context.grant_permissions(["geolocation"], origin=app.url)
    context.set_geolocation({"latitude": SITE[0], "longitude": SITE[1], "accuracy": 9})
    return context


def test_a_technician_performs_a_job_on_the_phone_from_login_to_end(
    phone: Watched, stack: Stack, app_server: AppServer
) -> None:
    job = make_job(app_server, "Annual boiler service", "online")
    since = datetime.now(UTC)
    context = prepare(phone, stack, app_server)
    page = phone.page
    page.add_init_script(DETECTOR)
    page.goto(f"{app_server.url}/app/")
    shot(page, "online-0-login")
    log_in(page, app_server)
    expect(page.locator(f'[data-job="{job["number"]}"]')).to_be_visible()
    shot(page, "online-1-jobs")
    no_sideways_scroll(page)
    page.locator(f'[data-job="{job["number"]}"]').click()
    reschedule_and_duplicate(page, app_server, stack, job)
    page.click("#back")
    walk(page, context, job, "online", offline=False)
    no_sideways_scroll(page)
    check(server_state(app_server, stack, job["id"], since))
    decline_the_copy(page, app_server, job)
    phone.assert_clean()


def test_the_same_job_done_offline_from_start_to_end_syncs_once_when_back_online(
    phone: Watched, stack: Stack, app_server: AppServer
) -> None:
    job = make_job(app_server, "Boiler service without signal", "offline")
    since = datetime.now(UTC)
    context = prepare(phone, stack, app_server)
    page = phone.page
    page.add_init_script(NO_DETECTOR)
    log_in(page, app_server)
    expect(page.locator(f'[data-job="{job["number"]}"]')).to_be_visible()
    walk(page, context, job, "offline", offline=True)
    state = server_state(app_server, stack, job["id"], since)
    check(state)
    # a second sync (the app's loop, or a resend) changes nothing
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_timeout(1500)
    assert server_state(app_server, stack, job["id"], since) == state
    offline_failures = [e for e in phone.errors if "ERR_INTERNET_DISCONNECTED" not in e]
    assert offline_failures == []
    # the same screen at desktop width
    page.set_viewport_size(DESKTOP)
    page.goto(f"{app_server.url}/app/#/job/{job['id']}")
    expect(page.locator("#job-status")).to_have_text("Completed")
    shot(page, "desktop-job")
