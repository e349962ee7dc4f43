"""Price-book stock settings, depots, stock, serialized units, movements, job parts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from jobs_domain.parts import (
    Condition,
    Depot,
    DepotKind,
    ItemKind,
    JobPart,
    Location,
    LocationKind,
    Movement,
    MovementKind,
    PriceBookItem,
    SerialUnit,
    TakeBack,
)
from storage.documents import to_document

Conn = psycopg.AsyncConnection[Any]

_ITEM_SELECT = (
    "SELECT i.id, f.name, i.name, i.kind, i.unit_price, i.tax_rate, i.code, "
    "coalesce(s.serialized, false), coalesce(s.bill_from_sessions, false), "
    "i.family_id "
    "FROM price_book_items i JOIN price_book_families f ON f.id = i.family_id "
    "LEFT JOIN price_book_item_stock s ON s.item_id = i.id "
)


def _item(row: Any) -> PriceBookItem:
    bill = bool(row[8])
    kind = ItemKind.LABOUR if bill else ItemKind(row[3])
    return PriceBookItem(
        id=str(row[0]),
        family=row[1],
        name=row[2],
        kind=kind,
        unit_price=row[4],
        tax_rate=row[5],
        serialized=bool(row[7]),
        sku=row[6],
        bill_from_sessions=bill,
        family_id=str(row[9]),
    )


async def get_item(conn: Conn, item_id: str) -> PriceBookItem | None:
    cur = await conn.execute(_ITEM_SELECT + "WHERE i.id = %s", (item_id,))
    row = await cur.fetchone()
    return _item(row) if row else None


async def list_items(conn: Conn) -> list[PriceBookItem]:
    cur = await conn.execute(_ITEM_SELECT + "WHERE i.active ORDER BY f.name, i.name")
    return [_item(r) for r in await cur.fetchall()]


async def set_stock_settings(
    conn: Conn, item_id: str, serialized: bool, bill_from_sessions: bool
) -> None:
    await conn.execute(
        "INSERT INTO price_book_item_stock (item_id, serialized, bill_from_sessions) "
        "VALUES (%s, %s, %s) ON CONFLICT (item_id) DO UPDATE SET "
        "serialized = EXCLUDED.serialized, bill_from_sessions = EXCLUDED.bill_from_sessions",
        (item_id, serialized, bill_from_sessions),
    )


async def session_billed_items(conn: Conn) -> frozenset[str]:
    cur = await conn.execute(
        "SELECT item_id FROM price_book_item_stock WHERE bill_from_sessions"
    )
    return frozenset(str(r[0]) for r in await cur.fetchall())


# -- depots and stock -----------------------------------------------------------------


def _depot(row: Any) -> Depot:
    return Depot(
        str(row[0]), row[1], DepotKind(row[2]), str(row[3]) if row[3] else None
    )


async def list_depots(conn: Conn) -> list[Depot]:
    cur = await conn.execute(
        "SELECT id, name, kind, technician_id FROM depots ORDER BY kind, name"
    )
    return [_depot(r) for r in await cur.fetchall()]


async def get_depot(conn: Conn, depot_id: str) -> Depot | None:
    cur = await conn.execute(
        "SELECT id, name, kind, technician_id FROM depots WHERE id = %s", (depot_id,)
    )
    row = await cur.fetchone()
    return _depot(row) if row else None


async def depot_of_technician(conn: Conn, technician_id: str) -> Depot | None:
    cur = await conn.execute(
        "SELECT id, name, kind, technician_id FROM depots WHERE technician_id = %s",
        (technician_id,),
    )
    row = await cur.fetchone()
    return _depot(row) if row else None


async def insert_depot(conn: Conn, depot: Depot) -> None:
    await conn.execute(
        "INSERT INTO depots (id, name, kind, technician_id) VALUES (%s, %s, %s, %s)",
        (depot.id, depot.name, depot.kind.value, depot.technician_id),
    )


async def stock_level(conn: Conn, depot_id: str, item_id: str) -> Decimal:
    """Current quantity, locking the row so concurrent withdrawals queue up."""
    cur = await conn.execute(
        "SELECT quantity FROM depot_stock WHERE depot_id = %s AND item_id = %s FOR UPDATE",
        (depot_id, item_id),
    )
    row = await cur.fetchone()
    return Decimal(row[0]) if row else Decimal(0)


async def set_stock(conn: Conn, depot_id: str, item_id: str, quantity: Decimal) -> None:
    await conn.execute(
        "INSERT INTO depot_stock (depot_id, item_id, quantity) VALUES (%s, %s, %s) "
        "ON CONFLICT (depot_id, item_id) DO UPDATE SET quantity = EXCLUDED.quantity",
        (depot_id, item_id, quantity),
    )


@dataclass(frozen=True)
class DepotStock:
    """A depot's plain stock (item id, quantity) and its serialized units."""

    depot_id: str
    stock: list[tuple[str, Decimal]]
    units: list[SerialUnit]


async def depot_stock(conn: Conn, depot_id: str, *, usable_only: bool) -> DepotStock:
    """A depot's plain stock and serialized units (technicians see only usable ones)."""
    cur = await conn.execute(
        "SELECT item_id, quantity FROM depot_stock WHERE depot_id = %s ORDER BY item_id",
        (depot_id,),
    )
    plain = [(str(r[0]), r[1]) for r in await cur.fetchall()]
    only = "AND condition = 'ok'" if usable_only else ""
    cur = await conn.execute(
        "SELECT serial, item_id, condition FROM serial_units "
        f"WHERE location_kind = 'depot' AND depot_id = %s {only} ORDER BY serial",
        (depot_id,),
    )
    here = Location.depot(depot_id)
    units = [
        SerialUnit(r[0], str(r[1]), here, Condition(r[2])) for r in await cur.fetchall()
    ]
    return DepotStock(depot_id, plain, units)


# -- serialized units -------------------------------------------------------------------------


def _location(data: dict[str, Any]) -> Location:
    return Location(
        LocationKind(data["kind"]), data["depot_id"], data["client_id"], data["site_id"]
    )


async def lock_units(conn: Conn, serials: list[str]) -> dict[str, SerialUnit | None]:
    """Current state of each serial (None if unknown), rows locked for this transaction."""
    cur = await conn.execute(
        "SELECT serial, item_id, location_kind, depot_id, client_id, site_id, condition "
        "FROM serial_units WHERE serial = ANY(%s) ORDER BY serial FOR UPDATE",
        (serials,),
    )
    found: dict[str, SerialUnit | None] = dict.fromkeys(serials)
    for r in await cur.fetchall():
        found[r[0]] = SerialUnit(
            r[0],
            str(r[1]),
            Location(
                LocationKind(r[2]),
                str(r[3]) if r[3] else None,
                str(r[4]) if r[4] else None,
                str(r[5]) if r[5] else None,
            ),
            Condition(r[6]),
        )
    return found


async def save_unit(conn: Conn, unit: SerialUnit, movement: Movement) -> None:
    """Write the unit's new state and append its movement."""
    loc = unit.location
    await conn.execute(
        "INSERT INTO serial_units (serial, item_id, location_kind, depot_id, client_id, "
        "site_id, condition, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (serial) DO UPDATE SET item_id = EXCLUDED.item_id, "
        "location_kind = EXCLUDED.location_kind, depot_id = EXCLUDED.depot_id, "
        "client_id = EXCLUDED.client_id, site_id = EXCLUDED.site_id, "
        "condition = EXCLUDED.condition, updated_at = EXCLUDED.updated_at",
        (
            unit.serial,
            unit.item_id,
            loc.kind.value,
            loc.depot_id,
            loc.client_id,
            loc.site_id,
            unit.condition.value,
            movement.at,
        ),
    )
    await _append_movement(conn, movement)


async def forget_unit(conn: Conn, serial: str, movement: Movement) -> None:
    """Append the unit's last movement and drop the unit: the serial is unknown again.

    Its movements stay (they are append-only and outlive the unit).
    """
    await _append_movement(conn, movement)
    await conn.execute("DELETE FROM serial_units WHERE serial = %s", (serial,))


async def _append_movement(conn: Conn, movement: Movement) -> None:
    await conn.execute(
        "INSERT INTO serial_movements (serial, item_id, kind, from_location, to_location, "
        "condition, job_id, actor, at, note) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            movement.serial,
            movement.item_id,
            movement.kind.value,
            Jsonb(to_document(movement.from_location)),
            Jsonb(to_document(movement.to_location)),
            movement.condition.value,
            movement.job_id,
            movement.actor,
            movement.at,
            movement.note,
        ),
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One stored movement of a unit, with its place in the unit's history."""

    seq: int
    movement: Movement


async def serial_history(conn: Conn, serial: str) -> list[HistoryEntry]:
    """Where a serial has been, in what condition, oldest first."""
    cur = await conn.execute(
        "SELECT id, kind, from_location, to_location, condition, job_id, actor, at, note, "
        "item_id FROM serial_movements WHERE serial = %s ORDER BY id",
        (serial,),
    )
    return [
        HistoryEntry(
            r[0],
            Movement(
                serial=serial,
                item_id=str(r[9]),
                kind=MovementKind(r[1]),
                from_location=_location(r[2]) if r[2] else None,
                to_location=_location(r[3]),
                condition=Condition(r[4]),
                job_id=str(r[5]) if r[5] else None,
                actor=r[6],
                at=r[7],
                note=r[8],
            ),
        )
        for r in await cur.fetchall()
    ]


async def client_part_families(conn: Conn, client_id: str) -> list[str]:
    """Families of the parts installed for this client (the take-back search list)."""
    cur = await conn.execute(
        "SELECT DISTINCT p.family FROM job_parts p JOIN jobs j ON j.id = p.job_id "
        "WHERE j.client_id = %s AND p.kind = 'part' ORDER BY 1",
        (client_id,),
    )
    return [r[0] for r in await cur.fetchall()]


# -- job parts and take backs -------------------------------------------------------------


async def insert_part(conn: Conn, part: JobPart) -> None:
    await conn.execute(
        "INSERT INTO job_parts (id, job_id, item_id, family, name, kind, quantity, "
        "unit_price, tax_rate, serials, depot_id, added_by, added_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            part.id,
            part.job_id,
            part.item_id,
            part.family,
            part.name,
            part.kind.value,
            part.quantity,
            part.unit_price,
            part.tax_rate,
            list(part.serials),
            part.depot_id,
            part.added_by,
            part.added_at,
        ),
    )


def _part(r: Any) -> JobPart:
    return JobPart(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        r[3],
        r[4],
        ItemKind(r[5]),
        r[6],
        r[7],
        r[8],
        tuple(r[9]),
        str(r[10]) if r[10] else None,
        r[11],
        r[12],
    )


_PART_SELECT = (
    "SELECT id, job_id, item_id, family, name, kind, quantity, unit_price, tax_rate, "
    "serials, depot_id, added_by, added_at FROM job_parts "
)


async def job_parts(conn: Conn, job_id: str) -> list[JobPart]:
    cur = await conn.execute(
        _PART_SELECT + "WHERE job_id = %s ORDER BY added_at, id", (job_id,)
    )
    return [_part(r) for r in await cur.fetchall()]


async def get_part(conn: Conn, job_id: str, part_id: str) -> JobPart | None:
    cur = await conn.execute(
        _PART_SELECT + "WHERE job_id = %s AND id = %s FOR UPDATE", (job_id, part_id)
    )
    row = await cur.fetchone()
    return _part(row) if row else None


async def delete_part(conn: Conn, part_id: str) -> None:
    await conn.execute("DELETE FROM job_parts WHERE id = %s", (part_id,))


async def insert_take_back(conn: Conn, tb: TakeBack) -> None:
    await conn.execute(
        "INSERT INTO job_take_backs (id, job_id, serial, item_id, condition, "
        "found_at_client, from_location, to_location, previous_condition, actor, at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            tb.id,
            tb.job_id,
            tb.serial,
            tb.item_id,
            tb.condition.value,
            tb.found_at_client,
            Jsonb(to_document(tb.from_location)),
            Jsonb(to_document(tb.to_location)),
            tb.previous_condition.value,
            tb.actor,
            tb.at,
        ),
    )


_TB_SELECT = (
    "SELECT id, job_id, serial, item_id, condition, found_at_client, from_location, "
    "to_location, previous_condition, actor, at FROM job_take_backs "
)


def _take_back(r: Any) -> TakeBack:
    return TakeBack(
        str(r[0]),
        str(r[1]),
        r[2],
        str(r[3]),
        Condition(r[4]),
        r[5],
        _location(r[6]),
        _location(r[7]),
        Condition(r[8]),
        r[9],
        r[10],
    )


async def job_take_backs(conn: Conn, job_id: str) -> list[TakeBack]:
    cur = await conn.execute(
        _TB_SELECT + "WHERE job_id = %s ORDER BY at, id", (job_id,)
    )
    return [_take_back(r) for r in await cur.fetchall()]


async def get_take_back(conn: Conn, job_id: str, tb_id: str) -> TakeBack | None:
    cur = await conn.execute(
        _TB_SELECT + "WHERE job_id = %s AND id = %s FOR UPDATE", (job_id, tb_id)
    )
    row = await cur.fetchone()
    return _take_back(row) if row else None


async def delete_take_back(conn: Conn, tb_id: str) -> None:
    await conn.execute("DELETE FROM job_take_backs WHERE id = %s", (tb_id,))
