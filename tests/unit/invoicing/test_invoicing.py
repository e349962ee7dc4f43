"""Invoicing: from a completed job to a paid invoice, exact totals, credit notes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from jobs_domain.errors import Conflict, InvalidInput
from jobs_domain.invoicing import (
    CompletedJob,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    JobLineItem,
    JobNote,
    LineSource,
    billable_hours,
    credit_balance,
    credit_note,
    draft_invoice,
    format_number,
    next_sequence,
    parse_credit_lines,
    parse_credit_request,
)
from jobs_domain.parts import ItemKind, JobPart

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
D = Decimal


def job_part(
    pid: str,
    name: str,
    kind: ItemKind,
    qty: str,
    price: str,
    rate: str,
    serials: tuple[str, ...] = (),
    item_id: str | None = None,
) -> JobPart:
    return JobPart(
        pid,
        "job-1",
        item_id or pid,
        "Fam",
        name,
        kind,
        D(qty),
        D(price),
        D(rate),
        serials,
        None,
        "t",
        NOW,
    )


def completed_job(**overrides: object) -> CompletedJob:
    values: dict[str, object] = {
        "job_id": "job-1",
        "status": "completed",
        "client_id": "c1",
        "client_name": "Émile Zola",
        "client_email": "emile@example.org",
        "line_items": (JobLineItem("li1", "Diagnosis", D("1"), D("45.00"), D("20")),),
        "parts": (
            job_part(
                "p1", "Circulator pump", ItemKind.PART, "1", "120.00", "20", ("A1",)
            ),
            job_part("p2", "Annual service", ItemKind.SERVICE, "1", "80.00", "10"),
            job_part(
                "p3", "Labour", ItemKind.LABOUR, "1", "60.00", "20", item_id="labour"
            ),
        ),
        "notes": (
            JobNote("Boiler serviced, all good.", True),
            JobNote("Client is rude", False),
        ),
        "session_minutes": 95,
        "session_billed_items": frozenset({"labour"}),
    }
    values.update(overrides)
    return CompletedJob(**values)  # type: ignore[arg-type]


def test_generate_invoice_pulls_lines_parts_labour_and_only_public_notes() -> None:
    invoice = draft_invoice("inv-1", completed_job(), NOW)
    assert [
        (line.source, line.description, line.quantity) for line in invoice.lines
    ] == [
        (LineSource.LINE_ITEM, "Diagnosis", D("1")),
        (LineSource.PART, "Circulator pump (S/N A1)", D("1")),
        (LineSource.SERVICE, "Annual service", D("1")),
        (LineSource.LABOUR, "Labour", D("1.75")),
    ]
    assert invoice.public_notes == ("Boiler serviced, all good.",)
    assert invoice.status is InvoiceStatus.DRAFT
    assert invoice.number is None


def test_an_item_in_both_line_items_and_parts_is_billed_once() -> None:
    quoted = (
        JobLineItem("li1", "Diagnosis", D("1"), D("45.00"), D("20")),
        JobLineItem("li2", "Valve", D("2"), D("9.99"), D("20"), "valve"),
        JobLineItem(
            "li3", "Labour (quoted 1 h)", D("1"), D("60.00"), D("20"), "labour"
        ),
    )
    used = (
        job_part("p1", "Valve", ItemKind.PART, "3", "9.99", "20", item_id="valve"),
        job_part("p2", "Annual service", ItemKind.SERVICE, "1", "80.00", "10"),
        job_part("p3", "Labour", ItemKind.LABOUR, "1", "60.00", "20", item_id="labour"),
    )
    invoice = draft_invoice("inv-1", completed_job(line_items=quoted, parts=used), NOW)
    assert [(line.description, line.quantity) for line in invoice.lines] == [
        ("Diagnosis", D("1")),
        ("Valve", D("2")),
        ("Labour (quoted 1 h)", D("1")),
        ("Valve", D("1")),  # the third valve, beyond the quote
        ("Annual service", D("1")),
        ("Labour", D("0.75")),  # 95 min clocked = 1.75 h, 1 h already quoted
    ]


def test_a_part_fully_covered_by_its_line_item_adds_no_line() -> None:
    quoted = (JobLineItem("li1", "Valve", D("3"), D("9.99"), D("20"), "valve"),)
    used = (job_part("p1", "Valve", ItemKind.PART, "2", "9.99", "20", item_id="valve"),)
    invoice = draft_invoice(
        "inv-1",
        completed_job(line_items=quoted, parts=used, session_billed_items=frozenset()),
        NOW,
    )
    assert [(line.description, line.quantity) for line in invoice.lines] == [
        ("Valve", D("3"))
    ]


def test_labour_is_billed_in_started_quarter_hours() -> None:
    assert billable_hours(0) == D("0")
    assert billable_hours(1) == D("0.25")
    assert billable_hours(60) == D("1")
    assert billable_hours(61) == D("1.25")


def test_totals_are_exact_per_tax_rate() -> None:
    invoice = draft_invoice("inv-1", completed_job(), NOW)
    totals = invoice.totals
    # 45 + 120 + 105 (1.75 h x 60) at 20 %, 80 at 10 %
    assert [(t.rate, t.net, t.tax) for t in totals.tax_lines] == [
        (D("10"), D("80.00"), D("8.00")),
        (D("20"), D("270.00"), D("54.00")),
    ]
    assert (totals.net, totals.tax, totals.gross) == (
        D("350.00"),
        D("62.00"),
        D("412.00"),
    )


def test_totals_do_not_drift_with_thirds_and_tenths() -> None:
    parts = (
        *tuple(
            job_part(f"p{i}", "Washer", ItemKind.PART, "3", "0.10", "5.5")
            for i in range(3)
        ),
        job_part("q", "Seal", ItemKind.PART, "0.333", "3", "5.5"),
    )
    invoice = draft_invoice("inv", completed_job(line_items=(), parts=parts), NOW)
    # lines: 0.30 x 3 and 0.999 -> 1.00 ; net 1.90 ; tax 5.5 % of 1.90 = 0.1045 -> 0.10
    assert (invoice.totals.net, invoice.totals.tax, invoice.totals.gross) == (
        D("1.90"),
        D("0.10"),
        D("2.00"),
    )


def test_only_a_completed_job_is_invoiced() -> None:
    with pytest.raises(Conflict):
        draft_invoice("inv-1", completed_job(status="in_progress"), NOW)


def test_issuing_numbers_the_invoice_in_its_years_series() -> None:
    invoice = draft_invoice("inv-1", completed_job(), NOW)
    invoice.issue(next_sequence(41), NOW)
    assert invoice.number == "INV-2025-000042"
    assert next_sequence(None) == 1
    assert format_number(InvoiceKind.CREDIT_NOTE, 2026, 1) == "CN-2026-000001"


def test_an_issued_invoice_is_immutable() -> None:
    invoice = draft_invoice("inv-1", completed_job(), NOW)
    invoice.issue(1, NOW)
    with pytest.raises(Conflict, match="credit note"):
        invoice.replace_lines([], [])
    with pytest.raises(Conflict):
        invoice.issue(2, NOW)


def test_regenerating_a_draft_bumps_its_version_and_payment_key() -> None:
    invoice = draft_invoice("inv-1", completed_job(), NOW)
    key = invoice.payment_idempotency_key
    invoice.replace_lines(invoice.lines[:1], [])
    assert invoice.version == 2
    assert invoice.payment_idempotency_key != key


def test_payment_must_match_the_total_and_repeats_are_harmless() -> None:
    invoice = draft_invoice("inv-1", completed_job(), NOW)
    with pytest.raises(Conflict):
        invoice.mark_paid(D("412.00"), "cs_1", NOW)  # still a draft
    invoice.issue(1, NOW)
    with pytest.raises(Conflict):
        invoice.mark_paid(D("400.00"), "cs_1", NOW)
    assert invoice.mark_paid(D("412.00"), "cs_1", NOW) is True
    assert invoice.mark_paid(D("412.00"), "cs_1", NOW) is False
    assert invoice.status is InvoiceStatus.PAID
    with pytest.raises(Conflict):
        invoice.mark_paid(D("412.00"), "cs_2", NOW)


def _issued() -> Invoice:
    invoice = draft_invoice("inv-1", completed_job(), NOW)
    invoice.issue(1, NOW)
    return invoice


def _issue(note: Invoice, seq: int = 1) -> Invoice:
    note.issue(seq, NOW)
    return note


def test_corrections_are_credit_notes_capped_at_what_remains() -> None:
    invoice = _issued()
    goodwill = {"description": "Discount", "quantity": 1, "unit_price": "10.00"}
    partial = credit_note(
        "cn-1",
        credit_balance(invoice, []),
        NOW,
        parse_credit_request({"lines": [{**goodwill, "tax_rate": "20"}]}),
    )
    assert partial.kind is InvoiceKind.CREDIT_NOTE
    assert partial.totals.gross == D("12.00")
    after = credit_balance(invoice, [_issue(partial)])
    assert (after.credited_gross, after.remaining_gross) == (D("12.00"), D("400.00"))
    with pytest.raises(Conflict, match="exceeds"):
        credit_note("cn-2", after, NOW)  # every line whole: more than 400 remain
    with pytest.raises(Conflict):
        invoice.void(NOW, credited=D("12.00"))
    full = credit_note("cn-3", credit_balance(invoice, []), NOW)
    invoice.void(NOW, credited=full.totals.gross)
    assert invoice.status is InvoiceStatus.VOID
    assert invoice.number == "INV-2025-000001"  # the number stays taken


def test_a_credit_note_credits_a_quantity_of_a_line_at_its_price() -> None:
    invoice = _issued()  # line 3: 1.75 h of labour at 60.00, 20 %
    note = credit_note(
        "cn-1",
        credit_balance(invoice, []),
        NOW,
        parse_credit_request(
            {"lines": [{"line": 3, "quantity": "0.5"}], "reason": "arrived late"}
        ),
    )
    (line,) = note.lines
    assert (line.description, line.quantity, line.unit_price) == (
        "Labour",
        D("0.5"),
        D("60.00"),
    )
    assert (line.source, line.credits_line) == (LineSource.CREDIT, 3)
    assert note.totals.gross == D("36.00")
    assert note.public_notes == (
        "Credit note for invoice INV-2025-000001",
        "arrived late",
    )
    balance = credit_balance(invoice, [_issue(note)])
    assert balance.remaining_quantity(3) == D("1.25")
    assert balance.remaining_quantity(0) == D("1")
    assert balance.remaining_gross == D("376.00")


def test_a_line_is_never_credited_beyond_what_is_left_of_it() -> None:
    invoice = _issued()
    first = _issue(
        credit_note(
            "cn-1",
            credit_balance(invoice, []),
            NOW,
            parse_credit_request({"lines": [{"line": 3, "quantity": "1.5"}]}),
        )
    )
    balance = credit_balance(invoice, [first])
    with pytest.raises(InvalidInput) as err:
        credit_note(
            "cn-2",
            balance,
            NOW,
            parse_credit_request({"lines": [{"line": 3, "quantity": "0.5"}]}),
        )
    assert err.value.problems[0].pointer == "/lines/0/quantity"
    assert "only 0.25 left" in err.value.problems[0].message
    with pytest.raises(InvalidInput):  # twice the same line adds up
        credit_note(
            "cn-2",
            credit_balance(invoice, []),
            NOW,
            parse_credit_request(
                {"lines": [{"line": 0, "quantity": 1}, {"line": 0, "quantity": 1}]}
            ),
        )
    with pytest.raises(InvalidInput) as missing:
        credit_note(
            "cn-2",
            balance,
            NOW,
            parse_credit_request({"lines": [{"line": 9, "quantity": 1}]}),
        )
    assert missing.value.problems[0].pointer == "/lines/0/line"


def test_the_whole_invoice_credit_takes_only_what_is_left_of_each_line() -> None:
    invoice = _issued()
    part = _issue(
        credit_note(
            "cn-1",
            credit_balance(invoice, []),
            NOW,
            parse_credit_request({"lines": [{"line": 3, "quantity": "0.5"}]}),
        )
    )
    rest = credit_note("cn-2", credit_balance(invoice, [part]), NOW)
    assert [(x.credits_line, x.quantity) for x in rest.lines] == [
        (0, D("1")),
        (1, D("1")),
        (2, D("1")),
        (3, D("1.25")),
    ]
    assert part.totals.gross + rest.totals.gross == invoice.totals.gross
    done = credit_balance(invoice, [part, _issue(rest, 2)])
    assert done.remaining_gross == D("0")
    with pytest.raises(Conflict, match="nothing is left"):
        credit_note("cn-3", done, NOW)


def test_an_amount_is_credited_at_the_invoices_rate_or_the_one_named() -> None:
    one_rate = draft_invoice(
        "inv-2", completed_job(parts=(), session_minutes=0), NOW
    )  # Diagnosis only, 20 %
    one_rate.issue(2, NOW)
    note = credit_note(
        "cn-1",
        credit_balance(one_rate, []),
        NOW,
        parse_credit_request({"amount": "10.00", "reason": "goodwill"}),
    )
    assert [(x.description, x.unit_price, x.tax_rate) for x in note.lines] == [
        ("Credit: goodwill", D("10.00"), D("20"))
    ]
    assert note.totals.gross == D("12.00")
    several = credit_balance(_issued(), [])  # 20 % and 10 % lines
    with pytest.raises(InvalidInput) as err:
        credit_note("cn-2", several, NOW, parse_credit_request({"amount": "10"}))
    assert err.value.problems[0].pointer == "/tax_rate"
    named = credit_note(
        "cn-2", several, NOW, parse_credit_request({"amount": "10", "tax_rate": "10"})
    )
    assert named.totals.gross == D("11.00")
    with pytest.raises(Conflict, match="exceeds"):
        credit_note(
            "cn-3",
            several,
            NOW,
            parse_credit_request({"amount": "1000", "tax_rate": "10"}),
        )


def test_a_credit_request_points_at_each_bad_field() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_credit_request(
            {
                "lines": [
                    {"line": 0, "quantity": "0"},
                    {"line": -1, "quantity": 1},
                    {
                        "description": "x",
                        "quantity": "a",
                        "unit_price": 1,
                        "tax_rate": 2,
                    },
                ],
                "amount": "-5",
            }
        )
    assert [p.pointer for p in err.value.problems] == [
        "/lines/0/quantity",
        "/lines/1/line",
        "/lines/2/quantity",
        "/amount",
    ]


def test_a_credit_note_against_a_draft_or_a_credit_note_is_refused() -> None:
    draft = draft_invoice("inv-1", completed_job(), NOW)
    with pytest.raises(Conflict):
        credit_note("cn-1", credit_balance(draft, []), NOW)
    note = _issue(credit_note("cn-1", credit_balance(_issued(), []), NOW))
    with pytest.raises(Conflict):
        credit_note("cn-2", credit_balance(note, []), NOW)


def test_a_draft_can_be_discarded_but_a_paid_invoice_cannot_be_voided() -> None:
    draft = draft_invoice("inv-1", completed_job(), NOW)
    draft.void(NOW)
    assert draft.status is InvoiceStatus.VOID
    paid = draft_invoice("inv-2", completed_job(), NOW)
    paid.issue(1, NOW)
    paid.mark_paid(paid.totals.gross, "cs", NOW)
    with pytest.raises(Conflict):
        paid.void(NOW, credited=paid.totals.gross)


def test_credit_lines_are_validated_with_pointers() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_credit_lines(
            [{"description": "x", "quantity": "a", "unit_price": 1, "tax_rate": 20}]
        )
    assert err.value.problems[0].pointer == "/lines/0/quantity"
