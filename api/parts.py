"""Parts routes: the catalogue, depots and stock, serialized units, parts on jobs,
take backs. Thin views over :mod:`services.parts`: parse, call, render."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import Ctx
from api.http.registry import Api
from api.http.responses import amounts, json_ok, no_content, priced
from api.job_request import load_visible, recorded_from
from api.reports import UUID_S
from api.schemas import RECORDED
from jobs_domain.actors import (
    ALL_ROLES,
    CREW_AND_OFFICE,
    OFFICE,
    STAFF_READERS,
    Role,
)
from jobs_domain.errors import FieldProblem, InvalidInput, parse_enum
from jobs_domain.job import Job
from jobs_domain.money import Totals, format_decimal, format_money, totals
from jobs_domain.parts import (
    Depot,
    DepotKind,
    ItemKind,
    JobPart,
    Location,
    PriceBookItem,
    TakeBack,
)
from jobs_domain.permissions import MATRIX, Act
from services import parts as service
from storage.parts import DepotStock, HistoryEntry


def totals_json(t: Totals) -> dict[str, Any]:
    """Net, tax and gross, and the same per tax rate (parts, invoices)."""
    return {
        **amounts(net=t.net, tax=t.tax, gross=t.gross),
        "by_rate": [
            {
                "rate": format_decimal(x.rate),
                **amounts(net=x.net, tax=x.tax, gross=x.gross),
            }
            for x in t.tax_lines
        ],
    }


def _item_json(item: PriceBookItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "family": item.family,
        "name": item.name,
        "kind": item.kind.value,
        "unit_price": format_money(item.unit_price),
        "tax_rate": format_decimal(item.tax_rate),
        "serialized": item.serialized,
        "sku": item.sku,
        "bill_from_sessions": item.bill_from_sessions,
    }


def _depot_json(depot: Depot) -> dict[str, Any]:
    return {
        "id": depot.id,
        "name": depot.name,
        "kind": depot.kind.value,
        "technician_id": depot.technician_id,
    }


def _stock_json(depot: Depot, stock: DepotStock) -> dict[str, Any]:
    return {
        **_depot_json(depot),
        "depot_id": stock.depot_id,
        "stock": [
            {"item_id": i, "quantity": format_decimal(q)} for i, q in stock.stock
        ],
        "serials": [
            {
                "serial": u.serial,
                "item_id": u.item_id,
                "condition": u.condition.value,
                "usable": u.usable,
            }
            for u in stock.units
        ],
    }


def _location_json(loc: Location | None) -> dict[str, Any] | None:
    if loc is None:
        return None
    return {
        "kind": loc.kind.value,
        "depot_id": loc.depot_id,
        "client_id": loc.client_id,
        "site_id": loc.site_id,
    }


def _history_json(entry: HistoryEntry) -> dict[str, Any]:
    m = entry.movement
    return {
        "seq": entry.seq,
        "kind": m.kind.value,
        "from": _location_json(m.from_location),
        "to": _location_json(m.to_location),
        "condition": m.condition.value,
        "job_id": m.job_id,
        "actor": m.actor,
        "at": m.at,
        "note": m.note,
        "item_id": m.item_id,
    }


def _part_json(part: JobPart) -> dict[str, Any]:
    return {
        "id": part.id,
        "job_id": part.job_id,
        "item_id": part.item_id,
        "family": part.family,
        "name": part.name,
        "kind": part.kind.value,
        **priced(part.quantity, part.unit_price, part.tax_rate, part.net),
        "serials": list(part.serials),
        "depot_id": part.depot_id,
        "added_by": part.added_by,
        "added_at": part.added_at,
    }


def _take_back_json(tb: TakeBack) -> dict[str, Any]:
    return {
        "id": tb.id,
        "job_id": tb.job_id,
        "serial": tb.serial,
        "item_id": tb.item_id,
        "condition": tb.condition.value,
        "found_at_client": tb.found_at_client,
        "from_location": _location_json(tb.from_location),
        "to_location": _location_json(tb.to_location),
        "previous_condition": tb.previous_condition.value,
        "actor": tb.actor,
        "at": tb.at,
    }


def _parts_json(job: Job, on_job: service.JobParts) -> dict[str, Any]:
    parts = on_job.parts
    return {
        "job_id": job.id,
        "items": [_part_json(p) for p in parts],
        "totals": totals_json(totals((p.net, p.tax_rate) for p in parts)),
        "take_backs": [_take_back_json(t) for t in on_job.take_backs],
    }


# -- catalog (the price book as the Add Item screen sees it) -------------------------------


async def search_catalog(ctx: Ctx) -> web.StreamResponse:
    q = ctx.request.query
    kind = parse_enum(ItemKind, q["kind"], "/query/kind") if "kind" in q else None
    serialized: bool | None = None
    if "serialized" in q:
        if q["serialized"] not in ("true", "false"):
            raise InvalidInput(
                "bad filter", [FieldProblem("/query/serialized", "true or false")]
            )
        serialized = q["serialized"] == "true"
    found = await service.search_catalog(
        ctx.conn,
        query=q.get("q"),
        family=q.get("family"),
        kind=kind,
        serialized=serialized,
    )
    return json_ok(
        {"families": found.families, "items": [_item_json(i) for i in found.items]}
    )


async def set_stock_settings(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(STOCK_SETTINGS_IN)
    item = await service.set_stock_settings(
        ctx.conn,
        ctx.path_id("item_id", "price-book item"),
        serialized=body.get("serialized"),
        bill_from_sessions=body.get("bill_from_sessions"),
    )
    return json_ok(_item_json(item))


# -- depots --------------------------------------------------------------------------------


async def create_depot(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(DEPOT_IN)
    depot = await service.create_depot(
        ctx.conn,
        body["name"],
        parse_enum(DepotKind, body["kind"], "/kind"),
        body.get("technician_id"),
    )
    return json_ok(_depot_json(depot), 201, location=f"/api/v1/depots/{depot.id}")


async def list_depots(ctx: Ctx) -> web.StreamResponse:
    depots = await service.list_depots(ctx.conn)
    return json_ok({"items": [_depot_json(d) for d in depots]})


async def _path_depot(ctx: Ctx) -> Depot:
    depot_id = ctx.path_id("depot_id", "depot")
    return await service.visible_depot(ctx.conn, ctx.actor, depot_id)


async def get_depot_stock(ctx: Ctx) -> web.StreamResponse:
    depot = await _path_depot(ctx)
    stock = await service.depot_stock(ctx.conn, ctx.actor, depot)
    return json_ok(_stock_json(depot, stock))


async def receive_stock(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(RECEIVE_IN)
    depot = await _path_depot(ctx)
    stock = await service.receive_stock(
        ctx.conn,
        ctx.actor,
        depot,
        str(body["item_id"]),
        serials=body.get("serials"),
        quantity=body.get("quantity"),
    )
    return json_ok(_stock_json(depot, stock), 201)


async def get_serial(ctx: Ctx) -> web.StreamResponse:
    unit = await service.serial_unit(ctx.conn, ctx.request.match_info["serial"])
    history = await service.unit_history(ctx.conn, unit.serial)
    return json_ok(
        {
            "serial": unit.serial,
            "item_id": unit.item_id,
            "condition": unit.condition.value,
            "usable": unit.usable,
            "location": _location_json(unit.location),
            "history": [_history_json(h) for h in history],
        }
    )


async def repair_serial(ctx: Ctx) -> web.StreamResponse:
    repaired = await service.repair_serial(
        ctx.conn, ctx.actor, ctx.request.match_info["serial"]
    )
    return json_ok(
        {
            "serial": repaired.serial,
            "condition": repaired.condition.value,
            "usable": repaired.usable,
            "location": _location_json(repaired.location),
        }
    )


# -- parts on a job ---------------------------------------------------------------------------


async def list_job_parts(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok(_parts_json(job, await service.job_parts(ctx.conn, job)))


async def add_job_part(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(PART_IN)
    job = await load_visible(ctx, for_update=True)
    part = await service.add_part(
        ctx.conn,
        ctx.actor,
        job,
        str(body["item_id"]),
        body,
        recorded=recorded_from(ctx, body),
    )
    on_job = await service.job_parts(ctx.conn, job)
    return json_ok({"item": _part_json(part), **_parts_json(job, on_job)}, 201)


async def delete_job_part(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx, for_update=True)
    part_id = ctx.path_id("part_id", "part")
    await service.remove_part(ctx.conn, ctx.actor, job, part_id)
    return no_content()


# -- take back --------------------------------------------------------------------------------


async def check_serial(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    found = await service.check_serial(ctx.conn, job, ctx.request.query.get("serial"))
    return json_ok(
        {
            "serial": found.serial,
            "found": found.found,
            "item": _item_json(found.item) if found.item else None,
            "family": found.item.family if found.item else None,
            "client_families": found.client_families,
        }
    )


async def add_take_back(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(TAKE_BACK_IN)
    job = await load_visible(ctx, for_update=True)
    item_id = body.get("item_id")
    record = await service.add_take_back(
        ctx.conn,
        ctx.actor,
        job,
        body["serial"],
        body["condition"],
        item_id=str(item_id) if item_id is not None else None,
        depot_id=body.get("depot_id"),
        recorded=recorded_from(ctx, body),
    )
    return json_ok(_take_back_json(record), 201)


async def edit_take_back(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(TAKE_BACK_EDIT_IN)
    job = await load_visible(ctx, for_update=True)
    take_back_id = ctx.path_id("take_back_id", "take back")
    item_id = body.get("item_id")
    fix = service.TakeBackCorrection(
        serial=body.get("serial"),
        condition=body.get("condition"),
        item_id=None if item_id is None else str(item_id),
        depot_id=body.get("depot_id"),
    )
    record = await service.correct_take_back(
        ctx.conn, ctx.actor, job, take_back_id, fix
    )
    return json_ok(_take_back_json(record))


async def delete_take_back(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx, for_update=True)
    take_back_id = ctx.path_id("take_back_id", "take back")
    await service.undo_take_back(ctx.conn, ctx.actor, job, take_back_id)
    return no_content()


# -- schemas and routes ------------------------------------------------------------------------

NUMBER = {"type": ["number", "string"]}
UUID_OR_NULL = {"oneOf": [UUID_S, {"type": "null"}]}
STOCK_SETTINGS_IN = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "serialized": {"type": "boolean"},
        "bill_from_sessions": {"type": "boolean"},
    },
}
DEPOT_IN = {
    "type": "object",
    "required": ["name", "kind"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "kind": {"enum": ["mobile", "stationary"]},
        "technician_id": UUID_OR_NULL,
    },
}
RECEIVE_IN = {
    "type": "object",
    "required": ["item_id"],
    "additionalProperties": False,
    "properties": {
        "item_id": UUID_S,
        "quantity": NUMBER,
        "serials": {"type": "array", "items": {"type": "string"}, "maxItems": 500},
    },
}
PART_IN = {
    "type": "object",
    "required": ["item_id", "quantity"],
    "additionalProperties": False,
    "properties": {
        "item_id": UUID_S,
        "quantity": NUMBER,
        "serials": {"type": ["array", "null"], "maxItems": 500},
        "unit_price": NUMBER,
        "depot_id": UUID_S,
        **RECORDED,
    },
}
TAKE_BACK_FIELDS: dict[str, Any] = {
    "serial": {"type": "string"},
    "condition": {"enum": ["ok", "needs_repair", "obsolete"]},
    "item_id": UUID_OR_NULL,
    "depot_id": UUID_S,
}
TAKE_BACK_IN = {
    "type": "object",
    "required": ["serial", "condition"],
    "additionalProperties": False,
    "properties": {**TAKE_BACK_FIELDS, **RECORDED},
}
TAKE_BACK_EDIT_IN = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": TAKE_BACK_FIELDS,
}
OBJ: dict[str, Any] = {"type": "object"}
Q = {"in": "query", "schema": {"type": "string"}}


def setup(api: Api) -> None:
    api.tag("parts", "Parts and services on jobs, depots, serial numbers, take backs")
    r = api.route
    t = "parts"
    r(
        "GET",
        "/parts/catalog",
        search_catalog,
        summary="Search the price book: families, text, kind and serialized filters",
        tag=t,
        roles=ALL_ROLES,
        query=[{"name": n, **Q} for n in ("q", "family", "kind", "serialized")],
        responses={200: s.CATALOG_OUT},
    )
    r(
        "PUT",
        "/parts/catalog/{item_id}/stock-settings",
        set_stock_settings,
        summary="Mark a part serialized, or labour billed from clocked time",
        tag=t,
        roles=MATRIX[Act.SET_STOCK_SETTINGS],
        body=STOCK_SETTINGS_IN,
        responses={200: s.CATALOG_ITEM_OUT},
    )
    r(
        "POST",
        "/depots",
        create_depot,
        summary="Create a depot (mobile or stationary)",
        tag=t,
        roles=(Role.ADMIN,),
        body=DEPOT_IN,
        idempotent=True,
        responses={201: OBJ},
    )
    r(
        "GET",
        "/depots",
        list_depots,
        summary="List depots",
        tag=t,
        roles=STAFF_READERS,
        responses={200: OBJ},
    )
    r(
        "GET",
        "/depots/{depot_id}/stock",
        get_depot_stock,
        summary="A depot's stock",
        tag=t,
        roles=ALL_ROLES,
        responses={200: s.DEPOT_STOCK_OUT},
        description="Technicians see their own depot and only usable serials.",
    )
    r(
        "POST",
        "/depots/{depot_id}/stock",
        receive_stock,
        summary="Receive stock: a quantity, or serialized units",
        tag=t,
        roles=OFFICE,
        body=RECEIVE_IN,
        idempotent=True,
        responses={201: s.DEPOT_STOCK_OUT},
    )
    r(
        "GET",
        "/serials/{serial}",
        get_serial,
        summary="Where a serial is, its condition and its full movement history",
        tag=t,
        roles=STAFF_READERS,
        responses={200: OBJ},
    )
    r(
        "POST",
        "/serials/{serial}/repair",
        repair_serial,
        summary="Mark a Needs Repair unit OK again (usable)",
        tag=t,
        roles=OFFICE,
        conflicts=True,
        responses={200: OBJ},
    )
    r(
        "GET",
        "/jobs/{job_id}/parts",
        list_job_parts,
        summary="A job's parts and services with totals per tax rate",
        tag=t,
        roles=ALL_ROLES,
        responses={200: s.JOB_PARTS_OUT},
    )
    r(
        "POST",
        "/jobs/{job_id}/parts",
        add_job_part,
        summary="Add a part or service (serials for serialized parts)",
        tag=t,
        roles=MATRIX[Act.USE_PART],
        body=PART_IN,
        idempotent=True,
        responses={201: s.JOB_PART_ADDED_OUT},
    )
    r(
        "DELETE",
        "/jobs/{job_id}/parts/{part_id}",
        delete_job_part,
        summary="Remove a part or service (serials go back to the depot)",
        tag=t,
        roles=CREW_AND_OFFICE,
        conflicts=True,
        responses={204: None},
    )
    r(
        "GET",
        "/jobs/{job_id}/take-backs/check",
        check_serial,
        summary="Check a serial among the parts installed at the job's client",
        tag=t,
        roles=CREW_AND_OFFICE,
        query=[{"name": "serial", "required": True, **Q}],
        conflicts=True,
        responses={200: s.SERIAL_CHECK_OUT},
    )
    r(
        "POST",
        "/jobs/{job_id}/take-backs",
        add_take_back,
        summary="Take back a serialized part with its condition",
        tag=t,
        roles=MATRIX[Act.TAKE_BACK],
        body=TAKE_BACK_IN,
        idempotent=True,
        responses={201: OBJ},
    )
    r(
        "PATCH",
        "/jobs/{job_id}/take-backs/{take_back_id}",
        edit_take_back,
        summary="Correct a take back in place: serial, condition, part",
        tag=t,
        roles=CREW_AND_OFFICE,
        body=TAKE_BACK_EDIT_IN,
        responses={200: OBJ},
        description="The units move exactly as undoing the take back and taking "
        "the corrected serial back would; the job history records before and after.",
    )
    r(
        "DELETE",
        "/jobs/{job_id}/take-backs/{take_back_id}",
        delete_take_back,
        summary="Undo a take back",
        tag=t,
        roles=CREW_AND_OFFICE,
        conflicts=True,
        responses={204: None},
    )


__all__ = ["setup"]
