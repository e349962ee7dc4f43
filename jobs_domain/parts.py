"""Parts and services: price book, depots, stock, serialized units and their history.

* The price book lists parts, services and labour, grouped into families, each
  with a unit price and a tax rate; some parts are serialized.
* Each technician has one mobile depot; the company has stationary depots.
  Plain parts are counted per depot; serialized parts exist as units with a
  location (a depot, a client's site, or retired) and a condition.
* A serialized unit is usable only when it is in a depot in condition OK. It is
  installed on a job from the technician's own depot, one serial per unit.
* Take back: a serial found at the client keeps its part; an unknown serial is
  recorded against a part the technician chooses. OK puts it back in the
  technician's depot, usable; Needs Repair puts it in the depot, unusable until
  repaired; Obsolete retires it for good.
* Undoing a take back puts the unit back as it was; an unknown serial becomes
  unknown again (its unit is forgotten, its movements stay).
* Editing a take back (serial, condition, part) is exactly that undo followed
  by a new take back under the same record, so units and movements end as if
  the technician had deleted the line and entered it again.
* Every change of a unit's place or condition is a :class:`Movement`; movements
  are only ever appended.

Functions here validate and return the new state plus the movement to append;
storage loads the units (locked) and saves what comes back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from jobs_domain.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    invalid,
    parse_enum,
)
from jobs_domain.money import ZERO, line_net, to_decimal

SERIAL_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
MAX_TAX_RATE: Final = Decimal("100")
MAX_NAME: Final = 200


class ItemKind(StrEnum):
    """What a price-book item is."""

    PART = "part"
    SERVICE = "service"
    LABOUR = "labour"


class DepotKind(StrEnum):
    """A technician's van (mobile) or a company warehouse (stationary)."""

    MOBILE = "mobile"
    STATIONARY = "stationary"


class Condition(StrEnum):
    """A serialized unit's condition."""

    OK = "ok"
    NEEDS_REPAIR = "needs_repair"
    OBSOLETE = "obsolete"


class LocationKind(StrEnum):
    """Where a serialized unit is."""

    DEPOT = "depot"
    SITE = "site"
    RETIRED = "retired"


class MovementKind(StrEnum):
    """Why a unit moved or changed condition."""

    RECEIVED = "received"
    INSTALLED = "installed"
    UNINSTALLED = "uninstalled"
    TAKEN_BACK = "taken_back"
    TAKE_BACK_CANCELLED = "take_back_cancelled"
    REPAIRED = "repaired"


# --- price book -------------------------------------------------------------------


@dataclass(frozen=True)
class PriceBookItem:
    """A part, service or labour rate that can be added to a job."""

    id: str
    family: str
    name: str
    kind: ItemKind
    unit_price: Decimal
    tax_rate: Decimal
    serialized: bool = False
    sku: str | None = None
    unit: str = "unit"
    bill_from_sessions: bool = False  # labour billed from the job's clocked time
    family_id: str | None = None  # the family's id, when the price book has one


def parse_price_book_item(item_id: str, data: object) -> PriceBookItem:
    """Build a price-book item from its JSON body."""
    if not isinstance(data, Mapping):
        raise invalid("", "must be an object")
    problems: list[FieldProblem] = []

    def text(name: str, *, required: bool = True) -> str | None:
        value = data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
            problems.append(
                FieldProblem(f"/{name}", f"must be a string of 1-{MAX_NAME} characters")
            )
            return None
        return value.strip()

    family = text("family")
    name = text("name")
    sku = text("sku", required=False)
    unit = text("unit", required=False) or "unit"
    kind = ItemKind.PART
    unit_price = tax_rate = ZERO
    try:
        kind = parse_enum(ItemKind, data.get("kind"), "/kind")
    except InvalidInput as exc:
        problems += exc.problems
    try:
        unit_price = to_decimal(data.get("unit_price"), "/unit_price")
    except InvalidInput as exc:
        problems += exc.problems
    try:
        tax_rate = to_decimal(data.get("tax_rate"), "/tax_rate")
        if tax_rate > MAX_TAX_RATE:
            problems.append(FieldProblem("/tax_rate", "must be a percentage, 0-100"))
    except InvalidInput as exc:
        problems += exc.problems
    flags: dict[str, bool] = {}
    for flag in ("serialized", "bill_from_sessions"):
        value = data.get(flag, False)
        if not isinstance(value, bool):
            problems.append(FieldProblem(f"/{flag}", "must be a boolean"))
        flags[flag] = value is True
    if flags["serialized"] and kind is not ItemKind.PART:
        problems.append(FieldProblem("/serialized", "only parts can be serialized"))
    if flags["bill_from_sessions"] and kind is not ItemKind.LABOUR:
        problems.append(
            FieldProblem("/bill_from_sessions", "only labour is billed from sessions")
        )
    if problems:
        raise InvalidInput("the price-book item is invalid", problems)
    return PriceBookItem(
        id=item_id,
        family=family or "",
        name=name or "",
        kind=kind,
        unit_price=unit_price,
        tax_rate=tax_rate,
        serialized=flags["serialized"],
        sku=sku,
        unit=unit,
        bill_from_sessions=flags["bill_from_sessions"],
    )


def search_price_book(
    items: Iterable[PriceBookItem],
    *,
    query: str | None = None,
    family: str | None = None,
    kind: ItemKind | None = None,
    serialized: bool | None = None,
) -> list[PriceBookItem]:
    """Filter the price book: free text over name/SKU/family, then exact filters.

    ``family`` names the family by its name or by its id. Labour is a service:
    ``kind=service`` finds it too (a service billed from sessions becomes labour).
    """
    needle = (query or "").casefold().strip()
    found = []
    for item in items:
        haystack = f"{item.name} {item.sku or ''} {item.family}".casefold()
        if needle and needle not in haystack:
            continue
        if family is not None and not _in_family(item, family):
            continue
        if kind is not None and not _of_kind(item, kind):
            continue
        if serialized is not None and item.serialized is not serialized:
            continue
        found.append(item)
    return sorted(found, key=lambda i: (i.family.casefold(), i.name.casefold()))


def _of_kind(item: PriceBookItem, kind: ItemKind) -> bool:
    """Of this kind; labour (a service billed from clocked time) is a service as well."""
    return item.kind is kind or (
        kind is ItemKind.SERVICE and item.kind is ItemKind.LABOUR
    )


def _in_family(item: PriceBookItem, family: str) -> bool:
    """The family named by its name, or by its id (in any case, as a uuid may be)."""
    return family == item.family or family.lower() == item.family_id


def families(items: Iterable[PriceBookItem]) -> list[str]:
    """The price book's families, sorted, each once."""
    return sorted({i.family for i in items}, key=str.casefold)


# --- depots and locations ------------------------------------------------------------


@dataclass(frozen=True)
class Depot:
    """A place that holds stock: a technician's van or a company warehouse."""

    id: str
    name: str
    kind: DepotKind
    technician_id: str | None = None


def check_new_depot(depot: Depot, existing: Iterable[Depot]) -> None:
    """A mobile depot belongs to exactly one technician, who has only that one."""
    if depot.kind is DepotKind.MOBILE:
        if not depot.technician_id:
            raise invalid("/technician_id", "a mobile depot belongs to a technician")
        for other in existing:
            if (
                other.kind is DepotKind.MOBILE
                and other.technician_id == depot.technician_id
            ):
                raise Conflict(
                    f"technician {depot.technician_id} already has mobile depot {other.id}"
                )
    elif depot.technician_id is not None:
        raise invalid("/technician_id", "a stationary depot belongs to the company")


@dataclass(frozen=True)
class Location:
    """Where a serialized unit is: a depot, a client's site, or nowhere (retired)."""

    kind: LocationKind
    depot_id: str | None = None
    client_id: str | None = None
    site_id: str | None = None

    @staticmethod
    def depot(depot_id: str) -> Location:
        return Location(LocationKind.DEPOT, depot_id=depot_id)

    @staticmethod
    def site(client_id: str, site_id: str | None) -> Location:
        return Location(LocationKind.SITE, client_id=client_id, site_id=site_id)

    @staticmethod
    def retired() -> Location:
        return Location(LocationKind.RETIRED)

    def describe(self) -> str:
        if self.kind is LocationKind.DEPOT:
            return f"depot {self.depot_id}"
        if self.kind is LocationKind.SITE:
            return f"client {self.client_id}" + (
                f" site {self.site_id}" if self.site_id else ""
            )
        return "retired"


@dataclass(frozen=True)
class SerialUnit:
    """One physical unit of a serialized part."""

    serial: str
    item_id: str
    location: Location
    condition: Condition

    @property
    def usable(self) -> bool:
        """Only an OK unit sitting in a depot can be installed."""
        return (
            self.condition is Condition.OK and self.location.kind is LocationKind.DEPOT
        )


@dataclass(frozen=True)
class Movement:
    """One entry of a unit's append-only history."""

    serial: str
    item_id: str
    kind: MovementKind
    from_location: Location | None
    to_location: Location
    condition: Condition
    job_id: str | None
    actor: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class JobSite:
    """The job a part is used on, and the client and site it is installed at."""

    job_id: str
    client_id: str
    site_id: str | None


QUANTITY_STEP: Final = Decimal("0.001")  # stock counts to the gram / millilitre
PRICE_STEP: Final = Decimal("0.0001")  # unit prices to a hundredth of a cent


def parse_quantity(value: object, pointer: str) -> Decimal:
    """A positive quantity with at most three decimals."""
    qty = to_decimal(value, pointer)
    if qty <= ZERO:
        raise invalid(pointer, "must be greater than 0")
    if qty != qty.quantize(QUANTITY_STEP):
        raise invalid(pointer, "at most 3 decimals")
    return qty


def parse_serial(value: object, pointer: str) -> str:
    if not isinstance(value, str) or not SERIAL_PATTERN.match(value.strip()):
        raise invalid(
            pointer, "a serial number is 1-64 letters, digits, '.', '_', '/' or '-'"
        )
    return value.strip()


def receive_unit(
    serial: object,
    item: PriceBookItem,
    depot: Depot,
    existing: SerialUnit | None,
    actor: str,
    at: datetime,
) -> tuple[SerialUnit, Movement]:
    """Put a new serialized unit into a depot, in condition OK."""
    serial_no = parse_serial(serial, "/serial")
    if not item.serialized:
        raise invalid("/item_id", f"{item.name} is not a serialized part")
    if existing is not None:
        raise Conflict(
            f"serial {serial_no} already exists ({existing.location.describe()}, "
            f"{existing.condition.value})"
        )
    unit = SerialUnit(serial_no, item.id, Location.depot(depot.id), Condition.OK)
    return unit, Movement(
        serial_no,
        item.id,
        MovementKind.RECEIVED,
        None,
        unit.location,
        Condition.OK,
        None,
        actor,
        at,
    )


def repair_unit(
    unit: SerialUnit, actor: str, at: datetime
) -> tuple[SerialUnit, Movement]:
    """Put a Needs Repair unit back to OK, which makes it usable again."""
    if unit.condition is Condition.OBSOLETE:
        raise Conflict(f"serial {unit.serial} is obsolete and can never be used again")
    if unit.condition is not Condition.NEEDS_REPAIR:
        raise Conflict(f"serial {unit.serial} does not need repair")
    if unit.location.kind is not LocationKind.DEPOT:
        raise Conflict(f"serial {unit.serial} is not in a depot")
    repaired = replace(unit, condition=Condition.OK)
    return repaired, Movement(
        unit.serial,
        unit.item_id,
        MovementKind.REPAIRED,
        unit.location,
        unit.location,
        Condition.OK,
        None,
        actor,
        at,
    )


# --- parts on a job ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobPart:
    """A part or service added to a job, with its price and serials."""

    id: str
    job_id: str
    item_id: str
    family: str
    name: str
    kind: ItemKind
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    serials: tuple[str, ...]
    depot_id: str | None
    added_by: str
    added_at: datetime

    @property
    def net(self) -> Decimal:
        return line_net(self.quantity, self.unit_price)


def _refuse_unusable(unit: SerialUnit | None, serial: str, depot: Depot) -> str | None:
    """Say why a unit cannot be installed from ``depot``, or None if it can."""
    if unit is None:
        return f"serial {serial} is unknown"
    if (
        unit.condition is Condition.OBSOLETE
        or unit.location.kind is LocationKind.RETIRED
    ):
        return f"serial {serial} is obsolete and can never be used again"
    if unit.location.kind is LocationKind.SITE:
        return f"serial {serial} is already installed at {unit.location.describe()}"
    if unit.location.depot_id != depot.id:
        return f"serial {serial} is in another depot ({unit.location.depot_id})"
    if unit.condition is Condition.NEEDS_REPAIR:
        return f"serial {serial} needs repair and cannot be used until repaired"
    return None


def add_part_to_job(
    part_id: str,
    item: PriceBookItem,
    quantity: object,
    serials: object,
    job: JobSite,
    depot: Depot,
    units: Mapping[str, SerialUnit | None],
    actor: str,
    at: datetime,
    *,
    unit_price: object = None,
) -> tuple[JobPart, list[tuple[SerialUnit, Movement]]]:
    """Add a price-book item to a job; serialized parts need one usable serial per unit.

    ``units`` holds the current state of every serial named (None when unknown).
    Returns the job line and, for serialized parts, each unit's new state (at the
    client's site) with its movement.
    """
    qty = parse_quantity(quantity, "/quantity")
    price = (
        item.unit_price if unit_price is None else to_decimal(unit_price, "/unit_price")
    )
    if price != price.quantize(PRICE_STEP):
        raise invalid("/unit_price", "at most 4 decimals")
    serial_list: list[str] = []
    moved: list[tuple[SerialUnit, Movement]] = []
    if item.serialized:
        if qty != qty.to_integral_value():
            raise invalid("/quantity", "a serialized part is counted in whole units")
        if not isinstance(serials, list):
            raise invalid("/serials", "a serialized part needs one serial per unit")
        if len(serials) != qty:
            raise invalid(
                "/serials",
                f"{int(qty)} units need {int(qty)} serials, got {len(serials)}",
            )
        problems: list[FieldProblem] = []
        for i, raw in enumerate(serials):
            pointer = f"/serials/{i}"
            try:
                serial = parse_serial(raw, pointer)
            except InvalidInput as exc:
                problems += exc.problems
                continue
            if serial in serial_list:
                problems.append(
                    FieldProblem(pointer, f"serial {serial} is listed twice")
                )
                continue
            serial_list.append(serial)
            unit = units.get(serial)
            reason = _refuse_unusable(unit, serial, depot)
            if reason is None and unit is not None and unit.item_id != item.id:
                reason = f"serial {serial} belongs to another part ({unit.item_id})"
            if reason:
                problems.append(FieldProblem(pointer, reason))
                continue
            assert unit is not None
            installed = replace(
                unit, location=Location.site(job.client_id, job.site_id)
            )
            moved.append(
                (
                    installed,
                    Movement(
                        serial,
                        item.id,
                        MovementKind.INSTALLED,
                        unit.location,
                        installed.location,
                        unit.condition,
                        job.job_id,
                        actor,
                        at,
                    ),
                )
            )
        if problems:
            raise InvalidInput("some serial numbers cannot be used", problems)
    elif serials not in (None, []):
        raise invalid("/serials", f"{item.name} is not a serialized part")
    part = JobPart(
        id=part_id,
        job_id=job.job_id,
        item_id=item.id,
        family=item.family,
        name=item.name,
        kind=item.kind,
        quantity=qty,
        unit_price=price,
        tax_rate=item.tax_rate,
        serials=tuple(serial_list),
        depot_id=depot.id if item.kind is ItemKind.PART else None,
        added_by=actor,
        added_at=at,
    )
    return part, moved


def remove_part_from_job(
    part: JobPart,
    units: Mapping[str, SerialUnit],
    actor: str,
    at: datetime,
) -> list[tuple[SerialUnit, Movement]]:
    """Delete a job line: its serials go back to the depot they came from."""
    moved = []
    for serial in part.serials:
        unit = units[serial]
        if unit.location.kind is not LocationKind.SITE:
            raise Conflict(
                f"serial {serial} has moved since ({unit.location.describe()}); "
                "the line can no longer be removed"
            )
        back = replace(unit, location=Location.depot(part.depot_id or ""))
        moved.append(
            (
                back,
                Movement(
                    serial,
                    unit.item_id,
                    MovementKind.UNINSTALLED,
                    unit.location,
                    back.location,
                    unit.condition,
                    part.job_id,
                    actor,
                    at,
                ),
            )
        )
    return moved


def stock_after(
    available: Decimal, part: JobPart, *, removing: bool = False
) -> Decimal:
    """A plain part's depot stock after adding (or removing) a job line."""
    if part.kind is not ItemKind.PART or part.serials:
        return available
    if removing:
        return available + part.quantity
    if part.quantity > available:
        raise invalid(
            "/quantity",
            f"only {available} of {part.name} in depot {part.depot_id}",
        )
    return available - part.quantity


# --- take back ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TakeBackLookup:
    """Result of "Check": the unit found at this client (case 1), or not (case 2)."""

    serial: str
    found: bool
    item_id: str | None


def check_take_back(
    serial: object, unit: SerialUnit | None, client_id: str
) -> TakeBackLookup:
    """Look a serial up among the parts installed at this client."""
    serial_no = parse_serial(serial, "/serial")
    if unit is None:
        return TakeBackLookup(serial_no, False, None)
    if unit.location.kind is LocationKind.SITE and unit.location.client_id == client_id:
        return TakeBackLookup(serial_no, True, unit.item_id)
    raise Conflict(
        f"serial {serial_no} is recorded at {unit.location.describe()}, not at this client"
    )


@dataclass(frozen=True)
class TakeBack:
    """A serialized part taken back from a client on a job."""

    id: str
    job_id: str
    serial: str
    item_id: str
    condition: Condition
    found_at_client: bool
    from_location: Location
    to_location: Location
    previous_condition: Condition
    actor: str
    at: datetime


def take_back(
    take_back_id: str,
    serial: object,
    unit: SerialUnit | None,
    chosen_item: PriceBookItem | None,
    condition: object,
    job: JobSite,
    depot: Depot,
    actor: str,
    at: datetime,
) -> tuple[TakeBack, SerialUnit, Movement]:
    """Take a serial back from the job's client with a condition.

    Case 1 (the serial is installed at this client): its part is known.
    Case 2 (unknown serial): ``chosen_item`` names the part, which must be serialized.
    OK → the technician's depot, usable; Needs Repair → the depot, unusable;
    Obsolete → retired for good.
    """
    lookup = check_take_back(serial, unit, job.client_id)
    cond = parse_enum(Condition, condition, "/condition")
    if lookup.found:
        assert unit is not None
        if chosen_item is not None and chosen_item.id != unit.item_id:
            raise invalid(
                "/item_id",
                f"serial {lookup.serial} is recorded as part {unit.item_id} at this client",
            )
        item_id = unit.item_id
        from_location = unit.location
        previous = unit.condition
    else:
        if chosen_item is None:
            raise invalid(
                "/item_id", "the serial was not found at this client: choose the part"
            )
        if not chosen_item.serialized:
            raise invalid("/item_id", f"{chosen_item.name} is not a serialized part")
        item_id = chosen_item.id
        from_location = Location.site(job.client_id, job.site_id)
        previous = Condition.OK
    to_location = (
        Location.retired() if cond is Condition.OBSOLETE else Location.depot(depot.id)
    )
    new_unit = SerialUnit(lookup.serial, item_id, to_location, cond)
    record = TakeBack(
        take_back_id,
        job.job_id,
        lookup.serial,
        item_id,
        cond,
        lookup.found,
        from_location,
        to_location,
        previous,
        actor,
        at,
    )
    movement = Movement(
        lookup.serial,
        item_id,
        MovementKind.TAKEN_BACK,
        from_location,
        to_location,
        cond,
        job.job_id,
        actor,
        at,
        None if lookup.found else "serial was not on record at this client",
    )
    return record, new_unit, movement


def cancel_take_back(
    record: TakeBack,
    unit: SerialUnit,
    actor: str,
    at: datetime,
    *,
    latest: Movement | None = None,
) -> tuple[SerialUnit | None, Movement]:
    """Undo a take back (the cross in the app): the unit is as it was before.

    A serial found at the client goes back there, in its previous condition. A
    serial that was not on record (case 2) is forgotten again: the result is no
    unit, so the serial is as unknown as before, and may be taken back from any
    client. ``latest`` is the unit's newest movement: a unit forgotten must not
    have moved since its take back. The movement returned is still appended, so
    the history keeps both the take back and its undoing.
    """
    moved = Conflict(
        f"serial {unit.serial} has moved or changed since it was taken back; "
        "it cannot be put back"
    )
    if unit.location != record.to_location or unit.condition is not record.condition:
        raise moved
    restored = replace(
        unit, location=record.from_location, condition=record.previous_condition
    )
    movement = Movement(
        unit.serial,
        unit.item_id,
        MovementKind.TAKE_BACK_CANCELLED,
        unit.location,
        restored.location,
        restored.condition,
        record.job_id,
        actor,
        at,
    )
    if record.found_at_client:
        return restored, movement
    if latest is not None and (
        latest.kind is not MovementKind.TAKEN_BACK
        or latest.job_id != record.job_id
        or latest.at != record.at
    ):
        raise moved
    return None, replace(movement, note="serial was not on record: unknown again")


def require_own_depot(depot: Depot, technician_id: str) -> None:
    """Technicians work from their own mobile depot."""
    if depot.kind is not DepotKind.MOBILE or depot.technician_id != technician_id:
        raise Forbidden("technicians use parts from their own mobile depot only")


@dataclass(frozen=True)
class TakeBackEdit:
    """A corrected take back: the record, and the unit changes to apply in order.

    Each step is a unit's new state with its movement; a step without a unit
    forgets the movement's serial (an unknown serial is unknown again).
    ``changes`` maps each corrected field to its value before and after.
    """

    record: TakeBack
    steps: tuple[tuple[SerialUnit | None, Movement], ...]
    changes: Mapping[str, tuple[str, str]]


def edit_take_back(
    record: TakeBack,
    units: Mapping[str, SerialUnit | None],
    *,
    serial: object,
    condition: object,
    chosen_item: PriceBookItem | None,
    recorded_item: PriceBookItem | None,
    job: JobSite,
    depot: Depot,
    latest: Movement | None,
    actor: str,
    at: datetime,
) -> TakeBackEdit:
    """Correct a take back in place (the pencil in the app): undo it, take back again.

    ``serial`` and ``condition`` are None when kept. ``units`` holds the current
    state of the recorded serial and of the new one. ``chosen_item`` is the part
    named in the correction; an unknown serial keeps ``recorded_item`` (the part
    chosen before) unless another is named. ``latest`` is the recorded serial's
    newest movement (as for :func:`cancel_take_back`). Nothing changed → no steps.
    """
    new_serial = record.serial if serial is None else parse_serial(serial, "/serial")
    cond = (
        record.condition
        if condition is None
        else parse_enum(Condition, condition, "/condition")
    )
    to_location = (
        Location.retired() if cond is Condition.OBSOLETE else Location.depot(depot.id)
    )
    item_id = record.item_id if chosen_item is None else chosen_item.id
    if (new_serial, cond, item_id, to_location) == (
        record.serial,
        record.condition,
        record.item_id,
        record.to_location,
    ):
        return TakeBackEdit(record, (), {})
    current = units.get(record.serial)
    if current is None:
        raise Conflict(f"serial {record.serial} is no longer on record")
    restored, undo = cancel_take_back(record, current, actor, at, latest=latest)
    before = restored if new_serial == record.serial else units.get(new_serial)
    # an unknown serial keeps the part chosen for it unless another is named
    item = (
        chosen_item if chosen_item is not None or before is not None else recorded_item
    )
    new_record, new_unit, again = take_back(
        record.id, new_serial, before, item, cond.value, job, depot, actor, at
    )
    changes = {
        name: (old, new)
        for name, old, new in (
            ("serial", record.serial, new_record.serial),
            ("condition", record.condition.value, new_record.condition.value),
            ("item_id", record.item_id, new_record.item_id),
            ("to", record.to_location.describe(), new_record.to_location.describe()),
        )
        if old != new
    }
    return TakeBackEdit(new_record, ((restored, undo), (new_unit, again)), changes)
