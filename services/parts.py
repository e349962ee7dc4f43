"""Parts use cases: the catalogue, depots and stock, serialized units, parts on a job,
take-backs.

The rules are :mod:`jobs_domain.parts`; this module loads what they need (units
locked ``FOR UPDATE`` so two technicians never install the same serial), applies
them and stores the outcome: stock levels, unit states and their append-only
movements, job parts and take-back records.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from jobs_domain.actors import Actor
from jobs_domain.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound
from jobs_domain.job import HistoryEntry as JobHistoryEntry
from jobs_domain.job import Job
from jobs_domain.parts import (
    Depot,
    DepotKind,
    ItemKind,
    JobPart,
    JobSite,
    PriceBookItem,
    SerialUnit,
    TakeBack,
    add_part_to_job,
    cancel_take_back,
    check_new_depot,
    check_take_back,
    edit_take_back,
    parse_quantity,
    parse_serial,
    receive_unit,
    remove_part_from_job,
    repair_unit,
    require_own_depot,
    search_price_book,
    stock_after,
    take_back,
)
from jobs_domain.parts import families as catalog_families
from services.clock import Recorded, now
from services.reports import JOB_CLOSED
from storage import jobs as job_store
from storage import parts as store
from storage.parts import DepotStock, HistoryEntry

Conn = psycopg.AsyncConnection[Any]


def _job_site(job: Job) -> JobSite:
    return JobSite(job.id, job.client_id, job.property_id)


def ensure_parts_editable(actor: Actor, job: Job) -> None:
    """Raise unless ``actor`` may add, remove or take back parts on the job now:
    the job's own edit rule (``Job.ensure_editable``), and a closed job's parts
    are final (its stock moved, its invoice bills them). A screen asks it before
    offering the forms."""
    job.ensure_editable(actor, "the parts")
    if job.status in JOB_CLOSED:
        raise Conflict(
            f"job {job.display_number} is {job.status.value}; parts are final"
        )


def _unknown_item() -> InvalidInput:
    return InvalidInput("unknown item", [FieldProblem("/item_id", "no such item")])


async def _working_depot(conn: Conn, actor: Actor, depot_id: object) -> Depot:
    """Technicians use their own mobile depot; the office names the depot."""
    if actor.is_technician:
        depot = await store.depot_of_technician(conn, actor.technician_id or "")
        if depot is None:
            raise Conflict("you have no mobile depot yet; ask the office to create it")
        require_own_depot(depot, actor.technician_id or "")
        return depot
    if not isinstance(depot_id, str):
        raise InvalidInput(
            "which depot?", [FieldProblem("/depot_id", "the office names the depot")]
        )
    found = await store.get_depot(conn, depot_id)
    if found is None:
        raise InvalidInput(
            "unknown depot", [FieldProblem("/depot_id", "no such depot")]
        )
    return found


async def _lock_unit(conn: Conn, serial: str) -> SerialUnit | None:
    return (await store.lock_units(conn, [serial]))[serial]


# -- catalogue ---------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """The Add Item screen: every family, and the items matching the search."""

    families: list[str]
    items: list[PriceBookItem]


async def search_catalog(
    conn: Conn,
    *,
    query: str | None,
    family: str | None,
    kind: ItemKind | None,
    serialized: bool | None,
) -> Catalogue:
    items = await store.list_items(conn)
    found = search_price_book(
        items, query=query, family=family, kind=kind, serialized=serialized
    )
    return Catalogue(catalog_families(items), found)


async def set_stock_settings(
    conn: Conn,
    item_id: str,
    *,
    serialized: bool | None,
    bill_from_sessions: bool | None,
) -> PriceBookItem:
    """Mark a part serialized, or a service billed from clocked time."""
    item = await store.get_item(conn, item_id)
    if item is None:
        raise NotFound("price-book item not found")
    is_serialized = item.serialized if serialized is None else serialized
    bill = item.bill_from_sessions if bill_from_sessions is None else bill_from_sessions
    if is_serialized and item.kind is not ItemKind.PART:
        raise InvalidInput("not a part", [FieldProblem("/serialized", "only parts")])
    if bill and item.kind is ItemKind.PART:
        raise InvalidInput(
            "not labour", [FieldProblem("/bill_from_sessions", "only services/labour")]
        )
    await store.set_stock_settings(conn, item_id, is_serialized, bill)
    # Read back, not patched here: storage derives the kind (labour when billed
    # from sessions) from these settings.
    updated = await store.get_item(conn, item_id)
    assert updated is not None  # read back in the same transaction
    return updated


# -- depots ------------------------------------------------------------------------


async def create_depot(
    conn: Conn, name: str, kind: DepotKind, technician_id: str | None
) -> Depot:
    depot = Depot(str(uuid.uuid4()), name, kind, technician_id)
    if technician_id is not None:
        cur = await conn.execute(
            "SELECT 1 FROM technicians WHERE id = %s", (technician_id,)
        )
        if await cur.fetchone() is None:
            raise InvalidInput(
                "unknown technician",
                [FieldProblem("/technician_id", "no such technician")],
            )
    check_new_depot(depot, await store.list_depots(conn))
    await store.insert_depot(conn, depot)
    return depot


async def list_depots(conn: Conn) -> list[Depot]:
    return await store.list_depots(conn)


async def visible_depot(conn: Conn, actor: Actor, depot_id: str) -> Depot:
    """A depot the actor may see: any for the office, their own for a technician."""
    depot = await store.get_depot(conn, depot_id)
    if depot is None or (
        actor.is_technician and depot.technician_id != actor.technician_id
    ):
        raise NotFound("depot not found")
    return depot


async def depot_stock(conn: Conn, actor: Actor, depot: Depot) -> DepotStock:
    # A technician sees (and can use) only usable units; the manager sees all.
    return await store.depot_stock(conn, depot.id, usable_only=actor.is_technician)


async def receive_stock(
    conn: Conn,
    actor: Actor,
    depot: Depot,
    item_id: str,
    *,
    serials: object,
    quantity: object,
) -> DepotStock:
    """Book parts into a depot: serialized units one by one, others by quantity."""
    item = await store.get_item(conn, item_id)
    if item is None:
        raise _unknown_item()
    at = now()
    if item.serialized:
        if not isinstance(serials, list) or not serials:
            raise InvalidInput(
                "serials needed", [FieldProblem("/serials", "list the units' serials")]
            )
        parsed = [parse_serial(s, f"/serials/{i}") for i, s in enumerate(serials)]
        existing = await store.lock_units(conn, parsed)
        for serial in parsed:
            unit, movement = receive_unit(
                serial, item, depot, existing[serial], actor.user_id, at
            )
            await store.save_unit(conn, unit, movement)
    else:
        if item.kind is not ItemKind.PART:
            raise InvalidInput("not stocked", [FieldProblem("/item_id", "not a part")])
        amount = parse_quantity(quantity, "/quantity")
        level = await store.stock_level(conn, depot.id, item.id)
        await store.set_stock(conn, depot.id, item.id, level + amount)
    return await store.depot_stock(conn, depot.id, usable_only=False)


# -- serialized units --------------------------------------------------------------


async def serial_unit(conn: Conn, raw_serial: str) -> SerialUnit:
    """The serialized unit (locked), or 404."""
    serial = parse_serial(raw_serial, "/serial")
    found = await _lock_unit(conn, serial)
    if found is None:
        raise NotFound(f"serial {serial} not found")
    return found


async def unit_history(conn: Conn, serial: str) -> list[HistoryEntry]:
    return await store.serial_history(conn, serial)


async def repair_serial(conn: Conn, actor: Actor, raw_serial: str) -> SerialUnit:
    """A unit taken back for repair is fixed and usable again."""
    repaired, movement = repair_unit(
        await serial_unit(conn, raw_serial), actor.user_id, now()
    )
    await store.save_unit(conn, repaired, movement)
    return repaired


# -- parts on a job ----------------------------------------------------------------


@dataclass(frozen=True)
class JobParts:
    """The parts and services on a job and the units taken back from its site."""

    parts: list[JobPart]
    take_backs: list[TakeBack]


async def job_parts(conn: Conn, job: Job) -> JobParts:
    return JobParts(
        await store.job_parts(conn, job.id), await store.job_take_backs(conn, job.id)
    )


async def add_part(
    conn: Conn,
    actor: Actor,
    job: Job,
    item_id: str,
    body: dict[str, Any],
    *,
    recorded: Recorded | None = None,
) -> JobPart:
    """Add a part or service to an open job, taking it out of the working depot
    (under the client's id, at the time it was recorded, for an offline app)."""
    when = recorded or Recorded()
    ensure_parts_editable(actor, job)
    item = await store.get_item(conn, item_id)
    if item is None:
        raise _unknown_item()
    depot = await _working_depot(conn, actor, body.get("depot_id"))
    serials = body.get("serials")
    units = (
        await store.lock_units(conn, [str(s) for s in serials])
        if isinstance(serials, list) and all(isinstance(s, str) for s in serials)
        else {}
    )
    if actor.is_technician and "unit_price" in body:
        raise Forbidden("technicians use the price-book price")
    part, moved = add_part_to_job(
        when.new_id(),
        item,
        body.get("quantity"),
        serials,
        _job_site(job),
        depot,
        units,
        actor.user_id,
        when.at,
        unit_price=body.get("unit_price"),
    )
    if item.kind is ItemKind.PART and not item.serialized:
        level = await store.stock_level(conn, depot.id, item.id)
        await store.set_stock(conn, depot.id, item.id, stock_after(level, part))
    await store.insert_part(conn, part)
    for moved_unit, movement in moved:
        await store.save_unit(conn, moved_unit, movement)
    return part


async def remove_part(conn: Conn, actor: Actor, job: Job, part_id: str) -> None:
    """Take a part off an open job; its units and stock go back to the depot."""
    ensure_parts_editable(actor, job)
    part = await store.get_part(conn, job.id, part_id)
    if part is None:
        raise NotFound("part not found on this job")
    units = await store.lock_units(conn, list(part.serials))
    present = {s: u for s, u in units.items() if u is not None}
    for moved_unit, movement in remove_part_from_job(
        part, present, actor.user_id, now()
    ):
        await store.save_unit(conn, moved_unit, movement)
    if part.kind is ItemKind.PART and not part.serials and part.depot_id:
        level = await store.stock_level(conn, part.depot_id, part.item_id)
        await store.set_stock(
            conn, part.depot_id, part.item_id, stock_after(level, part, removing=True)
        )
    await store.delete_part(conn, part.id)


# -- take back ---------------------------------------------------------------------


@dataclass(frozen=True)
class SerialCheck:
    """What the app shows after scanning a serial to take back."""

    serial: str
    found: bool
    item: PriceBookItem | None
    client_families: list[str]  # case 2: families of parts installed for the client


async def check_serial(conn: Conn, job: Job, raw_serial: object) -> SerialCheck:
    serial = parse_serial(raw_serial, "/query/serial")
    lookup = check_take_back(serial, await _lock_unit(conn, serial), job.client_id)
    item = await store.get_item(conn, lookup.item_id) if lookup.item_id else None
    return SerialCheck(
        lookup.serial,
        lookup.found,
        item,
        await store.client_part_families(conn, job.client_id),
    )


async def add_take_back(
    conn: Conn,
    actor: Actor,
    job: Job,
    raw_serial: object,
    condition: object,
    *,
    item_id: str | None,
    depot_id: object,
    recorded: Recorded | None = None,
) -> TakeBack:
    """Take a unit back from the job's site into the working depot."""
    when = recorded or Recorded()
    ensure_parts_editable(actor, job)
    depot = await _working_depot(conn, actor, depot_id)
    serial = parse_serial(raw_serial, "/serial")
    current = await _lock_unit(conn, serial)
    chosen = None
    if item_id is not None:
        chosen = await store.get_item(conn, item_id)
        if chosen is None:
            raise _unknown_item()
    record, new_unit, movement = take_back(
        when.new_id(),
        serial,
        current,
        chosen,
        condition,
        _job_site(job),
        depot,
        actor.user_id,
        when.at,
    )
    await store.save_unit(conn, new_unit, movement)
    await store.insert_take_back(conn, record)
    return record


async def undo_take_back(conn: Conn, actor: Actor, job: Job, take_back_id: str) -> None:
    """Undo a take-back: the unit goes back where it was, as it was (or unknown)."""
    ensure_parts_editable(actor, job)
    record = await store.get_take_back(conn, job.id, take_back_id)
    if record is None:
        raise NotFound("take back not found on this job")
    current = await _lock_unit(conn, record.serial)
    assert current is not None  # a take back always leaves its unit on record
    history = await store.serial_history(conn, record.serial)
    restored, movement = cancel_take_back(
        record,
        current,
        actor.user_id,
        now(),
        latest=history[-1].movement if history else None,
    )
    await store.delete_take_back(conn, record.id)
    if restored is None:  # the serial was unknown before: it is unknown again
        await store.forget_unit(conn, record.serial, movement)
    else:
        await store.save_unit(conn, restored, movement)


@dataclass(frozen=True)
class TakeBackCorrection:
    """What the pencil in the app may correct; None keeps the recorded value."""

    serial: object = None
    condition: object = None
    item_id: str | None = None
    depot_id: object = None


async def correct_take_back(
    conn: Conn, actor: Actor, job: Job, take_back_id: str, fix: TakeBackCorrection
) -> TakeBack:
    """Edit a take back in place: its units move exactly as undo + add would.

    The job's history records what changed, before and after.
    """
    ensure_parts_editable(actor, job)
    record = await store.get_take_back(conn, job.id, take_back_id)
    if record is None:
        raise NotFound("take back not found on this job")
    recorded_depot = record.to_location.depot_id
    depot = await _working_depot(conn, actor, fix.depot_id or recorded_depot)
    new_serial = None if fix.serial is None else parse_serial(fix.serial, "/serial")
    units = await store.lock_units(conn, [record.serial, new_serial or record.serial])
    chosen = None
    if fix.item_id is not None:
        chosen = await store.get_item(conn, fix.item_id)
        if chosen is None:
            raise _unknown_item()
    history = await store.serial_history(conn, record.serial)
    at = now()
    edit = edit_take_back(
        record,
        units,
        serial=new_serial,
        condition=fix.condition,
        chosen_item=chosen,
        recorded_item=await store.get_item(conn, record.item_id),
        job=_job_site(job),
        depot=depot,
        latest=history[-1].movement if history else None,
        actor=actor.user_id,
        at=at,
    )
    if not edit.steps:
        return record
    # the record refers to its unit: out while the units move, back in after
    await store.delete_take_back(conn, record.id)
    for unit, movement in edit.steps:
        if unit is None:
            await store.forget_unit(conn, movement.serial, movement)
        else:
            await store.save_unit(conn, unit, movement)
    await store.insert_take_back(conn, edit.record)
    entry = JobHistoryEntry(
        at=at,
        actor_id=actor.user_id,
        actor_name=actor.name,
        actor_role=actor.role.value,
        action="take_back_edited",
        details={
            "take_back_id": record.id,
            "serial": edit.record.serial,
            "before": {k: old for k, (old, _) in edit.changes.items()},
            "after": {k: new for k, (_, new) in edit.changes.items()},
        },
        source=actor.source,
    )
    await job_store.append_history(conn, job.id, [entry])
    return edit.record
