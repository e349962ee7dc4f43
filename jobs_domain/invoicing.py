"""Invoices and credit notes: from a completed job to a paid invoice.

* "Generate Invoice" builds a draft from a completed job's final line items,
  its parts and services, labour from its clocked sessions (for price-book
  labour billed from sessions) and its public notes; internal notes never
  appear.
* Issuing gives the invoice the next number of its series for the year. Storage
  takes the number from a per-(series, year) counter inside the issuing
  transaction, so a failed issue never burns a number: numbering is gapless.
* An issued invoice never changes. Corrections are credit notes (their own
  gapless series): the whole invoice, some of its lines (a quantity of each),
  an amount, or free lines; a credit note never credits more than what is left
  to credit of a line, nor of the invoice's total (:class:`CreditBalance`). An
  unpaid invoice that is fully credited becomes void.
* States: draft → issued → paid; draft → void (discarded); issued → void
  (fully credited).
* Totals are exact decimals: per tax rate, then with tax (:mod:`money`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Final

from jobs_domain.errors import Conflict, FieldProblem, InvalidInput
from jobs_domain.money import (
    ZERO,
    Totals,
    format_decimal,
    line_net,
    round_money,
    to_decimal,
    totals,
)
from jobs_domain.parts import ItemKind, JobPart

LABOUR_INCREMENT_MINUTES: Final = 15  # clocked time is billed in started quarter hours
CURRENCY: Final = "EUR"
MAX_DESCRIPTION: Final = 500


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    VOID = "void"


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class LineSource(StrEnum):
    """Where an invoice line came from."""

    LINE_ITEM = "line_item"
    PART = "part"
    SERVICE = "service"
    LABOUR = "labour"
    CREDIT = "credit"


SERIES_PREFIX: Final = {InvoiceKind.INVOICE: "INV", InvoiceKind.CREDIT_NOTE: "CN"}


@dataclass(frozen=True)
class InvoiceLine:
    """One priced line of an invoice."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    source: LineSource
    source_ref: str | None = None
    serials: tuple[str, ...] = ()
    credits_line: int | None = None  # a credit note's line: the invoice line it credits

    @property
    def net(self) -> Decimal:
        return line_net(self.quantity, self.unit_price)


# --- what a job hands over -------------------------------------------------------------


@dataclass(frozen=True)
class JobLineItem:
    """A final line item of the job (scope of work from the estimate / price book)."""

    ref: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    price_book_item_id: str | None = None


@dataclass(frozen=True)
class JobNote:
    """A note on the job; only public notes reach the invoice."""

    text: str
    public: bool


@dataclass(frozen=True)
class CompletedJob:
    """Everything invoicing reads from a job."""

    job_id: str
    status: str
    client_id: str
    client_name: str
    client_email: str | None
    line_items: tuple[JobLineItem, ...] = ()
    parts: tuple[JobPart, ...] = ()
    notes: tuple[JobNote, ...] = ()
    session_minutes: int = 0
    session_billed_items: frozenset[str] = (
        frozenset()
    )  # price-book ids billed from time


def billable_hours(minutes: int) -> Decimal:
    """Clocked minutes as hours, rounded up to the started quarter hour."""
    if minutes <= 0:
        return ZERO
    quarters = (Decimal(minutes) / LABOUR_INCREMENT_MINUTES).to_integral_value(
        rounding=ROUND_CEILING
    )
    return quarters * LABOUR_INCREMENT_MINUTES / Decimal(60)


def lines_from_job(job: CompletedJob) -> list[InvoiceLine]:
    """The invoice lines of a completed job, in job order: line items, then parts.

    One model, so nothing is billed twice: line items are the agreed scope (from
    the estimate or the office) and are billed as they stand; parts & services
    are what was used on site, billed only beyond what a line item of the same
    price-book item already covers (quote 2 valves, use 3: the third is billed;
    use 2: nothing more). Labour from sessions counts against a labour line item
    of the same price-book item the same way.
    """
    covered: dict[str, Decimal] = {}
    for li in job.line_items:
        if li.price_book_item_id is not None:
            covered[li.price_book_item_id] = (
                covered.get(li.price_book_item_id, ZERO) + li.quantity
            )
    lines = [
        InvoiceLine(
            li.description,
            li.quantity,
            li.unit_price,
            li.tax_rate,
            LineSource.LINE_ITEM,
            li.ref,
        )
        for li in job.line_items
    ]
    for part in job.parts:
        quantity = part.quantity
        source = {
            ItemKind.PART: LineSource.PART,
            ItemKind.SERVICE: LineSource.SERVICE,
            ItemKind.LABOUR: LineSource.LABOUR,
        }[part.kind]
        if part.kind is ItemKind.LABOUR and part.item_id in job.session_billed_items:
            quantity = billable_hours(job.session_minutes)
        already = min(quantity, covered.get(part.item_id, ZERO))
        if already:
            covered[part.item_id] -= already
            quantity -= already
        if quantity <= ZERO:
            continue
        description = part.name
        if part.serials:
            description += " (S/N " + ", ".join(part.serials) + ")"
        lines.append(
            InvoiceLine(
                description,
                quantity,
                part.unit_price,
                part.tax_rate,
                source,
                part.id,
                part.serials,
            )
        )
    return lines


# --- invoices ----------------------------------------------------------------------------


def format_number(kind: InvoiceKind, year: int, seq: int) -> str:
    """``INV-2025-000042``: series, year, and the gapless sequence in that year."""
    return f"{SERIES_PREFIX[kind]}-{year}-{seq:06d}"


def next_sequence(last_issued: int | None) -> int:
    """The next number of a series: one after the last issued, starting at 1."""
    return 1 if last_issued is None else last_issued + 1


@dataclass
class Invoice:
    """An invoice or credit note of one client."""

    id: str
    kind: InvoiceKind
    job_id: str | None
    client_id: str
    client_name: str
    client_email: str | None
    lines: tuple[InvoiceLine, ...]
    public_notes: tuple[str, ...] = ()
    status: InvoiceStatus = InvoiceStatus.DRAFT
    currency: str = CURRENCY
    year: int | None = None
    seq: int | None = None
    created_at: datetime | None = None
    issued_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    payment_ref: str | None = None
    credits_invoice_id: str | None = None
    version: int = 1
    events: list[object] = field(default_factory=list)

    @property
    def number(self) -> str | None:
        if self.year is None or self.seq is None:
            return None
        return format_number(self.kind, self.year, self.seq)

    @property
    def totals(self) -> Totals:
        return totals((line.net, line.tax_rate) for line in self.lines)

    @property
    def payment_idempotency_key(self) -> str:
        """Stable per invoice version: retries never create a second payment page."""
        return f"crewtrack-invoice-{self.id}-v{self.version}"

    def _require_draft(self) -> None:
        if self.status is not InvoiceStatus.DRAFT:
            raise Conflict(
                f"invoice {self.number or self.id} is {self.status.value}; an issued "
                "invoice never changes — issue a credit note to correct it"
            )

    def replace_lines(self, lines: Sequence[InvoiceLine], notes: Sequence[str]) -> None:
        """Regenerate a draft (new version) from the job's current lines."""
        self._require_draft()
        self.lines = tuple(lines)
        self.public_notes = tuple(notes)
        self.version += 1

    def issue(self, seq: int, at: datetime) -> None:
        """Give the draft its number (the next of its series in ``at``'s year)."""
        self._require_draft()
        if not self.lines:
            raise Conflict("an invoice without lines cannot be issued")
        if self.totals.gross <= ZERO:
            raise Conflict("an invoice must total more than zero")
        if seq < 1:
            raise ValueError("sequence numbers start at 1")
        self.status = InvoiceStatus.ISSUED
        self.year = at.year
        self.seq = seq
        self.issued_at = at

    def mark_paid(self, amount: Decimal, payment_ref: str, at: datetime) -> bool:
        """Record the payment; True if it changed the invoice (webhooks repeat)."""
        if self.kind is not InvoiceKind.INVOICE:
            raise Conflict("a credit note is not paid")
        if self.status is InvoiceStatus.PAID:
            if self.payment_ref == payment_ref:
                return False
            raise Conflict(
                f"invoice {self.number} is already paid ({self.payment_ref})"
            )
        if self.status is not InvoiceStatus.ISSUED:
            raise Conflict(
                f"invoice is {self.status.value}; only issued invoices are paid"
            )
        if round_money(amount) != self.totals.gross:
            raise Conflict(
                f"payment of {amount} does not match the invoice total {self.totals.gross}"
            )
        self.status = InvoiceStatus.PAID
        self.payment_ref = payment_ref
        self.paid_at = at
        return True

    def void(self, at: datetime, credited: Decimal = ZERO) -> None:
        """Discard a draft, or void an unpaid issued invoice that is fully credited."""
        if self.status is InvoiceStatus.ISSUED:
            if credited < self.totals.gross:
                raise Conflict(
                    "an issued invoice is voided only by credit notes for its full "
                    f"amount ({credited} of {self.totals.gross} credited)"
                )
        elif self.status is not InvoiceStatus.DRAFT:
            raise Conflict(f"a {self.status.value} invoice cannot be voided")
        self.status = InvoiceStatus.VOID
        self.voided_at = at


def draft_invoice(invoice_id: str, job: CompletedJob, at: datetime) -> Invoice:
    """Generate Invoice: a draft from a completed job (public notes only)."""
    if job.status != "completed":
        raise Conflict(f"the job is {job.status}; only a completed job is invoiced")
    lines = lines_from_job(job)
    if not lines:
        raise Conflict("the job has no line items, parts or services to invoice")
    return Invoice(
        id=invoice_id,
        kind=InvoiceKind.INVOICE,
        job_id=job.job_id,
        client_id=job.client_id,
        client_name=job.client_name,
        client_email=job.client_email,
        lines=tuple(lines),
        public_notes=tuple(n.text for n in job.notes if n.public),
        created_at=at,
    )


def parse_credit_lines(data: object) -> list[InvoiceLine]:
    """Lines of a partial credit note: description, quantity, unit_price, tax_rate."""
    if not isinstance(data, list) or not data:
        raise InvalidInput(
            "no lines", [FieldProblem("/lines", "must be a non-empty array")]
        )
    lines: list[InvoiceLine] = []
    problems: list[FieldProblem] = []
    for i, raw in enumerate(data):
        p = f"/lines/{i}"
        if not isinstance(raw, Mapping):
            problems.append(FieldProblem(p, "must be an object"))
            continue
        description = raw.get("description")
        if not isinstance(description, str) or not description.strip():
            problems.append(
                FieldProblem(f"{p}/description", "must be a non-empty string")
            )
            continue
        try:
            lines.append(
                InvoiceLine(
                    description.strip()[:MAX_DESCRIPTION],
                    to_decimal(raw.get("quantity"), f"{p}/quantity"),
                    to_decimal(raw.get("unit_price"), f"{p}/unit_price"),
                    to_decimal(raw.get("tax_rate"), f"{p}/tax_rate"),
                    LineSource.CREDIT,
                )
            )
        except InvalidInput as exc:
            problems += exc.problems
    if problems:
        raise InvalidInput("some credit-note lines are invalid", problems)
    return lines


@dataclass(frozen=True)
class LineCredit:
    """Credit ``quantity`` of the invoice's line ``line`` (its index)."""

    line: int
    quantity: Decimal


@dataclass(frozen=True)
class CreditRequest:
    """What a credit note credits: lines of the invoice (a quantity of each),
    free lines, an amount (before tax, at ``tax_rate``), or — none of these —
    all that is left of the invoice."""

    lines: tuple[LineCredit, ...] = ()
    free_lines: tuple[InvoiceLine, ...] = ()
    amount: Decimal | None = None
    tax_rate: Decimal | None = None
    reason: str | None = None

    @property
    def whole(self) -> bool:
        return not self.lines and not self.free_lines and self.amount is None


def _is_index(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_credit_request(body: Mapping[str, object]) -> CreditRequest:
    """The credit-note body of the API (and the Invoice tab): ``lines`` (each
    ``{"line": i, "quantity": q}`` of the invoice, or a free line: description,
    quantity, unit_price, tax_rate), ``amount`` and ``tax_rate``, ``reason``."""
    problems: list[FieldProblem] = []
    picked: list[LineCredit] = []
    free: list[tuple[int, object]] = []
    raw_lines = body.get("lines")
    if raw_lines is not None and not isinstance(raw_lines, list):
        problems.append(FieldProblem("/lines", "must be an array"))
        raw_lines = []
    listed: list[object] = raw_lines or []
    for i, raw in enumerate(listed):
        if isinstance(raw, Mapping) and "line" in raw:
            if not _is_index(raw["line"]):
                problems.append(FieldProblem(f"/lines/{i}/line", "a line's index"))
                continue
            try:
                quantity = to_decimal(raw.get("quantity"), f"/lines/{i}/quantity")
            except InvalidInput as exc:
                problems += exc.problems
                continue
            if quantity <= ZERO:
                problems.append(
                    FieldProblem(f"/lines/{i}/quantity", "must be more than 0")
                )
                continue
            picked.append(LineCredit(int(raw["line"]), quantity))
        else:
            free.append((i, raw))
    free_lines: list[InvoiceLine] = []
    if free:
        try:
            free_lines = parse_credit_lines([raw for _i, raw in free])
        except InvalidInput as exc:
            for problem in exc.problems:  # back to the pointers of the body's lines
                k, _, rest = problem.pointer.removeprefix("/lines/").partition("/")
                at = free[int(k)][0] if k.isdigit() else k
                tail = f"/{rest}" if rest else ""
                problems.append(FieldProblem(f"/lines/{at}{tail}", problem.message))
    amount = tax_rate = None
    if body.get("amount") not in (None, ""):
        try:
            amount = to_decimal(body.get("amount"), "/amount")
            if amount <= ZERO:
                problems.append(FieldProblem("/amount", "must be more than 0"))
        except InvalidInput as exc:
            problems += exc.problems
    if body.get("tax_rate") not in (None, ""):
        try:
            tax_rate = to_decimal(body.get("tax_rate"), "/tax_rate")
        except InvalidInput as exc:
            problems += exc.problems
    if problems:
        raise InvalidInput("the credit note is invalid", problems)
    reason = body.get("reason")
    return CreditRequest(
        tuple(picked),
        tuple(free_lines),
        amount,
        tax_rate,
        reason.strip() or None if isinstance(reason, str) else None,
    )


@dataclass(frozen=True)
class CreditBalance:
    """What the issued credit notes of an invoice credited, per line (quantity)
    and in total (gross), and what is left to credit."""

    invoice: Invoice
    credited_quantities: tuple[Decimal, ...]
    credited_gross: Decimal

    def remaining_quantity(self, index: int) -> Decimal:
        return self.invoice.lines[index].quantity - self.credited_quantities[index]

    @property
    def remaining_gross(self) -> Decimal:
        return self.invoice.totals.gross - self.credited_gross


def credit_balance(invoice: Invoice, notes: Iterable[Invoice]) -> CreditBalance:
    """The balance of ``invoice`` after its issued (or paid) credit notes."""
    quantities = [ZERO] * len(invoice.lines)
    gross = ZERO
    for note in notes:
        if (
            note.kind is not InvoiceKind.CREDIT_NOTE
            or note.credits_invoice_id != invoice.id
            or note.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID)
        ):
            continue
        gross += note.totals.gross
        for line in note.lines:
            if line.credits_line is not None and line.credits_line < len(quantities):
                quantities[line.credits_line] += line.quantity
    return CreditBalance(invoice, tuple(quantities), gross)


def _credited_line(line: InvoiceLine, index: int, quantity: Decimal) -> InvoiceLine:
    return InvoiceLine(
        line.description,
        quantity,
        line.unit_price,
        line.tax_rate,
        LineSource.CREDIT,
        line.source_ref,
        line.serials,
        credits_line=index,
    )


def _picked_lines(
    balance: CreditBalance, picked: Sequence[LineCredit]
) -> list[InvoiceLine]:
    """The lines credited of the invoice's own, each at most what is left of it."""
    invoice = balance.invoice
    asked: dict[int, Decimal] = {}
    problems: list[FieldProblem] = []
    for k, credit in enumerate(picked):
        pointer = f"/lines/{k}/quantity"
        if credit.line >= len(invoice.lines):
            problems.append(FieldProblem(f"/lines/{k}/line", "no such line"))
            continue
        total = asked.get(credit.line, ZERO) + credit.quantity
        left = balance.remaining_quantity(credit.line)
        if total > left:
            problems.append(
                FieldProblem(
                    pointer, f"only {format_decimal(left)} left to credit of this line"
                )
            )
            continue
        asked[credit.line] = total
    if problems:
        raise InvalidInput("more than is left to credit", problems)
    return [
        _credited_line(invoice.lines[i], i, quantity)
        for i, quantity in sorted(asked.items())
    ]


def _amount_line(invoice: Invoice, request: CreditRequest) -> InvoiceLine:
    rates = {line.tax_rate for line in invoice.lines}
    rate = request.tax_rate
    if rate is None:
        if len(rates) != 1:
            raise InvalidInput(
                "which tax rate",
                [FieldProblem("/tax_rate", "the invoice has several tax rates")],
            )
        (rate,) = rates
    assert request.amount is not None
    return InvoiceLine(
        f"Credit: {request.reason}" if request.reason else "Credit",
        Decimal(1),
        request.amount,
        rate,
        LineSource.CREDIT,
    )


def credit_note(
    credit_id: str,
    balance: CreditBalance,
    at: datetime,
    request: CreditRequest | None = None,
) -> Invoice:
    """A credit note against an issued or paid invoice: what ``request`` asks,
    or all that is left of it; never more than is left of a line or the total."""
    invoice = balance.invoice
    request = request or CreditRequest()
    if invoice.kind is not InvoiceKind.INVOICE or invoice.status not in (
        InvoiceStatus.ISSUED,
        InvoiceStatus.PAID,
    ):
        raise Conflict("credit notes are issued against issued or paid invoices")
    if request.whole:
        chosen = [
            _credited_line(line, i, balance.remaining_quantity(i))
            for i, line in enumerate(invoice.lines)
            if balance.remaining_quantity(i) > ZERO
        ]
        if not chosen:
            raise Conflict("nothing is left to credit of this invoice")
    else:
        chosen = _picked_lines(balance, request.lines) + list(request.free_lines)
        if request.amount is not None:
            chosen.append(_amount_line(invoice, request))
    note = Invoice(
        id=credit_id,
        kind=InvoiceKind.CREDIT_NOTE,
        job_id=invoice.job_id,
        client_id=invoice.client_id,
        client_name=invoice.client_name,
        client_email=invoice.client_email,
        lines=tuple(chosen),
        public_notes=(
            f"Credit note for invoice {invoice.number}",
            *([request.reason] if request.reason else []),
        ),
        credits_invoice_id=invoice.id,
        created_at=at,
    )
    if note.totals.gross > balance.remaining_gross:
        raise Conflict(
            f"credit of {note.totals.gross} exceeds what remains on the invoice "
            f"({balance.remaining_gross})"
        )
    return note
