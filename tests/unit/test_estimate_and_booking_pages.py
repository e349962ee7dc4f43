"""The Estimates and Bookings pages' models, and the line-item picker they share
with the Job page."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dash

from dashboard import line_items
from dashboard.actions import Done
from dashboard.pages.bookings import model as bookings
from dashboard.pages.estimates import model as estimates
from jobs_domain.actors import Role
from jobs_domain.estimates import Estimate, EstimateStatus, parse_estimate_number
from jobs_domain.job import NoteVisibility, SiteContact
from tests.unit.jobs.builders import T0, line, pending_job
from tests.unit.test_dashboard_pages import _routed, app  # noqa: F401 (fixture)

PARIS = ZoneInfo("Europe/Paris")
IDS = line_items.Ids("est-li")


def _estimate(**kw: object) -> Estimate:
    base = Estimate(
        id="e-1",
        number=7,
        client_id="c-1",
        description="Replace the boiler",
        created_at=T0,
        line_items=[line("2", "100.00", "20"), line("1", "50.00", "10")],
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_an_estimate_row_links_the_estimate_and_totals_its_lines_with_tax() -> None:
    row = estimates.row(_estimate(), "Atelier Lumière")
    assert row == {
        "number": "E-000007",
        "href": "/estimates?estimate=e-1",
        "status": "draft",
        "status_label": "Draft",
        "client": "Atelier Lumière",
        "description": "Replace the boiler",
        "total": "295.00",  # 200 + 20 % and 50 + 10 %
    }


def test_a_draft_offers_approve_an_approved_one_convert_and_billing_neither() -> None:
    draft, approved = _estimate(), _estimate(status=EstimateStatus.APPROVED)
    converted = _estimate(status=EstimateStatus.CONVERTED, job_id="j-1")
    assert estimates.offered(draft, Role.DISPATCHER) == (True, False)
    assert estimates.offered(approved, Role.DISPATCHER) == (False, True)
    assert estimates.offered(converted, Role.ADMIN) == (False, False)
    assert estimates.offered(approved, Role.BILLING) == (False, False)


def test_an_estimate_number_is_read_with_or_without_its_prefix() -> None:
    assert parse_estimate_number("E-000007") == 7
    assert parse_estimate_number("e-7") == 7
    assert parse_estimate_number("7") == 7
    assert parse_estimate_number("Zola") is None
    assert parse_estimate_number("9" * 30) is None  # no estimate has that number


def test_the_note_boxes_become_notes_and_an_empty_box_none() -> None:
    assert estimates.notes_of("  Gate code 4711 ", "") == [
        (NoteVisibility.INTERNAL, "Gate code 4711")
    ]
    assert estimates.notes_of(None, "Parts under warranty") == [
        (NoteVisibility.PUBLIC, "Parts under warranty")
    ]


def test_a_draft_keeps_each_line_items_body_and_how_it_was_priced() -> None:
    priced = line("2", "24.50", "20")
    body = {"price_book_item_id": "p-1", "quantity": "2"}
    draft = json.loads(json.dumps([estimates.draft_entry(body, priced)]))  # a Store

    assert estimates.draft_bodies(draft) == [body]
    assert estimates.draft_items(draft) == [priced]
    assert estimates.draft_items(None) == []


def test_the_picker_reads_a_price_book_item_or_a_custom_one_as_the_apis_body() -> None:
    assert line_items.raw_item(IDS, IDS.add, "p-1", " 3 ", None, None, None, None) == {
        "price_book_item_id": "p-1",
        "quantity": "3",
    }
    none_picked = line_items.raw_item(IDS, IDS.add, None, "1", None, None, None, None)
    assert isinstance(none_picked, Done)
    assert none_picked.problems == {"/price_book_item_id": "pick an item"}
    custom = line_items.raw_item(IDS, IDS.cadd, None, None, "Call-out", "", "40", "")
    assert custom == {
        "description": "Call-out",
        "quantity": "1",
        "unit_price": "40",
        "tax_rate": "0",
    }
    assert IDS.custom_fields["/unit_price"] == "est-li-price"


def test_a_booking_row_shows_the_request_in_the_company_zone() -> None:
    start = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    job = pending_job()
    job.scheduled_start, job.scheduled_end = start, start + timedelta(hours=2)
    job.site_contact = SiteContact(name="Émile Zola", phone="+33 1 23 45 67 89")
    received = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)
    booking = {"reference": "BK-7K2M-Q9TX", "created_at": received}

    row = bookings.row(booking, job, "Zola SARL", None, PARIS)

    assert row["reference"] == "BK-7K2M-Q9TX"
    assert row["received"] == "Mon 07 Dec 2026 18:30"
    assert row["contact"] == "Émile Zola · +33 1 23 45 67 89"
    assert row["window"] == "Tue 08 Dec 09:00–11:00"
    assert row["href"] == f"/bookings?number={job.display_number}"
    assert bookings.confirm_defaults(job, PARIS) == ("2026-12-08", "09:00", "11:00")


def test_a_booking_without_a_contact_of_its_own_names_the_client() -> None:
    job = pending_job()
    assert bookings.contact_text(job, "Zola SARL") == "Zola SARL"
    assert bookings.confirm_defaults(job, PARIS) == ("", "", "")


def test_the_router_shows_the_estimates_list_an_estimate_and_the_bookings(
    app: dash.Dash,  # noqa: F811 (the fixture)
) -> None:
    listed = json.dumps(_routed(app, "/estimates"))
    assert '"new-estimate-panel"' in listed
    assert '"estimates-list"' in listed
    assert '"new-estimate-li-family"' in listed  # the Job page's picker
    one = json.dumps(_routed(app, "/estimates", "?estimate=e-1"))
    assert '"estimate-convert"' in one
    assert '"estimates-list"' not in one
    waiting = json.dumps(_routed(app, "/bookings", "?number=J-000051"))
    assert '"booking-confirm"' in waiting
    assert '"bookings-list"' in waiting
    assert '"booking-confirm"' not in json.dumps(_routed(app, "/bookings"))
