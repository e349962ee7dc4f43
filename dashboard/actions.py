"""Every change the dashboard makes, through the same services (and rules) as the API.

The day board assigns, reschedules and reassigns jobs. Each action runs the
service function the API's handler runs (``services.jobs``), in one
transaction, with the logged-in dashboard user as the actor, so the Job Manager
rule, window checks and the double-booking warning (or refusal, when
``CREWTRACK_REFUSE_DOUBLE_BOOKING`` says so) are the API's own. The dashboard is
synchronous (waitress threads); each action is one short asyncio run on its
own connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from crewtrack.settings import Settings
from delivery.mailer import MailError
from delivery.payments import PaymentError
from delivery.wiring import delivery
from jobs_domain.actors import Actor, Role
from jobs_domain.bookings import BookingDefault
from jobs_domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    TransitionRefused,
    required_text,
)
from jobs_domain.estimates import Estimate
from jobs_domain.job import CrewRole, Job, JobStatus, NoteVisibility
from jobs_domain.permissions import Act, require
from services import completion, estimates, invoicing
from services import jobs as service
from services import parts as parts_service
from services.clock import Recorded
from services.jobs import Check, DoubleBooking
from storage.invoices import StoredInvoice


@dataclass(frozen=True)
class Outcome:
    """What a board action did: a sentence for the dispatcher, and warnings."""

    ok: bool
    message: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class BoardChange:
    """The form of the day board: a job, who should do it, when."""

    job_id: str
    seen_version: int  # the version the board showed: a newer one is refused
    technician_id: str | None
    start: datetime
    end: datetime
    reason: str = ""


class Actions:
    """The dashboard's writes, for one app (its settings)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.office = Office(settings)  # the Jobs and Job pages' reads and edits

    def plan(self, user_id: str, name: str, role: str, change: BoardChange) -> Outcome:
        """Schedule a pending job, or move a scheduled one (window, Job Manager)."""
        try:
            actor = Actor(user_id, Role(role), name, None, "dashboard")
            return asyncio.run(self._plan(actor, change))
        except DomainError as exc:
            return Outcome(False, _refusal(exc))
        except ValueError as exc:
            return Outcome(False, str(exc))

    async def _plan(self, actor: Actor, change: BoardChange) -> Outcome:
        s = self.settings

        def unchanged_since_shown(job: Job) -> None:
            if job.version != change.seen_version:
                raise Conflict(
                    "the job changed since the board showed it; look again and retry"
                )

        async with (
            await psycopg.AsyncConnection.connect(s.database_url) as conn,
            conn.transaction(),
        ):
            job = await service.load_visible(conn, actor, change.job_id)
            unchanged_since_shown(job)
            clashes: list[DoubleBooking] = []
            done: list[str] = []
            if job.status is JobStatus.PENDING:
                job, clashes = await service.schedule(
                    conn,
                    actor,
                    change.job_id,
                    start=change.start,
                    end=change.end,
                    technician_id=change.technician_id,
                    refuse_double_booking=s.refuse_double_booking,
                    check=unchanged_since_shown,
                )
                done.append("scheduled")
            else:
                if (job.scheduled_start, job.scheduled_end) != (
                    change.start,
                    change.end,
                ):
                    job, clashes = await service.reschedule(
                        conn,
                        actor,
                        change.job_id,
                        start=change.start,
                        end=change.end,
                        reason=change.reason or "rescheduled on the day board",
                        technicians_may_reschedule=s.technician_can_reschedule,
                        refuse_double_booking=s.refuse_double_booking,
                        check=unchanged_since_shown,
                    )
                    done.append("rescheduled")
                old = job.job_manager
                if change.technician_id and change.technician_id != old:
                    job, clashes = await self._reassign(
                        conn, actor, job, change.technician_id, old
                    )
                    done.append("reassigned")
            if not done:
                return Outcome(True, "Nothing to change.")
        number = job.display_number
        return Outcome(
            True,
            f"{number} {' and '.join(done)}.",
            tuple(c.message for c in clashes),
        )

    async def _reassign(
        self, conn: Any, actor: Actor, job: Job, new: str, old: str | None
    ) -> tuple[Job, list[DoubleBooking]]:
        """The new technician becomes Job Manager; the old one leaves the crew
        (unless clocked in: then they stay as auxiliary)."""
        s = self.settings
        job, clashes = await service.assign(
            conn,
            actor,
            job.id,
            new,
            CrewRole.JOB_MANAGER,
            refuse_double_booking=s.refuse_double_booking,
            check=lambda _job: None,
        )
        if old is not None and job.open_session_of(old) is None:
            await service.remove(
                conn,
                actor,
                job.id,
                service.Removable.CREW_MEMBER,
                old,
                check=lambda _job: None,
            )
            job = await service.load_visible(conn, actor, job.id)
        return job, clashes


def _refusal(exc: DomainError) -> str:
    details = ""
    if isinstance(exc, TransitionRefused):
        details = "; ".join(b.message for b in exc.items)
    elif isinstance(exc, InvalidInput):
        details = "; ".join(p.message for p in exc.problems)
    return f"Not changed: {exc.message}" + (f" ({details})" if details else "")


# -- the office's Jobs and Job pages --------------------------------------------------
#
# Every edit is one service call of ``services.jobs`` / ``services.completion`` in
# one transaction, with the page's user as the actor. The role is checked first
# against the API's own matrix (``jobs_domain.permissions``), then the job is
# loaded locked and compared with the version the page showed: a newer one is
# refused as stale instead of overwritten (the API's If-Match, as a version).

Conn = psycopg.AsyncConnection[Any]
T = TypeVar("T")

STALE = "This job changed since you opened it; its page now shows the new state."
INVOICE_STALE = (
    "This invoice changed since you opened it; the page now shows the new state."
)
#: What the page says an invoice edit did ("INV-2026-0001 sent.").
INVOICE_WORDS: Mapping[Act, str] = {
    Act.GENERATE_INVOICE: "generated",
    Act.ISSUE_INVOICE: "issued",
    Act.SEND_INVOICE: "sent",
    Act.VOID_INVOICE: "voided",
    Act.CREDIT_INVOICE: "issued (credit note)",
}


@dataclass(frozen=True)
class OfficeUser:
    """The logged-in dashboard user, as the actor of what they do."""

    id: str
    name: str
    role: str

    def actor(self) -> Actor:
        return Actor(self.id, Role(self.role), self.name, None, "dashboard")


@dataclass(frozen=True)
class Done:
    """What an office edit did, for the page to show next to what it concerns.

    ``problems`` maps a JSON pointer (``/description``) to what is wrong there;
    ``blockers`` are what refused a status action; ``stale`` says the page was
    showing an older version of the job.
    """

    ok: bool
    message: str
    problems: Mapping[str, str] = field(default_factory=dict)
    blockers: tuple[str, ...] = ()
    stale: bool = False
    warnings: tuple[str, ...] = ()
    job_number: str | None = None
    made: str | None = None  # the number of what an edit made besides a job
    #: What the page shows once and never again (a new password, a phone's
    #: set-up): kept only in this answer.
    shown_once: Any = None


Edit = Callable[[Conn, Actor, Check], Awaitable[tuple[Job, Sequence[DoubleBooking]]]]


def _unchanged_since(seen_version: int | None) -> Check:
    def check(job: Job) -> None:
        if seen_version is not None and job.version != seen_version:
            raise _Stale(STALE)

    return check


class _Stale(Conflict):
    """The page showed an older version of the job than the one loaded."""


class _PartsRefused(DomainError):
    """A rule of the parts refused (a closed job, a unit not in the depot)."""


def _refused(exc: DomainError) -> Done:
    if isinstance(exc, _Stale):
        return Done(False, exc.message, stale=True)
    if isinstance(exc, InvalidInput):
        problems = {p.pointer: p.message for p in exc.problems}
        return Done(False, f"Not saved: {exc.message}", problems=problems)
    if isinstance(exc, TransitionRefused):
        return Done(
            False,
            f"Not changed: {exc.message}",
            blockers=tuple(b.message for b in exc.items),
        )
    if isinstance(exc, Conflict):  # saved by someone else between load and save
        return Done(False, STALE, stale=True)
    return Done(False, f"Not changed: {exc.message}")


#: What the page says an edit did ("J-000042 started.").
DONE_WORDS: Mapping[Act, str] = {
    Act.CREATE_JOB: "created",
    Act.SCHEDULE: "scheduled",
    Act.START: "started",
    Act.HOLD: "put on hold",
    Act.RESUME: "resumed",
    Act.COMPLETE: "completed",
    Act.CANCEL: "cancelled",
    Act.ASSIGN_CREW: "crew changed",
    Act.ADD_LINE_ITEM: "line item added",
    Act.ADD_TASK: "task added",
    Act.TICK_TASK: "task updated",
    Act.ADD_NOTE: "note added",
    Act.USE_PART: "part added",
    Act.TAKE_BACK: "take back recorded",
}


def _outcome(act: Act, job: Job, clashes: Sequence[DoubleBooking] = ()) -> Done:
    return Done(
        True,
        f"{job.display_number} {DONE_WORDS.get(act, act.value)}.",
        warnings=tuple(c.message for c in clashes),
        job_number=job.display_number,
    )


async def _no_clashes(job: Awaitable[Job]) -> tuple[Job, Sequence[DoubleBooking]]:
    return await job, ()


async def _job_of(
    change: Awaitable[tuple[Job, object]],
) -> tuple[Job, Sequence[DoubleBooking]]:
    """The changed job of a service that also returns the part it made."""
    job, _part = await change
    return job, ()


#: Each status action's service, and whether it takes the page's reason.
_STATUS_SERVICES: Mapping[Act, tuple[Callable[..., Awaitable[Job]], bool]] = {
    Act.START: (service.start, False),
    Act.HOLD: (service.hold, True),
    Act.RESUME: (service.resume, False),
    Act.COMPLETE: (completion.complete, False),
    Act.CANCEL: (service.cancel, True),
}


async def _use_part(
    conn: Conn, actor: Actor, job: Job, body: Mapping[str, Any]
) -> object:
    item_id = str(body.get("item_id") or "")
    return await parts_service.add_part(conn, actor, job, item_id, dict(body))


async def _take_back(
    conn: Conn, actor: Actor, job: Job, body: Mapping[str, Any]
) -> object:
    item_id = body.get("item_id")
    return await parts_service.add_take_back(
        conn,
        actor,
        job,
        body.get("serial"),
        body.get("condition"),
        item_id=str(item_id) if item_id else None,
        depot_id=body.get("depot_id"),
    )


_PARTS_USE_CASES: Mapping[
    Act, Callable[[Conn, Actor, Job, Mapping[str, Any]], Awaitable[object]]
] = {Act.USE_PART: _use_part, Act.TAKE_BACK: _take_back}


class Office:
    """The office pages' reads and writes, for one app (its settings)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def _in_transaction(
        self, actor: Actor, work: Callable[[Conn], Awaitable[T]]
    ) -> T:
        async with (
            await psycopg.AsyncConnection.connect(self.settings.database_url) as conn,
            conn.transaction(),
        ):
            return await work(conn)

    def read(self, user: OfficeUser, work: Callable[[Conn, Actor], Awaitable[T]]) -> T:
        """Run a read (services' own queries and visibility rules) as ``user``."""
        actor = user.actor()
        return asyncio.run(self._in_transaction(actor, lambda c: work(c, actor)))

    def edit(
        self, user: OfficeUser, act: Act, seen_version: int | None, edit: Edit
    ) -> Done:
        """Run one edit as ``user``: the role matrix, the stale check, the rules."""
        actor = user.actor()
        try:
            require(actor, act)
            job, clashes = asyncio.run(
                self._in_transaction(
                    actor, lambda c: edit(c, actor, _unchanged_since(seen_version))
                )
            )
        except DomainError as exc:
            return _refused(exc)
        return _outcome(act, job, clashes)

    # -- the edits the pages make (each one service call) ---------------------------

    def create_job(
        self,
        user: OfficeUser,
        new: service.NewJob,
        crew: Sequence[tuple[str, CrewRole]] = (),
    ) -> Done:
        """A Pending job (``services.jobs.create_job``) and its crew, if given,
        in one transaction: a refused crew member leaves no job behind."""
        s = self.settings

        async def create(
            conn: Conn, actor: Actor, _check: Check
        ) -> tuple[Job, Sequence[DoubleBooking]]:
            if crew:
                require(actor, Act.ASSIGN_CREW)
            job = await service.create_job(
                conn, actor, new, technicians_may_create=s.technician_can_create_jobs
            )
            clashes: Sequence[DoubleBooking] = ()
            for technician_id, role in crew:
                job, clashes = await service.assign(
                    conn,
                    actor,
                    job.id,
                    technician_id,
                    role,
                    refuse_double_booking=s.refuse_double_booking,
                    check=lambda _job: None,
                )
            return job, clashes

        return self.edit(user, Act.CREATE_JOB, None, create)

    def _booking(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Edit:
        """An edit by a service that books a technician (the double-booking rule
        as the settings say, the page's stale check)."""
        refuse = self.settings.refuse_double_booking
        return lambda conn, actor, check: fn(
            conn, actor, *args, refuse_double_booking=refuse, check=check, **kw
        )

    def schedule(
        self,
        user: OfficeUser,
        job_id: str,
        seen_version: int,
        *,
        start: datetime | None,
        end: datetime | None,
        technician_id: str | None,
    ) -> Done:
        edit = self._booking(
            service.schedule, job_id, start=start, end=end, technician_id=technician_id
        )
        return self.edit(user, Act.SCHEDULE, seen_version, edit)

    def status(
        self, user: OfficeUser, job_id: str, seen_version: int, act: Act, reason: str
    ) -> Done:
        """Start, hold (with ``reason``), resume, complete or cancel (``reason``)."""

        if act not in _STATUS_SERVICES:
            raise ValueError(f"not a status action: {act}")
        fn, with_reason = _STATUS_SERVICES[act]
        why = (reason,) if with_reason else ()

        async def run(conn: Conn, actor: Actor, check: Check) -> Any:
            return await _no_clashes(fn(conn, actor, job_id, *why, check=check))

        return self.edit(user, act, seen_version, run)

    def assign(
        self,
        user: OfficeUser,
        job_id: str,
        seen_version: int,
        technician_id: str,
        role: CrewRole,
    ) -> Done:
        edit = self._booking(service.assign, job_id, technician_id, role)
        return self.edit(user, Act.ASSIGN_CREW, seen_version, edit)

    def add_line_item(
        self, user: OfficeUser, job_id: str, seen_version: int, raw: Mapping[str, Any]
    ) -> Done:
        """A price-book item (``price_book_item_id``, ``quantity``) or a custom one
        (``description``, ``quantity``, ``unit_price``, ``tax_rate``), as the API
        reads its body."""
        return self.edit(
            user,
            Act.ADD_LINE_ITEM,
            seen_version,
            lambda conn, actor, check: _job_of(
                service.add_line_item(conn, actor, job_id, raw, check=check)
            ),
        )

    def add_task(
        self,
        user: OfficeUser,
        job_id: str,
        seen_version: int,
        title: str,
        required: bool,
    ) -> Done:
        return self.edit(
            user,
            Act.ADD_TASK,
            seen_version,
            lambda conn, actor, check: _job_of(
                service.add_task(
                    conn,
                    actor,
                    job_id,
                    required_text(title, "/title"),
                    required,
                    check=check,
                )
            ),
        )

    def tick_task(
        self, user: OfficeUser, job_id: str, seen_version: int, task_id: str, done: bool
    ) -> Done:
        return self.edit(
            user,
            Act.TICK_TASK,
            seen_version,
            lambda conn, actor, check: _job_of(
                service.set_task_done(
                    conn, actor, job_id, task_id, done, check=check, recorded=Recorded()
                )
            ),
        )

    def add_note(
        self,
        user: OfficeUser,
        job_id: str,
        seen_version: int,
        visibility: NoteVisibility,
        text: str,
    ) -> Done:
        return self.edit(
            user,
            Act.ADD_NOTE,
            seen_version,
            lambda conn, actor, check: _job_of(
                service.add_note(
                    conn,
                    actor,
                    job_id,
                    visibility,
                    required_text(text, "/text"),
                    check=check,
                    recorded=Recorded(),
                )
            ),
        )

    # -- invoicing (``services.invoicing``, as the API's invoice routes) -------------

    def parts_edit(
        self,
        user: OfficeUser,
        act: Act,
        job_id: str,
        seen_version: int,
        body: Mapping[str, Any],
    ) -> Done:
        """One edit of the job's parts, with the API's body, through
        ``services.parts`` (the technician app's own use cases): ``USE_PART``
        (``item_id``, ``quantity``, ``serials``, ``depot_id``) or ``TAKE_BACK``
        (``serial``, ``condition``, ``item_id`` when not on record, ``depot_id``)."""
        use_case = _PARTS_USE_CASES[act]

        async def edit(
            conn: Conn, actor: Actor, check: Check
        ) -> tuple[Job, Sequence[DoubleBooking]]:
            job = await service.load_visible(conn, actor, job_id, for_update=True)
            check(job)
            try:
                await use_case(conn, actor, job, body)
            except Conflict as exc:  # a rule of the parts (not a concurrent save)
                raise _PartsRefused(exc.message) from exc
            return job, ()

        return self.edit(user, act, seen_version, edit)

    def _invoice_edit(
        self,
        user: OfficeUser,
        act: Act,
        seen_row_version: int | None,
        invoice_id: str,
        work: Callable[[Conn], Awaitable[StoredInvoice]],
    ) -> Done:
        """One invoice edit as ``user``: the matrix, the version the page showed
        (the API's If-Match), the service's rules; the delivery's failures said."""
        actor = user.actor()

        async def run(conn: Conn) -> StoredInvoice:
            if seen_row_version is not None:
                shown = await invoicing.load(conn, invoice_id, for_update=True)
                if shown.row_version != seen_row_version:
                    raise _Stale(INVOICE_STALE)
            return await work(conn)

        try:
            require(actor, act)
            stored = asyncio.run(self._in_transaction(actor, run))
        except _Stale as exc:
            return Done(False, exc.message, stale=True)
        except Conflict as exc:  # the invoice's own rule (issued, no e-mail, …)
            return Done(False, f"Not changed: {exc.message}")
        except DomainError as exc:
            return _refused(exc)
        except (MailError, PaymentError) as exc:
            return Done(False, f"Not sent: {exc}")
        invoice = stored.invoice
        return Done(True, f"{invoice.number or 'Draft'} {INVOICE_WORDS[act]}.")

    def generate_invoice(self, user: OfficeUser, job_id: str) -> Done:
        """Generate Invoice: the completed job's draft (or its draft regenerated)."""

        async def work(conn: Conn) -> StoredInvoice:
            job = await service.load_visible(
                conn, user.actor(), job_id, for_update=True
            )
            stored, _new = await invoicing.generate(conn, job)
            return stored

        return self._invoice_edit(user, Act.GENERATE_INVOICE, None, job_id, work)

    def issue_invoice(self, user: OfficeUser, invoice_id: str, seen: int) -> Done:
        return self._invoice_edit(
            user,
            Act.ISSUE_INVOICE,
            seen,
            invoice_id,
            lambda conn: invoicing.issue(conn, invoice_id),
        )

    def send_invoice(self, user: OfficeUser, invoice_id: str, seen: int) -> Done:
        """E-mail it with its PDF (and a Stripe payment link), issuing a draft."""
        sender = delivery(self.settings)
        return self._invoice_edit(
            user,
            Act.SEND_INVOICE,
            seen,
            invoice_id,
            lambda conn: invoicing.send(conn, invoice_id, sender),
        )

    def void_invoice(self, user: OfficeUser, invoice_id: str, seen: int) -> Done:
        return self._invoice_edit(
            user,
            Act.VOID_INVOICE,
            seen,
            invoice_id,
            lambda conn: invoicing.void(conn, invoice_id),
        )

    def credit_invoice(
        self, user: OfficeUser, invoice_id: str, seen: int, body: Mapping[str, object]
    ) -> Done:
        """A credit note: ``body`` as the API's (lines of the invoice with a
        quantity, an amount, a reason; nothing but a reason: all that is left).
        Crediting an unpaid invoice in full voids it."""
        return self._invoice_edit(
            user,
            Act.CREDIT_INVOICE,
            seen,
            invoice_id,
            lambda conn: invoicing.credit(conn, invoice_id, body),
        )

    # -- the directory's records (clients, properties) ------------------------------

    def edit_record(
        self,
        user: OfficeUser,
        act: Act,
        seen_version: int | None,
        edit: Callable[[Conn, Callable[[Any], None]], Awaitable[Any]],
        saved: str,
    ) -> Done:
        """Run one edit of a directory record (``services.directory``, which
        takes the ``check`` the API's If-Match is): the role matrix, then the
        page's version against the locked record's, then the use case's rules."""
        unchanged = _record_unchanged_since(seen_version)
        done = self._allowed(user, act, lambda conn, _actor: edit(conn, unchanged))
        return done if isinstance(done, Done) else Done(True, saved)

    # -- users and devices (services.accounts: the use cases check the matrix) ------

    def account_edit(
        self,
        user: OfficeUser,
        seen_version: str | None,
        work: Callable[[Conn, Actor, Callable[[Any], None]], Awaitable[T]],
        answer: Callable[[T], Done],
    ) -> Done:
        """Run one ``services.accounts`` use case as ``user`` (``work`` gets the
        check of the page's version, refused when stale) and say what it did."""
        actor = user.actor()
        unchanged = _record_unchanged_since(seen_version)
        try:
            result = asyncio.run(
                self._in_transaction(actor, lambda c: work(c, actor, unchanged))
            )
        except DomainError as exc:
            return _refused(exc)
        return answer(result)

    # -- estimates and bookings (``services.estimates``, as the API's routes) -------

    def _allowed(
        self, user: OfficeUser, act: Act, work: Callable[[Conn, Actor], Awaitable[T]]
    ) -> T | Done:
        """One edit as ``user`` (a directory record, an estimate, a booking): the
        matrix, then the use case's rules (a refusal as the page shows it)."""
        actor = user.actor()
        try:
            require(actor, act)
            return asyncio.run(self._in_transaction(actor, lambda c: work(c, actor)))
        except DomainError as exc:
            return _refused(exc)

    def create_estimate(self, user: OfficeUser, new: estimates.NewEstimate) -> Done:
        """A draft estimate: its line items priced from the price book, its notes."""
        made = self._allowed(
            user,
            Act.CREATE_ESTIMATE,
            lambda conn, actor: estimates.create_estimate(conn, actor, new),
        )
        if isinstance(made, Done):
            return made
        return Done(True, f"{made.display_number} created.", made=made.display_number)

    def approve_estimate(
        self, user: OfficeUser, estimate_id: str, seen_version: int
    ) -> Done:
        """Approve (the customer said yes), unless the page showed an older version."""

        def unchanged(estimate: Estimate) -> None:
            if estimate.version != seen_version:
                raise _Stale(ESTIMATE_STALE)

        made = self._allowed(
            user,
            Act.APPROVE_ESTIMATE,
            lambda conn, actor: estimates.approve(
                conn, actor, estimate_id, check=unchanged
            ),
        )
        if isinstance(made, Done):
            return made
        return Done(True, f"{made.display_number} approved.", made=made.display_number)

    def convert_estimate(self, user: OfficeUser, estimate_id: str) -> Done:
        """Convert to Job: a Pending job with every line item, price and note.

        No version check: an estimate converts once whatever the page showed,
        and a second click is answered with the use case's own refusal."""
        job = self._allowed(
            user,
            Act.CONVERT_ESTIMATE,
            lambda conn, actor: estimates.convert(
                conn, actor, estimate_id, check=lambda _e: None
            ),
        )
        if isinstance(job, Done):
            return job
        return _outcome(Act.CREATE_JOB, job)

    def take_booking(self, user: OfficeUser, new: estimates.NewBooking) -> Done:
        """A booking taken by phone: a Pending or Scheduled job, as the setting
        says (``CREWTRACK_BOOKING_DEFAULT_STATUS``), like the API's ``/bookings``."""
        default = BookingDefault(self.settings.booking_default_status)
        request = {
            "client_id": new.client_id,
            "description": new.description,
            "requested_start": new.requested_start.isoformat(),
            "requested_end": new.requested_end.isoformat(),
            "property_id": new.property_id,
            "technician_id": new.technician_id,
        }
        job = self._allowed(
            user,
            Act.TAKE_BOOKING,
            lambda conn, actor: estimates.create_booking(
                conn,
                actor,
                new,
                request={k: v for k, v in request.items() if v is not None},
                default_status=default,
            ),
        )
        if isinstance(job, Done):
            return job
        return Done(
            True,
            f"{job.display_number} booked ({job.status.value}).",
            job_number=job.display_number,
        )


def _record_unchanged_since(seen_version: object) -> Callable[[Any], None]:
    """The check of a record against the version the page showed."""

    def unchanged(record: Any) -> None:
        if seen_version is not None and record.version != seen_version:
            raise _Stale(RECORD_STALE)

    return unchanged


ESTIMATE_STALE = (
    "This estimate changed since you opened it; the page now shows the new state."
)
RECORD_STALE = (
    "Someone changed this since you opened it: not saved. The page now shows "
    "their version; make your change again on it."
)
