"""The job-management help page walked through the office's screens (see conftest).

A dispatcher creates a job on the Jobs page, moves it through its lifecycle on
the Job page, adds line items from the price book and a part used from a depot,
ticks a task, adds notes; then the same job read through the API (``crewtrack
api`` on the same database) agrees with what the screens showed. Billing sends
the invoice with its payment link (the local Stripe server), the customer pays
(Stripe's signed webhook), the screens say Paid, and billing credits part of it. A second walk opens every tab at a phone's
width. Screenshots: test-output/e2e/office-*.png.
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from playwright.sync_api import Page, expect
from psycopg.types.json import Jsonb

from crewtrack.servers import PortAllocator
from dashboard.pages.job.model import TABS
from storage.users import create_user, issue_token
from tests.e2e.conftest import (
    DESKTOP,
    OUTPUT,
    PASSWORD,
    PHONE,
    ROOT,
    Stack,
    Watched,
    login,
)

pytestmark = pytest.mark.e2e

BILLING_USER = ("Bea Billing", "billing", "billing-office@example.com")
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@dataclass
class Api:
    """``crewtrack api`` on the stack's database, and a dispatcher's token."""

    url: str
    token: str

    def upload(self, path: str, kind: str, description: str, png: bytes) -> Any:
        """POST a photo as the phone app does (multipart: kind, description, file)."""
        boundary = "crewtrack-e2e-boundary"
        fields = [("kind", kind), ("description", description)]
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
            f"\r\n\r\n{value}\r\n".encode()
            for name, value in fields
        )
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{kind}.png"\r\nContent-Type: image/png\r\n\r\n'
            ).encode()
            + png
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(  # noqa: S310 (our own http URL)
            self.url + "/api/v1" + path,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def get(self, path: str) -> Any:
        return self.send("GET", path)

    def send(self, method: str, path: str, body: Any = None) -> Any:
        """A JSON request as the phone app or an integration makes it."""
        request = urllib.request.Request(  # noqa: S310 (our own http URL)
            self.url + "/api/v1" + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def as_user(self, stack: Stack, name: str, role: str, email: str) -> Api:
        """The same API with the token of another user (made if missing)."""
        with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT id FROM users WHERE email = %s", (email,))
            found = row.fetchone()
            user_id = (
                found[0] if found else create_user(conn, name, role, email, PASSWORD).id
            )
            return Api(self.url, issue_token(conn, user_id, f"e2e {role}"))


@pytest.fixture
def api(stack: Stack) -> Iterator[Api]:
    port = PortAllocator().free_port()
    settings = stack.settings.replace(api_port=port)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT id FROM users WHERE email = %s", (stack.dispatcher,)
        ).fetchone()
        assert row is not None
        token = issue_token(conn, row[0], "e2e office")
    log = settings.home / "api-office.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crewtrack", "api"],
            env={**os.environ, **settings.as_env()},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=1):  # noqa: S310
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
        yield Api(url, token)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=15)


def _png(rgb: tuple[int, int, int], size: int = 48) -> bytes:
    """A small solid-colour PNG (what a phone's photo is, to the page)."""
    row = b"\x00" + bytes(rgb) * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def _office_data(stack: Stack) -> None:
    """A client with a fenced site, stored as the API stores them (the stack's
    own seed keeps its addresses as lists, which the API cannot render), and a
    price-book family with two items."""
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        if conn.execute(
            "SELECT 1 FROM clients WHERE name = 'Atelier Lumière'"
        ).fetchone():
            return  # another test of the stack made them
        client = conn.execute(
            "INSERT INTO clients (name, email) "
            "VALUES ('Atelier Lumière', 'atelier@lumiere.example') RETURNING id"
        ).fetchone()
        assert client is not None
        conn.execute(
            "INSERT INTO properties (client_id, address, lat, lon, geofence) "
            "VALUES (%s, %s, 48.8647, 2.3490, %s)",
            (
                client[0],
                Jsonb({"line1": "8 Rue des Lilas", "city": "Paris"}),
                Jsonb({"radius_m": 40}),
            ),
        )
        row = conn.execute(
            "INSERT INTO price_book_families (name) VALUES ('Valves') "
            "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id"
        ).fetchone()
        assert row is not None
        for code, name, price in [
            ("VLV-1", "Safety valve 3 bar", "24.50"),
            ("VLV-2", "Ball valve 1/2 in", "9.99"),
        ]:
            conn.execute(
                "INSERT INTO price_book_items (family_id, kind, code, name, "
                "unit_price, tax_rate) VALUES (%s, 'part', %s, %s, %s, 20) "
                "ON CONFLICT (code) DO NOTHING",
                (row[0], code, name, price),
            )


def _report_on(api: Api, admin: Api, job_id: str) -> None:
    """A report template with a red family, assigned to the job; its answers, a
    reserve (raised, then resolved) and the customer's signature, sent as the
    phone and the office send them."""
    template = admin.send(
        "POST",
        "/report-templates",
        {
            "name": "Valve replacement report",
            "required_signatures": ["customer", "technician"],
            "families": [
                {
                    "key": "safety",
                    "name": "Safety checks",
                    "fields": [
                        {
                            "key": "pressure",
                            "label": "Test pressure (bar)",
                            "type": "number",
                            "mandatory": True,
                        },
                        {
                            "key": "tight",
                            "label": "No leak after 10 min",
                            "type": "checkbox",
                            "mandatory": True,
                        },
                    ],
                },
                {
                    "key": "details",
                    "name": "Details",
                    "fields": [{"key": "remarks", "label": "Remarks", "type": "text"}],
                },
            ],
        },
    )
    api.send("POST", f"/jobs/{job_id}/report", {"template_id": template["id"]})
    api.send(
        "PATCH",
        f"/jobs/{job_id}/report/fields",
        {"fields": {"pressure": {"value": 1.5}, "remarks": {"value": "Old valve"}}},
    )
    photo = base64.b64encode(_png((90, 90, 200))).decode()
    reserve = api.send(
        "POST",
        f"/jobs/{job_id}/report/reserves",
        {"field_key": "remarks", "comment": "Pipe corroded", "photos": [photo]},
    )
    api.send(
        "PATCH",
        f"/jobs/{job_id}/report/reserves/{reserve['id']}",
        {"status": "resolved", "comment": "pipe section replaced"},
    )
    signature = base64.b64encode(_png((20, 20, 20), 64)).decode()
    api.send(
        "PUT",
        f"/jobs/{job_id}/report/signatures/customer",
        {"signer_name": "Claire Lumière", "image": signature},
    )


def _finish_report(api: Api, job_id: str) -> None:
    """The last mandatory answer and the technician's signature."""
    api.send(
        "PATCH", f"/jobs/{job_id}/report/fields", {"fields": {"tight": {"value": True}}}
    )
    signature = base64.b64encode(_png((30, 30, 30), 64)).decode()
    api.send(
        "PUT",
        f"/jobs/{job_id}/report/signatures/technician",
        {"signer_name": "Tech 05", "image": signature},
    )
    for role in ("customer", "technician"):
        api.send("POST", f"/jobs/{job_id}/report/signatures/{role}/validate")


def _preview_shown(p: Page) -> None:
    """The invoice's PDF preview (page 1 as an image) has loaded."""
    p.wait_for_function(
        "() => { const i = document.querySelector('#job-body-invoice .inv-preview');"
        " return i && i.complete && i.naturalWidth > 100; }"
    )


def _bill(p: Page, stack: Stack, number: str) -> None:
    """Billing opens the completed job's Invoice tab, generates and sends it."""
    email = "billing-office@example.com"
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        if (
            conn.execute("SELECT 1 FROM users WHERE email = %s", (email,)).fetchone()
            is None
        ):
            create_user(conn, "Bea Billing", "billing", email, PASSWORD)
    p.goto(stack.url + "/logout")
    login(p, stack.url, email, next_path=f"/job?number={number}")
    expect(p.locator("#job-header")).to_contain_text(number)
    expect(p.locator("#job-crew-form")).to_be_hidden()  # billing never edits a crew
    _tab(p, "Invoice")
    p.locator("#job-inv-generate").click()
    expect(p.locator("#job-inv-result")).to_contain_text("generated.")
    card = p.locator("#job-body-invoice .invoice").first
    expect(card).to_contain_text("Draft")
    expect(card).to_contain_text("Safety valve 3 bar")
    expect(card).to_contain_text("Total 98.80")
    _preview_shown(p)
    pdf = card.get_by_role("link", name="Open the PDF").get_attribute("href")
    assert pdf is not None
    opened = p.request.get(stack.url + pdf)
    assert opened.headers["content-type"] == "application/pdf"
    _shot(p, "invoice-draft")
    card.get_by_role("button", name="Send by e-mail").click()
    expect(p.locator("#job-inv-result")).to_contain_text("sent.")
    expect(card).to_contain_text("Issued")
    expect(card.get_by_role("button", name="Credit note")).to_be_visible()
    expect(p.locator("#job-inv-generate")).to_be_disabled()  # issued: no new draft
    _preview_shown(p)
    _shot(p, "invoice")
    p.set_viewport_size(PHONE)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "invoice-sent-phone")
    p.set_viewport_size(DESKTOP)


def _invoice_list(p: Page, number: str) -> None:
    """The billing office's list: by status, each row linking its job."""
    p.get_by_role("link", name="Invoices").click()
    _pick(p, "invoices-status", "Issued")
    rows = p.locator("#invoices-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(number)
    expect(rows).to_contain_text("98.80 EUR")
    _shot(p, "invoices")
    p.set_viewport_size(PHONE)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "invoices-phone")
    p.set_viewport_size(DESKTOP)
    p.locator("#invoices-status .dash-dropdown-clear").click()
    _pick(p, "invoices-status", "Paid")
    expect(p.locator("#invoices-list")).to_contain_text("No invoice matches")


def _parts_from_the_office(p: Page, admin: Api) -> None:
    """The dispatcher adds a part used, from a depot, on the Parts & Serials tab
    (one safety valve: the line item of two covers it, the total stays), and a
    take back of a serial not on record is refused until its part is named."""
    depot = admin.send(
        "POST", "/depots", {"name": "Warehouse Nord", "kind": "stationary"}
    )
    valve = admin.get("/parts/catalog?q=Safety")["items"][0]
    admin.send(
        "POST", f"/depots/{depot['id']}/stock", {"item_id": valve["id"], "quantity": 5}
    )
    p.reload()
    _tab(p, "Parts & Serials")
    expect(p.locator("#job-part-forms")).to_be_visible()
    _pick(p, "job-part-item", "Safety valve")
    p.locator("#job-part-qty").fill("1")
    p.locator("#job-part-add").click()  # no depot chosen: the field says so
    expect(p.locator("#job-part-depot-error")).to_have_text(
        "the office names the depot"
    )
    _pick(p, "job-part-depot", "Warehouse Nord")
    p.locator("#job-part-add").click()
    expect(p.locator("#job-part-result")).to_contain_text("part added.")
    used = p.locator("#job-body-parts")
    expect(used).to_contain_text("Safety valve 3 bar")
    expect(used).to_contain_text("Warehouse Nord")
    p.locator("#job-tb-serial").fill("OLD-E2E-1")
    p.locator("#job-tb-condition label", has_text="Obsolete").click()
    p.locator("#job-tb-add").click()
    expect(p.locator("#job-tb-result")).to_contain_text("Not ")
    _shot(p, "parts")
    p.set_viewport_size(PHONE)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "parts-phone")
    p.set_viewport_size(DESKTOP)
    stock = admin.get(f"/depots/{depot['id']}/stock")
    left = [s["quantity"] for s in stock["stock"] if s["item_id"] == valve["id"]]
    assert left == ["4"]  # one valve left the depot


def _paid_through_stripe(p: Page, stack: Stack, api: Api, invoice: Any) -> None:
    """The sent invoice carries its payment link; the local Stripe's signed
    webhook marks it paid; the Invoice tab and /invoices say Paid."""
    assert stack.stripe is not None
    url = invoice["payment_url"]
    assert url.startswith(stack.stripe.base_url)
    job_page = f"{stack.url}/job?number={invoice['job_number']}&tab=invoice"
    p.goto(job_page)
    card = p.locator(f"#invoice-{invoice['id']}")
    link = card.get_by_role("link", name="payment link sent, not paid yet")
    expect(link).to_have_attribute("href", url)
    assert "Pay 98.80 EUR" in p.request.get(url).text()
    webhook = api.url + "/api/v1/payments/stripe/webhook"
    assert stack.stripe.pay(url.rsplit("/", 1)[1], webhook) == 200
    assert api.get(f"/invoices/{invoice['id']}")["status"] == "paid"
    p.goto(job_page)
    expect(card.locator(".status")).to_have_text("Paid")
    expect(card).to_contain_text("paid ")
    _shot(p, "invoice-paid")
    p.get_by_role("link", name="Invoices").click()
    _pick(p, "invoices-status", "Paid")
    rows = p.locator("#invoices-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(invoice["job_number"])
    expect(rows).to_contain_text("Paid")


def _partial_credit(p: Page, stack: Stack, api: Api, invoice: Any) -> None:
    """Billing credits half the call-out (40.00, no tax) of the paid invoice (a
    disputed arrival time) on the Invoice tab: more than is left is refused at its line; the
    credit note lists on the invoice with its PDF, and the API agrees."""
    p.goto(f"{stack.url}/job?number={invoice['job_number']}&tab=invoice")
    card = p.locator(f"#invoice-{invoice['id']}")
    callout = {"type": "job-inv-credit-qty", "invoice": invoice["id"], "line": 1}
    dash_id = json.dumps(callout, sort_keys=True, separators=(",", ":"))
    qty = p.locator(f"[id='{dash_id}']")
    qty.fill("2")
    p.locator("#job-inv-reason").fill("disputed arrival time")
    card.get_by_role("button", name="Credit note").click()
    expect(p.locator("#job-inv-result")).to_contain_text("only 1 left to credit")
    qty.fill("0.5")
    card.get_by_role("button", name="Credit note").click()
    expect(p.locator("#job-inv-result")).to_contain_text("issued (credit note)")
    expect(card).to_contain_text("Credited 20.00 · Left to credit 78.80 EUR")
    notes = card.locator(".inv-credit-notes li")
    expect(notes).to_have_count(1)
    expect(notes).to_contain_text("disputed arrival time")
    pdf = notes.get_by_role("link").get_attribute("href")
    assert pdf is not None
    assert p.request.get(stack.url + pdf).body().startswith(b"%PDF")
    after = api.get(f"/invoices/{invoice['id']}")
    assert after["credit"]["remaining_gross"] == "78.80"
    assert after["credit"]["lines"][1]["remaining_quantity"] == "0.5"
    _shot(p, "credit-note")
    p.set_viewport_size(PHONE)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "credit-note-phone")
    p.set_viewport_size(DESKTOP)


def _pick(p: Page, field: str, text: str) -> None:
    """Choose the option showing ``text`` in the drop-down ``#field``: open it,
    search, click the option (a multi-select stays open: Escape closes it)."""
    p.locator(f"#{field}").click()
    content = p.locator(".dash-dropdown-content")
    content.locator("input.dash-dropdown-search").fill(text)
    content.locator(".dash-dropdown-option", has_text=text).first.click()
    if content.count():
        p.keyboard.press("Escape")
    expect(p.locator(f"#{field}")).to_contain_text(text)


def _open_for_atelier(p: Page, form: str) -> None:
    """Open a New form (New Job, New Estimate): saved empty, it asks for a client;
    Atelier Lumière chosen, her only site is."""
    p.locator(f"#{form}-open").click()
    p.locator(f"#{form}-save").click()  # nothing filled in: the field says why
    expect(p.locator(f"#{form}-client-error")).to_have_text("pick a client")
    _pick(p, f"{form}-client", "Atelier")
    expect(p.locator(f"#{form}-property")).to_contain_text("8 Rue des Lilas")


def _valve_and_call_out(p: Page, picker: str, shown: Any) -> None:
    """With the line-item picker ``picker`` (dashboard/line_items.py, the Job page's
    and New Estimate's): 2 safety valves from the price book by family, then a
    custom call-out whose price, mistyped first, is refused at its field."""
    _pick(p, f"{picker}-family", "Valves")
    _pick(p, f"{picker}-item", "Safety valve")
    p.locator(f"#{picker}-qty").fill("2")
    p.locator(f"#{picker}-add").click()
    expect(shown).to_contain_text("Safety valve 3 bar")
    p.locator(f"#{picker}-desc").fill("Call-out")
    p.locator(f"#{picker}-price").fill("forty")
    p.locator(f"#{picker}-cadd").click()
    expect(p.locator(f"#{picker}-price-error")).not_to_be_empty()
    p.locator(f"#{picker}-price").fill("40")
    p.locator(f"#{picker}-cadd").click()
    expect(shown).to_contain_text("Call-out")
    expect(p.locator(f"#{picker}-price-error")).to_be_empty()


def _tab(p: Page, label: str) -> None:
    p.locator("#job-tabs button", has_text=label).first.click()
    expect(p.locator("#job-tabs button.active")).to_have_text(label)


def _shot(p: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(OUTPUT / f"office-{name}.png"), full_page=True)


def test_the_office_creates_a_job_runs_it_to_completed_and_the_api_agrees(
    stack: Stack, page: Watched, api: Api
) -> None:
    _office_data(stack)
    zone = stack.settings.company_zone
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(zone).date()
    p = page.page
    login(p, stack.url, stack.dispatcher, next_path="/jobs")
    expect(p.locator("#jobs-list")).to_contain_text("J-000042")
    expect(p.locator("#jobs-list")).to_contain_text("Café Müller")
    # the list's filters: a search by number, then by status
    p.locator("#jobs-search").fill("J-000043")
    p.locator("#jobs-search").press("Enter")
    expect(p.locator("#jobs-list tr.job-row")).to_have_count(1)
    p.locator("#jobs-search").fill("")
    p.locator("#jobs-search").press("Enter")
    _pick(p, "jobs-status", "Completed")
    expect(p.locator("#jobs-list tr.job-row")).to_have_count(1)
    expect(p.locator("#jobs-list")).to_contain_text("J-000042")
    _shot(p, "jobs")
    p.locator("#jobs-status .dash-dropdown-clear").click()
    expect(p.locator("#jobs-list")).to_contain_text("J-000043")
    # 1. Manual creation: New Job
    _open_for_atelier(p, "new-job")
    p.locator("#new-job-description").fill("Replace the safety valve")
    p.locator("#new-job-day").fill(tomorrow.isoformat())
    p.locator("#new-job-start").fill("09:00")
    p.locator("#new-job-end").fill("08:00")  # before its start: refused there
    _pick(p, "new-job-manager", "Tech 05")
    _pick(p, "new-job-auxiliary", "Tech 06")
    p.locator("#new-job-save").click()
    expect(p.locator("#new-job-end-error")).to_have_text("must be after start")
    p.locator("#new-job-end").fill("11:00")
    p.locator("#new-job-save").click()
    expect(p.locator("#new-job-result")).to_contain_text("created.")
    expect(p.locator("#new-job-end-error")).to_be_empty()
    number = p.locator("#new-job-link").inner_text().removeprefix("Open ")
    expect(p.locator("#jobs-list")).to_contain_text(number)  # no reload needed
    _shot(p, "new-job")
    # the technician's before and after photos, as the phone uploads them
    before = _png((200, 60, 40))
    (made,) = [
        j for j in api.get("/jobs?status=pending")["items"] if j["number"] == number
    ]
    api.upload(
        f"/jobs/{made['id']}/attachments",
        "photo_before",
        "Old valve",
        before,
    )
    api.upload(
        f"/jobs/{made['id']}/attachments",
        "photo_after",
        "New valve",
        _png((40, 160, 80)),
    )
    p.locator("#new-job-link").click()
    # 2. The Job page: Overview with the crew, the site map, Schedule
    expect(p.locator("#job-header")).to_contain_text(number)
    expect(p.locator("#job-header")).to_contain_text("Pending")
    overview = p.locator("#job-body-overview")
    expect(overview).to_contain_text("Tech 05 — Job Manager")
    expect(overview).to_contain_text("Tech 06 — Auxiliary")
    expect(overview).to_contain_text("8 Rue des Lilas, Paris")
    expect(p.locator("#job-site-map .js-plotly-plot")).to_be_visible()
    _shot(p, "overview")
    p.get_by_role("button", name="Schedule").click()
    expect(p.locator("#job-header")).to_contain_text("Scheduled")
    p.get_by_role("button", name="Start").click()
    expect(p.locator("#job-header")).to_contain_text("In Progress")
    # Tasks: a required one blocks Complete, listed before the click
    _tab(p, "Tasks")
    p.locator("#job-task-title").fill("Check safety valve")
    p.locator("#job-task-required label").click()
    p.locator("#job-task-add").click()
    expect(p.locator("#job-body-tasks")).to_contain_text("Check safety valve")
    expect(p.locator("#job-body-tasks .badge.required")).to_have_count(1)
    _tab(p, "Overview")
    expect(p.get_by_role("button", name="Complete")).to_be_disabled()
    expect(p.locator("#job-blockers-complete")).to_contain_text(
        "required task not checked off: Check safety valve"
    )
    _shot(p, "blocked")
    _tab(p, "Tasks")
    p.locator("#job-body-tasks .task label").click()
    expect(p.locator("#job-body-tasks .task-done")).to_have_count(1)
    _shot(p, "tasks")
    # Line Items: from the price book by family, and a custom one
    _tab(p, "Line Items")
    _valve_and_call_out(p, "job-li", p.locator("#job-body-line-items"))
    expect(p.locator("#job-li-totals")).to_contain_text("Total 98.80")
    _shot(p, "line-items")
    admin = api.as_user(stack, "Ada Admin", "admin", "admin-e2e@example.com")
    _parts_from_the_office(p, admin)
    # Notes: internal and public, visibly different
    _tab(p, "Notes")
    p.locator("#job-note-text").fill("Gate code 4711")
    p.locator("#job-note-add").click()
    expect(p.locator("#job-body-notes .note-internal")).to_contain_text("Gate code")
    p.locator("#job-note-visibility label", has_text="Public").click()
    p.locator("#job-note-text").fill("Valve replaced, system tested at 1.5 bar.")
    p.locator("#job-note-add").click()
    expect(p.locator("#job-body-notes .note-public")).to_contain_text("1.5 bar")
    internal = p.locator("#job-body-notes .note-internal").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    public = p.locator("#job-body-notes .note-public").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert internal != public
    _shot(p, "notes")
    # Photos & Documents: before/after thumbnails, served to the logged-in office
    _tab(p, "Photos & Documents")
    photos = p.locator("#job-body-photos")
    expect(photos).to_contain_text("Before")
    expect(photos).to_contain_text("After")
    expect(photos.locator("img")).to_have_count(2)
    p.wait_for_function(
        "() => [...document.querySelectorAll('#job-body-photos img')]"
        ".every(i => i.complete && i.naturalWidth === 48)"
    )
    link = photos.get_by_role("link", name="Download").first.get_attribute("href")
    assert link is not None
    saved = p.request.get(stack.url + link)  # the browser's session: logged in
    assert saved.status == 200
    assert saved.headers["content-disposition"].startswith("attachment;")
    assert "photo_before.png" in saved.headers["content-disposition"]
    assert saved.body() == before
    assert p.request.get(stack.url + link.replace(number, "J-000042")).status == 404
    _shot(p, "photos")
    # Report: the phone's answers, a red family, the reserve and its history
    _report_on(
        api,
        api.as_user(stack, "Ada Admin", "admin", "admin-e2e@example.com"),
        made["id"],
    )
    p.reload()
    _tab(p, "Report")
    report = p.locator("#job-body-report")
    expect(report.locator(".report-family-red")).to_have_text("Safety checks")
    expect(report.locator(".report-missing")).to_contain_text("No leak after 10 min")
    expect(report.locator(".reserve-resolved")).to_have_text("Resolved")
    expect(report.locator(".reserve-history")).to_contain_text("pipe section replaced")
    expect(report).to_contain_text("Claire Lumière")
    expect(report).to_contain_text("not signed (required)")
    p.wait_for_function(
        "() => [...document.querySelectorAll('#job-body-report img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    sign = report.locator(".signature img").first.get_attribute("src")
    assert sign is not None
    assert p.request.get(stack.url + sign).status == 200
    assert p.request.get(stack.url + sign.replace(number, "J-000042")).status == 404
    _shot(p, "report")
    p.set_viewport_size(PHONE)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    _shot(p, "report-phone")
    p.set_viewport_size(DESKTOP)
    # Hold and Resume, then Complete
    _tab(p, "Overview")
    p.locator("#job-reason").fill("waiting for the customer")
    p.get_by_role("button", name="Hold").click()
    expect(p.locator("#job-header")).to_contain_text("On Hold")
    expect(overview).to_contain_text("waiting for the customer")
    p.get_by_role("button", name="Resume").click()
    expect(p.locator("#job-header")).to_contain_text("In Progress")
    # the report's missing answer blocks Complete, listed before the click
    expect(p.get_by_role("button", name="Complete")).to_be_disabled()
    expect(p.locator("#job-blockers-complete")).to_contain_text("No leak after 10 min")
    _finish_report(api, made["id"])
    p.reload()
    p.get_by_role("button", name="Complete").click()
    expect(p.locator("#job-header")).to_contain_text("Completed")
    expect(p.locator("#job-actions")).to_contain_text("No status action")
    # Invoice: the dispatcher reads it but may not bill (the one matrix)
    _tab(p, "Invoice")
    expect(p.locator("#job-body-invoice")).to_contain_text("No invoice yet")
    expect(p.locator("#job-inv-form")).to_be_hidden()
    _tab(p, "History")
    history = p.locator("#job-body-history")
    for what in ("Created", "Scheduled", "Started", "Put on hold", "Completed"):
        expect(history).to_contain_text(what)
    expect(history).to_contain_text("Dana Dispatch (dispatcher)")
    expect(history).to_contain_text("dashboard")
    _shot(p, "history")
    # the same job through the API
    (job,) = [
        j for j in api.get("/jobs?status=completed")["items"] if j["number"] == number
    ]
    assert job["description"] == "Replace the safety valve"
    items = api.get(f"/jobs/{job['id']}/line-items")
    assert [i["description"] for i in items["items"]] == [
        "Safety valve 3 bar",
        "Call-out",
    ]
    assert items["totals"]["gross"] == "98.80"
    tasks = api.get(f"/jobs/{job['id']}/tasks")["items"]
    assert [(t["title"], t["required"], t["done"]) for t in tasks] == [
        ("Check safety valve", True, True)
    ]
    notes = api.get(f"/jobs/{job['id']}/notes")["items"]
    assert [n["visibility"] for n in notes] == ["internal", "public"]
    crew = api.get(f"/jobs/{job['id']}/crew")["items"]
    assert [(m["name"], m["role"]) for m in crew] == [
        ("Tech 05", "job_manager"),
        ("Tech 06", "auxiliary"),
    ]
    start = datetime.fromisoformat(job["scheduled_start"]).astimezone(zone)
    assert (start.date(), f"{start:%H:%M}") == (tomorrow, "09:00")
    # billing: Generate Invoice, look at the PDF's preview, send it by e-mail
    _bill(p, stack, number)
    (invoice,) = api.get(f"/invoices?job_id={job['id']}")["items"]
    assert invoice["status"] == "issued"
    assert invoice["emailed_at"] is not None
    assert invoice["totals"]["gross"] == "98.80"
    expect(p.locator("#job-body-invoice")).to_contain_text(invoice["number"])
    assert stack.smtp is not None
    mail = stack.smtp.inbox.messages[-1]
    assert mail["To"] == "atelier@lumiere.example"
    assert invoice["number"] in mail["Subject"]
    (pdf,) = [
        a for a in mail.iter_attachments() if a.get_content_type() == "application/pdf"
    ]
    assert pdf.get_filename() == f"{invoice['number']}.pdf"
    assert pdf.get_content().startswith(b"%PDF")
    _invoice_list(p, number)
    sent = {**invoice, "job_number": number}
    _paid_through_stripe(p, stack, api.as_user(stack, *BILLING_USER), sent)
    _partial_credit(p, stack, api.as_user(stack, *BILLING_USER), sent)
    page.assert_clean()


def _book_online(api: Api, zone: Any, day: Any) -> str:
    """A customer books on the website: the public endpoint, no token."""
    start = datetime.combine(day, datetime.min.time().replace(hour=14), zone)
    body = {
        "contact": {
            "name": "Émile Zola",
            "email": "emile@zola.example",
            "phone": "+33 1 23 45 67 89",
        },
        "address": {"line1": "3 Rue Lepic", "city": "Paris"},
        "service": {"description": "The kitchen tap leaks"},
        "preferred_start": start.isoformat(),
        "preferred_end": (start + timedelta(hours=2)).isoformat(),
    }
    request = urllib.request.Request(  # noqa: S310 (our own http URL)
        api.url + "/api/v1/online/bookings",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        receipt = json.loads(answer.read())
    assert receipt["status"] == "pending"
    return str(receipt["reference"])


def _at_both_widths(p: Page, name: str) -> None:
    _shot(p, name)
    p.set_viewport_size(PHONE)
    assert p.evaluate(NO_SIDEWAYS_SCROLL), name
    _shot(p, f"{name}-phone")
    p.set_viewport_size(DESKTOP)


def test_an_estimate_and_an_online_booking_become_jobs_through_the_screens(
    stack: Stack, page: Watched, api: Api
) -> None:
    """The help page's other two ways to create a job (the first, New Job, is
    walked above): an approved estimate converted to a job with its line items,
    prices and notes; an online booking confirmed on Bookings to confirm."""
    _office_data(stack)
    zone = stack.settings.company_zone
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(zone).date()
    p = page.page
    login(p, stack.url, stack.dispatcher, next_path="/estimates")
    # 2. From an Estimate: New Estimate with price-book and custom items, notes
    _open_for_atelier(p, "new-estimate")
    p.locator("#new-estimate-description").fill("Replace the boiler's safety valve")
    draft = p.locator("#new-estimate-items-view")
    _valve_and_call_out(p, "new-estimate-li", draft)
    expect(draft).to_contain_text("Total 98.80")
    p.locator("#new-estimate-note-internal").fill("Gate code 4711")
    p.locator("#new-estimate-note-public").fill("Valve under warranty for 2 years")
    _at_both_widths(p, "estimates-new")
    p.locator("#new-estimate-save").click()
    expect(p.locator("#new-estimate-result")).to_contain_text("created.")
    number = p.locator("#new-estimate-result").inner_text().split()[0]
    expect(draft).to_contain_text("No line items yet.")  # the form starts afresh
    expect(p.locator("#new-estimate-li-result")).to_be_empty()
    p.locator("#estimates-search").fill(number)
    p.locator("#estimates-search").press("Enter")
    row = p.locator("#estimates-list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Draft")
    expect(row).to_contain_text("98.80")
    _at_both_widths(p, "estimates")
    row.get_by_role("link", name=number).click()
    expect(p.locator("#estimate-header")).to_contain_text(number)
    expect(p.locator("#estimate-convert")).to_be_hidden()
    p.locator("#estimate-approve").click()
    expect(p.locator("#estimate-header")).to_contain_text("Approved")
    expect(p.locator("#estimate-approve")).to_be_hidden()
    expect(p.locator("#estimate-body")).to_contain_text("Gate code 4711")
    _at_both_widths(p, "estimates-approved")
    # a second tab still showing it approved: converting there is refused
    other = p.context.new_page()
    other.goto(p.url)
    expect(other.locator("#estimate-convert")).to_be_visible()
    p.locator("#estimate-convert").click()
    # Convert to Job opens the new job's page: everything carried over
    expect(p).to_have_url(re.compile(r"/job\?number=J-"))
    expect(p.locator("#job-header")).to_contain_text("Pending")
    expect(p.locator("#job-header")).to_contain_text("Replace the boiler")
    job_number = parse_qs(urlparse(p.url).query)["number"][0]
    _tab(p, "Line Items")
    expect(p.locator("#job-body-line-items")).to_contain_text("Safety valve 3 bar")
    expect(p.locator("#job-body-line-items")).to_contain_text("Call-out")
    expect(p.locator("#job-li-totals")).to_contain_text("Total 98.80")
    _tab(p, "Notes")
    expect(p.locator("#job-body-notes .note-internal")).to_contain_text("4711")
    expect(p.locator("#job-body-notes .note-public")).to_contain_text("warranty")
    _shot(p, "estimates-job")
    other.locator("#estimate-convert").click()
    expect(other.locator("#estimate-result")).to_contain_text(
        "the estimate was already converted"
    )
    expect(other.locator("#estimate-body")).to_contain_text(job_number)
    expect(other.locator("#estimate-convert")).to_be_hidden()
    _at_both_widths(other, "estimates-converted")
    other.close()
    # … and the API agrees
    (estimate,) = api.get(f"/estimates?q={number}")["items"]
    assert estimate["status"] == "converted"
    job = api.get(f"/jobs/{estimate['job_id']}")
    assert (job["number"], job["status"]) == (job_number, "pending")
    items = api.get(f"/jobs/{job['id']}/line-items")
    assert [
        (i["description"], i["quantity"], i["unit_price"]) for i in items["items"]
    ] == [
        ("Safety valve 3 bar", "2", "24.50"),
        ("Call-out", "1", "40.00"),
    ]
    assert items["totals"]["gross"] == "98.80"
    notes = api.get(f"/jobs/{job['id']}/notes")["items"]
    assert sorted((n["visibility"], n["text"]) for n in notes) == [
        ("internal", "Gate code 4711"),
        ("public", "Valve under warranty for 2 years"),
    ]
    # 3. Via Online Booking: the website posts it; the office confirms it
    reference = _book_online(api, zone, tomorrow)
    p.goto(stack.url + "/bookings")
    waiting = p.locator("#bookings-list tbody tr", has_text=reference)
    expect(waiting).to_contain_text("Émile Zola")
    expect(waiting).to_contain_text("3 Rue Lepic, Paris")
    expect(waiting).to_contain_text("The kitchen tap leaks")
    expect(waiting).to_contain_text("14:00–16:00")
    _at_both_widths(p, "bookings")
    waiting.get_by_role("link", name=re.compile("^Confirm J-")).click()
    expect(p.locator("#booking-facts")).to_contain_text(reference)
    expect(p.locator("#booking-day")).to_have_value(tomorrow.isoformat())
    expect(p.locator("#booking-start")).to_have_value("14:00")
    p.locator("#booking-confirm").click()  # no Job Manager yet: the field says so
    expect(p.locator("#booking-manager-error")).to_have_text("pick one")
    _pick(p, "booking-manager", "Tech 05")
    _at_both_widths(p, "bookings-confirm")
    p.locator("#booking-confirm").click()
    expect(p.locator("#booking-result")).to_contain_text("scheduled.")
    expect(p.locator("#bookings-list")).not_to_contain_text(reference)
    expect(p.locator("#booking-facts")).to_contain_text("Scheduled")
    expect(p.locator("#booking-form")).to_be_hidden()
    _shot(p, "bookings-confirmed")
    booked = p.locator("#booking-facts a").inner_text()
    (confirmed,) = [
        j for j in api.get("/jobs?status=scheduled")["items"] if j["number"] == booked
    ]
    assert confirmed["description"] == "The kitchen tap leaks"
    crew = api.get(f"/jobs/{confirmed['id']}/crew")["items"]
    assert [(m["name"], m["role"]) for m in crew] == [("Tech 05", "job_manager")]
    start = datetime.fromisoformat(confirmed["scheduled_start"]).astimezone(zone)
    assert (start.date(), f"{start:%H:%M}") == (tomorrow, "14:00")
    page.assert_clean()


def test_every_tab_of_a_job_works_at_a_phone_width(
    stack: Stack, phone: Watched
) -> None:
    p = phone.page
    login(p, stack.url, stack.dispatcher, next_path=f"/job?number={stack.job_number}")
    expect(p.locator("#job-header")).to_contain_text(stack.job_number)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    for value, label in TABS:
        _tab(p, label)
        expect(p.locator(f"#job-panel-{value}")).to_be_visible()
        expect(p.locator(f"#job-body-{value}")).not_to_be_empty()
        if value == "sessions":
            link = p.locator("#job-body-sessions a", has_text="Location history")
            expect(link).to_have_attribute("href", f"/audit?session={stack.session_id}")
            expect(p.locator("#job-body-sessions")).to_contain_text("Tech 00")
        assert p.evaluate(NO_SIDEWAYS_SCROLL), value
        _shot(p, f"{value}-phone")
    _tab(p, "Sessions")
    p.locator("#job-body-sessions a", has_text="Location history").click()
    expect(p.locator("#audit-record")).to_contain_text("v2 of 2")
    # billing reviews the job: no crew form, no status action, line items allowed
    email = "billing-office@example.com"
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        if (
            conn.execute("SELECT 1 FROM users WHERE email = %s", (email,)).fetchone()
            is None
        ):
            create_user(conn, "Bea Billing", "billing", email, PASSWORD)
    p.wait_for_load_state("networkidle")  # the audit's reads end before logging out
    p.goto(stack.url + "/logout")
    login(p, stack.url, email, next_path=f"/job?number={stack.job_number}")
    expect(p.locator("#job-header")).to_contain_text(stack.job_number)
    expect(p.locator("#job-actions")).to_contain_text("No status action")
    expect(p.locator("#job-crew-form")).to_be_hidden()
    _tab(p, "Line Items")
    expect(p.locator("#job-li-form")).to_be_visible()
    _tab(p, "Tasks")
    expect(p.locator("#job-task-form")).to_be_hidden()
    _shot(p, "billing-phone")
    phone.assert_clean()
