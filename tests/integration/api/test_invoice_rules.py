"""Invoice and parts rules at the edges: gapless numbers when sending fails,
forged or mismatched Stripe webhooks, and the database's own immutability guards."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from api.app import init_app
from tests.fakes.stripe_server import sign_webhook
from tests.integration.api.conftest import ClientFactory, World
from tests.integration.api.test_perform_a_job import job_with_report, make_job, seed


async def completed_job_invoice(w: World) -> str:
    """A completed job (no report) and its draft invoice: 45.00 + 20 % = 54.00."""
    s = await seed(w)
    job_id = await make_job(w, s, "Quick fix", auxiliary=False)
    await w.call("tess", "POST", f"/jobs/{job_id}/start", 200)
    await w.call("tess", "POST", f"/jobs/{job_id}/complete", 200)
    draft = await w.call("billing", "POST", f"/jobs/{job_id}/invoice", 201)
    assert draft["totals"]["gross"] == "54.00"
    return str(draft["id"])


async def test_a_failed_send_does_not_burn_an_invoice_number(
    world: World,
    aiohttp_client: ClientFactory,
) -> None:
    w = world
    invoice_id = await completed_job_invoice(w)
    broken = await aiohttp_client(init_app(w.settings.replace(smtp_port=1)))
    response = await broken.post(
        f"/api/v1/invoices/{invoice_id}/send", headers=w.people.auth("billing")
    )
    assert response.status == 502
    assert response.content_type == "application/problem+json"
    unchanged = await w.call("billing", "GET", f"/invoices/{invoice_id}", 200)
    assert (unchanged["status"], unchanged["number"]) == ("draft", None)
    sent = await w.call("billing", "POST", f"/invoices/{invoice_id}/send", 200)
    assert sent["number"].endswith("-000001")


async def test_a_webhook_without_a_valid_signature_is_refused_and_changes_nothing(
    world: World,
) -> None:
    w = world
    invoice_id = await completed_job_invoice(w)
    sent = await w.call("billing", "POST", f"/invoices/{invoice_id}/send", 200)
    session_id = sent["payment_url"].rsplit("/", 1)[1]
    event = json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": "checkout.session.completed",
            "data": {"object": {"id": session_id}},
        }
    ).encode()
    for headers in (
        {},
        {"Stripe-Signature": "t=1,v1=deadbeef"},
        {"Stripe-Signature": sign_webhook(event, "whsec_someone_else")},
    ):
        response = await w.api.post(
            "/api/v1/payments/stripe/webhook", data=event, headers=headers
        )
        assert response.status == 400
        assert response.content_type == "application/problem+json"
    after = await w.call("billing", "GET", f"/invoices/{invoice_id}", 200)
    assert after["status"] == "issued"


async def test_a_payment_that_does_not_match_the_total_leaves_the_invoice_unpaid(
    world: World,
) -> None:
    w = world
    invoice_id = await completed_job_invoice(w)
    sent = await w.call("billing", "POST", f"/invoices/{invoice_id}/send", 200)
    session: dict[str, Any] = dict(
        w.stripe.sessions[sent["payment_url"].rsplit("/", 1)[1]]
    )
    session.update(status="complete", payment_status="paid", amount_total=100)
    event = {
        "id": "evt_short",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": session},
    }
    assert await w.stripe.deliver(event) == 200
    assert w.stripe.deliveries[-1][1]["outcome"].startswith("refused")
    assert (await w.call("billing", "GET", f"/invoices/{invoice_id}", 200))[
        "status"
    ] == "issued"


async def test_the_database_refuses_edits_of_issued_invoices_and_serial_history(
    world: World,
) -> None:
    w = world
    invoice_id = await completed_job_invoice(w)
    await w.call("billing", "POST", f"/invoices/{invoice_id}/issue", 200)
    async with await psycopg.AsyncConnection.connect(w.settings.database_url) as conn:
        with pytest.raises(psycopg.errors.RestrictViolation):
            await conn.execute(
                "UPDATE invoices SET gross = 1 WHERE id = %s", (invoice_id,)
            )
        await conn.rollback()
        with pytest.raises(psycopg.errors.RestrictViolation):
            await conn.execute("UPDATE serial_movements SET condition = 'ok'")
        await conn.rollback()
        with pytest.raises(psycopg.errors.RestrictViolation):
            await conn.execute("DELETE FROM invoices WHERE id = %s", (invoice_id,))


async def test_fields_and_signatures_refuse_bad_input_with_pointers(
    world: World,
) -> None:
    w = world
    _, job_id = await job_with_report(w, "Checks", auxiliary=True)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"gas_tight": {"value": "yes"}}, "/fields/gas_tight/value"),
        ({"visit_date": {"value": "31/12/2025"}}, "/fields/visit_date/value"),
        ({"arrival": {"value": "8h30"}}, "/fields/arrival/value"),
        ({"approved": {"value": "perhaps"}}, "/fields/approved/value"),
        (
            {"witness": {"value": {"name": "X", "image": "bm90LWFuLWltYWdl"}}},
            "/fields/witness/value/image",
        ),
        ({"nope": {"value": 1}}, "/fields/nope"),
    ]
    for fields, pointer in cases:
        problem = await w.call(
            "alex", "PATCH", f"/jobs/{job_id}/report/fields", 422, {"fields": fields}
        )
        assert [e["pointer"] for e in problem["errors"]] == [pointer]
    report = await w.call("alex", "GET", f"/jobs/{job_id}/report", 200)
    assert all(f["value"] is None for fam in report["families"] for f in fam["fields"])
    bad_image = await w.call(
        "tess",
        "PUT",
        f"/jobs/{job_id}/report/signatures/customer",
        422,
        {"signer_name": "Ann", "image": "R0lGODlhAQABAAAAACw="},
    )
    assert bad_image["errors"][0]["pointer"] == "/image"
    # Billing reviews jobs but cannot fill their reports; only the Job Manager completes.
    await w.call(
        "billing",
        "PATCH",
        f"/jobs/{job_id}/report/fields",
        403,
        {"fields": {"remarks": {"value": "x"}}},
    )
    await w.call("alex", "POST", f"/jobs/{job_id}/report/complete", 403)


async def test_a_partial_credit_note_credits_half_an_hour_and_the_invoice_shows_what_remains(
    world: World,
) -> None:
    w = world
    invoice_id = await completed_job_invoice(w)  # one line: 1 × 45.00, 20 %
    issued = await w.call("billing", "POST", f"/invoices/{invoice_id}/issue", 200)
    profit = f"/jobs/{issued['job_id']}/profitability"
    assert (await w.call("billing", "GET", profit, 200))["revenue"] == "45.00"
    path = f"/invoices/{invoice_id}/credit-notes"

    note = await w.call(
        "billing",
        "POST",
        path,
        201,
        {"lines": [{"line": 0, "quantity": "0.5"}], "reason": "arrived 30 min late"},
    )

    assert note["kind"] == "credit_note"
    assert note["totals"]["gross"] == "27.00"
    assert note["lines"][0]["credits_line"] == 0
    assert "arrived 30 min late" in note["public_notes"]
    invoice = await w.call("billing", "GET", f"/invoices/{invoice_id}", 200)
    assert invoice["status"] == "issued"
    assert invoice["credit"] == {
        "credited_gross": "27.00",
        "remaining_gross": "27.00",
        "lines": [{"credited_quantity": "0.5", "remaining_quantity": "0.5"}],
    }
    assert (await w.call("billing", "GET", profit, 200))["revenue"] == "22.50"
    too_much = await w.call(
        "billing", "POST", path, 422, {"lines": [{"line": 0, "quantity": "0.75"}]}
    )
    assert too_much["errors"] == [
        {
            "pointer": "/lines/0/quantity",
            "detail": "only 0.5 left to credit of this line",
        }
    ]
    stale = await w.api.post(
        "/api/v1" + path,
        json={"amount": "1"},
        headers={**w.people.auth("billing"), "If-Match": '"old"'},
    )
    assert stale.status == 412
    await w.call("billing", "POST", path, 409, {"amount": "22.51"})
    rest = await w.call("billing", "POST", path, 201, {"amount": "22.50"})
    assert rest["totals"]["gross"] == "27.00"
    voided = await w.call("billing", "GET", f"/invoices/{invoice_id}", 200)
    assert (voided["status"], voided["credit"]["remaining_gross"]) == ("void", "0.00")
    assert (await w.call("billing", "GET", profit, 200))["revenue"] == "0.00"
