"""A job's report: technician-filled answers, reserves, attachments, signatures.

A job's report keeps a snapshot of its template (:mod:`jobs_domain.report_template`;
later template edits never rewrite a report that is under way), the answers and
comments per field, reserves raised on fields, attachments (photos, barcode
readings) and the customer's and technician's signatures. Images are referenced by
content hash (:class:`~jobs_domain.images.ImageRef`); their bytes live in storage.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from jobs_domain.actors import Actor
from jobs_domain.errors import (
    Blocker,
    CompletionBlocked,
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    invalid,
    parse_enum,
)
from jobs_domain.images import MAX_IMAGE_BYTES, ImageRef
from jobs_domain.job import CrewRole
from jobs_domain.replay import replay_of
from jobs_domain.report_template import (
    MAX_NAME,
    FieldDef,
    FieldType,
    JsonValue,
    ReportTemplate,
    SignatureRole,
    is_filled,
    parse_text,
    parse_value,
)

MAX_COMMENT: Final = 4_000
MAX_PHOTOS_PER_RESERVE: Final = 10


class ReserveStatus(StrEnum):
    """Follow-up state of a reserve (an issue found on site)."""

    COMPLIANT = "compliant"
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"


class ReportStatus(StrEnum):
    """A report is open until its Job Manager completes it."""

    OPEN = "open"
    COMPLETED = "completed"


class AttachmentKind(StrEnum):
    """What a report attachment holds."""

    PHOTO = "photo"
    BARCODE = "barcode"


# --- report parts -------------------------------------------------------------------


@dataclass(frozen=True)
class ReportActor:
    """Who acts on a report: their user id, their crew position, office or not."""

    user_id: str
    crew_position: CrewRole | None = None
    office: bool = False
    # the acting user, for the job history (a superseded late write is told there)
    who: Actor | None = None


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
        self,
        changes: Mapping[str, object],
        actor: ReportActor,
        at: datetime,
        *,
        max_image_bytes: int = MAX_IMAGE_BYTES,
    ) -> list[str]:
        """Set values and/or comments of several fields, all or nothing.

        ``changes`` maps field keys to ``{"value": ..., "comment": ...}``; a
        missing member leaves that part unchanged, ``null`` clears it.

        ``at`` is when the writer recorded the change: per field, the latest
        recorded change wins. Returns the keys of fields left as they were
        because they had changed after ``at`` (an offline phone's late sync).
        """
        self._require_open()
        self._require_participant(actor)
        problems: list[FieldProblem] = []
        staged: dict[str, FieldEntry] = {}
        superseded: list[str] = []
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
            if entry.updated_at is not None and at < entry.updated_at:
                superseded.append(key)
                continue
            try:
                value = entry.value
                if "value" in change:
                    value = parse_value(
                        fdef,
                        change["value"],
                        f"{pointer}/value",
                        max_image_bytes=max_image_bytes,
                    )
                comment = entry.comment
                if "comment" in change:
                    comment = parse_text(
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
        return superseded

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
            raise invalid("/field_key", "no such field in this report") from exc
        text = parse_text(comment, "/comment", max_len=MAX_COMMENT) or ""
        replayed = replay_of(
            self.reserves,
            reserve_id,
            lambda r: (r.field_key, r.comment) == (field_key, text),
            "reserve",
        )
        if replayed is not None:
            return replayed  # the same reserve, sent again
        if len(photos) > MAX_PHOTOS_PER_RESERVE:
            raise invalid("/photos", f"at most {MAX_PHOTOS_PER_RESERVE} photos")
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
        note = parse_text(comment, "/comment", max_len=MAX_COMMENT, required=False)
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
        desc = parse_text(
            description, "/description", max_len=MAX_COMMENT, required=False
        )
        attachment = Attachment(
            attachment_id, AttachmentKind.PHOTO, desc, None, image, actor.user_id, at
        )
        return self._attach(attachment)

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
            raise invalid("/barcode", "the scanned value is required")
        desc = parse_text(
            description, "/description", max_len=MAX_COMMENT, required=False
        )
        attachment = Attachment(
            attachment_id,
            AttachmentKind.BARCODE,
            desc,
            str(barcode),
            None,
            actor.user_id,
            at,
        )
        return self._attach(attachment)

    def _attach(self, attachment: Attachment) -> Attachment:
        """Add it; under a client's id already here, the same one is a replay."""
        replayed = replay_of(
            self.attachments, attachment.id, attachment.__eq__, "attachment"
        )
        if replayed is not None:
            return replayed
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
        """Add (or redo) a signature; refused once it has been validated.

        A signature recorded before the current one (synced late) does not
        replace it: the current one is returned.
        """
        self._require_open()
        self._require_participant(actor)
        sig_role = _signature_role(role)
        current = self.signatures.get(sig_role)
        if current is not None and at < current.signed_at:
            return current
        if current is not None and current.validated:
            raise Conflict(
                f"the {sig_role.value} signature is validated; it cannot change"
            )
        name = parse_text(signer_name, "/signer_name", max_len=MAX_NAME) or ""
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
