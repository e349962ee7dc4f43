"""The Job page's model: what each tab shows, and which actions the user has.

Pure: no I/O. Which status actions a job offers is not a second copy of the
lifecycle: each action is tried on a copy of the job with the domain's own
method (:func:`offered_actions`); the role comes from the API's matrix
(``jobs_domain.permissions``), the completion blockers from
``services.completion``. Times are in the company's time zone.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from core.reconcile import Reconciliation
from dashboard.pages.jobs.model import STATUS_LABELS
from jobs_domain.actors import Actor
from jobs_domain.errors import Blocker, DomainError, TransitionRefused
from jobs_domain.invoicing import Invoice, InvoiceKind, InvoiceStatus, credit_balance
from jobs_domain.job import (
    AttachmentKind,
    Job,
    JobStatus,
    LineItem,
    Note,
    NoteVisibility,
)
from jobs_domain.money import format_decimal, format_money, totals
from jobs_domain.parts import (
    Condition,
    JobPart,
    Location,
    LocationKind,
    PriceBookItem,
    TakeBack,
)
from jobs_domain.permissions import Act, allowed
from jobs_domain.report import Report, ReserveStatus
from jobs_domain.report_template import (
    FieldDef,
    FieldType,
    SignatureRole,
    is_filled,
)
from storage.invoices import StoredInvoice

PATH = "/job"
AUDIT_PATH = "/audit"  # the audit page takes ?session=<session id>

#: The help page's tabs, in its order (value, label).
TABS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("line-items", "Line Items"),
    ("tasks", "Tasks"),
    ("expenses", "Expenses"),
    ("photos", "Photos & Documents"),
    ("notes", "Notes"),
    ("report", "Report"),
    ("parts", "Parts & Serials"),
    ("sessions", "Sessions"),
    ("history", "History"),
    ("invoice", "Invoice"),
)
TAB_VALUES = frozenset(v for v, _ in TABS)
#: The status actions, in lifecycle order, with their buttons' words.
STATUS_ACTS: tuple[tuple[Act, str], ...] = (
    (Act.SCHEDULE, "Schedule"),
    (Act.START, "Start"),
    (Act.HOLD, "Hold"),
    (Act.RESUME, "Resume"),
    (Act.COMPLETE, "Complete"),
    (Act.CANCEL, "Cancel"),
)
NEEDS_REASON = frozenset({Act.HOLD, Act.CANCEL})
_TRIAL_REASON = "trying whether the action is offered"


@dataclass(frozen=True)
class Offered:
    """A status action the job offers now: enabled, or with what blocks it."""

    act: Act
    label: str
    blockers: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return not self.blockers


def _trial(
    job: Job, act: Act, actor: Actor, now: datetime, extra: Sequence[Blocker]
) -> None:
    """Run ``act`` on ``job`` (a copy) with the domain's own method."""
    if act is Act.SCHEDULE:
        job.schedule(actor, now)
    elif act is Act.START:
        job.start(actor, now)
    elif act is Act.HOLD:
        job.hold(actor, now, _TRIAL_REASON)
    elif act is Act.RESUME:
        job.resume(actor, now)
    elif act is Act.COMPLETE:
        job.complete(actor, now, extra_blockers=extra)
    elif act is Act.CANCEL:
        job.cancel(actor, now, _TRIAL_REASON)


#: The edits whose forms the page offers, each with the part of the job it changes.
EDITS: Mapping[Act, str] = {
    Act.ASSIGN_CREW: "the crew",
    Act.ADD_LINE_ITEM: "line items",
    Act.ADD_TASK: "tasks",
    Act.TICK_TASK: "tasks",
    Act.ADD_NOTE: "notes",
}


def may_edit(job: Job, actor: Actor, act: Act, now: datetime) -> bool:
    """Whether the page offers ``act``'s form: the role matrix, then the job's own
    rule for that edit (a cancelled job is frozen, a completed one is the
    office's; notes are tried with the domain's own method on a copy)."""
    if not allowed(actor.role, act):
        return False
    try:
        if act is Act.ADD_NOTE:
            trial = Note("trial", NoteVisibility.INTERNAL, _TRIAL_REASON, "", "", now)
            copy.deepcopy(job).add_note(actor, now, trial)
        else:
            job.ensure_editable(actor, EDITS[act])
    except DomainError:
        return False
    return True


def offered_actions(
    job: Job, actor: Actor, now: datetime, other_blockers: Sequence[Blocker] = ()
) -> list[Offered]:
    """The status actions the lifecycle offers ``actor`` on ``job`` now.

    An action the role may not do, or whose only refusal is the job's status, is
    not offered. Schedule is offered to a Pending job even while it lacks a Job
    Manager or window: its form supplies them. The others are offered with the
    blockers their own rule names (Complete: every completion blocker, the
    report's included via ``other_blockers``), so the page lists them before the
    click.
    """
    offered: list[Offered] = []
    for act, label in STATUS_ACTS:
        if not allowed(actor.role, act):
            continue
        try:
            _trial(copy.deepcopy(job), act, actor, now, other_blockers)
        except TransitionRefused as refused:
            if any(b.code == "wrong-status" for b in refused.items):
                continue
            if act is Act.SCHEDULE:
                offered.append(Offered(act, label))
                continue
            offered.append(Offered(act, label, tuple(b.message for b in refused.items)))
            continue
        except DomainError:
            continue  # e.g. Forbidden by the job's own rule for this actor
        offered.append(Offered(act, label))
    return offered


# -- the tabs' contents ----------------------------------------------------------------


def when(t: datetime | None, zone: ZoneInfo) -> str:
    return "" if t is None else f"{t.astimezone(zone):%a %d %b %Y %H:%M}"


def money(value: Decimal) -> str:
    """An amount as the API writes money (``60.00``)."""
    return format_money(value)


def status_label(status: JobStatus) -> str:
    return STATUS_LABELS[status]


def crew_rows(job: Job, names: Mapping[str, str]) -> list[dict[str, str]]:
    """The crew, Job Manager first."""
    ordered = sorted(job.crew, key=lambda m: m.role.value != "job_manager")
    return [
        {
            "technician_id": m.technician_id,
            "name": names.get(m.technician_id, "?"),
            "role": "Job Manager" if m.role.value == "job_manager" else "Auxiliary",
        }
        for m in ordered
    ]


def line_item_rows(
    items: Sequence[LineItem],
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Each line item (a job's or an estimate's) with its net amount, and the
    totals (net, tax, gross)."""
    rows = [
        {
            "description": i.description,
            "kind": i.kind.value.replace("_", " "),
            "quantity": format_decimal(i.quantity),
            "unit_price": money(i.unit_price),
            "tax_rate": format_decimal(i.tax_rate) + " %",
            "net": money(i.net),
        }
        for i in items
    ]
    t = totals((i.net, i.tax_rate) for i in items)
    return rows, {"net": money(t.net), "tax": money(t.tax), "gross": money(t.gross)}


def task_rows(job: Job, zone: ZoneInfo) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "title": t.title,
            "required": t.required,
            "done": t.done,
            "done_at": when(t.done_at, zone) if t.done else "",
        }
        for t in job.tasks
    ]


NOTE_KINDS: Mapping[NoteVisibility, str] = {
    NoteVisibility.INTERNAL: "Internal — staff only",
    NoteVisibility.PUBLIC: "Public — on the invoice",
}


def note_rows(notes: Sequence[Note], zone: ZoneInfo) -> list[dict[str, str]]:
    """A job's (or an estimate's) notes, newest first; each says whether the
    customer sees it."""
    return [
        {
            "visibility": n.visibility.value,
            "kind": NOTE_KINDS[n.visibility],
            "text": n.text,
            "by": n.author_name,
            "at": when(n.created_at, zone),
        }
        for n in sorted(notes, key=lambda n: n.created_at, reverse=True)
    ]


FILES_PATH = "/job-files"  # /job-files/<job number>/<attachment id>[?download=1]


def file_url(number: str, attachment_id: str, *, download: bool = False) -> str:
    """Where the dashboard serves one of a job's files (inline, or to save)."""
    url = f"{FILES_PATH}/{number}/{attachment_id}"
    return url + "?download=1" if download else url


def expense_rows(job: Job, zone: ZoneInfo) -> list[dict[str, str]]:
    """Each expense; ``receipt_url`` is its receipt photo's ("" until it synced)."""
    synced = {a.id for a in job.attachments}
    return [
        {
            "description": e.description,
            "amount": money(e.amount),
            "at": when(e.created_at, zone),
            "receipt": e.receipt_status(job.attachments) or "no receipt",
            "receipt_url": file_url(job.display_number, e.receipt_attachment_id)
            if e.receipt_attachment_id is not None and e.receipt_attachment_id in synced
            else "",
        }
        for e in job.expenses
    ]


#: The Photos & Documents tab's groups, in the help page's words.
ATTACHMENT_GROUPS: tuple[tuple[str, frozenset[AttachmentKind]], ...] = (
    ("Before", frozenset({AttachmentKind.PHOTO_BEFORE})),
    ("After", frozenset({AttachmentKind.PHOTO_AFTER})),
    ("Photos", frozenset({AttachmentKind.PHOTO, AttachmentKind.RECEIPT})),
    (
        "Documents",
        frozenset(
            {
                AttachmentKind.MANUAL,
                AttachmentKind.PERMIT,
                AttachmentKind.WAIVER,
                AttachmentKind.DOCUMENT,
            }
        ),
    ),
)


def attachment_groups(
    job: Job, zone: ZoneInfo
) -> list[tuple[str, list[dict[str, Any]]]]:
    """The job's files by group (empty groups left out), oldest first, each with
    its inline and download URLs and whether it is an image (a thumbnail)."""
    groups = []
    for title, kinds in ATTACHMENT_GROUPS:
        rows = [
            {
                "kind": a.kind.value.replace("_", " "),
                "description": a.description or a.filename,
                "filename": a.filename,
                "size": f"{max(1, round(a.size / 1024))} KiB",
                "at": when(a.uploaded_at, zone),
                "image": a.content_type.startswith("image/"),
                "url": file_url(job.display_number, a.id),
                "download": file_url(job.display_number, a.id, download=True),
            }
            for a in sorted(job.attachments, key=lambda a: a.uploaded_at)
            if a.kind in kinds
        ]
        if rows:
            groups.append((title, rows))
    return groups


def _hours(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def session_rows(
    job: Job,
    names: Mapping[str, str],
    derived: Mapping[str, Reconciliation | None],
    zone: ZoneInfo,
    now: datetime,
) -> list[dict[str, str]]:
    """Clock times, time worked and the derived arrival/departure of each session,
    with its audit page's link."""
    rows = []
    for s in job.sessions:
        rec = derived.get(s.id)
        rows.append(
            {
                "technician": names.get(s.technician_id, "?"),
                "clock_in": when(s.clocked_in_at, zone),
                "clock_out": when(s.clocked_out_at, zone) or "still clocked in",
                "worked": _hours(s.worked(now)),
                "arrival": "not derived yet"
                if rec is None
                else (when(rec.arrival, zone) or "no visit"),
                "departure": "not derived yet"
                if rec is None
                else (when(rec.departure, zone) or "—"),
                "audit": f"{AUDIT_PATH}?{urlencode({'session': s.id})}",
            }
        )
    return rows


def _value(value: Any, zone: ZoneInfo) -> str:
    """A history detail as a person reads it: times in the company's zone."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return when(moment, zone)
    return str(value)


def _details(
    details: Mapping[str, Any], names: Callable[[str], str], zone: ZoneInfo
) -> str:
    """``key: value`` pairs; technicians by name, times in the zone, and the ids
    of the job's own parts (notes, tasks, items) left out: the rest names them."""
    parts = []
    for key, value in details.items():
        if key.endswith("technician_id") or key == "job_manager":
            key, value = key.removesuffix("_id"), names(str(value))
        elif key.endswith("_id"):
            continue
        elif isinstance(value, dict):
            value = (
                f"{_value(value.get('from'), zone)} → {_value(value.get('to'), zone)}"
            )
        else:
            value = _value(value, zone)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def history_rows(
    entries: Sequence[Mapping[str, Any]], names: Mapping[str, str], zone: ZoneInfo
) -> list[dict[str, str]]:
    """Who, when, what and from where, newest first."""
    return [
        {
            "at": when(e["at"], zone),
            "who": f"{e['actor_name'] or 'system'} ({e['actor_role']})",
            "what": e["action"].replace("_", " ").capitalize(),
            "details": _details(e["details"] or {}, lambda t: names.get(t, t), zone),
            "source": e["source"],
        }
        for e in sorted(entries, key=lambda e: e["id"], reverse=True)
    ]


# -- the Report tab ----------------------------------------------------------------

IMAGES_PATH = "/job-images"  # /job-images/<job number>/<sha256>: the report's images
RESERVE_LABELS: Mapping[ReserveStatus, str] = {
    ReserveStatus.UNRESOLVED: "Unresolved",
    ReserveStatus.RESOLVED: "Resolved",
    ReserveStatus.COMPLIANT: "Compliant",
}
SIGNER_LABELS: Mapping[SignatureRole, str] = {
    SignatureRole.CUSTOMER: "Customer",
    SignatureRole.TECHNICIAN: "Technician",
}


def image_url(number: str, sha256: str) -> str:
    return f"{IMAGES_PATH}/{number}/{sha256}"


def report_images(report: Report) -> frozenset[str]:
    """The hashes of every image the report shows (the only ones its route serves)."""
    shas = {sig.image.sha256 for sig in report.signatures.values()}
    shas |= {p.sha256 for r in report.reserves for p in r.photos}
    shas |= {a.image.sha256 for a in report.attachments if a.image is not None}
    for entry in report.entries.values():
        if isinstance(entry.value, dict) and "image_sha256" in entry.value:
            shas.add(str(entry.value["image_sha256"]))
    return frozenset(shas)


def _answer(fdef: FieldDef, value: Any, number: str) -> tuple[str, str | None]:
    """An answer as a person reads it, and the URL of its image (signatures)."""
    if value is None:
        return "—", None
    if fdef.type is FieldType.VALIDATION:
        return ("Approved" if value else "Refused"), None
    if fdef.type is FieldType.CHECKBOX:
        return ("Yes" if value else "No"), None
    if isinstance(value, dict):
        sha = value.get("image_sha256")
        return str(value.get("name", "")), None if sha is None else image_url(
            number, str(sha)
        )
    return str(value), None


def report_view(
    report: Report, number: str, names: Mapping[str, str], zone: ZoneInfo
) -> dict[str, Any]:
    """The Report tab: each family (red when it has a mandatory field) with its
    answers, the reserves with their status and history, the signatures.

    ``names`` maps user ids to names (who raised, changed, signed)."""

    def who(user_id: str | None) -> str:
        return "someone" if user_id is None else names.get(user_id, "someone")

    labels = {f.key: f.label for _fam, f in report.template.all_fields()}
    families = []
    for fam in report.template.families:
        fields = []
        for f in fam.fields:
            entry = report.entries.get(f.key)
            raw = None if entry is None else entry.value
            value, image = _answer(f, raw, number)
            filled = is_filled(f, raw)
            fields.append(
                {
                    "label": f.label,
                    "mandatory": f.mandatory,
                    "filled": filled,
                    "missing": f.mandatory and not filled,
                    "value": value,
                    "image": image,
                    "comment": (entry.comment if entry else None) or "",
                    "reserves": sum(1 for r in report.reserves if r.field_key == f.key),
                }
            )
        families.append({"name": fam.name, "red": fam.has_mandatory, "fields": fields})
    reserves = [
        {
            "field": labels.get(r.field_key, r.field_key),
            "comment": r.comment,
            "status": r.status.value,
            "status_label": RESERVE_LABELS[r.status],
            "raised": f"{who(r.raised_by)}, {when(r.raised_at, zone)}",
            "photos": [image_url(number, p.sha256) for p in r.photos],
            "history": [
                f"{when(c.at, zone)} · {RESERVE_LABELS[c.status]} · {who(c.by)}"
                + (f" — {c.comment}" if c.comment else "")
                for c in r.history
            ],
        }
        for r in sorted(report.reserves, key=lambda r: r.raised_at)
    ]
    signatures = []
    for role in SignatureRole:
        sig = report.signatures.get(role)
        signatures.append(
            {
                "role": SIGNER_LABELS[role],
                "required": role in report.template.required_signatures,
                "signed": sig is not None,
                "signer": "" if sig is None else sig.signer_name,
                "at": "" if sig is None else when(sig.signed_at, zone),
                "validated": sig is not None and sig.validated,
                "image": None if sig is None else image_url(number, sig.image.sha256),
            }
        )
    return {
        "template": report.template.name,
        "status": "Completed" if report.completed_at else "Open",
        "completed": ""
        if report.completed_at is None
        else f"{who(report.completed_by)}, {when(report.completed_at, zone)}",
        "families": families,
        "reserves": reserves,
        "signatures": signatures,
        "blockers": [b.message for b in report.blockers()],
    }


# -- the Invoice tab ---------------------------------------------------------------

INVOICE_PDF_PATH = "/invoice-pdf"  # /invoice-pdf/<invoice id>[/preview.png]
INVOICE_STATUS_LABELS: Mapping[InvoiceStatus, str] = {
    InvoiceStatus.DRAFT: "Draft",
    InvoiceStatus.ISSUED: "Issued — awaiting payment",
    InvoiceStatus.PAID: "Paid",
    InvoiceStatus.VOID: "Void",
}
#: The invoice actions, with their buttons' words, and the statuses they apply to
#: (the services refuse the rest; the page only offers what can work).
INVOICE_ACTS: tuple[tuple[Act, str, frozenset[InvoiceStatus]], ...] = (
    (Act.ISSUE_INVOICE, "Issue", frozenset({InvoiceStatus.DRAFT})),
    (
        Act.SEND_INVOICE,
        "Send by e-mail",
        frozenset({InvoiceStatus.DRAFT, InvoiceStatus.ISSUED}),
    ),
    (Act.VOID_INVOICE, "Void", frozenset({InvoiceStatus.DRAFT})),
    (
        Act.CREDIT_INVOICE,
        "Credit note",
        frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PAID}),
    ),
)


def invoice_url(invoice_id: str, version: int, *, preview: bool = False) -> str:
    """The PDF (or its preview) of that version: a new version is a new URL, so
    the browser never shows an issued invoice's preview from its draft."""
    url = f"{INVOICE_PDF_PATH}/{invoice_id}"
    return (url + "/preview.png" if preview else url) + f"?v={version}"


def _version_of(inv: Invoice, invoices: Sequence[StoredInvoice]) -> int:
    return next(s.row_version for s in invoices if s.invoice.id == inv.id)


def may_generate(invoices: Sequence[StoredInvoice]) -> bool:
    """Generate Invoice makes (or regenerates) a draft: not once one is issued."""
    return not any(
        s.invoice.kind is InvoiceKind.INVOICE
        and s.invoice.status in (InvoiceStatus.ISSUED, InvoiceStatus.PAID)
        for s in invoices
    )


def credit_body(
    invoice_id: str,
    reason: str | None,
    amount: str | None,
    tax_rate: str | None,
    quantities: Sequence[str | None],
    quantity_ids: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The credit-note body (the API's) of the Invoice tab's credit form for
    ``invoice_id``: the quantity typed on each of its lines, the amount, the
    reason. Text is passed as typed: the domain answers what is not a number."""
    typed = [
        (str(q or "").strip(), i) for q, i in zip(quantities, quantity_ids, strict=True)
    ]
    lines = [
        {"line": int(i["line"]), "quantity": q}
        for q, i in typed
        if q and i.get("invoice") == invoice_id
    ]
    body: dict[str, Any] = {"reason": (reason or "").strip()}
    if lines:
        body["lines"] = lines
    for key, value in (("amount", amount), ("tax_rate", tax_rate)):
        if str(value or "").strip():
            body[key] = str(value).strip()
    return body


def _credit_notes_of(inv: Invoice, invoices: Sequence[StoredInvoice]) -> list[Invoice]:
    return [s.invoice for s in invoices if s.invoice.credits_invoice_id == inv.id]


def invoice_views(
    invoices: Sequence[StoredInvoice], role: Any, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """The job's invoices and credit notes, newest first: lines (with what was
    credited of each and what is left), totals, status, payment, e-mail, the
    credit notes against each invoice, the actions the role and status allow."""
    views = []
    for stored in invoices:
        inv = stored.invoice
        credit = inv.kind is InvoiceKind.CREDIT_NOTE
        acts = [
            {"act": act.name, "label": label}
            for act, label, statuses in INVOICE_ACTS
            if allowed(role, act)
            and inv.status in statuses
            and not (credit and act in (Act.CREDIT_INVOICE, Act.VOID_INVOICE))
        ]
        notes = [] if credit else _credit_notes_of(inv, invoices)
        balance = credit_balance(inv, notes)
        creditable = any(a["act"] == Act.CREDIT_INVOICE.name for a in acts)
        totals = inv.totals
        views.append(
            {
                "id": inv.id,
                "version": stored.row_version,
                "title": ("Credit note " if credit else "Invoice ")
                + (inv.number or "(draft, no number yet)"),
                "status": inv.status.value,
                "status_label": "Issued"  # a credit note awaits no payment
                if credit and inv.status is InvoiceStatus.ISSUED
                else INVOICE_STATUS_LABELS[inv.status],
                "client": f"{inv.client_name} <{inv.client_email or 'no e-mail'}>",
                "lines": [
                    {
                        "description": line.description,
                        "quantity": format_decimal(line.quantity),
                        "unit_price": money(line.unit_price),
                        "tax_rate": format_decimal(line.tax_rate) + " %",
                        "net": money(line.net),
                        "credited": format_decimal(balance.credited_quantities[i]),
                        "left": format_decimal(balance.remaining_quantity(i)),
                    }
                    for i, line in enumerate(inv.lines)
                ],
                "totals": f"Net {money(totals.net)} · Tax {money(totals.tax)} · "
                f"Total {money(totals.gross)} {inv.currency}",
                "credited": ""
                if not notes
                else f"Credited {money(balance.credited_gross)} · Left to credit "
                f"{money(balance.remaining_gross)} {inv.currency}",
                "credit_notes": [
                    {
                        "title": f"Credit note {n.number or '(draft)'}",
                        "total": f"{money(n.totals.gross)} {n.currency}",
                        "reason": "; ".join(n.public_notes[1:]),
                        "pdf": invoice_url(n.id, _version_of(n, invoices)),
                    }
                    for n in notes
                ],
                "creditable": creditable,
                "payment": (
                    "— (a credit note)"
                    if credit
                    else f"paid {when(inv.paid_at, zone)} ({inv.payment_ref})"
                    if inv.paid_at
                    else "payment link sent, not paid yet"
                    if stored.payment_url
                    else "not paid"
                ),
                "payment_url": stored.payment_url or "",
                "emailed": when(stored.emailed_at, zone) or "not sent",
                "pdf": invoice_url(inv.id, stored.row_version),
                "preview": invoice_url(inv.id, stored.row_version, preview=True),
                "acts": acts,
            }
        )
    return views


# -- the Parts & Serials tab -------------------------------------------------------

CONDITION_LABELS: Mapping[Condition, str] = {
    Condition.OK: "OK",
    Condition.NEEDS_REPAIR: "Needs Repair",
    Condition.OBSOLETE: "Obsolete",
}


def _place(location: Location, depots: Mapping[str, str]) -> str:
    if location.kind is LocationKind.DEPOT:
        return f"depot {depots.get(location.depot_id or '', '?')}"
    if location.kind is LocationKind.SITE:
        return "the client's site"
    return "retired"


def parts_view(
    parts: Sequence[JobPart],
    take_backs: Sequence[TakeBack],
    depots: Mapping[str, str],
    items: Mapping[str, str],
    zone: ZoneInfo,
) -> dict[str, list[dict[str, str]]]:
    """The parts used (with their serials and the depot they came from) and each
    unit taken back: its condition now (OK / Needs Repair / Obsolete), where it
    went, whether it was found at the client."""
    return {
        "parts": [
            {
                "name": p.name,
                "family": p.family,
                "quantity": format_decimal(p.quantity),
                "serials": ", ".join(p.serials) or "—",
                "depot": depots.get(p.depot_id or "", "—"),
                "at": when(p.added_at, zone),
            }
            for p in parts
        ],
        "take_backs": [
            {
                "serial": t.serial,
                "item": items.get(t.item_id, "?"),
                "condition": t.condition.value,
                "condition_label": CONDITION_LABELS[t.condition],
                "before": CONDITION_LABELS[t.previous_condition],
                "went_to": _place(t.to_location, depots),
                "found": "yes" if t.found_at_client else "no (not on record here)",
                "at": when(t.at, zone),
            }
            for t in sorted(take_backs, key=lambda t: t.at)
        ],
    }


def part_body(
    item_id: str | None, quantity: str | None, serials: str | None, depot_id: str | None
) -> dict[str, Any]:
    """The Parts tab's "Add a part used" as ``POST /jobs/{id}/parts``'s body:
    serials one a unit, separated by commas, spaces or new lines."""
    body: dict[str, Any] = {
        "item_id": item_id or "",
        "quantity": (quantity or "").strip(),
        "depot_id": depot_id,
    }
    typed = [s for s in re.split(r"[\s,;]+", serials or "") if s]
    if typed:
        body["serials"] = typed
    return body


def take_back_body(
    serial: str | None, condition: str | None, item_id: str | None, depot_id: str | None
) -> dict[str, Any]:
    """The Parts tab's "Record a take back" as ``POST /jobs/{id}/take-backs``'s body."""
    body: dict[str, Any] = {
        "serial": (serial or "").strip(),
        "condition": condition or "ok",
        "depot_id": depot_id,
    }
    if item_id:
        body["item_id"] = item_id
    return body


def item_options(items: Sequence[PriceBookItem]) -> list[dict[str, str]]:
    """The price book as a drop-down: family · name (serialized parts say so)."""
    return [
        {
            "label": f"{i.family} · {i.name}"
            + (" (serialized)" if i.serialized else ""),
            "value": i.id,
        }
        for i in sorted(items, key=lambda i: (i.family, i.name))
    ]
