"""The Price book and Report templates pages' models: rows, forms as the API's
bodies, problems at the form's fields (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dashboard.pages.price_book.model import ItemForm, item_label, item_row
from dashboard.pages.report_templates import model
from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.report_template import parse_template
from tests.report_templates import boiler_template

ITEM: dict[str, Any] = {
    "id": "i1",
    "family_id": "f1",
    "kind": "part",
    "code": "GAU-1",
    "name": "Pressure gauge",
    "description": "",
    "unit_price": Decimal("12.4000"),
    "tax_rate": Decimal("20.000"),
    "active": False,
    "serialized": True,
    "version": 3,
}


def test_an_item_row_shows_its_family_money_rate_stock_and_status() -> None:
    assert item_row(ITEM, {"f1": "Gauges"}) == {
        "name": "Pressure gauge",
        "code": "GAU-1",
        "kind": "Part",
        "family": "Gauges",
        "price": "12.40",
        "tax": "20 %",
        "serialized": "yes",
        "status": "archived",
    }
    assert item_label(ITEM) == "Pressure gauge · GAU-1 (archived)"


def test_an_items_form_reads_back_into_the_edit_body_without_its_code() -> None:
    form = ItemForm.of(ITEM)
    assert form.values() == ("f1", "part", "GAU-1", "Pressure gauge", "", "12.40", "20")
    assert form.body(new=False) == {
        "family_id": "f1",
        "kind": "part",
        "name": "Pressure gauge",
        "description": "",
        "unit_price": "12.40",
        "tax_rate": "20",
    }
    assert form.body(new=True)["code"] == "GAU-1"


def test_a_blank_required_field_is_answered_at_its_own_pointer() -> None:
    form = ItemForm.typed(
        family_id=None,
        kind="service",
        code=" ",
        name="Call-out",
        description=None,
        unit_price="40",
        tax_rate="",
    )
    with pytest.raises(InvalidInput) as refused:
        form.body(new=True)
    assert [p.pointer for p in refused.value.problems] == [
        "/family_id",
        "/code",
        "/tax_rate",
    ]


def test_a_key_comes_from_a_label_in_plain_lower_case() -> None:
    assert model.key_of("Pression (bar) — après") == "pression_bar_apres"
    new = model.NewField.typed("Readings", "Reading (bar)", "", "number", ["yes"])
    assert (new.key, new.mandatory) == ("reading_bar", True)


def test_a_field_joins_its_family_by_name_or_starts_a_new_one_last() -> None:
    body = model.body_of(parse_template("t1", boiler_template()))
    new = model.NewField("safety CHECKS", "Flue sealed", "flue", "checkbox", True)
    added, family = model.with_field(body, new)
    assert family == 0
    assert added["families"][0]["fields"][-1] == {
        "key": "flue",
        "label": "Flue sealed",
        "type": "checkbox",
        "mandatory": True,
    }
    assert len(body["families"][0]["fields"]) == 3  # the body itself is unchanged
    other, family = model.with_field(
        body, model.NewField("Après", "Note", "n", "text", False)
    )
    assert (family, other["families"][-1]["key"]) == (2, "apres")
    parse_template("t1", other)  # what the domain accepts


def test_the_domains_problems_of_the_added_field_go_to_the_forms_fields() -> None:
    problems = [
        FieldProblem("/families/1/fields/5/key", "duplicate field key"),
        FieldProblem("/families/1/fields/0/key", "other field"),
        FieldProblem("/families/2/name", "must not be empty"),
        FieldProblem("/name", "must not be empty"),
    ]
    assert [(p.pointer, p.message) for p in model.form_problems(problems, 1, 5)] == [
        ("/key", "duplicate field key"),
        ("/families/1/fields/0/key", "other field"),
        ("/families/2/name", "must not be empty"),
        ("/name", "must not be empty"),
    ]


def test_a_template_lists_its_red_families_and_round_trips_as_its_body() -> None:
    template = parse_template("t1", boiler_template())
    row = model.template_row(template)
    assert (row["families"], row["mandatory"], row["signatures"]) == (
        "2",
        "3",
        "customer, technician",
    )
    view = model.template_view(template)
    assert [(f["name"], f["red"]) for f in view] == [
        ("Safety checks", True),
        ("Details", False),
    ]
    again = parse_template("t1", model.parse_body(model.body_text(template)))
    assert again == template
    with pytest.raises(InvalidInput) as refused:
        model.parse_body("{not json")
    assert refused.value.problems[0].pointer == "/body"
