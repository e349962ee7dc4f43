"""Job report: admin-defined templates, technician-filled answers, reserves, signatures.

A report template groups typed fields into families. A job's report keeps a
snapshot of its template (later template edits never rewrite a report that is
under way), the answers and comments per field, reserves raised on fields,
attachments (photos, barcode readings) and the customer's and technician's
signatures. Images are referenced by content hash (:class:`ImageRef`); their
bytes live in storage.

Rules enforced here:

* a value must match its field's type (:func:`parse_value`);
* every mandatory field must be filled and every required signature validated
  before the report can be completed (:meth:`Report.blockers`);
* only the job's Job Manager completes the report; auxiliaries (and the back
  office) may fill fields;
* a validated signature never changes; a completed report never changes,
  except for the status of its reserves, which the back office follows up;
* raising a reserve records a :class:`ReserveRaised` event so the back office is
  alerted at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final, TypeAlias

from jobs_domain.errors import (
    Blocker,
    CompletionBlocked,
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    parse_enum,
)
from jobs_domain.filetypes import SNIFF_BYTES, sniff
from jobs_domain.job import CrewRole

JsonValue: TypeAlias = (
    "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
)

KEY_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME: Final = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
MAX_TEXT: Final = 10_000  # a long free-text answer; beyond this it is a paste accident
MAX_LABEL: Final = 200
MAX_COMMENT: Final = 4_000
MAX_BARCODE: Final = 256  # GS1-128 and QR payloads used on parts fit easily
MAX_NAME: Final = 200
MAX_IMAGE_BYTES: Final = 5 * 1024 * 1024  # a phone photo after the app's resize
MAX_PHOTOS_PER_RESERVE: Final = 10


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


class ReserveStatus(StrEnum):
    """Follow-up state of a reserve (an issue found on site)."""

    COMPLIANT = "compliant"
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"


class SignatureRole(StrEnum):
    """Who signs the report."""

    CUSTOMER = "customer"
    TECHNICIAN = "technician"


class ReportStatus(StrEnum):
    """A report is open until its Job Manager completes it."""

    OPEN = "open"
    COMPLETED = "completed"


class AttachmentKind(StrEnum):
    """What a report attachment holds."""

    PHOTO = "photo"
    BARCODE = "barcode"


# --- parsing helpers ----------------------------------------------------------


def _problem(pointer: str, message: str) -> InvalidInput:
    return InvalidInput(message, [FieldProblem(pointer, message)])


def _text(
    value: object, pointer: str, *, max_len: int, required: bool = True
) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _problem(pointer, "must be a string")
    stripped = value.strip()
    if required and not stripped:
        raise _problem(pointer, "must not be empty")
    if len(stripped) > max_len:
        raise _problem(pointer, f"must be at most {max_len} characters")
    return stripped


def _key(value: object, pointer: str) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.match(value):
        raise _problem(
            pointer, "must be 1-64 characters of a-z, 0-9, '_' or '-', starting alnum"
        )
    return value


@dataclass(frozen=True)
class ImageRef:
    """A stored image: its content hash, type and size; the bytes live in storage."""

    sha256: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Image:
    """A decoded image upload: bytes plus the type sniffed from its magic number."""

    data: bytes
    content_type: str

    @property
    def ref(self) -> ImageRef:
        return ImageRef(
            sha256=hashlib.sha256(self.data).hexdigest(),
            content_type=self.content_type,
            size=len(self.data),
        )


IMAGE_TYPES: Final = ("image/png", "image/jpeg", "image/webp")


def decode_image(value: object, pointer: str) -> Image:
    """Decode a base64 image (optionally a ``data:`` URL); PNG, JPEG or WebP only."""
    if not isinstance(value, str) or not value:
        raise _problem(pointer, "must be a base64-encoded PNG, JPEG or WebP image")
    payload = value
    if payload.startswith("data:"):
        _, _, payload = payload.partition(",")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _problem(pointer, "is not valid base64") from exc
    if len(data) > MAX_IMAGE_BYTES:
        raise _problem(pointer, f"image is larger than {MAX_IMAGE_BYTES} bytes")
    content_type = sniff(data[:SNIFF_BYTES])
    if content_type not in IMAGE_TYPES:
        raise _problem(pointer, "must be a PNG, JPEG or WebP image")
    return Image(data=data, content_type=content_type)


# --- templates ------------------------------------------------------------------


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
        raise _problem("", "must be an object")

    name: str = ""
    try:
        name = _text(data.get("name"), "/name", max_len=MAX_LABEL) or ""
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
                _text(raw_family.get("name"), f"{fp}/name", max_len=MAX_LABEL) or ""
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
                    raise _problem(f"{pp}/key", "duplicate field key in this template")
                seen_fields.add(key)
                label = _text(raw_field.get("label"), f"{pp}/label", max_len=MAX_LABEL)
                ftype = parse_enum(FieldType, raw_field.get("type"), f"{pp}/type")
                mandatory = raw_field.get("mandatory", False)
                if not isinstance(mandatory, bool):
                    raise _problem(f"{pp}/mandatory", "must be a boolean")
                fields.append(FieldDef(key, label or "", ftype, mandatory))
            except InvalidInput as exc:
                problems += exc.problems
        families.append(Family(fam_key, fam_name, tuple(fields)))
    raw_sigs = data.get("required_signatures", [r.value for r in SignatureRole])
    signatures: set[SignatureRole] = set()
    if not isinstance(raw_sigs, list):
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


def parse_value(fdef: FieldDef, value: object, pointer: str) -> JsonValue:
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
            raise _problem(pointer, f"a {t.value} field takes {expect}")
        return value
    if t is FieldType.TEXT:
        if not isinstance(value, str):
            raise _problem(pointer, "a text field takes a string")
        if len(value) > MAX_TEXT:
            raise _problem(pointer, f"must be at most {MAX_TEXT} characters")
        return value
    if t is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(
            value, int | float | str | Decimal
        ):
            raise _problem(pointer, "a number field takes a number")
        try:
            number = (
                Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            )
        except InvalidOperation as exc:
            raise _problem(pointer, "a number field takes a number") from exc
        if not number.is_finite():
            raise _problem(pointer, "must be a finite number")
        return str(number)
    if t is FieldType.DATE:
        if not isinstance(value, str) or not _DATE.match(value):
            raise _problem(pointer, "a date field takes YYYY-MM-DD")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise _problem(pointer, "a date field takes YYYY-MM-DD") from exc
    if t is FieldType.TIME:
        if not isinstance(value, str) or not _TIME.match(value):
            raise _problem(pointer, "a time field takes HH:MM or HH:MM:SS")
        try:
            parsed = time.fromisoformat(value)
        except ValueError as exc:
            raise _problem(pointer, "a time field takes HH:MM or HH:MM:SS") from exc
        return parsed.isoformat(timespec="seconds" if len(value) == 8 else "minutes")
    if t is FieldType.BARCODE:
        if not isinstance(value, str) or not value.strip():
            raise _problem(
                pointer, "a barcode field takes the scanned value as a string"
            )
        if len(value) > MAX_BARCODE or not value.isprintable():
            raise _problem(
                pointer, f"must be at most {MAX_BARCODE} printable characters"
            )
        return value.strip()
    # signature field: {"name": ..., "image": base64}
    if not isinstance(value, Mapping):
        raise _problem(pointer, "a signature field takes {name, image}")
    name = _text(value.get("name"), f"{pointer}/name", max_len=MAX_NAME)
    image = decode_image(value.get("image"), f"{pointer}/image")
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


@dataclass(frozen=True)
class ReportActor:
    """Who acts on a report: their user id, their crew position, office or not."""

    user_id: str
    crew_position: CrewRole | None = None
    office: bool = False


@dataclass(frozen=True)
class FieldEntry:
    """The answer and comment recorded for one field."""

    value: JsonValue = None
    comment: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ReserveChange:
    """One status change of a reserve, kept for the audit trail."""

    status: ReserveStatus
    comment: str | None
    by: str
    at: datetime


@dataclass(frozen=True)
class Reserve:
    """An issue found on site, raised on one field."""

    id: str
    field_key: str
    comment: str
    photos: tuple[ImageRef, ...]
    status: ReserveStatus
    raised_by: str
    raised_at: datetime
    history: tuple[ReserveChange, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """A photo with its description, or a barcode reading with its value."""

    id: str
    kind: AttachmentKind
    description: str | None
    barcode: str | None
    image: ImageRef | None
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class Signature:
    """A signature: signer's name, time and image; immutable once validated."""

    role: SignatureRole
    signer_name: str
    image: ImageRef
    signed_at: datetime
    signed_by: str
    validated_at: datetime | None = None

    @property
    def validated(self) -> bool:
        return self.validated_at is not None


@dataclass(frozen=True)
class ReserveRaised:
    """Event: a reserve was raised; the back office is alerted immediately."""

    job_id: str
    client_id: str
    site_id: str | None
    reserve_id: str
    field_key: str
    field_label: str
    family_name: str
    comment: str
    photo_count: int
    raised_by: str
    raised_at: datetime

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": "reserve.raised",
            "job_id": self.job_id,
            "client_id": self.client_id,
            "site_id": self.site_id,
            "reserve_id": self.reserve_id,
            "field_key": self.field_key,
            "field_label": self.field_label,
            "family_name": self.family_name,
            "comment": self.comment,
            "photo_count": self.photo_count,
            "raised_by": self.raised_by,
            "raised_at": self.raised_at.isoformat(),
        }


@dataclass
class Report:
    """A job's report, following a snapshot of its template."""

    job_id: str
    client_id: str
    site_id: str | None
    template: ReportTemplate
    entries: dict[str, FieldEntry] = field(default_factory=dict)
    reserves: list[Reserve] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    signatures: dict[SignatureRole, Signature] = field(default_factory=dict)
    status: ReportStatus = ReportStatus.OPEN
    completed_by: str | None = None
    completed_at: datetime | None = None
    version: int = 0
    events: list[ReserveRaised] = field(default_factory=list)

    # --- guards ---
    def _require_open(self) -> None:
        if self.status is ReportStatus.COMPLETED:
            raise Conflict("the report is completed and validated; it cannot change")

    @staticmethod
    def _require_participant(actor: ReportActor) -> None:
        if actor.crew_position is None and not actor.office:
            raise Forbidden(
                "only the job's crew or the back office may edit its report"
            )

    # --- fields ---
    def update_fields(
        self, changes: Mapping[str, object], actor: ReportActor, at: datetime
    ) -> None:
        """Set values and/or comments of several fields, all or nothing.

        ``changes`` maps field keys to ``{"value": ..., "comment": ...}``; a
        missing member leaves that part unchanged, ``null`` clears it.
        """
        self._require_open()
        self._require_participant(actor)
        problems: list[FieldProblem] = []
        staged: dict[str, FieldEntry] = {}
        for key, change in changes.items():
            pointer = f"/fields/{key}"
            try:
                _, fdef = self.template.field(key)
            except NotFound:
                problems.append(FieldProblem(pointer, "no such field in this report"))
                continue
            if not isinstance(change, Mapping) or not change:
                problems.append(FieldProblem(pointer, "must be {value, comment}"))
                continue
            unknown = set(change) - {"value", "comment"}
            if unknown:
                problems.append(
                    FieldProblem(
                        pointer, f"unknown members: {', '.join(sorted(unknown))}"
                    )
                )
                continue
            entry = self.entries.get(key, FieldEntry())
            try:
                value = entry.value
                if "value" in change:
                    value = parse_value(fdef, change["value"], f"{pointer}/value")
                comment = entry.comment
                if "comment" in change:
                    comment = _text(
                        change["comment"],
                        f"{pointer}/comment",
                        max_len=MAX_COMMENT,
                        required=False,
                    )
            except InvalidInput as exc:
                problems += exc.problems
                continue
            staged[key] = FieldEntry(value, comment or None, actor.user_id, at)
        if problems:
            raise InvalidInput("some report fields are invalid", problems)
        self.entries.update(staged)

    def families_view(self) -> list[dict[str, JsonValue]]:
        """Families with their fields' answers, and which families show in red."""
        out: list[dict[str, JsonValue]] = []
        for fam in self.template.families:
            fields: list[JsonValue] = []
            for f in fam.fields:
                entry = self.entries.get(f.key, FieldEntry())
                fields.append(
                    {
                        **f.to_json(),
                        "value": entry.value,
                        "comment": entry.comment,
                        "filled": is_filled(f, entry.value),
                        "reserves": [
                            r.id for r in self.reserves if r.field_key == f.key
                        ],
                    }
                )
            out.append(
                {
                    "key": fam.key,
                    "name": fam.name,
                    "has_mandatory": fam.has_mandatory,
                    "complete": all(
                        is_filled(f, self.entries.get(f.key, FieldEntry()).value)
                        for f in fam.fields
                        if f.mandatory
                    ),
                    "fields": fields,
                }
            )
        return out

    # --- reserves ---
    def raise_reserve(
        self,
        reserve_id: str,
        field_key: str,
        comment: object,
        photos: Sequence[ImageRef],
        actor: ReportActor,
        at: datetime,
    ) -> Reserve:
        """Raise a reserve on a field; records the back-office alert event."""
        self._require_open()
        self._require_participant(actor)
        try:
            family, fdef = self.template.field(field_key)
        except NotFound as exc:
            raise _problem("/field_key", "no such field in this report") from exc
        text = _text(comment, "/comment", max_len=MAX_COMMENT) or ""
        if len(photos) > MAX_PHOTOS_PER_RESERVE:
            raise _problem("/photos", f"at most {MAX_PHOTOS_PER_RESERVE} photos")
        reserve = Reserve(
            id=reserve_id,
            field_key=field_key,
            comment=text,
            photos=tuple(photos),
            status=ReserveStatus.UNRESOLVED,
            raised_by=actor.user_id,
            raised_at=at,
        )
        self.reserves.append(reserve)
        self.events.append(
            ReserveRaised(
                job_id=self.job_id,
                client_id=self.client_id,
                site_id=self.site_id,
                reserve_id=reserve_id,
                field_key=field_key,
                field_label=fdef.label,
                family_name=family.name,
                comment=text,
                photo_count=len(photos),
                raised_by=actor.user_id,
                raised_at=at,
            )
        )
        return reserve

    def set_reserve_status(
        self,
        reserve_id: str,
        status: object,
        comment: object,
        actor: ReportActor,
        at: datetime,
    ) -> Reserve:
        """Move a reserve to Compliant, Resolved or Unresolved (allowed after completion)."""
        self._require_participant(actor)
        new_status = parse_enum(ReserveStatus, status, "/status")
        note = _text(comment, "/comment", max_len=MAX_COMMENT, required=False)
        for i, reserve in enumerate(self.reserves):
            if reserve.id == reserve_id:
                updated = replace(
                    reserve,
                    status=new_status,
                    history=(
                        *reserve.history,
                        ReserveChange(new_status, note, actor.user_id, at),
                    ),
                )
                self.reserves[i] = updated
                return updated
        raise NotFound(f"reserve {reserve_id} not found on this report")

    # --- attachments ---
    def add_photo(
        self,
        attachment_id: str,
        image: ImageRef,
        description: object,
        actor: ReportActor,
        at: datetime,
    ) -> Attachment:
        self._require_open()
        self._require_participant(actor)
        desc = _text(description, "/description", max_len=MAX_COMMENT, required=False)
        attachment = Attachment(
            attachment_id, AttachmentKind.PHOTO, desc, None, image, actor.user_id, at
        )
        self.attachments.append(attachment)
        return attachment

    def add_barcode(
        self,
        attachment_id: str,
        value: object,
        description: object,
        actor: ReportActor,
        at: datetime,
    ) -> Attachment:
        self._require_open()
        self._require_participant(actor)
        barcode = parse_value(
            FieldDef("barcode", "barcode", FieldType.BARCODE), value, "/barcode"
        )
        if barcode is None:
            raise _problem("/barcode", "the scanned value is required")
        desc = _text(description, "/description", max_len=MAX_COMMENT, required=False)
        attachment = Attachment(
            attachment_id,
            AttachmentKind.BARCODE,
            desc,
            str(barcode),
            None,
            actor.user_id,
            at,
        )
        self.attachments.append(attachment)
        return attachment

    def delete_attachment(self, attachment_id: str, actor: ReportActor) -> None:
        self._require_open()
        self._require_participant(actor)
        for i, attachment in enumerate(self.attachments):
            if attachment.id == attachment_id:
                del self.attachments[i]
                return
        raise NotFound(f"attachment {attachment_id} not found on this report")

    # --- signatures ---
    def sign(
        self,
        role: object,
        signer_name: object,
        image: ImageRef,
        actor: ReportActor,
        at: datetime,
    ) -> Signature:
        """Add (or redo) a signature; refused once it has been validated."""
        self._require_open()
        self._require_participant(actor)
        sig_role = _signature_role(role)
        current = self.signatures.get(sig_role)
        if current is not None and current.validated:
            raise Conflict(
                f"the {sig_role.value} signature is validated; it cannot change"
            )
        name = _text(signer_name, "/signer_name", max_len=MAX_NAME) or ""
        signature = Signature(sig_role, name, image, at, actor.user_id)
        self.signatures[sig_role] = signature
        return signature

    def clear_signature(self, role: object, actor: ReportActor) -> None:
        self._require_open()
        self._require_participant(actor)
        sig_role = _signature_role(role)
        current = self.signatures.get(sig_role)
        if current is None:
            raise NotFound(f"there is no {sig_role.value} signature")
        if current.validated:
            raise Conflict(
                f"the {sig_role.value} signature is validated; it cannot change"
            )
        del self.signatures[sig_role]

    def validate_signature(
        self, role: object, actor: ReportActor, at: datetime
    ) -> Signature:
        self._require_open()
        self._require_participant(actor)
        sig_role = _signature_role(role)
        current = self.signatures.get(sig_role)
        if current is None:
            raise Conflict(f"there is no {sig_role.value} signature to validate")
        if current.validated:
            raise Conflict(f"the {sig_role.value} signature is already validated")
        validated = replace(current, validated_at=at)
        self.signatures[sig_role] = validated
        return validated

    # --- completion ---
    def blockers(self) -> list[Blocker]:
        """Everything that stops completion: each missing mandatory field by name,
        each required signature that is missing or not validated."""
        items: list[Blocker] = []
        for family, fdef in self.template.all_fields():
            if fdef.mandatory and not is_filled(
                fdef, self.entries.get(fdef.key, FieldEntry()).value
            ):
                items.append(
                    Blocker(
                        code="mandatory-field-missing",
                        message=f"{family.name} › {fdef.label} is mandatory",
                        ref=f"report/fields/{fdef.key}",
                    )
                )
        for role in sorted(self.template.required_signatures, key=lambda r: r.value):
            signature = self.signatures.get(role)
            if signature is None:
                items.append(
                    Blocker(
                        "signature-missing",
                        f"the {role.value}'s signature is missing",
                        f"report/signatures/{role.value}",
                    )
                )
            elif not signature.validated:
                items.append(
                    Blocker(
                        "signature-not-validated",
                        f"the {role.value}'s signature is not validated",
                        f"report/signatures/{role.value}",
                    )
                )
        return items

    def complete(self, actor: ReportActor, at: datetime) -> None:
        """Complete (validate) the report: Job Manager only, nothing missing."""
        self._require_open()
        if actor.crew_position is not CrewRole.JOB_MANAGER:
            raise Forbidden("only the Job Manager can complete the report")
        items = self.blockers()
        if items:
            raise CompletionBlocked("the report has missing items", items)
        self.status = ReportStatus.COMPLETED
        self.completed_by = actor.user_id
        self.completed_at = at

    def pull_events(self) -> list[ReserveRaised]:
        events, self.events = self.events, []
        return events


def _signature_role(value: object) -> SignatureRole:
    return parse_enum(SignatureRole, value, "/role")


def new_report(
    job_id: str, client_id: str, site_id: str | None, template: ReportTemplate
) -> Report:
    """Start a job's report from a snapshot of its template."""
    return Report(
        job_id=job_id, client_id=client_id, site_id=site_id, template=template
    )
