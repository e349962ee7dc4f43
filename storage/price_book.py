"""Price book: families of parts and services, searchable and filterable."""

from __future__ import annotations

from typing import Any

import psycopg

from jobs_domain.errors import NotFound

Conn = psycopg.AsyncConnection[Any]

_ITEM = (
    "id, family_id, kind, code, name, description, unit_price, tax_rate, active, "
    "created_at"
)
_KEYS = _ITEM.replace(" ", "").split(",")


async def create_family(conn: Conn, name: str) -> dict[str, Any]:
    cur = await conn.execute(
        "INSERT INTO price_book_families (name) VALUES (%s) RETURNING id, name, created_at",
        (name,),
    )
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


async def create_item(conn: Conn, data: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT 1 FROM price_book_families WHERE id = %s", (data["family_id"],)
    )
    if await cur.fetchone() is None:
        raise NotFound(f"family {data['family_id']} not found")
    cur = await conn.execute(
        f"INSERT INTO price_book_items (family_id, kind, code, name, description, "
        f"unit_price, tax_rate) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_ITEM}",
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
    return dict(zip(_KEYS, await cur.fetchone() or (), strict=True))


async def get_item(conn: Conn, item_id: str) -> dict[str, Any]:
    cur = await conn.execute(
        f"SELECT {_ITEM} FROM price_book_items WHERE id = %s", (item_id,)
    )
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
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_ITEM} FROM price_book_items WHERE active "
        "AND (%(q)s::text IS NULL OR name ILIKE %(like)s OR code ILIKE %(like)s "
        "     OR description ILIKE %(like)s) "
        "AND (%(family)s::uuid IS NULL OR family_id = %(family)s::uuid) "
        "AND (%(kind)s::text IS NULL OR kind = %(kind)s) "
        "AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid) "
        "ORDER BY id LIMIT %(limit)s",
        {
            "q": q,
            "like": f"%{q}%",
            "family": family_id,
            "kind": kind,
            "after": after,
            "limit": limit,
        },
    )
    return [dict(zip(_KEYS, r, strict=True)) for r in await cur.fetchall()]
