"""Price-book use cases: families, parts and services with their price and tax rate.

The price book is reference data: storage returns its rows as records. The one rule
is here: a price and a tax rate are exact decimals, the rate at most 100 %.
"""

from __future__ import annotations

from typing import Any

import psycopg

from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.money import to_decimal
from storage import price_book as store

Conn = psycopg.AsyncConnection[Any]
Record = dict[str, Any]


async def create_family(conn: Conn, name: str) -> Record:
    return await store.create_family(conn, name)


async def list_families(conn: Conn) -> list[Record]:
    return await store.list_families(conn)


async def create_item(conn: Conn, item: Record) -> Record:
    """Add a part or service (``family_id`` already checked to be a uuid)."""
    item = dict(item)
    item["unit_price"] = to_decimal(item["unit_price"], "/unit_price")
    item["tax_rate"] = to_decimal(item["tax_rate"], "/tax_rate")
    if item["tax_rate"] > 100:
        raise InvalidInput("bad rate", [FieldProblem("/tax_rate", "at most 100")])
    return await store.create_item(conn, item)


async def search_items(
    conn: Conn,
    *,
    q: str | None,
    family_id: str | None,
    kind: str | None,
    after: str | None,
    limit: int,
) -> list[Record]:
    return await store.search_items(
        conn, q=q, family_id=family_id, kind=kind, after=after, limit=limit
    )


async def get_item(conn: Conn, item_id: str) -> Record:
    return await store.get_item(conn, item_id)
