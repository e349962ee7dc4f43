"""Price book: families of parts and services, searchable and filterable."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import Ctx
from api.http.identifiers import uuid_or_404
from api.http.pagination import PAGINATION_PARAMS, id_page, page_limit, uuid_cursor
from api.http.registry import Api
from api.http.responses import json_ok
from jobs_domain.actors import ALL_ROLES, OFFICE
from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.money import format_decimal, format_money
from services import price_book as service

FAMILY_IN: s.S = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
}
FAMILY_OUT: s.S = s.obj(
    ["id", "name"],
    id={"type": "string"},
    name={"type": "string"},
    item_count={"type": "integer"},
    created_at={"type": "string"},
)
ITEM_IN: s.S = {
    "type": "object",
    "required": ["family_id", "kind", "code", "name", "unit_price", "tax_rate"],
    "additionalProperties": False,
    "properties": {
        "family_id": s.UUID_S,
        "kind": {"enum": ["part", "service"]},
        "code": {"type": "string", "minLength": 1, "maxLength": 64},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 2000},
        "unit_price": s.DECIMAL_IN,
        "tax_rate": s.DECIMAL_IN,
    },
}
ITEM_OUT: s.S = s.obj(
    ["id", "family_id", "kind", "code", "name", "unit_price", "tax_rate"],
    id={"type": "string"},
    family_id={"type": "string"},
    kind={"enum": ["part", "service"]},
    code={"type": "string"},
    name={"type": "string"},
    description={"type": "string"},
    unit_price=s.MONEY_OUT,
    tax_rate=s.RATE_OUT,
    active={"type": "boolean"},
    created_at={"type": "string"},
)


def item_view(record: dict[str, Any]) -> dict[str, Any]:
    """A price-book item: its price as money, its tax rate as a plain decimal."""
    return {
        **record,
        "unit_price": format_money(record["unit_price"]),
        "tax_rate": format_decimal(record["tax_rate"]),
    }


async def create_family(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(FAMILY_IN)
    return json_ok(await service.create_family(ctx.conn, body["name"]), 201)


async def list_families(ctx: Ctx) -> web.StreamResponse:
    return json_ok({"items": await service.list_families(ctx.conn)})


async def create_item(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(ITEM_IN)
    body["family_id"] = uuid_or_404(body["family_id"], "family")
    item = await service.create_item(ctx.conn, body)
    return json_ok(
        item_view(item), 201, location=f"/api/v1/price-book/items/{item['id']}"
    )


async def search_items(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    limit = page_limit(ctx.request)
    family = q.get("family_id")
    kind = q.get("kind")
    if kind not in (None, "part", "service"):
        raise InvalidInput("bad kind", [FieldProblem("/query/kind", "part or service")])
    items = await service.search_items(
        ctx.conn,
        q=q.get("q"),
        family_id=None if family is None else uuid_or_404(family, "family"),
        kind=kind,
        after=uuid_cursor(ctx.request),
        limit=limit + 1,
    )
    page = id_page(items, limit)
    return json_ok({**page, "items": [item_view(i) for i in page["items"]]})


async def get_item(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.path_id("item_id", "item")
    return json_ok(item_view(await service.get_item(ctx.conn, item_id)))


def setup(api: Api) -> None:
    api.tag("price-book", "Parts and services grouped in families")
    fam = {"$ref": api.schema("PriceBookFamily", FAMILY_OUT)}
    item = {"$ref": api.schema("PriceBookItem", ITEM_OUT)}
    r = api.route
    r(
        "POST",
        "/price-book/families",
        create_family,
        summary="Create a family",
        tag="price-book",
        roles=OFFICE,
        body=FAMILY_IN,
        idempotent=True,
        responses={201: fam},
    )
    r(
        "GET",
        "/price-book/families",
        list_families,
        summary="List families",
        tag="price-book",
        roles=ALL_ROLES,
        responses={200: s.items_of(fam)},
    )
    r(
        "POST",
        "/price-book/items",
        create_item,
        summary="Create a part or service",
        tag="price-book",
        roles=OFFICE,
        body=ITEM_IN,
        idempotent=True,
        responses={201: item},
    )
    r(
        "GET",
        "/price-book/items",
        search_items,
        summary="Search and filter items",
        tag="price-book",
        roles=ALL_ROLES,
        query=[
            *PAGINATION_PARAMS,
            {"name": "q", "in": "query", "schema": {"type": "string"}},
            {"name": "family_id", "in": "query", "schema": {"type": "string"}},
            {"name": "kind", "in": "query", "schema": {"enum": ["part", "service"]}},
        ],
        responses={200: s.items_of(item, next_cursor=s.NULL_STR)},
    )
    r(
        "GET",
        "/price-book/items/{item_id}",
        get_item,
        summary="A price book item",
        tag="price-book",
        roles=ALL_ROLES,
        responses={200: item},
    )
