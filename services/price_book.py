"""Price-book use cases: families, parts and services with their price and tax rate.

The price book is reference data: storage returns its rows as records. The rules
are here: a price and a tax rate are exact decimals, the rate at most 100 %; an
edit is checked against the version its editor read (``check``, the API's
If-Match); an item is archived, never deleted, and an archived item is no longer
offered (nor added to a job), while the lines of jobs that used it keep what they
were given: a line copies the item's name, price and rate when it is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from jobs_domain.errors import Conflict, FieldProblem, InvalidInput
from jobs_domain.money import to_decimal
from services.versions import Check, Stamp
from storage import price_book as store

Conn = psycopg.AsyncConnection[Any]
Record = dict[str, Any]


async def create_family(conn: Conn, name: str) -> Record:
    return await store.create_family(conn, name)


async def list_families(conn: Conn) -> list[Record]:
    return await store.list_families(conn)


def _priced(item: Mapping[str, Any]) -> Record:
    """The item with its price and rate as exact decimals (when given)."""
    out = dict(item)
    if "unit_price" in out:
        out["unit_price"] = to_decimal(out["unit_price"], "/unit_price")
    if "tax_rate" in out:
        out["tax_rate"] = to_decimal(out["tax_rate"], "/tax_rate")
        if out["tax_rate"] > 100:
            raise InvalidInput("bad rate", [FieldProblem("/tax_rate", "at most 100")])
    return out


async def create_item(conn: Conn, item: Record) -> Record:
    """Add a part or service (``family_id`` already checked to be a uuid)."""
    return await store.create_item(conn, _priced(item))


async def _locked(conn: Conn, item_id: str, check: Check) -> Record:
    item = await store.get_item(conn, item_id, for_update=True)
    check(Stamp(str(item["id"]), item["version"]))
    return item


async def update_item(
    conn: Conn, item_id: str, changes: Mapping[str, Any], *, check: Check
) -> Record:
    """Edit an item's family, kind, name, description, price or rate (not its
    code: stock and serials are kept by it). Lines already on jobs keep theirs."""
    item = await _locked(conn, item_id, check)
    wanted = _priced(changes)
    if wanted.get("kind", item["kind"]) != "part" and item["serialized"]:
        raise InvalidInput(
            "a serialized part", [FieldProblem("/kind", "a serialized item is a part")]
        )
    return await store.update_item(conn, item_id, wanted)


async def archive_item(conn: Conn, item_id: str, *, check: Check) -> Record:
    """No longer offer the item (search, the app, new lines); jobs keep their lines."""
    item = await _locked(conn, item_id, check)
    if not item["active"]:
        raise Conflict("the item is already archived")
    return await store.set_active(conn, item_id, False)


async def restore_item(conn: Conn, item_id: str, *, check: Check) -> Record:
    """Offer an archived item again."""
    item = await _locked(conn, item_id, check)
    if item["active"]:
        raise Conflict("the item is not archived")
    return await store.set_active(conn, item_id, True)


async def search_items(
    conn: Conn,
    *,
    q: str | None,
    family_id: str | None,
    kind: str | None,
    after: str | None,
    limit: int,
    include_archived: bool = False,
) -> list[Record]:
    return await store.search_items(
        conn,
        q=q,
        family_id=family_id,
        kind=kind,
        after=after,
        limit=limit,
        include_archived=include_archived,
    )


async def get_item(conn: Conn, item_id: str) -> Record:
    return await store.get_item(conn, item_id)


async def offered_item(conn: Conn, item_id: str, pointer: str) -> Record:
    """An item a new job line may use: archived ones are refused at ``pointer``."""
    item = await store.get_item(conn, item_id)
    if not item["active"]:
        raise InvalidInput(
            "archived item",
            [FieldProblem(pointer, f"{item['name']} is archived in the price book")],
        )
    return item
