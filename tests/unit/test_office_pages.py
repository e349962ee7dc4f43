"""The office's Jobs and Job pages' models: filters, windows, offered actions, tabs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from dashboard.pages.job import model as job_model
from dashboard.pages.jobs import model
from dashboard.paging import OffsetPaging
from jobs_domain.errors import Blocker, InvalidInput
from jobs_domain.job import (
    Attachment,
    AttachmentKind,
    Expense,
    JobStatus,
    Note,
    NoteVisibility,
    Task,
)
from jobs_domain.permissions import Act
from storage.clients import PropertyRecord
from storage.invoices import StoredInvoice
from tests.unit.jobs.builders import (
    BILLING,
    DISPATCHER,
    T0,
    at,
    in_progress_job,
    line,
    pending_job,
    scheduled_job,
)

PARIS = ZoneInfo("Europe/Paris")


def _filters(**kw: str | None) -> model.Filters:
    args: dict[str, str | None] = {
        "technician_id": None,
        "team": None,
        "client_id": None,
        "day_from": None,
        "day_to": None,
        "text": None,
        **kw,
    }
    return model.filters_from(PARIS, statuses=None, **args)  # type: ignore[arg-type]


def test_a_date_range_is_whole_days_in_the_company_zone() -> None:
    f = _filters(day_from="2026-12-07", day_to="2026-12-08")
    assert f.date_from == datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    assert f.date_to == datetime(2026, 12, 8, 23, 0, tzinfo=UTC)  # end of the 8th


def test_a_range_ending_before_it_starts_points_at_the_to_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        _filters(day_from="2026-12-08", day_to="2026-12-07")
    assert [p.pointer for p in refused.value.problems] == ["/to"]


def test_blank_filters_filter_nothing_and_search_text_is_trimmed() -> None:
    f = _filters(team="", text="  J-000042 ")
    assert f.search_args() == {
        "statuses": [],
        "technician_id": None,
        "team": None,
        "client_id": None,
        "date_from": None,
        "date_to": None,
        "text": "J-000042",
    }


def test_a_half_filled_window_names_each_missing_part() -> None:
    form = model.NewJobForm("c", None, "x", "2026-12-07", None, None, None)
    with pytest.raises(InvalidInput) as refused:
        model.planned_window(form, PARIS)
    assert [p.pointer for p in refused.value.problems] == [
        "/scheduled_start",
        "/scheduled_end",
    ]


def test_a_window_is_read_in_the_company_zone_and_none_when_empty() -> None:
    form = model.NewJobForm("c", None, "x", "2026-07-01", "09:00", "10:30", None)
    assert model.planned_window(form, PARIS) == (
        datetime(2026, 7, 1, 7, 0, tzinfo=UTC),
        datetime(2026, 7, 1, 8, 30, tzinfo=UTC),
    )
    empty = model.NewJobForm("c", None, "x", None, "", None, None)
    assert model.planned_window(empty, PARIS) is None


def _acts(job: object, actor: object, extra: tuple[Blocker, ...] = ()) -> list[Act]:
    offered = job_model.offered_actions(job, actor, at(120), extra)  # type: ignore[arg-type]
    return [o.act for o in offered]


def test_the_status_actions_follow_the_lifecycle_for_a_dispatcher() -> None:
    assert _acts(pending_job(), DISPATCHER) == [Act.SCHEDULE, Act.CANCEL]
    assert _acts(scheduled_job(), DISPATCHER) == [Act.START, Act.CANCEL]
    running = in_progress_job()
    assert _acts(running, DISPATCHER) == [Act.HOLD, Act.COMPLETE, Act.CANCEL]
    running.hold(DISPATCHER, at(90), "waiting for parts")
    assert _acts(running, DISPATCHER) == [Act.RESUME, Act.CANCEL]
    running.resume(DISPATCHER, at(95))
    running.complete(DISPATCHER, at(100))
    assert _acts(running, DISPATCHER) == []


def test_trying_the_actions_leaves_the_job_as_it_was() -> None:
    job = in_progress_job()
    before = (job.status, job.version, len(job.new_history), job.sessions)
    _acts(job, DISPATCHER)
    assert (job.status, job.version, len(job.new_history), job.sessions) == before


def test_billing_is_offered_no_status_action_because_the_matrix_says_so() -> None:
    assert _acts(pending_job(), BILLING) == []
    assert _acts(in_progress_job(), BILLING) == []


def test_complete_lists_every_blocker_before_the_click() -> None:
    job = in_progress_job(tasks=[Task("t-valve", "Check safety valve", required=True)])
    report = Blocker("report-field-missing", "report: Pressure (bar) is mandatory")
    offered = job_model.offered_actions(job, DISPATCHER, at(120), [report])
    complete = next(o for o in offered if o.act is Act.COMPLETE)
    assert not complete.enabled
    assert complete.blockers == (
        "required task not checked off: Check safety valve",
        "report: Pressure (bar) is mandatory",
    )
    hold = next(o for o in offered if o.act is Act.HOLD)
    assert hold.enabled


def test_notes_say_who_sees_them_newest_first() -> None:
    job = pending_job()
    job.notes = [
        Note("n1", NoteVisibility.INTERNAL, "gate code 1234", "u", "Dan", at(1)),
        Note("n2", NoteVisibility.PUBLIC, "thanks!", "u", "Dan", at(2)),
    ]
    rows = job_model.note_rows(job.notes, PARIS)
    assert [(r["visibility"], r["kind"]) for r in rows] == [
        ("public", "Public — on the invoice"),
        ("internal", "Internal — staff only"),
    ]
    assert rows[1]["at"] == "Mon 06 May 2024 10:01"  # 08:01 UTC in Paris (CEST)


def test_a_session_row_links_its_audit_page_and_says_when_not_derived() -> None:
    job = in_progress_job()
    (session,) = job.sessions
    (row,) = job_model.session_rows(job, {"t1": "Tess"}, {}, PARIS, at(121))
    assert row["audit"] == f"/audit?session={session.id}"
    assert row["technician"] == "Tess"
    assert row["clock_out"] == "still clocked in"
    assert row["worked"] == "1 h 00 min"
    assert row["arrival"] == "not derived yet"


def test_history_rows_name_technicians_read_times_in_the_zone_newest_first() -> None:
    job = scheduled_job()
    entries = [
        {
            "id": i,
            "at": h.at,
            "actor_name": h.actor_name,
            "actor_role": h.actor_role,
            "action": h.action,
            "details": dict(h.details),
            "source": h.source,
        }
        for i, h in enumerate(job.new_history, start=1)
    ]
    rows = job_model.history_rows(entries, {"t1": "Tess", "t2": "Alex"}, PARIS)
    assert rows[0]["what"] == "Scheduled"
    assert rows[0]["details"] == (  # 09:00 and 11:00 UTC, read in Paris (CEST)
        "start: Mon 06 May 2024 11:00; end: Mon 06 May 2024 13:00; job manager: Tess"
    )
    assert rows[1]["details"] == "technician: Alex; role: auxiliary"
    assert rows[-1]["what"] == "Created"
    assert rows[-1]["who"] == "Dan Dispatch (dispatcher)"


def test_line_items_show_their_net_and_the_totals() -> None:
    job = pending_job()
    job.line_items = [line("2", "50.00", "20"), line("1", "10", "0")]
    rows, totals = job_model.line_item_rows(job.line_items)
    assert [r["net"] for r in rows] == ["100.00", "10.00"]
    assert totals == {"net": "110.00", "tax": "20.00", "gross": "130.00"}


def test_a_job_row_links_its_page_by_number_never_by_id() -> None:
    assert model.job_href("J-000042") == "/job?number=J-000042"
    assert JobStatus.ON_HOLD in model.STATUS_LABELS
    assert T0.tzinfo is UTC


def _attachment(kind: AttachmentKind, minutes: float, content_type: str) -> Attachment:
    return Attachment(
        id=f"a-{kind.value}-{minutes}",
        kind=kind,
        description="",
        filename=f"{kind.value}.bin",
        content_type=content_type,
        size=2048,
        sha256="0" * 64,
        uploaded_by="u",
        uploaded_at=at(minutes),
    )


def test_photos_group_before_and_after_and_documents_are_listed_by_name() -> None:
    job = pending_job()
    job.attachments = [
        _attachment(AttachmentKind.PHOTO_AFTER, 3, "image/jpeg"),
        _attachment(AttachmentKind.PERMIT, 1, "application/pdf"),
        _attachment(AttachmentKind.PHOTO_BEFORE, 2, "image/png"),
    ]
    groups = job_model.attachment_groups(job, PARIS)
    assert [(title, [r["kind"] for r in rows]) for title, rows in groups] == [
        ("Before", ["photo before"]),
        ("After", ["photo after"]),
        ("Documents", ["permit"]),
    ]
    (before,) = groups[0][1]
    assert before["image"] is True
    assert before["url"] == "/job-files/J-000042/a-photo_before-2"
    assert before["download"] == "/job-files/J-000042/a-photo_before-2?download=1"
    assert groups[2][1][0]["image"] is False


def test_an_expense_links_its_receipt_only_once_the_photo_has_synced() -> None:
    job = pending_job()
    receipt = _attachment(AttachmentKind.RECEIPT, 1, "image/jpeg")
    job.expenses = [
        Expense("e1", "Valve", Decimal("24.50"), "u", at(1), receipt.id),
        Expense("e2", "Tape", Decimal("3"), "u", at(2), "not-synced-yet"),
        Expense("e3", "Parking", Decimal("4"), "u", at(3)),
    ]
    job.attachments = [receipt]
    rows = job_model.expense_rows(job, PARIS)
    assert [(r["amount"], r["receipt"], r["receipt_url"]) for r in rows] == [
        ("24.50", "attached", f"/job-files/J-000042/{receipt.id}"),
        ("3.00", "pending", ""),
        ("4.00", "no receipt", ""),
    ]


def test_an_address_reads_in_line_order_whatever_order_it_was_stored_in() -> None:
    stored = {"city": "Paris", "line1": "8 Rue des Lilas", "postcode": "75020"}
    prop = PropertyRecord(uuid4(), uuid4(), stored, None, None, None, 0, T0)
    assert model.address_text(prop) == "8 Rue des Lilas, Paris, 75020"
    lines = PropertyRecord(
        uuid4(), uuid4(), ["12 Rue de Rivoli", "75004 Paris"], 1.0, 2.0, None, 0, T0
    )  # type: ignore[arg-type]
    assert model.address_text(lines) == "12 Rue de Rivoli, 75004 Paris"


def _stored_invoice(issued: bool) -> StoredInvoice:
    from jobs_domain.invoicing import CompletedJob, JobLineItem, draft_invoice

    job = CompletedJob(
        job_id="j1",
        status="completed",
        client_id="c1",
        client_name="Café Zola",
        client_email="zola@example.test",
        line_items=(
            JobLineItem("li1", "Service", Decimal(1), Decimal("80"), Decimal(20)),
        ),
    )
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    invoice = draft_invoice("i1", job, at)
    if issued:
        invoice.issue(7, at)
    row = {"row_version": 3, "payment_session_id": None, "payment_url": None}
    return StoredInvoice(invoice, {**row, "emailed_at": None})


def test_an_invoice_offers_billing_what_its_status_allows_and_dispatch_nothing() -> (
    None
):
    from jobs_domain.actors import Role

    draft, issued = _stored_invoice(False), _stored_invoice(True)
    (view,) = job_model.invoice_views([draft], Role.BILLING, PARIS)
    assert [a["label"] for a in view["acts"]] == ["Issue", "Send by e-mail", "Void"]
    assert view["totals"] == "Net 80.00 · Tax 16.00 · Total 96.00 EUR"
    assert view["preview"] == "/invoice-pdf/i1/preview.png?v=3"
    (view,) = job_model.invoice_views([issued], Role.BILLING, PARIS)
    assert [a["label"] for a in view["acts"]] == ["Send by e-mail", "Credit note"]
    (view,) = job_model.invoice_views([issued], Role.DISPATCHER, PARIS)
    assert view["acts"] == []
    assert job_model.may_generate([draft])
    assert not job_model.may_generate([issued])


def test_a_paid_invoice_shows_its_credit_notes_and_what_is_left_of_each_line() -> None:
    from jobs_domain.actors import Role
    from jobs_domain.invoicing import credit_balance, credit_note, parse_credit_request

    issued = _stored_invoice(True)
    issued.invoice.mark_paid(
        Decimal("96.00"), "cs_1", datetime(2026, 12, 7, tzinfo=UTC)
    )
    body = job_model.credit_body(
        "i1",
        " late ",
        "",
        None,
        ["0.25", "", "9"],
        [
            {"invoice": "i1", "line": 0},
            {"invoice": "i1", "line": 1},
            {"invoice": "other", "line": 0},
        ],
    )
    assert body == {"reason": "late", "lines": [{"line": 0, "quantity": "0.25"}]}
    note = credit_note(
        "cn1",
        credit_balance(issued.invoice, []),
        datetime(2026, 12, 7, 10, tzinfo=UTC),
        parse_credit_request(body),
    )
    note.issue(1, datetime(2026, 12, 7, 10, tzinfo=UTC))
    row = {"row_version": 1, "payment_session_id": None, "payment_url": None}
    stored_note = StoredInvoice(note, {**row, "emailed_at": None})
    views = job_model.invoice_views([stored_note, issued], Role.BILLING, PARIS)
    credit_view, invoice_view = views
    assert [a["label"] for a in invoice_view["acts"]] == ["Credit note"]
    assert invoice_view["creditable"]
    assert not credit_view["creditable"]
    assert invoice_view["lines"][0]["credited"] == "0.25"
    assert invoice_view["lines"][0]["left"] == "0.75"
    assert invoice_view["credited"] == "Credited 24.00 · Left to credit 72.00 EUR"
    assert invoice_view["credit_notes"] == [
        {
            "title": "Credit note CN-2026-000001",
            "total": "24.00 EUR",
            "reason": "late",
            "pdf": "/invoice-pdf/cn1?v=1",
        }
    ]
    assert credit_view["credit_notes"] == []
    assert credit_view["credited"] == ""
    assert (credit_view["status_label"], credit_view["payment"]) == (
        "Issued",
        "— (a credit note)",
    )


def test_the_parts_forms_send_the_apis_bodies() -> None:
    assert job_model.part_body("it1", " 2 ", "A-1, A-2\nA-3", "d1") == {
        "item_id": "it1",
        "quantity": "2",
        "depot_id": "d1",
        "serials": ["A-1", "A-2", "A-3"],
    }
    assert "serials" not in job_model.part_body("it1", "1", "  ", None)
    assert job_model.take_back_body(" S-9 ", None, None, "d1") == {
        "serial": "S-9",
        "condition": "ok",
        "depot_id": "d1",
    }


def test_a_job_offers_the_edit_forms_its_own_rules_allow() -> None:
    from tests.unit.jobs.builders import MANAGER

    forms = [Act.ASSIGN_CREW, Act.ADD_LINE_ITEM, Act.ADD_TASK, Act.ADD_NOTE]

    def offered(job: object, actor: object) -> list[Act]:
        return [a for a in forms if job_model.may_edit(job, actor, a, at(300))]  # type: ignore[arg-type]

    completed = in_progress_job()
    completed.complete(MANAGER, at(200))
    # a completed job is the office's (the API lets it fix the crew, bill extras)
    assert offered(completed, DISPATCHER) == forms
    assert offered(completed, BILLING) == [Act.ADD_LINE_ITEM, Act.ADD_NOTE]
    assert offered(completed, MANAGER) == [Act.ADD_NOTE]
    cancelled = scheduled_job()
    cancelled.cancel(DISPATCHER, at(10), "client moved out")
    assert offered(cancelled, DISPATCHER) == []  # a cancelled job is frozen


def test_the_invoice_list_filters_whole_days_and_pages_with_one_row_more() -> None:
    from dashboard.pages.invoices import model as invoices_model

    filters = invoices_model.filters_from(
        PARIS,
        statuses=["issued"],
        client_id="",
        day_from="2026-12-01",
        day_to="2026-12-07",
    )
    args = filters.list_args(OffsetPaging().forward().forward())
    assert args["statuses"] == ["issued"]
    assert args["client_id"] is None
    assert args["created_from"] == datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert args["created_to"] == datetime(2026, 12, 7, 23, tzinfo=UTC)
    assert (args["limit"], args["offset"]) == (26, 50)
    with pytest.raises(InvalidInput):
        invoices_model.filters_from(
            PARIS,
            statuses=None,
            client_id=None,
            day_from="2026-12-07",
            day_to="2026-12-01",
        )
