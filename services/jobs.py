"""Job use cases: create, edit, the lifecycle actions, crew, and the job's parts
(line items, tasks, expenses, notes, attachments).

The rules are :class:`jobs_domain.job.Job`'s; a change loads the job locked
(``FOR UPDATE``), makes sure the actor may see it, runs the caller's ``check``
(the API compares ``If-Match`` with the loaded version), applies one rule and
saves the job with its history. Completing a job is :mod:`services.completion`;
clock events are :mod:`services.sessions`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import psycopg

from jobs_domain.actors import Actor
from jobs_domain.errors import (
    Blocker,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
    invalid,
)
from jobs_domain.job import (
    Attachment,
    CrewRole,
    CustomValue,
    Expense,
    Job,
    JobStatus,
    LineItem,
    LineItemKind,
    Note,
    NoteVisibility,
    Profitability,
    SiteContact,
    Task,
    check_window,
    format_job_number,
    parse_job_number,
)
from jobs_domain.money import to_decimal
from services import invoicing, price_book
from services.clock import Recorded, now
from storage import clients as directory
from storage import jobs as store
from storage import online_links
from storage.clients import ClientRecord, PropertyRecord, TechnicianRecord

Conn = psycopg.AsyncConnection[Any]
Check = Callable[[Job], None]  # runs on the locked job before the change; raises
T = TypeVar("T")


def canonical_id(value: str) -> str:
    """An id from a request, spelled the one way (the schema checked its form)."""
    return str(uuid.UUID(value))


async def load_visible(
    conn: Conn, actor: Actor, job_id: str, *, for_update: bool = False
) -> Job:
    """The job, if the actor may see it (else :class:`NotFound`)."""
    job = await store.load(conn, job_id, for_update=for_update)
    job.ensure_visible(actor)
    return job


async def load_visible_by_number(conn: Conn, actor: Actor, number: int) -> Job:
    """The job with that number, if the actor may see it (else :class:`NotFound`)."""
    job = await store.load_by_number(conn, number)
    job.ensure_visible(actor)
    return job


async def _change(
    conn: Conn,
    actor: Actor,
    job_id: str,
    change: Callable[[Job], T],
    *,
    check: Check,
    recorded: Recorded | None = None,
) -> tuple[Job, T]:
    """Load the job locked, ``check`` it, apply ``change``, save. Returns its result.

    A ``recorded`` write that arrives late says so in its history entries.
    """
    job = await load_visible(conn, actor, job_id, for_update=True)
    check(job)
    result = change(job)
    if recorded is not None:
        note_arrival(job, recorded)
    await store.save(conn, job, now=now())
    return job, result


def note_arrival(job: Job, recorded: Recorded) -> None:
    """A late write's history entries also say when it arrived."""
    if recorded.late:
        job.new_history = [
            replace(h, details={**h.details, "received_at": recorded.received_at})
            for h in job.new_history
        ]


async def _changed(
    conn: Conn,
    actor: Actor,
    job_id: str,
    change: Callable[[Job], object],
    *,
    check: Check,
) -> Job:
    """:func:`_change` for a rule whose result the caller does not need: the job."""
    job, _ = await _change(conn, actor, job_id, change, check=check)
    return job


# -- what a job shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """A job with the records its overview names: client, property, crew names."""

    job: Job
    client: ClientRecord
    property: PropertyRecord | None
    names: Mapping[str, str]


async def overviews(conn: Conn, jobs: Sequence[Job]) -> list[Overview]:
    """Each job's overview; a client, property or crew shared by several jobs is
    looked up once, not once per job."""
    clients = {
        client_id: await directory.get_client(conn, client_id)
        for client_id in dict.fromkeys(job.client_id for job in jobs)
    }
    properties = {
        property_id: await directory.get_property(conn, property_id)
        for property_id in dict.fromkeys(job.property_id for job in jobs)
        if property_id is not None
    }
    names = await directory.technician_names(
        conn, [m.technician_id for job in jobs for m in job.crew]
    )
    return [
        Overview(
            job,
            clients[job.client_id],
            None if job.property_id is None else properties[job.property_id],
            names,
        )
        for job in jobs
    ]


async def crew_names(conn: Conn, job: Job) -> dict[str, str]:
    return await directory.technician_names(conn, [m.technician_id for m in job.crew])


# -- the inputs of a job --------------------------------------------------------------------


async def client_and_property(
    conn: Conn, client_id: str, property_id: str | None
) -> str | None:
    """Check a client (404 if unknown, 422 if archived) and its optional property
    (404 if unknown, 422 if archived or another client's); return the property id.
    Both stay locked, so an archive cannot slip in before the new record is saved."""
    client = await directory.get_client(conn, client_id, for_update=True)
    _live(client, "/client_id")
    if property_id is None:
        return None
    prop = await _live_property(conn, property_id)
    if str(prop.client_id) != client_id:
        raise InvalidInput(
            "property of another client",
            [FieldProblem("/property_id", "belongs to another client")],
        )
    return property_id


def _live(record: ClientRecord | PropertyRecord | TechnicianRecord, at: str) -> None:
    """Refuse new work for an archived client, property or technician (422 at ``at``)."""
    if record.archived_at is not None:
        kind = type(record).__name__.removesuffix("Record").lower()
        raise invalid(at, f"the {kind} is archived")


async def _live_property(conn: Conn, property_id: str) -> PropertyRecord:
    prop = await directory.get_property(
        conn, canonical_id(property_id), for_update=True
    )
    _live(prop, "/property_id")
    return prop


async def _live_technician(conn: Conn, technician_id: str, at: str) -> None:
    tech = await directory.get_technician(conn, technician_id, for_update=True)
    _live(tech, at)


async def new_line_item(conn: Conn, raw: Mapping[str, Any], pointer: str) -> LineItem:
    """A line item from the price book (prices copied, overridable) or a custom one;
    ``raw`` is a request's line item (schema-checked), ``pointer`` where it sits."""
    quantity = to_decimal(raw.get("quantity", 1), f"{pointer}/quantity")
    if quantity == 0:
        raise InvalidInput(
            "zero quantity", [FieldProblem(f"{pointer}/quantity", "> 0")]
        )
    item_id = raw.get("price_book_item_id")
    if item_id is not None:
        entry = await price_book.offered_item(
            conn, canonical_id(item_id), f"{pointer}/price_book_item_id"
        )
        return LineItem(
            id=str(uuid.uuid4()),
            kind=LineItemKind(entry["kind"]),
            description=raw.get("description") or entry["name"],
            quantity=quantity,
            unit_price=to_decimal(
                raw.get("unit_price", entry["unit_price"]), f"{pointer}/unit_price"
            ),
            tax_rate=to_decimal(
                raw.get("tax_rate", entry["tax_rate"]), f"{pointer}/tax_rate"
            ),
            price_book_item_id=str(entry["id"]),
        )
    problems = [
        FieldProblem(f"{pointer}/{key}", "required for a custom line item")
        for key in ("description", "unit_price")
        if key not in raw
    ]
    if problems:
        raise InvalidInput("incomplete custom line item", problems)
    rate = to_decimal(raw.get("tax_rate", 0), f"{pointer}/tax_rate")
    if rate > 100:
        raise InvalidInput("bad rate", [FieldProblem(f"{pointer}/tax_rate", "<= 100")])
    return LineItem(
        id=str(uuid.uuid4()),
        kind=LineItemKind.CUSTOM,
        description=raw["description"],
        quantity=quantity,
        unit_price=to_decimal(raw["unit_price"], f"{pointer}/unit_price"),
        tax_rate=rate,
    )


def _check_planned_window(start: datetime, end: datetime) -> None:
    """A new job's window: after its start, and no longer than reschedule allows."""
    if end <= start:
        raise InvalidInput(
            "bad window", [FieldProblem("/scheduled_end", "must be after start")]
        )
    check_window(start, end, end_field="/scheduled_end")


# -- create, list, edit ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewJob:
    """What a request to create a job says (times parsed, ids checked for form)."""

    client_id: str
    description: str
    property_id: str | None = None
    site_contact: SiteContact | None = None
    line_items: Sequence[Mapping[str, Any]] = ()  # as new_line_item reads them
    tasks: Sequence[tuple[str, bool]] = ()  # title, required
    custom_fields: Mapping[str, CustomValue] | None = None
    window: tuple[datetime, datetime] | None = None  # scheduled start, end


async def create_job(
    conn: Conn, actor: Actor, new: NewJob, *, technicians_may_create: bool
) -> Job:
    """A Pending job for the client; a technician creating it becomes its manager."""
    if actor.is_technician and not technicians_may_create:
        raise Forbidden("the administrator does not allow technicians to create jobs")
    property_id = await client_and_property(conn, new.client_id, new.property_id)
    items = [
        await new_line_item(conn, raw, f"/line_items/{i}")
        for i, raw in enumerate(new.line_items)
    ]
    tasks = [Task(str(uuid.uuid4()), title, required) for title, required in new.tasks]
    if new.window is not None:
        _check_planned_window(*new.window)
    moment = now()
    job = Job.create(
        actor=actor,
        now=moment,
        job_id=str(uuid.uuid4()),
        number=await store.next_job_number(conn),
        client_id=new.client_id,
        description=new.description,
        property_id=property_id,
        site_contact=new.site_contact,
        line_items=items,
        tasks=tasks,
        custom_fields=new.custom_fields,
    )
    if new.window is not None:
        job.scheduled_start, job.scheduled_end = new.window
    await store.save(conn, job, now=moment, new=True)
    return job


async def search_jobs(
    conn: Conn,
    actor: Actor,
    *,
    statuses: Sequence[JobStatus],
    technician_id: str | None,
    client_id: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    after_number: int | None,
    limit: int,
    team: str | None = None,
    text: str | None = None,
) -> list[Job]:
    """Jobs by number matching the filters; a technician sees only their own.

    ``team``: someone of that team is on the crew; ``text``: a job number
    (``J-000042`` or ``42``) or part of the client's name.
    """
    text = (text or "").strip() or None
    return await store.search(
        conn,
        team=team or None,
        text=text,
        number=_job_number_in(text),
        technician_id=technician_id,
        status=[s.value for s in statuses],
        client_id=client_id,
        date_from=date_from,
        date_to=date_to,
        after_number=after_number,
        limit=limit,
        only_technician=(actor.technician_id or str(uuid.UUID(int=0)))
        if actor.is_technician
        else None,
    )


def _job_number_in(text: str | None) -> int | None:
    """The job number a search text names, if it names one a job can have."""
    number = None if text is None else parse_job_number(text)
    return number if number is not None and number < 2**63 else None


async def update_overview(
    conn: Conn,
    actor: Actor,
    job_id: str,
    *,
    description: str | None,
    property_id: str | None,
    site_contact: SiteContact | None,
    custom_fields: Mapping[str, CustomValue] | None,
    check: Check,
) -> Job:
    """Edit description, property (an existing one), site contact, custom fields."""
    if property_id is not None:
        prop = await _live_property(conn, property_id)
        property_id = str(prop.id)
    return await _changed(
        conn,
        actor,
        job_id,
        lambda job: job.update_overview(
            actor,
            now(),
            description=description,
            property_id=property_id,
            site_contact=site_contact,
            custom_fields=custom_fields,
        ),
        check=check,
    )


async def history(
    conn: Conn, job: Job, *, after: int, limit: int
) -> list[dict[str, Any]]:
    """The job's history entries after the ``after``-th, at most ``limit``."""
    return await store.history(conn, job.id, after=after, limit=limit)


# -- lifecycle --------------------------------------------------------------------------------


async def schedule(
    conn: Conn,
    actor: Actor,
    job_id: str,
    *,
    start: datetime | None,
    end: datetime | None,
    technician_id: str | None,
    refuse_double_booking: bool = False,
    check: Check,
) -> tuple[Job, list[DoubleBooking]]:
    """Pending → Scheduled, with a window and a Job Manager (an existing technician);
    with the crew's double bookings (refused when ``refuse_double_booking``)."""
    if technician_id is not None:
        await _live_technician(conn, canonical_id(technician_id), "/technician_id")
    job = await _changed(
        conn,
        actor,
        job_id,
        lambda job: job.schedule(
            actor, now(), start=start, end=end, technician_id=technician_id
        ),
        check=check,
    )
    return await _booked(conn, job, refuse_double_booking=refuse_double_booking)


@dataclass(frozen=True)
class DoubleBooking:
    """A crew member already booked on another live job at the same time."""

    technician_id: str
    technician_name: str
    job_id: str
    job_number: str

    @property
    def message(self) -> str:
        return f"{self.technician_name} is already booked on {self.job_number} then"


async def double_bookings(conn: Conn, job: Job) -> list[DoubleBooking]:
    """The crew's other live jobs whose window overlaps this job's (none unscheduled)."""
    if job.scheduled_start is None or job.scheduled_end is None or not job.crew:
        return []
    crew = [m.technician_id for m in job.crew]
    found = await store.overlapping_bookings(
        conn, crew, job.scheduled_start, job.scheduled_end, other_than=job.id
    )
    if not found:
        return []  # the usual answer: no second query
    names = await directory.technician_names(conn, [tech for tech, _, _ in found])
    return [
        DoubleBooking(tech, names.get(tech, ""), other, format_job_number(number))
        for tech, other, number in found
    ]


async def _booked(
    conn: Conn, job: Job, *, refuse_double_booking: bool
) -> tuple[Job, list[DoubleBooking]]:
    """The changed job and its crew's double bookings: a warning, or (when the
    setting says so) a refusal that rolls the change back with the transaction."""
    clashes = await double_bookings(conn, job)
    if clashes and refuse_double_booking:
        raise TransitionRefused(
            "a crew member is already booked at that time",
            [Blocker("double-booked", c.message, c.job_id) for c in clashes],
        )
    return job, clashes


async def start(conn: Conn, actor: Actor, job_id: str, *, check: Check) -> Job:
    return await _changed(
        conn, actor, job_id, lambda job: job.start(actor, now()), check=check
    )


async def hold(
    conn: Conn, actor: Actor, job_id: str, reason: str, *, check: Check
) -> Job:
    return await _changed(
        conn, actor, job_id, lambda job: job.hold(actor, now(), reason), check=check
    )


async def resume(conn: Conn, actor: Actor, job_id: str, *, check: Check) -> Job:
    return await _changed(
        conn, actor, job_id, lambda job: job.resume(actor, now()), check=check
    )


async def cancel(
    conn: Conn, actor: Actor, job_id: str, reason: str, *, check: Check
) -> Job:
    return await _changed(
        conn, actor, job_id, lambda job: job.cancel(actor, now(), reason), check=check
    )


async def reschedule(
    conn: Conn,
    actor: Actor,
    job_id: str,
    *,
    start: datetime,
    end: datetime,
    reason: str,
    technicians_may_reschedule: bool,
    refuse_double_booking: bool = False,
    check: Check,
) -> tuple[Job, list[DoubleBooking]]:
    """A new window (and reason); with the crew's double bookings, as for schedule."""
    job = await _changed(
        conn,
        actor,
        job_id,
        lambda job: job.reschedule(
            actor,
            now(),
            start=start,
            end=end,
            technicians_may_reschedule=technicians_may_reschedule,
            reason=reason,
        ),
        check=check,
    )
    return await _booked(conn, job, refuse_double_booking=refuse_double_booking)


async def decline(
    conn: Conn,
    actor: Actor,
    job_id: str,
    reason: str,
    *,
    technicians_may_decline: bool,
    check: Check,
) -> Job:
    return await _changed(
        conn,
        actor,
        job_id,
        lambda job: job.decline(
            actor,
            now(),
            reason=reason,
            technicians_may_decline=technicians_may_decline,
        ),
        check=check,
    )


async def duplicate(
    conn: Conn, actor: Actor, job_id: str, *, technicians_may_duplicate: bool = True
) -> Job:
    """A new Pending job with the source's work; the source records the copy."""
    source = await load_visible(conn, actor, job_id, for_update=True)
    moment = now()
    copy = source.duplicate(
        actor,
        moment,
        job_id=str(uuid.uuid4()),
        number=await store.next_job_number(conn),
        new_ids=[
            str(uuid.uuid4()) for _ in range(len(source.line_items) + len(source.tasks))
        ],
        technicians_may_duplicate=technicians_may_duplicate,
    )
    await store.save(conn, copy, now=moment, new=True)
    await store.save(conn, source, now=moment)
    return copy


# -- crew and the job's parts -------------------------------------------------------------------


async def assign(
    conn: Conn,
    actor: Actor,
    job_id: str,
    technician_id: str,
    role: CrewRole,
    *,
    refuse_double_booking: bool = False,
    check: Check,
) -> tuple[Job, list[DoubleBooking]]:
    """Put an existing, live technician on the crew; with the crew's double bookings."""
    await _live_technician(conn, technician_id, "/path/technician_id")
    job = await _changed(
        conn,
        actor,
        job_id,
        lambda job: job.assign(actor, now(), technician_id, role),
        check=check,
    )
    return await _booked(conn, job, refuse_double_booking=refuse_double_booking)


class Removable(Enum):
    """What can be taken off a job by its id."""

    CREW_MEMBER = "crew member"  # by technician id; not while clocked in
    LINE_ITEM = "line item"
    TASK = "task"
    EXPENSE = "expense"
    ATTACHMENT = "attachment"  # its file stays on disk


_REMOVE: Mapping[Removable, Callable[[Job, Actor, datetime, str], None]] = {
    Removable.CREW_MEMBER: Job.unassign,
    Removable.LINE_ITEM: Job.remove_line_item,
    Removable.TASK: Job.remove_task,
    Removable.EXPENSE: Job.remove_expense,
    Removable.ATTACHMENT: Job.remove_attachment,
}


async def remove(
    conn: Conn,
    actor: Actor,
    job_id: str,
    what: Removable,
    part_id: str,
    *,
    check: Check,
) -> None:
    """Take a crew member, line item, task, expense or attachment off the job."""
    await _change(
        conn,
        actor,
        job_id,
        lambda job: _REMOVE[what](job, actor, now(), part_id),
        check=check,
    )


# -- line items, tasks, expenses, notes --------------------------------------------------------


async def add_line_item(
    conn: Conn, actor: Actor, job_id: str, raw: Mapping[str, Any], *, check: Check
) -> tuple[Job, LineItem]:
    item = await new_line_item(conn, raw, "")
    job, _ = await _change(
        conn,
        actor,
        job_id,
        lambda job: job.add_line_item(actor, now(), item),
        check=check,
    )
    return job, item


async def update_line_item(
    conn: Conn,
    actor: Actor,
    job_id: str,
    item_id: str,
    *,
    description: str | None,
    quantity: Decimal | None,
    unit_price: Decimal | None,
    tax_rate: Decimal | None,
    check: Check,
) -> tuple[Job, LineItem]:
    return await _change(
        conn,
        actor,
        job_id,
        lambda job: job.update_line_item(
            actor,
            now(),
            item_id,
            description=description,
            quantity=quantity,
            unit_price=unit_price,
            tax_rate=tax_rate,
        ),
        check=check,
    )


async def add_task(
    conn: Conn,
    actor: Actor,
    job_id: str,
    title: str,
    required: bool,
    *,
    check: Check,
) -> tuple[Job, Task]:
    task = Task(str(uuid.uuid4()), title, required)
    job, _ = await _change(
        conn, actor, job_id, lambda job: job.add_task(actor, now(), task), check=check
    )
    return job, task


async def set_task_done(
    conn: Conn,
    actor: Actor,
    job_id: str,
    task_id: str,
    done: bool,
    *,
    check: Check,
    recorded: Recorded,
) -> tuple[Job, Task]:
    return await _change(
        conn,
        actor,
        job_id,
        lambda job: job.set_task_done(actor, recorded.at, task_id, done),
        check=check,
        recorded=recorded,
    )


async def add_expense(
    conn: Conn,
    actor: Actor,
    job_id: str,
    *,
    description: str,
    amount: Decimal,
    receipt_attachment_id: str | None,
    check: Check,
    recorded: Recorded,
) -> tuple[Job, Expense]:
    expense = Expense(
        id=recorded.new_id(),
        description=description,
        amount=amount,
        created_by=actor.user_id,
        created_at=recorded.at,
        receipt_attachment_id=receipt_attachment_id,
    )
    job, _ = await _change(
        conn,
        actor,
        job_id,
        lambda job: job.add_expense(actor, recorded.at, expense),
        check=check,
        recorded=recorded,
    )
    return job, expense


async def profitability(conn: Conn, job: Job) -> Profitability:
    """What the invoice bills minus expenses and labour (each technician's cost)."""
    costs = await store.hourly_costs(conn, [s.technician_id for s in job.sessions])
    return job.profitability(costs, await invoicing.billed_net(conn, job))


def notes(job: Job, visibility: str | None) -> list[Note]:
    """The job's notes, or only those of one visibility."""
    return [
        n for n in job.notes if visibility is None or n.visibility.value == visibility
    ]


async def add_note(
    conn: Conn,
    actor: Actor,
    job_id: str,
    visibility: NoteVisibility,
    text: str,
    *,
    check: Check,
    recorded: Recorded,
) -> tuple[Job, Note]:
    note = Note(
        id=recorded.new_id(),
        visibility=visibility,
        text=text,
        author_id=actor.user_id,
        author_name=actor.name,
        created_at=recorded.at,
    )
    job, _ = await _change(
        conn,
        actor,
        job_id,
        lambda job: job.add_note(actor, recorded.at, note),
        check=check,
        recorded=recorded,
    )
    return job, note


# -- attachments ----------------------------------------------------------------------------------


async def add_attachment(
    conn: Conn,
    actor: Actor,
    job_id: str,
    receive: Callable[[], Awaitable[tuple[Attachment, Recorded]]],
    *,
    check: Check,
) -> tuple[Job, Attachment]:
    """Attach an upload; ``receive`` stores its file once the job is known (and
    says when the phone took it: ``uploaded_at`` is that time)."""
    job = await load_visible(conn, actor, job_id, for_update=True)
    check(job)
    attachment, recorded = await receive()
    job.add_attachment(actor, attachment.uploaded_at, attachment)
    note_arrival(job, recorded)
    await store.save(conn, job, now=now())
    return job, attachment


def attachment_of(job: Job, attachment_id: str) -> Attachment:
    for attachment in job.attachments:
        if attachment.id == attachment_id:
            return attachment
    raise NotFound(f"attachment {attachment_id} not found")


# -- online view links --------------------------------------------------------------------------


async def create_online_link(conn: Conn, actor: Actor, job: Job) -> str:
    """A new token for the customer's read-only view of the job."""
    return await online_links.create(conn, job.id, actor.user_id)


async def revoke_online_links(conn: Conn, job: Job) -> None:
    await online_links.revoke_all(conn, job.id)
