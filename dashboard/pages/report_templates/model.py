"""The Report templates page's model: a template as the page shows it, and the
forms as the body ``POST /report-templates`` and ``PUT /report-templates/{id}``
take (pure).

The template language is :mod:`jobs_domain.report_template`'s; everything the
domain checks (keys, types, duplicates, signatures) is answered by its
``parse_template``. Here: the Add-a-field form becomes one more field of a family
(found by name, or a new family), a key left blank comes from the label, and the
domain's pointers into the body are turned back to the form's fields.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.report_template import FieldType, ReportTemplate, SignatureRole

TYPES = tuple((t.value, t.value.capitalize()) for t in FieldType)
SIGNATURES = tuple((r.value, r.value.capitalize()) for r in SignatureRole)
_NOT_KEY = re.compile(r"[^a-z0-9]+")
#: What the domain's pointers of the added field mean on the form.
_ADDED = re.compile(r"^/families/(\d+)/(fields/(\d+)/)?(\w+)$")


def key_of(text: str) -> str:
    """A key from a name or label ("Pression (bar)" → "pression_bar")."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_KEY.sub("_", plain.lower()).strip("_")[:64]


def template_row(t: ReportTemplate) -> dict[str, str]:
    fields = t.all_fields()
    return {
        "name": t.name,
        "families": str(len(t.families)),
        "fields": str(len(fields)),
        "mandatory": str(sum(1 for _fam, f in fields if f.mandatory)),
        "signatures": signatures_text(t.required_signatures),
    }


def signatures_text(roles: frozenset[SignatureRole]) -> str:
    return ", ".join(sorted(r.value for r in roles)) or "none"


def template_view(t: ReportTemplate) -> list[dict[str, Any]]:
    """Each family (red: it has a mandatory field) with its fields."""
    return [
        {
            "name": fam.name,
            "key": fam.key,
            "red": fam.has_mandatory,
            "fields": [
                {
                    "label": f.label,
                    "key": f.key,
                    "type": f.type.value,
                    "mandatory": f.mandatory,
                }
                for f in fam.fields
            ],
        }
        for fam in t.families
    ]


def body_of(t: ReportTemplate) -> dict[str, Any]:
    """The template as the API's body (what ``PUT`` takes back)."""
    return {
        "name": t.name,
        "required_signatures": sorted(r.value for r in t.required_signatures),
        "families": [
            {"key": f.key, "name": f.name, "fields": [d.to_json() for d in f.fields]}
            for f in t.families
        ],
    }


def body_text(t: ReportTemplate) -> str:
    return json.dumps(body_of(t), indent=2, ensure_ascii=False)


def parse_body(text: str | None) -> object:
    """The JSON editor's text as a body (the domain checks the rest)."""
    try:
        return json.loads(text or "")
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "not JSON",
            [FieldProblem("/body", f"not JSON: {exc.msg} (line {exc.lineno})")],
        ) from exc


@dataclass(frozen=True)
class NewField:
    """The Add-a-field form, as typed."""

    family: str
    label: str
    key: str
    type: str
    mandatory: bool

    @classmethod
    def typed(
        cls,
        family: str | None,
        label: str | None,
        key: str | None,
        type_: str | None,
        mandatory: Sequence[str] | None,
    ) -> NewField:
        return cls(
            (family or "").strip(),
            (label or "").strip(),
            (key or "").strip() or key_of(label or ""),
            type_ or "",
            bool(mandatory),
        )


#: The form's slots, by what the domain's pointer into the added field names.
FORM_POINTERS = {
    "family": "/family",
    "name": "/family",
    "key": "/key",
    "label": "/label",
    "type": "/type",
    "mandatory": "/mandatory",
}


def with_field(body: Mapping[str, Any], new: NewField) -> tuple[dict[str, Any], int]:
    """The body with the field added to the family of that name (or to a new
    one, last) and the index of that family."""
    blank = [
        FieldProblem(pointer, "must not be empty")
        for pointer, text in (("/family", new.family), ("/label", new.label))
        if not text
    ]
    if blank:  # (a key made from no label would be the domain's odder answer)
        raise InvalidInput("the field is incomplete", blank)
    families = [dict(f, fields=list(f["fields"])) for f in body.get("families", [])]
    index = next(
        (
            i
            for i, fam in enumerate(families)
            if fam["name"].casefold() == new.family.casefold()
        ),
        None,
    )
    if index is None:
        families.append({"key": key_of(new.family), "name": new.family, "fields": []})
        index = len(families) - 1
    families[index]["fields"].append(
        {
            "key": new.key,
            "label": new.label,
            "type": new.type,
            "mandatory": new.mandatory,
        }
    )
    return {**body, "families": families}, index


def form_problems(
    problems: Sequence[FieldProblem], family: int, field: int
) -> list[FieldProblem]:
    """The domain's problems of the added field (family ``family``, its field
    ``field``) at the form's own pointers; others as they are."""
    out = []
    for p in problems:
        m = _ADDED.match(p.pointer)
        if m is None:
            out.append(p)
            continue
        ours = int(m.group(1)) == family and (
            m.group(3) is None or int(m.group(3)) == field
        )
        slot = FORM_POINTERS.get(m.group(4)) if ours else None
        out.append(p if slot is None else FieldProblem(slot, p.message))
    return out


def new_body(name: str | None, signatures: Sequence[str] | None) -> dict[str, Any]:
    """A new template's body before its first field (``with_field`` adds it)."""
    return {
        "name": (name or "").strip(),
        "required_signatures": list(signatures or []),
        "families": [],
    }
