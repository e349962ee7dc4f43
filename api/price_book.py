"""Price book: families of parts and services, searchable and filterable."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import Ctx
from api.http.identifiers import make_etag, uuid_or_404
from api.http.pagination import PAGINATION_PARAMS, id_page, page_limit, uuid_cursor
from api.http.registry import Api
from api.http.responses import json_ok, no_content
from jobs_domain.actors import ALL_ROLES
from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.money import format_decimal, format_money
from jobs_domain.permissions import MATRIX, Act
from services import price_book as service
from services.versions import Check

#: Who adds and edits families and items: the one matrix's entry.
EDITORS = MATRIX[Act.EDIT_PRICE_BOOK]

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
#: An edit: any of the item's members but its code (stock and serials keep it).
ITEM_PATCH: s.S = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {k: v for k, v in ITEM_IN["properties"].items() if k != "code"},
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
    serialized={"type": "boolean"},
    version={"type": "integer"},
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
        item_view(item),
        201,
        location=f"/api/v1/price-book/items/{item['id']}",
        etag=_etag(item),
    )


def _etag(item: dict[str, Any]) -> str:
    return make_etag("price-book-item", item["id"], item["version"])


def _if_match(ctx: Ctx) -> Check:
    """The request's If-Match against the locked item's version."""
    return lambda st: ctx.check_if_match(
        make_etag("price-book-item", st.id, st.version)
    )


def _answer(item: dict[str, Any]) -> web.StreamResponse:
    return json_ok(item_view(item), etag=_etag(item))


async def update_item(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(ITEM_PATCH)
    if "family_id" in body:
        body["family_id"] = uuid_or_404(body["family_id"], "family")
    item_id = ctx.path_id("item_id", "item")
    return _answer(
        await service.update_item(ctx.conn, item_id, body, check=_if_match(ctx))
    )


async def archive_item(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.path_id("item_id", "item")
    await service.archive_item(ctx.conn, item_id, check=_if_match(ctx))
    return no_content()


async def restore_item(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.path_id("item_id", "item")
    return _answer(await service.restore_item(ctx.conn, item_id, check=_if_match(ctx)))


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
        include_archived=_flag(q.get("include_archived"), "include_archived"),
    )
    page = id_page(items, limit)
    return json_ok({**page, "items": [item_view(i) for i in page["items"]]})


def _flag(raw: str | None, name: str) -> bool:
    if raw not in (None, "true", "false"):
        raise InvalidInput(
            "bad flag", [FieldProblem(f"/query/{name}", "true or false")]
        )
    return raw == "true"


async def get_item(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.path_id("item_id", "item")
    return _answer(await service.get_item(ctx.conn, item_id))


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
        roles=EDITORS,
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
        roles=EDITORS,
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
            {
                "name": "include_archived",
                "in": "query",
                "description": "true: archived items too (the office's price book)",
                "schema": {"enum": ["true", "false"]},
            },
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
    r(
        "PATCH",
        "/price-book/items/{item_id}",
        update_item,
        summary="Edit an item (all but its code)",
        description="Lines already on jobs keep the name, price and rate they were "
        "given; the change applies to lines added from now on.",
        tag="price-book",
        roles=EDITORS,
        body=ITEM_PATCH,
        if_match=True,
        responses={200: item},
    )
    r(
        "DELETE",
        "/price-book/items/{item_id}",
        archive_item,
        summary="Archive an item (never deleted: jobs' lines refer to it)",
        description="No longer offered (search, the app, new job lines: 422); "
        "lines already on jobs keep what they were given. "
        "`include_archived=true` lists it; restore offers it again.",
        tag="price-book",
        roles=EDITORS,
        if_match=True,
        conflicts=True,
        responses={204: None},
    )
    r(
        "POST",
        "/price-book/items/{item_id}/restore",
        restore_item,
        summary="Offer an archived item again",
        tag="price-book",
        roles=EDITORS,
        if_match=True,
        conflicts=True,
        responses={200: item},
    )
