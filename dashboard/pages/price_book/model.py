"""The Price book page's model: an item as a row and as a form, the form as the
body the API takes (pure).

Text a person typed is read into the body of ``POST /price-book/items`` /
``PATCH /price-book/items/{id}``; what is left blank is answered here at its
field's pointer, everything else (a price or rate that is not a number, a rate
over 100 %, an unknown family) by ``services.price_book``, the API's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.money import format_decimal, format_money

KINDS = (("part", "Part"), ("service", "Service"))
KIND_LABELS = dict(KINDS)


def item_row(item: Mapping[str, Any], families: Mapping[str, str]) -> dict[str, str]:
    """One line of the list (``families``: id → name)."""
    return {
        "name": item["name"],
        "code": item["code"],
        "kind": KIND_LABELS.get(item["kind"], item["kind"]),
        "family": families.get(str(item["family_id"]), "—"),
        "price": format_money(item["unit_price"]),
        "tax": f"{format_decimal(item['tax_rate'])} %",
        "serialized": "yes" if item.get("serialized") else "—",
        "status": "active" if item["active"] else "archived",
    }


def item_label(item: Mapping[str, Any]) -> str:
    """How the edit form's picker names an item."""
    archived = "" if item["active"] else " (archived)"
    return f"{item['name']} · {item['code']}{archived}"


@dataclass(frozen=True)
class ItemForm:
    """An item's form, all text as typed (the code only when adding)."""

    family_id: str = ""
    kind: str = "part"
    code: str = ""
    name: str = ""
    description: str = ""
    unit_price: str = ""
    tax_rate: str = ""

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> ItemForm:
        return cls(
            family_id=str(item["family_id"]),
            kind=item["kind"],
            code=item["code"],
            name=item["name"],
            description=item.get("description") or "",
            unit_price=format_money(item["unit_price"]),
            tax_rate=format_decimal(item["tax_rate"]),
        )

    @classmethod
    def typed(cls, **values: str | None) -> ItemForm:
        """The form from the page's values (None: an untouched field)."""
        return cls(**{k: (v or "").strip() for k, v in values.items()})

    def body(self, *, new: bool) -> dict[str, Any]:
        """The API's body: the item to add (``new``) or the edit's members."""
        text = asdict(self)
        if not new:
            del text["code"]
        required = [k for k in text if k != "description"]
        problems = [
            FieldProblem(f"/{k}", "must not be empty") for k in required if not text[k]
        ]
        if problems:
            raise InvalidInput("the item is incomplete", problems)
        return text

    def values(self) -> tuple[str, ...]:
        """The form's fields in the page's order (for the edit form's outputs)."""
        return tuple(asdict(self).values())
