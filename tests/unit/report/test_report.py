"""Job report rules: typed fields, mandatory fields, reserves, signatures, roles."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from jobs_domain.errors import CompletionBlocked, Conflict, Forbidden, InvalidInput
from jobs_domain.images import ImageRef, decode_image
from jobs_domain.job import CrewRole
from jobs_domain.report import (
    Report,
    ReportActor,
    ReportStatus,
    ReserveStatus,
    new_report,
)
from jobs_domain.report_template import FieldType, SignatureRole, parse_template

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
MANAGER = ReportActor("u-manager", CrewRole.JOB_MANAGER)
AUXILIARY = ReportActor("u-aux", CrewRole.AUXILIARY)
OFFICE = ReportActor("u-office", office=True)
STRANGER = ReportActor("u-stranger")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
SIG = ImageRef("ab" * 32, "image/png", 24)

TEMPLATE = {
    "name": "Boiler service",
    "required_signatures": ["customer", "technician"],
    "families": [
        {
            "key": "safety",
            "name": "Safety",
            "fields": [
                {
                    "key": "gas_ok",
                    "label": "Gas tight",
                    "type": "checkbox",
                    "mandatory": True,
                },
                {
                    "key": "pressure",
                    "label": "Pressure (bar)",
                    "type": "number",
                    "mandatory": True,
                },
                {"key": "approved", "label": "Approved", "type": "validation"},
            ],
        },
        {
            "key": "info",
            "name": "Information",
            "fields": [
                {"key": "notes", "label": "Notes", "type": "text"},
                {"key": "visit_date", "label": "Visit date", "type": "date"},
                {"key": "arrival", "label": "Arrival", "type": "time"},
                {"key": "meter", "label": "Meter", "type": "barcode"},
                {"key": "witness", "label": "Witness", "type": "signature"},
            ],
        },
    ],
}


def make_report() -> Report:
    return new_report("job-1", "client-1", "site-1", parse_template("t1", TEMPLATE))


def fill_everything(report: Report) -> None:
    report.update_fields(
        {"gas_ok": {"value": True}, "pressure": {"value": 1.5}}, AUXILIARY, NOW
    )
    for role in SignatureRole:
        report.sign(role, f"{role.value} name", SIG, MANAGER, NOW)
        report.validate_signature(role, MANAGER, NOW)


def test_a_family_holding_a_mandatory_field_is_marked_for_red() -> None:
    template = parse_template("t1", TEMPLATE)
    assert [f.has_mandatory for f in template.families] == [True, False]


def test_mandatory_fields_block_completion_and_each_is_named() -> None:
    report = make_report()
    with pytest.raises(CompletionBlocked) as err:
        report.complete(MANAGER, NOW)
    messages = [b.message for b in err.value.items]
    assert "Safety › Gas tight is mandatory" in messages
    assert "Safety › Pressure (bar) is mandatory" in messages
    assert report.status is ReportStatus.OPEN


def test_an_unticked_mandatory_checkbox_still_blocks_completion() -> None:
    report = make_report()
    fill_everything(report)
    report.update_fields({"gas_ok": {"value": False}}, MANAGER, NOW)
    assert [b.ref for b in report.blockers()] == ["report/fields/gas_ok"]


def test_missing_or_unvalidated_signatures_block_completion() -> None:
    report = make_report()
    report.update_fields(
        {"gas_ok": {"value": True}, "pressure": {"value": "2"}}, MANAGER, NOW
    )
    report.sign("customer", "Ada Client", SIG, MANAGER, NOW)
    codes = {(b.code, b.ref) for b in report.blockers()}
    assert codes == {
        ("signature-not-validated", "report/signatures/customer"),
        ("signature-missing", "report/signatures/technician"),
    }


def test_the_job_manager_completes_a_fully_filled_report() -> None:
    report = make_report()
    fill_everything(report)
    report.complete(MANAGER, NOW)
    assert report.status is ReportStatus.COMPLETED
    assert report.completed_by == "u-manager"


@pytest.mark.parametrize("actor", [AUXILIARY, OFFICE, STRANGER])
def test_only_the_job_manager_completes_the_report(actor: ReportActor) -> None:
    report = make_report()
    fill_everything(report)
    with pytest.raises(Forbidden):
        report.complete(actor, NOW)
    assert report.status is ReportStatus.OPEN


def test_auxiliaries_can_fill_fields_and_comment_any_field() -> None:
    report = make_report()
    report.update_fields(
        {
            "notes": {"value": "replaced seal", "comment": "old seal cracked"},
            "approved": {"comment": "pending customer"},
        },
        AUXILIARY,
        NOW,
    )
    assert report.entries["notes"].value == "replaced seal"
    assert report.entries["notes"].comment == "old seal cracked"
    assert report.entries["approved"].value is None
    assert report.entries["approved"].comment == "pending customer"


def test_someone_outside_the_crew_cannot_fill_the_report() -> None:
    with pytest.raises(Forbidden):
        make_report().update_fields({"notes": {"value": "x"}}, STRANGER, NOW)


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("gas_ok", True, True),
        ("pressure", 0.1, "0.1"),
        ("pressure", "12.50", "12.50"),
        ("approved", "no", False),
        ("notes", "text", "text"),
        ("visit_date", "2025-03-04", "2025-03-04"),
        ("arrival", "09:30", "09:30"),
        ("meter", " 4006381333931 ", "4006381333931"),
    ],
)
def test_values_are_stored_in_their_fields_type(
    key: str, value: object, stored: object
) -> None:
    report = make_report()
    report.update_fields({key: {"value": value}}, MANAGER, NOW)
    assert report.entries[key].value == stored


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gas_ok", "yes"),
        ("pressure", "twelve"),
        ("pressure", True),
        ("pressure", "NaN"),
        ("approved", "maybe"),
        ("notes", 42),
        ("visit_date", "04/03/2025"),
        ("visit_date", "2025-02-30"),
        ("arrival", "25:00"),
        ("meter", ""),
        ("witness", {"name": "Ann", "image": "bm90IGFuIGltYWdl"}),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_with_a_pointer(
    key: str, value: object
) -> None:
    report = make_report()
    with pytest.raises(InvalidInput) as err:
        report.update_fields({key: {"value": value}}, MANAGER, NOW)
    assert err.value.problems[0].pointer.startswith(f"/fields/{key}/value")


def test_a_batch_with_one_bad_value_changes_nothing() -> None:
    report = make_report()
    with pytest.raises(InvalidInput):
        report.update_fields(
            {
                "notes": {"value": "fine"},
                "pressure": {"value": "bad"},
                "nope": {"value": 1},
            },
            MANAGER,
            NOW,
        )
    assert report.entries == {}


def test_a_signature_field_stores_the_name_and_image_hash() -> None:
    report = make_report()
    image = base64.b64encode(PNG).decode()
    report.update_fields(
        {"witness": {"value": {"name": "Ann", "image": image}}}, MANAGER, NOW
    )
    value = report.entries["witness"].value
    assert isinstance(value, dict)
    assert value["name"] == "Ann"
    assert value["content_type"] == "image/png"


def test_raising_a_reserve_records_an_alert_for_the_back_office() -> None:
    report = make_report()
    reserve = report.raise_reserve(
        "r1", "pressure", "pressure drops", [SIG], AUXILIARY, NOW
    )
    assert reserve.status is ReserveStatus.UNRESOLVED
    [event] = report.pull_events()
    assert event.reserve_id == "r1"
    assert event.client_id == "client-1"
    assert event.site_id == "site-1"
    assert event.family_name == "Safety"
    assert event.photo_count == 1
    assert report.pull_events() == []


def test_a_reserve_moves_between_its_three_statuses_with_history() -> None:
    report = make_report()
    report.raise_reserve("r1", "notes", "scratch on casing", [], AUXILIARY, NOW)
    report.set_reserve_status("r1", "resolved", "polished", OFFICE, NOW)
    report.set_reserve_status("r1", "compliant", None, OFFICE, NOW)
    reserve = report.reserves[0]
    assert reserve.status is ReserveStatus.COMPLIANT
    assert [c.status for c in reserve.history] == [
        ReserveStatus.RESOLVED,
        ReserveStatus.COMPLIANT,
    ]
    with pytest.raises(InvalidInput):
        report.set_reserve_status("r1", "closed", None, OFFICE, NOW)


def test_a_reserve_on_an_unknown_field_is_refused() -> None:
    with pytest.raises(InvalidInput):
        make_report().raise_reserve("r1", "nope", "x", [], AUXILIARY, NOW)


def test_a_validated_signature_is_immutable() -> None:
    report = make_report()
    report.sign("customer", "Ada", SIG, MANAGER, NOW)
    report.sign("customer", "Ada Lovelace", SIG, MANAGER, NOW)  # redo before validating
    report.validate_signature("customer", MANAGER, NOW)
    with pytest.raises(Conflict):
        report.sign("customer", "Someone else", SIG, MANAGER, NOW)
    with pytest.raises(Conflict):
        report.clear_signature("customer", MANAGER)
    assert report.signatures[SignatureRole.CUSTOMER].signer_name == "Ada Lovelace"


def test_a_completed_report_refuses_signatures_fields_and_attachments() -> None:
    report = make_report()
    fill_everything(report)
    report.complete(MANAGER, NOW)
    with pytest.raises(Conflict):
        report.sign("technician", "Bob", SIG, MANAGER, NOW)
    with pytest.raises(Conflict):
        report.update_fields({"notes": {"value": "late"}}, MANAGER, NOW)
    with pytest.raises(Conflict):
        report.add_barcode("a1", "123", None, MANAGER, NOW)


def test_photos_and_barcode_readings_are_attached_and_deleted() -> None:
    report = make_report()
    photo = report.add_photo("a1", SIG, "boiler front", MANAGER, NOW)
    barcode = report.add_barcode("a2", "SN-42", "serial plate", MANAGER, NOW)
    assert (photo.description, barcode.barcode) == ("boiler front", "SN-42")
    report.delete_attachment("a1", MANAGER)
    assert [a.id for a in report.attachments] == ["a2"]


def test_images_must_be_real_png_jpeg_or_webp() -> None:
    assert (
        decode_image(base64.b64encode(PNG).decode(), "/image").content_type
        == "image/png"
    )
    with pytest.raises(InvalidInput):
        decode_image(base64.b64encode(b"GIF89a....").decode(), "/image")
    with pytest.raises(InvalidInput):
        decode_image("!!!", "/image")


def test_templates_report_every_problem_with_pointers() -> None:
    bad = {
        "name": "",
        "required_signatures": [],
        "families": [
            {
                "key": "A B",
                "name": "x",
                "fields": [{"key": "f", "label": "F", "type": "colour"}],
            },
            {
                "key": "b",
                "name": "y",
                "fields": [{"key": "f", "label": "F", "type": "text"}],
            },
        ],
    }
    with pytest.raises(InvalidInput) as err:
        parse_template("t", bad)
    pointers = {p.pointer for p in err.value.problems}
    assert pointers == {
        "/name",
        "/families/0/key",
        "/families/0/fields/0/type",
        "/families/1/fields/0/key",
    }


def test_every_field_type_of_the_issue_is_available() -> None:
    assert {t.value for t in FieldType} == {
        "checkbox",
        "text",
        "number",
        "date",
        "time",
        "signature",
        "validation",
        "barcode",
    }


def test_a_template_that_does_not_say_which_signatures_it_needs_is_refused() -> None:
    silent = {k: v for k, v in TEMPLATE.items() if k != "required_signatures"}
    with pytest.raises(InvalidInput) as err:
        parse_template("t", silent)
    assert [p.pointer for p in err.value.problems] == ["/required_signatures"]


def test_a_template_may_need_no_signature_at_all() -> None:
    template = parse_template("t", {**TEMPLATE, "required_signatures": []})
    assert template.required_signatures == frozenset()
