"""The "Perform a job" help page, Steps 1-7, then Generate Invoice through to paid.

Everything goes through the real API server (aiohttp on a TCP port) over a real
PostgreSQL + TimescaleDB and Redis; the invoice e-mail goes to a real SMTP
server (aiosmtpd); payment goes through a local server speaking Stripe's API to
the official SDK and is confirmed by a signed webhook.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from tests.integration.api.conftest import World
from tests.report_templates import boiler_template

PNG = base64.b64encode(
    b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x01" * 20
).decode()
PHOTO = base64.b64encode(b"\xff\xd8\xff\xe0" + b"photo-bytes" * 10).decode()


# -- setup through the API: clients, price book, depots, template --------------------------


@dataclass
class Seed:
    client_id: str
    site_id: str
    items: dict[str, str]
    depots: dict[str, str]
    template_id: str


async def seed(w: World) -> Seed:
    client = await w.call(
        "admin",
        "POST",
        "/clients",
        201,
        {"name": "Émile Zola", "email": "emile@client.example"},
    )
    site = await w.call(
        "admin",
        "POST",
        "/properties",
        201,
        {
            "client_id": client["id"],
            "address": {"line1": "12 rue de Médan", "city": "Paris"},
            "location": {"lat": 48.85, "lon": 2.35},
        },
    )
    families: dict[str, str] = {}
    for name in ("Pumps", "Fittings", "Services", "Labour"):
        families[name] = (
            await w.call("admin", "POST", "/price-book/families", 201, {"name": name})
        )["id"]
    items: dict[str, str] = {}
    for key, family, kind, code, name, price, rate in [
        ("pump", "Pumps", "part", "PMP-1", "Circulator pump", "120.00", "20"),
        ("valve", "Fittings", "part", "VLV-1", 'Ball valve ½"', "9.99", "20"),
        (
            "service",
            "Services",
            "service",
            "SRV-1",
            "Annual boiler service",
            "80.00",
            "10",
        ),
        ("labour", "Labour", "service", "LAB-1", "Labour (hourly)", "60.00", "20"),
    ]:
        items[key] = (
            await w.call(
                "admin",
                "POST",
                "/price-book/items",
                201,
                {
                    "family_id": families[family],
                    "kind": kind,
                    "code": code,
                    "name": name,
                    "unit_price": price,
                    "tax_rate": rate,
                },
            )
        )["id"]
    await w.call(
        "admin",
        "PUT",
        f"/parts/catalog/{items['pump']}/stock-settings",
        200,
        {"serialized": True},
    )
    await w.call(
        "admin",
        "PUT",
        f"/parts/catalog/{items['labour']}/stock-settings",
        200,
        {"bill_from_sessions": True},
    )
    depots: dict[str, str] = {}
    for who in ("tess", "alex"):
        depots[who] = (
            await w.call(
                "admin",
                "POST",
                "/depots",
                201,
                {
                    "name": f"Van of {who}",
                    "kind": "mobile",
                    "technician_id": w.people.technician_ids[who],
                },
            )
        )["id"]
    depots["warehouse"] = (
        await w.call(
            "admin", "POST", "/depots", 201, {"name": "Warehouse", "kind": "stationary"}
        )
    )["id"]
    await w.call(
        "admin",
        "POST",
        f"/depots/{depots['tess']}/stock",
        201,
        {"item_id": items["pump"], "serials": ["P-1", "P-2", "OLD-1"]},
    )
    await w.call(
        "admin",
        "POST",
        f"/depots/{depots['tess']}/stock",
        201,
        {"item_id": items["valve"], "quantity": 10},
    )
    await w.call(
        "admin",
        "POST",
        f"/depots/{depots['alex']}/stock",
        201,
        {"item_id": items["pump"], "serials": ["B-9"]},
    )
    template = await w.call(
        "admin",
        "POST",
        "/report-templates",
        201,
        boiler_template(),
    )
    return Seed(client["id"], site["id"], items, depots, template["id"])


async def make_job(w: World, s: Seed, description: str, *, auxiliary: bool) -> str:
    start = datetime.now(UTC) - timedelta(hours=2)
    job = await w.call(
        "dispatcher",
        "POST",
        "/jobs",
        201,
        {
            "client_id": s.client_id,
            "property_id": s.site_id,
            "description": description,
            "line_items": [
                {
                    "description": "Diagnosis",
                    "quantity": "1",
                    "unit_price": "45.00",
                    "tax_rate": "20",
                }
            ],
        },
    )
    await w.call(
        "dispatcher",
        "POST",
        f"/jobs/{job['id']}/schedule",
        200,
        {
            "start": start.isoformat(),
            "end": (start + timedelta(hours=3)).isoformat(),
            "technician_id": w.people.technician_ids["tess"],
        },
    )
    if auxiliary:
        await w.call(
            "dispatcher",
            "PUT",
            f"/jobs/{job['id']}/crew/{w.people.technician_ids['alex']}",
            200,
            {"role": "auxiliary"},
        )
    return str(job["id"])


async def job_with_report(
    w: World, description: str, *, auxiliary: bool = False
) -> tuple[Seed, str]:
    """A scheduled job of the seeded company with the seeded report template assigned."""
    s = await seed(w)
    return s, await make_job_with_report(w, s, description, auxiliary=auxiliary)


async def make_job_with_report(
    w: World, s: Seed, description: str, *, auxiliary: bool = False
) -> str:
    """A scheduled job of an already seeded company, with its report template."""
    job_id = await make_job(w, s, description, auxiliary=auxiliary)
    await w.call(
        "dispatcher",
        "POST",
        f"/jobs/{job_id}/report",
        201,
        {"template_id": s.template_id},
    )
    return job_id


async def install_old_pump(w: World, s: Seed) -> None:
    """An earlier job left pump OLD-1 at this client (take back Case 1 needs it)."""
    job_id = await make_job(w, s, "Install pump last year", auxiliary=False)
    await w.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/parts",
        201,
        {"item_id": s.items["pump"], "quantity": 1, "serials": ["OLD-1"]},
    )
    await w.call("tess", "POST", f"/jobs/{job_id}/complete", 200)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def attachment_of(message: EmailMessage) -> bytes:
    for part in message.walk():
        if part.get_content_type() == "application/pdf":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError("no PDF attached")


async def wait_for_alert(w: World, count: int) -> list[Any]:
    client = aioredis.from_url(w.redis_url)
    try:
        for _ in range(200):
            entries = await client.xrange(w.settings.alerts_stream)
            if len(entries) >= count and len(w.alerts.received) >= count:
                return list(entries)
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    raise AssertionError("the reserve alert never reached Redis and the webhook")


# -- the article ---------------------------------------------------------------------------


async def test_perform_a_job_from_step_1_to_7_then_invoice_email_and_stripe_payment(
    world: World, tmp_path: Path
) -> None:
    w = world
    s = await seed(w)
    await install_old_pump(w, s)
    job_id = await make_job(w, s, "Annual boiler service", auxiliary=True)
    await w.call(
        "dispatcher",
        "POST",
        f"/jobs/{job_id}/report",
        201,
        {"template_id": s.template_id},
    )
    await w.call(
        "dispatcher",
        "POST",
        f"/jobs/{job_id}/notes",
        201,
        {"visibility": "internal", "text": "Customer disputes every bill"},
    )
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/notes",
        201,
        {"visibility": "public", "text": "Boiler serviced; all seals replaced."},
    )

    # Step 1 - select the job from the list of current jobs.
    listed = await w.call("tess", "GET", "/jobs", 200)
    assert job_id in [j["id"] for j in listed["items"]]

    # Step 2 - description: Tess is the Job Manager, Alex an auxiliary.
    crew = await w.call("tess", "GET", f"/jobs/{job_id}/crew", 200)
    roles = {c["technician_id"]: c["role"] for c in crew["items"]}
    assert roles[w.people.technician_ids["tess"]] == "job_manager"
    assert roles[w.people.technician_ids["alex"]] == "auxiliary"

    # Step 3 - start the job; clock in (95 minutes of work).
    await w.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    clock_in = (datetime.now(UTC) - timedelta(minutes=95)).isoformat()
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/sessions",
        201,
        {"event": "clock_in", "at": clock_in},
    )

    # Step 4.1 - the report: families, red ones hold mandatory fields.
    report = await w.call("tess", "GET", f"/jobs/{job_id}/report", 200)
    assert [(f["name"], f["has_mandatory"]) for f in report["families"]] == [
        ("Safety checks", True),
        ("Details", False),
    ]
    # A wrong type is refused with a pointer, and nothing changes.
    bad = await w.call(
        "alex",
        "PATCH",
        f"/jobs/{job_id}/report/fields",
        422,
        {"fields": {"remarks": {"value": "ok"}, "pressure": {"value": "high"}}},
    )
    assert bad["errors"][0]["pointer"] == "/fields/pressure/value"
    assert (await w.call("tess", "GET", f"/jobs/{job_id}/report", 200))[
        "version"
    ] == report["version"]
    # The auxiliary fills fields, with comments, a date, a time and a scanned barcode.
    report = await w.call(
        "alex",
        "PATCH",
        f"/jobs/{job_id}/report/fields",
        200,
        {
            "fields": {
                "gas_tight": {"value": True, "comment": "checked with spray"},
                "visit_date": {"value": datetime.now(UTC).date().isoformat()},
                "arrival": {"value": "08:30"},
                "remarks": {"value": "Soot on the burner"},
                "meter": {"value": "4006381333931"},
                "witness": {"value": {"name": "Mme Zola", "image": PNG}},
            }
        },
    )
    # The stop button is refused while mandatory fields are missing: each is named.
    refused = await w.call("tess", "POST", f"/jobs/{job_id}/complete", 409)
    messages = [b["message"] for b in refused["blocking_items"]]
    assert "Safety checks › Pressure (bar) is mandatory" in messages
    assert "Safety checks › Installation approved is mandatory" in messages
    assert "Safety checks › Gas tightness OK is mandatory" not in messages
    await w.call(
        "tess",
        "PATCH",
        f"/jobs/{job_id}/report/fields",
        200,
        {"fields": {"pressure": {"value": 1.4}, "approved": {"value": "yes"}}},
    )

    # A reserve on a field, with a comment and a photo: the back office is alerted.
    reserve = await w.call(
        "alex",
        "POST",
        f"/jobs/{job_id}/report/reserves",
        201,
        {"field_key": "remarks", "comment": "Flue cracked", "photos": [PHOTO]},
    )
    assert reserve["status"] == "unresolved"
    [(_, entry)] = await wait_for_alert(w, 1)
    alert = json.loads(entry[b"payload"])
    assert (alert["reserve_id"], alert["client_id"], alert["site_id"]) == (
        reserve["id"],
        s.client_id,
        s.site_id,
    )
    assert w.alerts.received[0]["reserve_id"] == reserve["id"]
    assert w.alerts.bad_signatures == 0
    per_site = await w.call(
        "dispatcher",
        "GET",
        f"/reserves?client_id={s.client_id}&site_id={s.site_id}",
        200,
    )
    assert [r["id"] for r in per_site["items"]] == [reserve["id"]]
    await w.call(
        "dispatcher",
        "PATCH",
        f"/jobs/{job_id}/report/reserves/{reserve['id']}",
        200,
        {"status": "resolved", "comment": "flue replaced"},
    )

    # Step 4.2 - attachments: a photo with a description, a barcode reading.
    await w.call(
        "alex",
        "POST",
        f"/jobs/{job_id}/report/attachments",
        201,
        {"kind": "photo", "image": PHOTO, "description": "Burner after cleaning"},
    )
    await w.call(
        "alex",
        "POST",
        f"/jobs/{job_id}/report/attachments",
        201,
        {"kind": "barcode", "barcode": "SN-BOILER-77", "description": "Boiler plate"},
    )

    # Step 4.3 - signatures: the customer's and the technician's, each validated.
    await w.call(
        "tess",
        "PUT",
        f"/jobs/{job_id}/report/signatures/customer",
        200,
        {"signer_name": "Émile Zola", "image": PNG},
    )
    await w.call(
        "tess", "POST", f"/jobs/{job_id}/report/signatures/customer/validate", 200
    )
    await w.call(
        "tess",
        "PUT",
        f"/jobs/{job_id}/report/signatures/technician",
        200,
        {"signer_name": "Tess", "image": PNG},
    )
    signed = await w.call(
        "tess", "POST", f"/jobs/{job_id}/report/signatures/technician/validate", 200
    )
    assert signed["validated"] is True
    await w.call(
        "tess",
        "PUT",
        f"/jobs/{job_id}/report/signatures/customer",
        409,
        {"signer_name": "Someone else", "image": PNG},
    )

    # Step 5 - parts and services from the price book, serials for serialized parts.
    catalog = await w.call("tess", "GET", "/parts/catalog?family=Pumps", 200)
    assert [i["name"] for i in catalog["items"]] == ["Circulator pump"]
    assert catalog["items"][0]["serialized"] is True
    assert (await w.call("tess", "GET", "/parts/catalog?q=valve", 200))["items"][0][
        "id"
    ] == s.items["valve"]
    other_depot = await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/parts",
        422,
        {"item_id": s.items["pump"], "quantity": 1, "serials": ["B-9"]},
    )
    assert other_depot["errors"] == [
        {
            "pointer": "/serials/0",
            "detail": f"serial B-9 is in another depot ({s.depots['alex']})",
        }
    ]
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/parts",
        201,
        {"item_id": s.items["pump"], "quantity": 2, "serials": ["P-1", "P-2"]},
    )
    twice = await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/parts",
        422,
        {"item_id": s.items["pump"], "quantity": 1, "serials": ["P-1"]},
    )
    assert "already installed" in twice["errors"][0]["detail"]
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/parts",
        201,
        {"item_id": s.items["valve"], "quantity": 3},
    )
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/parts",
        201,
        {"item_id": s.items["service"], "quantity": 1},
    )
    parts = await w.call(
        "alex",
        "POST",
        f"/jobs/{job_id}/parts",
        201,
        {"item_id": s.items["labour"], "quantity": 1},
    )
    # 240 + 29.97 + 60 (placeholder hour) at 20 %; 80 at 10 %.
    assert parts["totals"]["net"] == "409.97"
    assert [(r["rate"], r["net"], r["tax"]) for r in parts["totals"]["by_rate"]] == [
        ("10", "80.00", "8.00"),
        ("20", "329.97", "65.99"),
    ]
    stock = await w.call("tess", "GET", f"/depots/{s.depots['tess']}/stock", 200)
    assert {u["serial"] for u in stock["serials"]} == set()
    assert [x["quantity"] for x in stock["stock"]] == ["7"]

    # Step 6 - take back. Case 1: OLD-1 was installed at this client.
    check = await w.call(
        "tess", "GET", f"/jobs/{job_id}/take-backs/check?serial=OLD-1", 200
    )
    assert check["found"] is True
    assert (check["family"], check["item"]["name"]) == ("Pumps", "Circulator pump")
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/take-backs",
        201,
        {"serial": "OLD-1", "condition": "needs_repair"},
    )
    # Case 2: an unknown serial; the family list comes from this client's parts.
    check = await w.call(
        "tess", "GET", f"/jobs/{job_id}/take-backs/check?serial=X-77", 200
    )
    assert check["found"] is False
    assert "Pumps" in check["client_families"]
    await w.call(
        "tess",
        "POST",
        f"/jobs/{job_id}/take-backs",
        201,
        {"serial": "X-77", "condition": "obsolete", "item_id": s.items["pump"]},
    )
    # Needs Repair is in the depot but not usable; Obsolete can never be used again.
    manager_view = await w.call(
        "admin", "GET", f"/depots/{s.depots['tess']}/stock", 200
    )
    assert [(u["serial"], u["usable"]) for u in manager_view["serials"]] == [
        ("OLD-1", False)
    ]
    tech_view = await w.call("tess", "GET", f"/depots/{s.depots['tess']}/stock", 200)
    assert tech_view["serials"] == []
    for serial in ("OLD-1", "X-77"):
        await w.call(
            "tess",
            "POST",
            f"/jobs/{job_id}/parts",
            422,
            {"item_id": s.items["pump"], "quantity": 1, "serials": [serial]},
        )
    await w.call("admin", "POST", "/serials/X-77/repair", 409)
    history = await w.call("admin", "GET", "/serials/OLD-1", 200)
    assert [h["kind"] for h in history["history"]] == [
        "received",
        "installed",
        "taken_back",
    ]
    assert history["history"][-1]["condition"] == "needs_repair"

    # Step 7 - stop: only the Job Manager completes; the report is then read-only.
    await w.call("alex", "POST", f"/jobs/{job_id}/complete", 403)
    await w.call("tess", "POST", f"/jobs/{job_id}/complete", 200)
    await w.call(
        "tess",
        "PUT",
        f"/jobs/{job_id}/report/signatures/technician",
        409,
        {"signer_name": "Tess again", "image": PNG},
    )

    # Generate Invoice: lines, parts, labour from the session, public notes only.
    draft = await w.call("billing", "POST", f"/jobs/{job_id}/invoice", 201)
    assert draft["status"] == "draft"
    assert draft["public_notes"] == ["Boiler serviced; all seals replaced."]
    labour = [x for x in draft["lines"] if x["source"] == "labour"]
    assert (
        labour[0]["quantity"] == "1.75"
    )  # 95 min → 7 started quarter hours (one clocked session)
    # 45 + 240 + 29.97 + 105 = 419.97 at 20 % (tax 83.99); 80 at 10 % (tax 8)
    assert (
        draft["totals"]["net"],
        draft["totals"]["tax"],
        draft["totals"]["gross"],
    ) == ("499.97", "91.99", "591.96")
    # Profitability's revenue is what the invoice bills: lines, parts, services, labour.
    profit = await w.call("billing", "GET", f"/jobs/{job_id}/profitability", 200)
    assert profit["revenue"] == draft["totals"]["net"]
    sent = await w.call("billing", "POST", f"/invoices/{draft['id']}/send", 200)
    assert sent["status"] == "issued"
    assert sent["number"] == f"INV-{datetime.now(UTC).year}-000001"
    assert sent["payment_url"].startswith(w.stripe.base_url)
    # Sending again reuses the same payment page (idempotent per invoice version).
    again = await w.call("billing", "POST", f"/invoices/{draft['id']}/send", 200)
    assert again["payment_url"] == sent["payment_url"]
    assert w.stripe.create_calls == 1

    # The e-mail arrived over SMTP with the PDF; its text shows lines and totals.
    message = w.smtp.inbox.messages[0]
    assert message["To"] == "emile@client.example"
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    assert sent["payment_url"] in body.get_content()
    text = pdf_text(attachment_of(message), tmp_path)
    job = await w.call("billing", "GET", f"/jobs/{job_id}", 200)
    for expected in (
        "Dépannage Dupont SARL",
        sent["number"],
        f"Job: {job['number']}",
        "Émile Zola",
        "Circulator pump (S/N P-1, P-2)",
        "Annual boiler service",
        "Labour (hourly)",
        "Total without tax",
        "499.97 €",
        "Tax 20 % on 419.97 €",
        "83.99 €",
        "Tax 10 % on 80.00 €",
        "Total with tax",
        "591.96 €",
        "Boiler serviced; all seals replaced.",
    ):
        assert expected in text, f"{expected!r} not in the PDF text:\n{text}"
    assert "disputes" not in text

    # A webhook with a bad signature is refused and changes nothing.
    session_id = sent["payment_url"].rsplit("/", 1)[1]
    assert await w.stripe.pay(session_id, secret="whsec_forged") == 400
    assert (await w.call("billing", "GET", f"/invoices/{draft['id']}", 200))[
        "status"
    ] == "issued"
    # The real payment, confirmed by Stripe's signed webhook.
    w.stripe.sessions[session_id]["status"] = "open"
    assert await w.stripe.pay(session_id) == 200
    paid = await w.call("billing", "GET", f"/invoices/{draft['id']}", 200)
    assert paid["status"] == "paid"
    assert paid["payment_ref"] == session_id
    # The issued invoice never changes: a correction is a credit note.
    await w.call("billing", "POST", f"/jobs/{job_id}/invoice", 409)
    note = await w.call(
        "billing",
        "POST",
        f"/invoices/{draft['id']}/credit-notes",
        201,
        {
            "lines": [
                {
                    "description": "Goodwill",
                    "quantity": 1,
                    "unit_price": "10.00",
                    "tax_rate": "20",
                }
            ]
        },
    )
    assert note["number"] == f"CN-{datetime.now(UTC).year}-000001"
    assert note["totals"]["gross"] == "12.00"
