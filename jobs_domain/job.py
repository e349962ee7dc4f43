"""The Job aggregate: one unit of work from estimate or booking to completion.

Every rule of the job record lives in a method of :class:`Job` that either
succeeds (and appends a :class:`HistoryEntry`) or raises a domain error.
Status changes are actions (``schedule``, ``start``, ``hold``, ``resume``,
``complete``, ``cancel``), each allowed only from the right states and roles.

Other modules (the job report, parts, invoicing) add their own completion
blockers: ``completion_blockers(extra_blockers=...)`` and
``complete(..., extra_blockers=...)`` take them as plain :class:`Blocker` values,
so this module never imports those modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from uuid import uuid4

from jobs_domain.actors import OFFICE, Actor, Role, require_role
from jobs_domain.errors import (
    Blocker,
    CompletionBlocked,
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
    required_text,
)
from jobs_domain.money import ZERO, line_net, round_money, totals
from jobs_domain.replay import HasId, replay_of
from jobs_domain.sessions import (
    Evidence,
    Position,
    Session,
    SessionKind,
    Unplaced,
    fold,
)

CustomValue = str | int | float | bool | None


_T = TypeVar("_T", bound=HasId)


class JobStatus(StrEnum):
    """Where a job is in its lifecycle."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset(
    {JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.IN_PROGRESS, JobStatus.ON_HOLD}
)


class CrewRole(StrEnum):
    """A technician's position on a job's crew."""

    JOB_MANAGER = "job_manager"
    AUXILIARY = "auxiliary"


class NoteVisibility(StrEnum):
    """Internal notes are for staff only; public notes print on the invoice."""

    INTERNAL = "internal"
    PUBLIC = "public"


class AttachmentKind(StrEnum):
    """What an uploaded file is for."""

    PHOTO_BEFORE = "photo_before"
    PHOTO_AFTER = "photo_after"
    PHOTO = "photo"
    MANUAL = "manual"
    PERMIT = "permit"
    WAIVER = "waiver"
    RECEIPT = "receipt"
    DOCUMENT = "document"


class LineItemKind(StrEnum):
    """Where a line item came from."""

    PART = "part"
    SERVICE = "service"
    CUSTOM = "custom"


@dataclass(frozen=True)
class SiteContact:
    """The person to meet on site."""

    name: str = ""
    phone: str = ""
    mobile: str = ""
    email: str = ""


@dataclass(frozen=True)
class CrewMember:
    """One technician on the job's crew."""

    technician_id: str
    role: CrewRole


@dataclass(frozen=True)
class LineItem:
    """A priced line of the scope of work; money is exact ``Decimal``."""

    id: str
    kind: LineItemKind
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    price_book_item_id: str | None = None

    @property
    def net(self) -> Decimal:
        return line_net(self.quantity, self.unit_price)


@dataclass(frozen=True)
class Task:
    """One checklist entry; required tasks block completion until checked off."""

    id: str
    title: str
    required: bool = False
    done: bool = False
    done_by: str | None = None
    done_at: datetime | None = None
    # when ``done`` last changed (the writer's recorded time): a check-off
    # recorded earlier than that, synced late, no longer changes it
    changed_at: datetime | None = None


@dataclass(frozen=True)
class Expense:
    """A job-specific cost, usually with a photographed receipt."""

    id: str
    description: str
    amount: Decimal
    created_by: str
    created_at: datetime
    receipt_attachment_id: str | None = None

    def receipt_status(self, attachments: Sequence[Attachment]) -> str | None:
        """``attached``, or ``pending`` while its photo has not synced yet."""
        if self.receipt_attachment_id is None:
            return None
        if any(a.id == self.receipt_attachment_id for a in attachments):
            return "attached"
        return "pending"


@dataclass(frozen=True)
class Attachment:
    """A stored file (content-addressed by sha256) attached to the job."""

    id: str
    kind: AttachmentKind
    description: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class Note:
    """A note on the job; only public notes reach the customer."""

    id: str
    visibility: NoteVisibility
    text: str
    author_id: str
    author_name: str
    created_at: datetime


@dataclass(frozen=True)
class Cancellation:
    """Who cancelled the job, when and why (kept forever)."""

    by: str
    by_name: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class HistoryEntry:
    """One change to the job: who, when, what, and from where."""

    at: datetime
    actor_id: str | None
    actor_name: str
    actor_role: str
    action: str
    details: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class Profitability:
    """Revenue (what the invoice bills) minus expenses and labour (all net of tax)."""

    revenue: Decimal
    expenses: Decimal
    labour: Decimal
    labour_hours: Decimal

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.expenses - self.labour


ROLES_WITH_ANY_JOB = (Role.ADMIN, Role.DISPATCHER, Role.BILLING)


@dataclass
class Job:
    """The job record and its rules."""

    id: str
    number: int
    client_id: str
    description: str
    created_at: datetime
    status: JobStatus = JobStatus.PENDING
    property_id: str | None = None
    site_contact: SiteContact = field(default_factory=SiteContact)
    scheduled_start: datetime | None = None
    scheduled_end: datetime | None = None
    crew: list[CrewMember] = field(default_factory=list)
    line_items: list[LineItem] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    expenses: list[Expense] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)
    custom_fields: dict[str, CustomValue] = field(default_factory=dict)
    hold_reason: str | None = None
    held_since: datetime | None = None
    cancellation: Cancellation | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    estimate_id: str | None = None
    booking_id: str | None = None
    version: int = 0
    new_history: list[HistoryEntry] = field(default_factory=list)

    # -- identity and visibility -------------------------------------------------

    @property
    def display_number(self) -> str:
        """The human-readable job number (``J-000042``)."""
        return format_job_number(self.number)

    @property
    def job_manager(self) -> str | None:
        for member in self.crew:
            if member.role is CrewRole.JOB_MANAGER:
                return member.technician_id
        return None

    def crew_role_of(self, technician_id: str | None) -> CrewRole | None:
        for member in self.crew:
            if member.technician_id == technician_id:
                return member.role
        return None

    def visible_to(self, actor: Actor) -> bool:
        """Office and billing see every job; a technician only their crew's jobs."""
        if actor.role in ROLES_WITH_ANY_JOB:
            return True
        return self.crew_role_of(actor.technician_id) is not None

    def ensure_visible(self, actor: Actor) -> None:
        """Raise ``NotFound`` (never ``Forbidden``) when the actor may not see it."""
        if not self.visible_to(actor):
            raise NotFound(f"job {self.id} not found")

    def _ensure_crew_or_office(self, actor: Actor) -> None:
        self.ensure_visible(actor)
        if actor.role is Role.BILLING:
            raise Forbidden("billing staff review jobs; they do not run them")

    def ensure_editable(self, actor: Actor, what: str) -> None:
        """Raise unless ``actor`` may change ``what`` of the job now (the rule
        every edit runs; a screen asks it before offering the edit)."""
        self._ensure_editable(actor, what)

    def _ensure_editable(
        self, actor: Actor, what: str, recorded_at: datetime | None = None
    ) -> None:
        """Cancelled jobs are frozen; a completed one is for the office, except
        what the crew recorded before it was completed (an offline phone's sync)."""
        if self.status is JobStatus.CANCELLED:
            raise TransitionRefused(
                f"cannot change {what} of a cancelled job",
                [Blocker("job-cancelled", "the job is cancelled", self.id)],
            )
        before_completion = (
            recorded_at is not None
            and self.completed_at is not None
            and recorded_at <= self.completed_at
        )
        if (
            self.status is JobStatus.COMPLETED
            and actor.role not in (*OFFICE, Role.BILLING)
            and not before_completion
        ):
            raise TransitionRefused(
                f"only the office changes {what} of a completed job",
                [Blocker("job-completed", "the job is completed", self.id)],
            )

    def _record(self, actor: Actor, at: datetime, action: str, **details: Any) -> None:
        self.new_history.append(
            HistoryEntry(
                at=at,
                actor_id=actor.user_id,
                actor_name=actor.name,
                actor_role=actor.role.value,
                action=action,
                details=details,
                source=actor.source,
            )
        )

    def record_superseded(
        self, actor: Actor, at: datetime, what: str, **details: Any
    ) -> None:
        """A late write (recorded at ``at``) that a later change outranked: it is
        not applied, and the history keeps it beside the change that won."""
        self._record(actor, at, f"{what}_superseded", **details)

    def _refuse(self, action: str, allowed: Sequence[JobStatus]) -> TransitionRefused:
        names = ", ".join(s.value for s in allowed)
        return TransitionRefused(
            f"cannot {action} a job that is {self.status.value}",
            [
                Blocker(
                    "wrong-status",
                    f"job is {self.status.value}; {action} needs: {names}",
                    self.id,
                )
            ],
        )

    # -- creation ------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        actor: Actor,
        now: datetime,
        job_id: str,
        number: int,
        client_id: str,
        description: str,
        property_id: str | None = None,
        site_contact: SiteContact | None = None,
        line_items: Sequence[LineItem] = (),
        tasks: Sequence[Task] = (),
        notes: Sequence[Note] = (),
        custom_fields: Mapping[str, CustomValue] | None = None,
        estimate_id: str | None = None,
        booking_id: str | None = None,
        origin: str = "manual",
    ) -> Job:
        """Create a Pending job; a technician creating one becomes its Job Manager."""
        job = cls(
            id=job_id,
            number=number,
            client_id=client_id,
            description=required_text(description, "/description"),
            created_at=now,
            property_id=property_id,
            site_contact=site_contact or SiteContact(),
            line_items=list(line_items),
            tasks=list(tasks),
            notes=list(notes),
            custom_fields=dict(custom_fields or {}),
            estimate_id=estimate_id,
            booking_id=booking_id,
        )
        if actor.is_technician and actor.technician_id:
            job.crew.append(CrewMember(actor.technician_id, CrewRole.JOB_MANAGER))
        job._record(actor, now, "created", origin=origin, number=job.display_number)
        return job

    # -- overview --------------------------------------------------------------------

    def update_overview(
        self,
        actor: Actor,
        now: datetime,
        *,
        description: str | None = None,
        property_id: str | None = None,
        site_contact: SiteContact | None = None,
        custom_fields: Mapping[str, CustomValue] | None = None,
    ) -> None:
        """Edit description, property, site contact; merge custom fields (None deletes)."""
        self._ensure_crew_or_office(actor)
        self._ensure_editable(actor, "the overview")
        changed: dict[str, Any] = {}
        if description is not None and description.strip() != self.description:
            if not description.strip():
                raise InvalidInput(
                    "description is empty",
                    [FieldProblem("/description", "must not be empty")],
                )
            changed["description"] = {"from": self.description, "to": description}
            self.description = description.strip()
        if property_id is not None and property_id != self.property_id:
            if actor.is_technician:
                raise Forbidden("only the office moves a job to another property")
            changed["property_id"] = {"from": self.property_id, "to": property_id}
            self.property_id = property_id
        if site_contact is not None and site_contact != self.site_contact:
            changed["site_contact"] = {"to": site_contact.__dict__}
            self.site_contact = site_contact
        if custom_fields:
            for key, value in custom_fields.items():
                old = self.custom_fields.get(key)
                if value is None:
                    if key in self.custom_fields:
                        del self.custom_fields[key]
                        changed[f"custom_fields.{key}"] = {"from": old, "to": None}
                elif old != value:
                    self.custom_fields[key] = value
                    changed[f"custom_fields.{key}"] = {"from": old, "to": value}
        if changed:
            self._record(actor, now, "updated", **changed)

    # -- crew --------------------------------------------------------------------------

    def assign(
        self, actor: Actor, now: datetime, technician_id: str, role: CrewRole
    ) -> None:
        """Put a technician on the crew; a new Job Manager demotes the old one."""
        require_role(actor, *OFFICE)
        self._ensure_editable(actor, "the crew")
        crew = [m for m in self.crew if m.technician_id != technician_id]
        if role is CrewRole.JOB_MANAGER:
            crew = [
                replace(m, role=CrewRole.AUXILIARY)
                if m.role is CrewRole.JOB_MANAGER
                else m
                for m in crew
            ]
        crew.append(CrewMember(technician_id, role))
        crew.sort(key=lambda m: (m.role is not CrewRole.JOB_MANAGER, m.technician_id))
        self.crew = crew
        self._record(
            actor, now, "crew_assigned", technician_id=technician_id, role=role
        )

    def unassign(self, actor: Actor, now: datetime, technician_id: str) -> None:
        """Take a technician off the crew (not while they are clocked in)."""
        require_role(actor, *OFFICE)
        self._ensure_editable(actor, "the crew")
        if self.crew_role_of(technician_id) is None:
            raise NotFound(f"technician {technician_id} is not on this job's crew")
        if self.open_session_of(technician_id) is not None:
            raise TransitionRefused(
                "technician is clocked in",
                [
                    Blocker(
                        "clocked-in",
                        "the technician is clocked in to this job",
                        technician_id,
                    )
                ],
            )
        self.crew = [m for m in self.crew if m.technician_id != technician_id]
        self._record(actor, now, "crew_removed", technician_id=technician_id)
        if self.status is JobStatus.SCHEDULED and self.job_manager is None:
            self.status = JobStatus.PENDING
            self._record(
                actor, now, "status_changed", to="pending", why="no job manager"
            )

    # -- lifecycle ---------------------------------------------------------------------

    def schedule(
        self,
        actor: Actor,
        now: datetime,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        technician_id: str | None = None,
    ) -> None:
        """Pending → Scheduled: confirmed, on the calendar, with a Job Manager."""
        require_role(actor, *OFFICE)
        if self.status is not JobStatus.PENDING:
            raise self._refuse("schedule", [JobStatus.PENDING])
        if technician_id is not None and self.job_manager != technician_id:
            self.assign(actor, now, technician_id, CrewRole.JOB_MANAGER)
        start = start or self.scheduled_start
        end = end or self.scheduled_end
        blockers: list[Blocker] = []
        if self.job_manager is None:
            blockers.append(
                Blocker("no-job-manager", "assign a technician as Job Manager")
            )
        if start is None or end is None:
            blockers.append(Blocker("no-schedule", "set a scheduled start and end"))
        if blockers:
            raise TransitionRefused("the job cannot be scheduled yet", blockers)
        assert start is not None
        assert end is not None
        check_window(start, end)
        self.scheduled_start, self.scheduled_end = start, end
        self.status = JobStatus.SCHEDULED
        self._record(
            actor,
            now,
            "scheduled",
            start=start.isoformat(),
            end=end.isoformat(),
            job_manager=self.job_manager,
        )

    def reschedule(
        self,
        actor: Actor,
        now: datetime,
        *,
        start: datetime,
        end: datetime,
        technicians_may_reschedule: bool,
        reason: str = "",
    ) -> None:
        """Move the planned window; technicians only when the settings allow it."""
        self.ensure_visible(actor)
        if actor.role is Role.BILLING:
            raise Forbidden("billing staff do not reschedule jobs")
        if actor.is_technician and not technicians_may_reschedule:
            raise Forbidden(
                "the administrator does not allow technicians to reschedule"
            )
        allowed = [JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.ON_HOLD]
        if self.status not in allowed:
            raise self._refuse("reschedule", allowed)
        check_window(start, end)
        old = (self.scheduled_start, self.scheduled_end)
        self.scheduled_start, self.scheduled_end = start, end
        self._record(
            actor,
            now,
            "rescheduled",
            start={"from": _iso(old[0]), "to": start.isoformat()},
            end={"from": _iso(old[1]), "to": end.isoformat()},
            reason=reason,
        )

    def decline(
        self,
        actor: Actor,
        now: datetime,
        *,
        reason: str,
        technicians_may_decline: bool,
    ) -> None:
        """A technician declines their assignment; without a manager it goes Pending."""
        self.ensure_visible(actor)
        if not actor.is_technician:
            raise Forbidden("only an assigned technician declines a job")
        if not technicians_may_decline:
            raise Forbidden("the administrator does not allow technicians to decline")
        allowed = [JobStatus.PENDING, JobStatus.SCHEDULED]
        if self.status not in allowed:
            raise self._refuse("decline", allowed)
        if not reason.strip():
            raise InvalidInput(
                "a reason is required", [FieldProblem("/reason", "required")]
            )
        self.crew = [m for m in self.crew if m.technician_id != actor.technician_id]
        self._record(
            actor, now, "declined", technician_id=actor.technician_id, reason=reason
        )
        if self.status is JobStatus.SCHEDULED and self.job_manager is None:
            self.status = JobStatus.PENDING
            self._record(actor, now, "status_changed", to="pending", why="declined")

    def start(self, actor: Actor, now: datetime) -> None:
        """Scheduled → In Progress (clocking in does this automatically)."""
        self._ensure_crew_or_office(actor)
        if self.status is not JobStatus.SCHEDULED:
            raise self._refuse("start", [JobStatus.SCHEDULED])
        self.status = JobStatus.IN_PROGRESS
        self._record(actor, now, "started")

    def hold(self, actor: Actor, now: datetime, reason: str) -> None:
        """In Progress → On Hold with a reason; running sessions pause."""
        self._ensure_crew_or_office(actor)
        if self.status is not JobStatus.IN_PROGRESS:
            raise self._refuse("hold", [JobStatus.IN_PROGRESS])
        if not reason.strip():
            raise InvalidInput(
                "a reason is required", [FieldProblem("/reason", "say why work paused")]
            )
        self.status = JobStatus.ON_HOLD
        self.hold_reason = reason.strip()
        self.held_since = now
        for index, session in enumerate(self.sessions):
            if session.state == "running":
                self.sessions[index] = session.pause(now, event_id=None)
        self._record(actor, now, "put_on_hold", reason=self.hold_reason)

    def resume(self, actor: Actor, now: datetime) -> None:
        """On Hold → In Progress; the sessions the hold paused run again."""
        self._ensure_crew_or_office(actor)
        if self.status is not JobStatus.ON_HOLD:
            raise self._refuse("resume", [JobStatus.ON_HOLD])
        self.status = JobStatus.IN_PROGRESS
        self._record(actor, now, "resumed", after_hold=self.hold_reason)
        self._end_hold(now)

    def _end_hold(self, now: datetime) -> None:
        """Restart what the hold paused (a session paused by its technician stays so)."""
        for index, session in enumerate(self.sessions):
            if session.held:
                # a late-synced clock-in may predate the hold's pause: never go back
                at = max(now, session.evidence[-1].at)
                self.sessions[index] = session.resume(at, event_id=None)
        self.hold_reason = None
        self.held_since = None

    def completion_blockers(
        self, extra_blockers: Sequence[Blocker] = ()
    ) -> list[Blocker]:
        """Every reason the job cannot be completed now, this module's and others'."""
        blockers: list[Blocker] = []
        if self.status is not JobStatus.IN_PROGRESS:
            blockers.append(
                Blocker(
                    "wrong-status",
                    f"job is {self.status.value}; complete needs: in_progress",
                    self.id,
                )
            )
        if self.job_manager is None:
            blockers.append(Blocker("no-job-manager", "the job has no Job Manager"))
        for task in self.tasks:
            if task.required and not task.done:
                blockers.append(
                    Blocker(
                        "required-task-open",
                        f"required task not checked off: {task.title}",
                        task.id,
                    )
                )
        blockers.extend(extra_blockers)
        return blockers

    def complete(
        self,
        actor: Actor,
        now: datetime,
        extra_blockers: Sequence[Blocker] = (),
    ) -> None:
        """In Progress → Completed; only the Job Manager (or the office) completes.

        Open sessions are clocked out at ``now``: ending the job ends the work.
        """
        self._ensure_crew_or_office(actor)
        if actor.is_technician and self.job_manager != actor.technician_id:
            raise Forbidden("only the Job Manager completes the job")
        blockers = self.completion_blockers(extra_blockers)
        if blockers:
            raise CompletionBlocked("the job cannot be completed yet", blockers)
        for index, session in enumerate(self.sessions):
            if session.state != "closed":
                self.sessions[index] = session.clock_out(now, event_id=None)
        self.status = JobStatus.COMPLETED
        self.completed_at = now
        self.completed_by = actor.user_id
        self._record(actor, now, "completed")

    def cancel(self, actor: Actor, now: datetime, reason: str) -> None:
        """Archive the job without deleting anything; who, when and why are kept."""
        require_role(actor, *OFFICE)
        if self.status not in OPEN_STATUSES:
            raise self._refuse("cancel", sorted(OPEN_STATUSES))
        if not reason.strip():
            raise InvalidInput(
                "a reason is required", [FieldProblem("/reason", "required")]
            )
        for index, session in enumerate(self.sessions):
            if session.state != "closed":
                self.sessions[index] = session.clock_out(now, event_id=None)
        previous = self.status
        self.status = JobStatus.CANCELLED
        self.cancellation = Cancellation(actor.user_id, actor.name, now, reason.strip())
        self._record(actor, now, "cancelled", reason=reason.strip(), was=previous.value)

    # -- line items ------------------------------------------------------------------

    def add_line_item(self, actor: Actor, now: datetime, item: LineItem) -> None:
        self.ensure_visible(actor)
        self._ensure_editable(actor, "line items")
        self.line_items.append(item)
        self._record(
            actor,
            now,
            "line_item_added",
            line_item_id=item.id,
            description=item.description,
            quantity=str(item.quantity),
            unit_price=str(item.unit_price),
        )

    def update_line_item(
        self,
        actor: Actor,
        now: datetime,
        item_id: str,
        *,
        description: str | None = None,
        quantity: Decimal | None = None,
        unit_price: Decimal | None = None,
        tax_rate: Decimal | None = None,
    ) -> LineItem:
        self.ensure_visible(actor)
        self._ensure_editable(actor, "line items")
        index, item = self._find(self.line_items, item_id, "line item")
        new = replace(
            item,
            description=item.description if description is None else description,
            quantity=item.quantity if quantity is None else quantity,
            unit_price=item.unit_price if unit_price is None else unit_price,
            tax_rate=item.tax_rate if tax_rate is None else tax_rate,
        )
        self.line_items[index] = new
        self._record(actor, now, "line_item_changed", line_item_id=item_id)
        return new

    def remove_line_item(self, actor: Actor, now: datetime, item_id: str) -> None:
        self.ensure_visible(actor)
        self._ensure_editable(actor, "line items")
        index, item = self._find(self.line_items, item_id, "line item")
        del self.line_items[index]
        self._record(
            actor, now, "line_item_removed", line_item_id=item_id, was=item.description
        )

    def totals(self) -> tuple[Decimal, Decimal, Decimal]:
        """Net, tax and gross of the line items (tax per rate, half-up to cents)."""
        result = totals((item.net, item.tax_rate) for item in self.line_items)
        return result.net, result.tax, result.gross

    # -- tasks -----------------------------------------------------------------------

    def add_task(self, actor: Actor, now: datetime, task: Task) -> None:
        self._ensure_crew_or_office(actor)
        self._ensure_editable(actor, "tasks")
        self.tasks.append(task)
        self._record(
            actor,
            now,
            "task_added",
            task_id=task.id,
            title=task.title,
            required=task.required,
        )

    def set_task_done(
        self, actor: Actor, now: datetime, task_id: str, done: bool
    ) -> Task:
        """Check a task off (or back on); only the crew and the office do it.

        ``now`` is when the writer recorded it: the latest recorded change wins,
        and one recorded before it (an offline phone's, synced late) is kept in
        the history as superseded instead of undoing the later one.
        """
        self._ensure_crew_or_office(actor)
        self._ensure_editable(actor, "tasks", now)
        index, task = self._find(self.tasks, task_id, "task")
        if task.changed_at == now and task.done == done:
            return task  # the same write, sent again
        if task.changed_at is not None and now < task.changed_at:
            self._record(
                actor,
                now,
                "task_change_superseded",
                task_id=task_id,
                title=task.title,
                wanted_done=done,
                kept_done=task.done,
                kept_since=task.changed_at,
            )
            return task
        new = replace(
            task,
            done=done,
            done_by=actor.user_id if done else None,
            done_at=now if done else None,
            changed_at=now,
        )
        self.tasks[index] = new
        self._record(
            actor,
            now,
            "task_checked" if done else "task_unchecked",
            task_id=task_id,
            title=task.title,
        )
        return new

    def remove_task(self, actor: Actor, now: datetime, task_id: str) -> None:
        require_role(actor, *OFFICE)
        self._ensure_editable(actor, "tasks")
        index, task = self._find(self.tasks, task_id, "task")
        del self.tasks[index]
        self._record(actor, now, "task_removed", task_id=task_id, title=task.title)

    # -- expenses, attachments, notes --------------------------------------------------

    def add_expense(self, actor: Actor, now: datetime, expense: Expense) -> None:
        self.ensure_visible(actor)
        self._ensure_editable(actor, "expenses", now)
        # the receipt's photo may sync after the expense: see receipt_status
        if replay_of(self.expenses, expense.id, expense.__eq__, "expense"):
            return
        self.expenses.append(expense)
        self._record(
            actor,
            now,
            "expense_added",
            expense_id=expense.id,
            description=expense.description,
            amount=str(expense.amount),
        )

    def remove_expense(self, actor: Actor, now: datetime, expense_id: str) -> None:
        self.ensure_visible(actor)
        self._ensure_editable(actor, "expenses")
        index, expense = self._find(self.expenses, expense_id, "expense")
        if actor.is_technician and expense.created_by != actor.user_id:
            raise Forbidden("technicians remove only their own expenses")
        del self.expenses[index]
        self._record(actor, now, "expense_removed", expense_id=expense_id)

    def add_attachment(
        self, actor: Actor, now: datetime, attachment: Attachment
    ) -> None:
        self._ensure_crew_or_office(actor)
        self._ensure_editable(actor, "attachments", now)
        if replay_of(self.attachments, attachment.id, attachment.__eq__, "attachment"):
            return
        self.attachments.append(attachment)
        self._record(
            actor,
            now,
            "attachment_added",
            attachment_id=attachment.id,
            kind=attachment.kind,
            filename=attachment.filename,
            sha256=attachment.sha256,
        )

    def remove_attachment(
        self, actor: Actor, now: datetime, attachment_id: str
    ) -> None:
        self._ensure_crew_or_office(actor)
        self._ensure_editable(actor, "attachments")
        index, attachment = self._find(self.attachments, attachment_id, "attachment")
        if any(e.receipt_attachment_id == attachment_id for e in self.expenses):
            raise Conflict("the attachment is the receipt of an expense")
        del self.attachments[index]
        self._record(
            actor,
            now,
            "attachment_removed",
            attachment_id=attachment_id,
            filename=attachment.filename,
        )

    def add_note(self, actor: Actor, now: datetime, note: Note) -> None:
        self.ensure_visible(actor)
        if self.status is JobStatus.CANCELLED:
            raise self._refuse("add notes to", sorted(OPEN_STATUSES))
        if not note.text.strip():
            raise InvalidInput(
                "empty note", [FieldProblem("/text", "must not be empty")]
            )
        if replay_of(self.notes, note.id, note.__eq__, "note"):
            return
        self.notes.append(note)
        self.notes.sort(key=lambda n: n.created_at)
        self._record(
            actor, now, "note_added", note_id=note.id, visibility=note.visibility
        )

    def public_notes(self) -> list[Note]:
        return [n for n in self.notes if n.visibility is NoteVisibility.PUBLIC]

    # -- job sessions ----------------------------------------------------------------

    def open_session_of(self, technician_id: str) -> Session | None:
        for session in self.sessions:
            if session.technician_id == technician_id and session.state != "closed":
                return session
        return None

    def session_event(
        self,
        actor: Actor,
        *,
        technician_id: str,
        kind: SessionKind,
        at: datetime,
        event_id: str | None,
        session_id: str,
        device_id: str | None = None,
        position: Position | None = None,
    ) -> Session | Unplaced:
        """Apply clock in / pause / resume / clock out for one technician.

        The same rules hold for the app (through the API) and for device events:
        only crew members clock in; clocking in starts a Scheduled job and
        resumes one On Hold; a Pending job refuses, and a Completed or Cancelled
        one refuses unless the clock-in happened before it ended (a phone that
        was offline syncs the work it recorded while the job was open).

        Events may arrive late and in any order: the technician's sessions are
        :func:`jobs_domain.sessions.fold` of all their events, so the result is
        the same whatever the order of arrival. An event that does not fit yet
        is returned as :class:`Unplaced` (and kept: it is placed when the events
        around it arrive); a placed one returns the session it belongs to.
        """
        self.ensure_visible(actor)
        if actor.is_technician and actor.technician_id != technician_id:
            raise Forbidden("technicians clock only themselves in and out")
        if actor.role is Role.BILLING:
            raise Forbidden("billing staff do not clock technicians in")
        if self.crew_role_of(technician_id) is None:
            raise TransitionRefused(
                "technician is not on this job's crew",
                [Blocker("not-on-crew", "assign the technician first", technician_id)],
            )
        if kind is SessionKind.CLOCK_IN and not self._open_at(at):
            raise self._refuse(
                "clock in to",
                [JobStatus.SCHEDULED, JobStatus.IN_PROGRESS, JobStatus.ON_HOLD],
            )
        new = Evidence(kind, at, event_id, position, device_id)
        ids = iter([session_id])
        self._refold(technician_id, [new], lambda: next(ids, None) or str(uuid4()))
        self._pause_for_hold(technician_id)
        placed = self._session_with(new)
        late = any(
            e.at > at for s in self._sessions_of(technician_id) for e in s.evidence
        )
        details: dict[str, Any] = {"technician_id": technician_id}
        if late:
            details["placed_before_later_events"] = True
        if placed is None:
            pending = next(u for u in self.unplaced if u.evidence == new)
            self._record(
                actor,
                at,
                f"session_{kind.value}_pending",
                reason=pending.reason,
                **details,
            )
            return pending
        action = "clocked_in" if kind is SessionKind.CLOCK_IN else None
        self._record(
            actor,
            at,
            action or f"session_{kind.value}",
            session_id=placed.id,
            device_id=device_id,
            **details,
        )
        if kind is SessionKind.CLOCK_IN:
            self._clock_in_moves_status(actor, technician_id, at)
        return self._session_with(new) or placed

    def clock_out_for(
        self, actor: Actor, technician_id: str, at: datetime, next_job: str
    ) -> Session | None:
        """Clocking into ``next_job`` at ``at`` ends the session still open here.

        The clock-out is automatic (no event id): if the technician's own
        clock-out for this job arrives later, placed earlier, it replaces it.
        """
        open_session = self.open_session_of(technician_id)
        if open_session is None or open_session.clocked_in_at > at:
            return None
        self._refold(
            technician_id,
            [
                Evidence(
                    SessionKind.CLOCK_OUT,
                    max(at, open_session.clocked_in_at),
                    None,
                    None,
                )
            ],
            lambda: str(uuid4()),
        )
        self._record(
            actor,
            at,
            "clocked_out_automatically",
            session_id=open_session.id,
            technician_id=technician_id,
            clocked_into=next_job,
        )
        return next((s for s in self.sessions if s.id == open_session.id), None)

    def _open_at(self, at: datetime) -> bool:
        """Was the job open for work at ``at``?"""
        if self.status in (
            JobStatus.SCHEDULED,
            JobStatus.IN_PROGRESS,
            JobStatus.ON_HOLD,
        ):
            return True
        if self.status is JobStatus.COMPLETED:
            return self.completed_at is not None and at <= self.completed_at
        if self.status is JobStatus.CANCELLED:
            return self.cancellation is not None and at <= self.cancellation.at
        return False

    def _clock_in_moves_status(
        self, actor: Actor, technician_id: str, at: datetime
    ) -> None:
        if self.status is JobStatus.SCHEDULED:
            self.status = JobStatus.IN_PROGRESS
            self._record(actor, at, "started", trigger="clock_in")
        elif self.status is JobStatus.ON_HOLD:
            if self.held_since is not None and at < self.held_since:
                return  # work from before the hold, synced late: still on hold
            self.status = JobStatus.IN_PROGRESS
            self._record(
                actor, at, "resumed", trigger="clock_in", after_hold=self.hold_reason
            )
            self._end_hold(at)

    def _pause_for_hold(self, technician_id: str) -> None:
        """A session that, with late events, was running when the hold started
        is paused by the hold, as it would have been had they arrived in time."""
        held = self.held_since
        if self.status is not JobStatus.ON_HOLD or held is None:
            return
        for session in self._sessions_of(technician_id):
            last = max(e.at for e in session.evidence)
            if session.state == "running" and last <= held:
                self._refold(
                    technician_id,
                    [Evidence(SessionKind.PAUSE, held, None, None)],
                    lambda: str(uuid4()),
                )
                return

    def _sessions_of(self, technician_id: str) -> list[Session]:
        return [s for s in self.sessions if s.technician_id == technician_id]

    def _session_with(self, e: Evidence) -> Session | None:
        return next((s for s in self.sessions if e in s.evidence), None)

    def _refold(
        self, technician_id: str, added: Sequence[Evidence], new_id: Callable[[], str]
    ) -> None:
        """Rebuild one technician's sessions from all their events plus ``added``."""
        mine = self._sessions_of(technician_id)
        evidence = [e for s in mine for e in s.evidence]
        evidence += [
            u.evidence for u in self.unplaced if u.technician_id == technician_id
        ]
        sessions, unplaced = fold(technician_id, [*evidence, *added], mine, new_id)
        others = [s for s in self.sessions if s.technician_id != technician_id]
        self.sessions = sorted([*others, *sessions], key=lambda s: s.clocked_in_at)
        self.unplaced = [
            *(u for u in self.unplaced if u.technician_id != technician_id),
            *unplaced,
        ]

    # -- money -------------------------------------------------------------------------

    def profitability(
        self, hourly_cost: Mapping[str, Decimal], billed: Decimal | None = None
    ) -> Profitability:
        """Revenue minus expenses and labour (worked hours × cost).

        ``billed`` is what the job's invoice bills, net: its line items, parts,
        services and labour from the sessions (the caller computes it with the
        invoice's own rules); without it, the line items alone.
        """
        revenue = (
            sum((item.net for item in self.line_items), ZERO)
            if billed is None
            else billed
        )
        expenses = sum((e.amount for e in self.expenses), ZERO)
        labour = ZERO
        hours = ZERO
        for session in self.sessions:
            worked = Decimal(session.worked().total_seconds()) / Decimal(3600)
            hours += worked
            labour += worked * hourly_cost.get(session.technician_id, ZERO)
        return Profitability(
            revenue=round_money(revenue),
            expenses=round_money(expenses),
            labour=round_money(labour),
            labour_hours=hours.quantize(Decimal("0.01")),
        )

    # -- duplicate ---------------------------------------------------------------------

    def duplicate(
        self,
        actor: Actor,
        now: datetime,
        *,
        job_id: str,
        number: int,
        new_ids: Sequence[str],
        technicians_may_duplicate: bool = True,
    ) -> Job:
        """Copy the scope (overview, crew, line items, tasks unchecked) into a new Pending job.

        ``new_ids`` supplies fresh ids for the copied line items and tasks, in order.
        """
        self._ensure_crew_or_office(actor)
        if actor.is_technician and not technicians_may_duplicate:
            raise Forbidden("the administrator does not allow technicians to duplicate")
        ids = iter(new_ids)
        copy = Job.create(
            actor=actor,
            now=now,
            job_id=job_id,
            number=number,
            client_id=self.client_id,
            description=self.description,
            property_id=self.property_id,
            site_contact=self.site_contact,
            line_items=[replace(i, id=next(ids)) for i in self.line_items],
            tasks=[
                replace(t, id=next(ids), done=False, done_by=None, done_at=None)
                for t in self.tasks
            ],
            custom_fields=self.custom_fields,
            origin=f"duplicate of {self.display_number}",
        )
        for member in self.crew:
            if copy.crew_role_of(member.technician_id) is None:
                copy.crew.append(member)
        if sum(1 for m in copy.crew if m.role is CrewRole.JOB_MANAGER) > 1:
            copy.crew = [
                m
                if m.technician_id == actor.technician_id
                or m.role is CrewRole.AUXILIARY
                else replace(m, role=CrewRole.AUXILIARY)
                for m in copy.crew
            ]
        self._record(actor, now, "duplicated", into=copy.display_number, job_id=job_id)
        return copy

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _find(items: Sequence[_T], item_id: str, what: str) -> tuple[int, _T]:
        for index, item in enumerate(items):
            if item.id == item_id:
                return index, item
        raise NotFound(f"{what} {item_id} not found")


def format_job_number(number: int) -> str:
    """``42`` → ``J-000042``: short enough to read over the phone."""
    return f"J-{number:06d}"


def parse_job_number(text: str) -> int | None:
    """``J-000042`` (or ``42``) → ``42``; anything else → ``None``."""
    digits = text[2:] if text.upper().startswith("J-") else text
    return int(digits) if digits.isdigit() else None


MAX_WINDOW = timedelta(days=31)


def check_window(start: datetime, end: datetime, end_field: str = "/end") -> None:
    """A job's scheduled window: it ends after it starts, within ``MAX_WINDOW``.

    ``end_field`` is the pointer of the request field holding the end.
    """
    if end <= start:
        raise InvalidInput(
            "the scheduled end must be after the start",
            [FieldProblem(end_field, "must be after start")],
        )
    if end - start > MAX_WINDOW:
        raise InvalidInput(
            "a job lasts at most 31 days", [FieldProblem(end_field, "at most 31 days")]
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
