"""The report template language: typed fields grouped in families.

An administrator defines a template (:func:`parse_template`); each field has a
type (:class:`FieldType`) and may be mandatory; the template names the
signatures a report needs. :func:`parse_value` checks an answer against its
field's type and gives its stored form; :func:`is_filled` says whether an answer
satisfies a mandatory field. The report itself (answers, reserves, signatures)
is :mod:`jobs_domain.report`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final, TypeAlias

from jobs_domain.errors import FieldProblem, InvalidInput, NotFound, invalid, parse_enum
from jobs_domain.images import MAX_IMAGE_BYTES, decode_image

JsonValue: TypeAlias = (
    "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
)

KEY_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME: Final = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
MAX_TEXT: Final = 10_000  # a long free-text answer; beyond this it is a paste accident
MAX_LABEL: Final = 200
MAX_BARCODE: Final = 256  # GS1-128 and QR payloads used on parts fit easily
MAX_NAME: Final = 200


class FieldType(StrEnum):
    """The kinds of answer a report field takes."""

    CHECKBOX = "checkbox"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    TIME = "time"
    SIGNATURE = "signature"
    VALIDATION = "validation"
    BARCODE = "barcode"


class SignatureRole(StrEnum):
    """Who signs the report."""

    CUSTOMER = "customer"
    TECHNICIAN = "technician"


def parse_text(
    value: object, pointer: str, *, max_len: int, required: bool = True
) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise invalid(pointer, "must be a string")
    stripped = value.strip()
    if required and not stripped:
        raise invalid(pointer, "must not be empty")
    if len(stripped) > max_len:
        raise invalid(pointer, f"must be at most {max_len} characters")
    return stripped


def _key(value: object, pointer: str) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise invalid(
            pointer, "must be 1-64 characters of a-z, 0-9, '_' or '-', starting alnum"
        )
    return value


@dataclass(frozen=True)
class FieldDef:
    """One question of a template."""

    key: str
    label: str
    type: FieldType
    mandatory: bool = False

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "key": self.key,
            "label": self.label,
            "type": self.type.value,
            "mandatory": self.mandatory,
        }


@dataclass(frozen=True)
class Family:
    """A named group of fields, shown together in the app."""

    key: str
    name: str
    fields: tuple[FieldDef, ...]

    @property
    def has_mandatory(self) -> bool:
        """True when the app must show this family in red."""
        return any(f.mandatory for f in self.fields)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "key": self.key,
            "name": self.name,
            "has_mandatory": self.has_mandatory,
            "fields": [f.to_json() for f in self.fields],
        }


@dataclass(frozen=True)
class ReportTemplate:
    """An administrator-defined report: families of typed fields and signatures."""

    id: str
    name: str
    families: tuple[Family, ...]
    required_signatures: frozenset[SignatureRole] = frozenset(SignatureRole)

    def field(self, key: str) -> tuple[Family, FieldDef]:
        for family in self.families:
            for f in family.fields:
                if f.key == key:
                    return family, f
        raise NotFound(f"the report has no field {key!r}")

    def all_fields(self) -> list[tuple[Family, FieldDef]]:
        return [(fam, f) for fam in self.families for f in fam.fields]

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "name": self.name,
            "families": [f.to_json() for f in self.families],
            "required_signatures": [
                r.value for r in sorted(self.required_signatures, key=str)
            ],
        }


def parse_template(template_id: str, data: object) -> ReportTemplate:
    """Build a template from its JSON body, reporting every problem with a pointer."""
    problems: list[FieldProblem] = []
    if not isinstance(data, Mapping):
        raise invalid("", "must be an object")

    name: str = ""
    try:
        name = parse_text(data.get("name"), "/name", max_len=MAX_LABEL) or ""
    except InvalidInput as exc:
        problems += exc.problems
    families: list[Family] = []
    seen_fields: set[str] = set()
    seen_families: set[str] = set()
    raw_families = data.get("families")
    if not isinstance(raw_families, list) or not raw_families:
        problems.append(FieldProblem("/families", "must be a non-empty array"))
        raw_families = []
    for i, raw_family in enumerate(raw_families):
        fp = f"/families/{i}"
        if not isinstance(raw_family, Mapping):
            problems.append(FieldProblem(fp, "must be an object"))
            continue
        fam_key = fam_name = ""
        try:
            fam_key = _key(raw_family.get("key"), f"{fp}/key")
            if fam_key in seen_families:
                problems.append(FieldProblem(f"{fp}/key", "duplicate family key"))
            seen_families.add(fam_key)
        except InvalidInput as exc:
            problems += exc.problems
        try:
            fam_name = (
                parse_text(raw_family.get("name"), f"{fp}/name", max_len=MAX_LABEL)
                or ""
            )
        except InvalidInput as exc:
            problems += exc.problems
        raw_fields = raw_family.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            problems.append(FieldProblem(f"{fp}/fields", "must be a non-empty array"))
            raw_fields = []
        fields: list[FieldDef] = []
        for j, raw_field in enumerate(raw_fields):
            pp = f"{fp}/fields/{j}"
            if not isinstance(raw_field, Mapping):
                problems.append(FieldProblem(pp, "must be an object"))
                continue
            try:
                key = _key(raw_field.get("key"), f"{pp}/key")
                if key in seen_fields:
                    raise invalid(f"{pp}/key", "duplicate field key in this template")
                seen_fields.add(key)
                label = parse_text(
                    raw_field.get("label"), f"{pp}/label", max_len=MAX_LABEL
                )
                ftype = parse_enum(FieldType, raw_field.get("type"), f"{pp}/type")
                mandatory = raw_field.get("mandatory", False)
                if not isinstance(mandatory, bool):
                    raise invalid(f"{pp}/mandatory", "must be a boolean")
                fields.append(FieldDef(key, label or "", ftype, mandatory))
            except InvalidInput as exc:
                problems += exc.problems
        families.append(Family(fam_key, fam_name, tuple(fields)))
    # No default: a report that silently needs both signatures (or none) is a
    # surprise at completion time, so the administrator says which, [] for none.
    raw_sigs = data.get("required_signatures")
    signatures: set[SignatureRole] = set()
    if raw_sigs is None:
        problems.append(
            FieldProblem(
                "/required_signatures",
                "say which signatures the report needs: customer, technician, "
                "both, or [] for none",
            )
        )
    elif not isinstance(raw_sigs, list):
        problems.append(FieldProblem("/required_signatures", "must be an array"))
    else:
        for k, raw in enumerate(raw_sigs):
            try:
                signatures.add(SignatureRole(raw))
            except ValueError:
                problems.append(
                    FieldProblem(
                        f"/required_signatures/{k}",
                        "must be 'customer' or 'technician'",
                    )
                )
    if problems:
        raise InvalidInput("the report template is invalid", problems)
    return ReportTemplate(template_id, name, tuple(families), frozenset(signatures))


def template_from_json(data: Mapping[str, object]) -> ReportTemplate:
    """Rebuild a template stored with :meth:`ReportTemplate.to_json`."""
    template_id = data.get("id")
    return parse_template(str(template_id), dict(data))


# --- field values -----------------------------------------------------------------


def parse_value(
    fdef: FieldDef,
    value: object,
    pointer: str,
    *,
    max_image_bytes: int = MAX_IMAGE_BYTES,
) -> JsonValue:
    """Check ``value`` against the field's type and return its stored JSON form.

    ``None`` clears the answer. Numbers are kept as decimal strings so that they
    stay exact; dates as ``YYYY-MM-DD``, times as ``HH:MM[:SS]``; a validation is
    ``true`` (approved) or ``false`` (refused); a signature field is
    ``{"name", "image"}`` and is stored as the name plus the image's hash.
    """
    if value is None:
        return None
    t = fdef.type
    if t in (FieldType.CHECKBOX, FieldType.VALIDATION):
        if t is FieldType.VALIDATION and value in ("yes", "no"):
            return value == "yes"
        if not isinstance(value, bool):
            expect = (
                "true or false" if t is FieldType.CHECKBOX else "true/false (yes/no)"
            )
            raise invalid(pointer, f"a {t.value} field takes {expect}")
        return value
    if t is FieldType.TEXT:
        if not isinstance(value, str):
            raise invalid(pointer, "a text field takes a string")
        if len(value) > MAX_TEXT:
            raise invalid(pointer, f"must be at most {MAX_TEXT} characters")
        return value
    if t is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(
            value, int | float | str | Decimal
        ):
            raise invalid(pointer, "a number field takes a number")
        try:
            number = (
                Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            )
        except InvalidOperation as exc:
            raise invalid(pointer, "a number field takes a number") from exc
        if not number.is_finite():
            raise invalid(pointer, "must be a finite number")
        return str(number)
    if t is FieldType.DATE:
        if not isinstance(value, str) or not _DATE.match(value):
            raise invalid(pointer, "a date field takes YYYY-MM-DD")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise invalid(pointer, "a date field takes YYYY-MM-DD") from exc
    if t is FieldType.TIME:
        if not isinstance(value, str) or not _TIME.match(value):
            raise invalid(pointer, "a time field takes HH:MM or HH:MM:SS")
        try:
            parsed = time.fromisoformat(value)
        except ValueError as exc:
            raise invalid(pointer, "a time field takes HH:MM or HH:MM:SS") from exc
        return parsed.isoformat(timespec="seconds" if len(value) == 8 else "minutes")
    if t is FieldType.BARCODE:
        if not isinstance(value, str) or not value.strip():
            raise invalid(
                pointer, "a barcode field takes the scanned value as a string"
            )
        if len(value) > MAX_BARCODE or not value.isprintable():
            raise invalid(
                pointer, f"must be at most {MAX_BARCODE} printable characters"
            )
        return value.strip()
    # signature field: {"name": ..., "image": base64}
    if not isinstance(value, Mapping):
        raise invalid(pointer, "a signature field takes {name, image}")
    name = parse_text(value.get("name"), f"{pointer}/name", max_len=MAX_NAME)
    image = decode_image(
        value.get("image"), f"{pointer}/image", max_bytes=max_image_bytes
    )
    ref = image.ref
    return {"name": name, "image_sha256": ref.sha256, "content_type": ref.content_type}


def is_filled(fdef: FieldDef, value: JsonValue) -> bool:
    """Whether an answer satisfies a mandatory field.

    A checkbox counts only when ticked (a mandatory checkbox is a thing that
    must be done); a validation counts once answered, yes or no; text and
    barcodes need non-blank content.
    """
    if value is None:
        return False
    if fdef.type is FieldType.CHECKBOX:
        return value is True
    if isinstance(value, str):
        return bool(value.strip())
    return True


# --- report parts -------------------------------------------------------------------
