"""Price book: families of parts and services, searchable and filterable."""

from __future__ import annotations

from typing import Any

import psycopg

from jobs_domain.errors import FieldProblem, InvalidInput, NotFound

Conn = psycopg.AsyncConnection[Any]

_ITEM = (
    "id, family_id, kind, code, name, description, unit_price, tax_rate, active, "
    "created_at, version"
)
_KEYS = [*_ITEM.replace(" ", "").split(","), "serialized"]
#: An item with its stock setting (a serialized part), as every read returns it.
_SELECT = (
    "SELECT "
    + ", ".join(f"i.{c}" for c in _KEYS[:-1])
    + ", coalesce(s.serialized, false) FROM price_book_items i "
    "LEFT JOIN price_book_item_stock s ON s.item_id = i.id"
)
#: What an edit may change (``code`` stays: stock, serials and lines name it).
EDITABLE = ("family_id", "kind", "name", "description", "unit_price", "tax_rate")


def _taken(pointer: str, what: str) -> InvalidInput:
    """A unique name or code already used (the page says so at its field)."""
    return InvalidInput(
        f"the {what} is taken",
        [FieldProblem(pointer, f"another {what} already has this {pointer[1:]}")],
    )


async def create_family(conn: Conn, name: str) -> dict[str, Any]:
    try:
        cur = await conn.execute(
            "INSERT INTO price_book_families (name) VALUES (%s) "
            "RETURNING id, name, created_at",
            (name,),
        )
    except psycopg.errors.UniqueViolation as exc:
        raise _taken("/name", "family") from exc
    row = await cur.fetchone()
    assert row is not None
    return {"id": row[0], "name": row[1], "created_at": row[2]}


async def list_families(conn: Conn) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT f.id, f.name, f.created_at, count(i.id) FROM price_book_families f "
        "LEFT JOIN price_book_items i ON i.family_id = f.id AND i.active "
        "GROUP BY f.id ORDER BY f.name"
    )
    return [
        {"id": r[0], "name": r[1], "created_at": r[2], "item_count": r[3]}
        for r in await cur.fetchall()
    ]


async def _family_exists(conn: Conn, family_id: str) -> None:
    cur = await conn.execute(
        "SELECT 1 FROM price_book_families WHERE id = %s", (family_id,)
    )
    if await cur.fetchone() is None:
        raise NotFound(f"family {family_id} not found")


async def create_item(conn: Conn, data: dict[str, Any]) -> dict[str, Any]:
    await _family_exists(conn, data["family_id"])
    try:
        cur = await conn.execute(
            "INSERT INTO price_book_items (family_id, kind, code, name, description, "
            "unit_price, tax_rate) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                data["family_id"],
                data["kind"],
                data["code"],
                data["name"],
                data.get("description", ""),
                data["unit_price"],
                data["tax_rate"],
            ),
        )
    except psycopg.errors.UniqueViolation as exc:
        raise _taken("/code", "item") from exc
    row = await cur.fetchone()
    assert row is not None
    return await get_item(conn, str(row[0]))


async def update_item(
    conn: Conn, item_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Set the ``EDITABLE`` members given, one version further."""
    if "family_id" in changes:
        await _family_exists(conn, changes["family_id"])
    sets = [k for k in EDITABLE if k in changes]
    assignments = "".join(f"{k} = %({k})s, " for k in sets)
    await conn.execute(
        f"UPDATE price_book_items SET {assignments}version = version + 1 "
        "WHERE id = %(id)s",
        {**{k: changes[k] for k in sets}, "id": item_id},
    )
    return await get_item(conn, item_id)


async def set_active(conn: Conn, item_id: str, active: bool) -> dict[str, Any]:
    """Archive (False) or restore (True) an item, one version further."""
    await conn.execute(
        "UPDATE price_book_items SET active = %s, version = version + 1 WHERE id = %s",
        (active, item_id),
    )
    return await get_item(conn, item_id)


async def get_item(
    conn: Conn, item_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    lock = " FOR UPDATE OF i" if for_update else ""
    cur = await conn.execute(f"{_SELECT} WHERE i.id = %s{lock}", (item_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"price book item {item_id} not found")
    return dict(zip(_KEYS, row, strict=True))


async def search_items(
    conn: Conn,
    *,
    q: str | None,
    family_id: str | None,
    kind: str | None,
    after: str | None,
    limit: int,
    include_archived: bool = False,
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"{_SELECT} WHERE (i.active OR %(archived)s) "
        "AND (%(q)s::text IS NULL OR i.name ILIKE %(like)s OR i.code ILIKE %(like)s "
        "     OR i.description ILIKE %(like)s) "
        "AND (%(family)s::uuid IS NULL OR i.family_id = %(family)s::uuid) "
        "AND (%(kind)s::text IS NULL OR i.kind = %(kind)s) "
        "AND (%(after)s::uuid IS NULL OR i.id > %(after)s::uuid) "
        "ORDER BY i.id LIMIT %(limit)s",
        {
            "archived": include_archived,
            "q": q,
            "like": f"%{q}%",
            "family": family_id,
            "kind": kind,
            "after": after,
            "limit": limit,
        },
    )
    return [dict(zip(_KEYS, r, strict=True)) for r in await cur.fetchall()]
