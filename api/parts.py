"""Parts and services on jobs, depots and stock, serialized units and take backs."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from api.framework import Api, Ctx, json_ok, no_content
from api.jobs import load_visible, now
from api.reports import UUID_S
from services.reports import JOB_CLOSED
from jobs_domain.actors import (
    ALL_ROLES,
    CREW_AND_OFFICE,
    OFFICE,
    STAFF_READERS,
    Role,
)
from jobs_domain.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    InvalidInput,
    NotFound,
    parse_enum,
)
from jobs_domain.job import Job
from jobs_domain.money import Totals, totals
from jobs_domain.parts import (
    Depot,
    DepotKind,
    ItemKind,
    JobSite,
    SerialUnit,
    add_part_to_job,
    cancel_take_back,
    check_new_depot,
    check_take_back,
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
from storage import parts as store


def _job_site(job: Job) -> JobSite:
    return JobSite(job.id, job.client_id, job.property_id)


def _require_open(job: Job) -> None:
    if job.status in JOB_CLOSED:
        raise Conflict(
            f"job {job.display_number} is {job.status.value}; parts are final"
        )


async def _working_depot(ctx: Ctx, depot_id: object) -> Depot:
    """Technicians use their own mobile depot; the office names the depot."""
    if ctx.actor.is_technician:
        depot = await store.depot_of_technician(ctx.conn, ctx.actor.technician_id or "")
        if depot is None:
            raise Conflict("you have no mobile depot yet; ask the office to create it")
        require_own_depot(depot, ctx.actor.technician_id or "")
        return depot
    if not isinstance(depot_id, str):
        raise InvalidInput(
            "which depot?", [FieldProblem("/depot_id", "the office names the depot")]
        )
    found = await store.get_depot(ctx.conn, depot_id)
    if found is None:
        raise InvalidInput(
            "unknown depot", [FieldProblem("/depot_id", "no such depot")]
        )
    return found


def totals_json(t: Totals) -> dict[str, Any]:
    """Net, tax and gross, and the same per tax rate (parts, invoices)."""
    return {
        "net": t.net,
        "tax": t.tax,
        "gross": t.gross,
        "by_rate": [
            {"rate": x.rate, "net": x.net, "tax": x.tax, "gross": x.gross}
            for x in t.tax_lines
        ],
    }


def _item_json(item: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "family": item.family,
        "name": item.name,
        "kind": item.kind.value,
        "unit_price": item.unit_price,
        "tax_rate": item.tax_rate,
        "serialized": item.serialized,
        "sku": item.sku,
        "bill_from_sessions": item.bill_from_sessions,
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
    items = await store.list_items(ctx.conn)
    found = search_price_book(
        items,
        query=q.get("q"),
        family=q.get("family"),
        kind=kind,
        serialized=serialized,
    )
    return json_ok(
        {"families": catalog_families(items), "items": [_item_json(i) for i in found]}
    )


async def set_stock_settings(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(STOCK_SETTINGS_IN)
    item_id = ctx.path_id("item_id", "price-book item")
    item = await store.get_item(ctx.conn, item_id)
    if item is None:
        raise NotFound("price-book item not found")
    serialized = bool(body.get("serialized", item.serialized))
    bill = bool(body.get("bill_from_sessions", item.bill_from_sessions))
    if serialized and item.kind is not ItemKind.PART:
        raise InvalidInput("not a part", [FieldProblem("/serialized", "only parts")])
    if bill and item.kind is ItemKind.PART:
        raise InvalidInput(
            "not labour", [FieldProblem("/bill_from_sessions", "only services/labour")]
        )
    await store.set_stock_settings(ctx.conn, item_id, serialized, bill)
    # Read back, not patched here: storage derives the kind (labour when billed
    # from sessions) from these settings.
    updated = await store.get_item(ctx.conn, item_id)
    return json_ok(_item_json(updated))


# -- depots --------------------------------------------------------------------------------


async def create_depot(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(DEPOT_IN)
    depot = Depot(
        str(uuid.uuid4()),
        body["name"],
        parse_enum(DepotKind, body["kind"], "/kind"),
        body.get("technician_id"),
    )
    if depot.technician_id is not None:
        cur = await ctx.conn.execute(
            "SELECT 1 FROM technicians WHERE id = %s", (depot.technician_id,)
        )
        if await cur.fetchone() is None:
            raise InvalidInput(
                "unknown technician",
                [FieldProblem("/technician_id", "no such technician")],
            )
    check_new_depot(depot, await store.list_depots(ctx.conn))
    await store.insert_depot(ctx.conn, depot)
    return json_ok(_depot_json(depot), 201, location=f"/api/v1/depots/{depot.id}")


def _depot_json(depot: Depot) -> dict[str, Any]:
    return {
        "id": depot.id,
        "name": depot.name,
        "kind": depot.kind.value,
        "technician_id": depot.technician_id,
    }


async def list_depots(ctx: Ctx) -> web.StreamResponse:
    return json_ok(
        {"items": [_depot_json(d) for d in await store.list_depots(ctx.conn)]}
    )


async def _visible_depot(ctx: Ctx) -> Depot:
    depot = await store.get_depot(ctx.conn, ctx.path_id("depot_id", "depot"))
    if depot is None or (
        ctx.actor.is_technician and depot.technician_id != ctx.actor.technician_id
    ):
        raise NotFound("depot not found")
    return depot


async def get_depot_stock(ctx: Ctx) -> web.StreamResponse:
    depot = await _visible_depot(ctx)
    # A technician sees (and can use) only usable units; the manager sees all.
    stock = await store.depot_stock(
        ctx.conn, depot.id, usable_only=ctx.actor.is_technician
    )
    return json_ok({**_depot_json(depot), **stock})


async def receive_stock(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(RECEIVE_IN)
    depot = await _visible_depot(ctx)
    item = await store.get_item(ctx.conn, str(body["item_id"]))
    if item is None:
        raise InvalidInput("unknown item", [FieldProblem("/item_id", "no such item")])
    at = now()
    if item.serialized:
        serials = body.get("serials")
        if not isinstance(serials, list) or not serials:
            raise InvalidInput(
                "serials needed", [FieldProblem("/serials", "list the units' serials")]
            )
        parsed = [parse_serial(s, f"/serials/{i}") for i, s in enumerate(serials)]
        existing = await store.lock_units(ctx.conn, parsed)
        for serial in parsed:
            unit, movement = receive_unit(
                serial, item, depot, existing[serial], ctx.actor.user_id, at
            )
            await store.save_unit(ctx.conn, unit, movement)
    else:
        if item.kind is not ItemKind.PART:
            raise InvalidInput("not stocked", [FieldProblem("/item_id", "not a part")])
        quantity = parse_quantity(body.get("quantity"), "/quantity")
        level = await store.stock_level(ctx.conn, depot.id, item.id)
        await store.set_stock(ctx.conn, depot.id, item.id, level + quantity)
    stock = await store.depot_stock(ctx.conn, depot.id, usable_only=False)
    return json_ok({**_depot_json(depot), **stock}, 201)


async def _path_unit(ctx: Ctx) -> SerialUnit:
    """The serialized unit named in the path (locked), or 404."""
    serial = parse_serial(ctx.request.match_info["serial"], "/serial")
    unit = (await store.lock_units(ctx.conn, [serial]))[serial]
    if unit is None:
        raise NotFound(f"serial {serial} not found")
    return unit


async def get_serial(ctx: Ctx) -> web.StreamResponse:
    unit = await _path_unit(ctx)
    return json_ok(
        {
            "serial": unit.serial,
            "item_id": unit.item_id,
            "condition": unit.condition.value,
            "usable": unit.usable,
            "location": store.location_json(unit.location),
            "history": await store.serial_history(ctx.conn, unit.serial),
        }
    )


async def repair_serial(ctx: Ctx) -> web.StreamResponse:
    unit = await _path_unit(ctx)
    repaired, movement = repair_unit(unit, ctx.actor.user_id, now())
    await store.save_unit(ctx.conn, repaired, movement)
    return json_ok(
        {
            "serial": unit.serial,
            "condition": repaired.condition.value,
            "usable": repaired.usable,
            "location": store.location_json(repaired.location),
        }
    )


# -- parts on a job ---------------------------------------------------------------------------


async def _parts_view(ctx: Ctx, job: Job) -> dict[str, Any]:
    parts = await store.job_parts(ctx.conn, job.id)
    take_backs = await store.job_take_backs(ctx.conn, job.id)
    return {
        "job_id": job.id,
        "items": [store.part_json(p) for p in parts],
        "totals": totals_json(totals((p.net, p.tax_rate) for p in parts)),
        "take_backs": [store.take_back_json(t) for t in take_backs],
    }


async def list_job_parts(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    return json_ok(await _parts_view(ctx, job))


async def add_job_part(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(PART_IN)
    job = await load_visible(ctx, for_update=True)
    _require_open(job)
    item = await store.get_item(ctx.conn, str(body["item_id"]))
    if item is None:
        raise InvalidInput("unknown item", [FieldProblem("/item_id", "no such item")])
    depot = await _working_depot(ctx, body.get("depot_id"))
    serials = body.get("serials")
    units = (
        await store.lock_units(ctx.conn, [str(s) for s in serials])
        if isinstance(serials, list) and all(isinstance(s, str) for s in serials)
        else {}
    )
    if ctx.actor.is_technician and "unit_price" in body:
        raise Forbidden("technicians use the price-book price")
    part, moved = add_part_to_job(
        str(uuid.uuid4()),
        item,
        body.get("quantity"),
        serials,
        _job_site(job),
        depot,
        units,
        ctx.actor.user_id,
        now(),
        unit_price=body.get("unit_price"),
    )
    if item.kind is ItemKind.PART and not item.serialized:
        level = await store.stock_level(ctx.conn, depot.id, item.id)
        await store.set_stock(ctx.conn, depot.id, item.id, stock_after(level, part))
    await store.insert_part(ctx.conn, part)
    for unit, movement in moved:
        await store.save_unit(ctx.conn, unit, movement)
    return json_ok(
        {"item": store.part_json(part), **await _parts_view(ctx, job)},
        201,
    )


async def delete_job_part(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx, for_update=True)
    _require_open(job)
    part = await store.get_part(ctx.conn, job.id, ctx.path_id("part_id", "part"))
    if part is None:
        raise NotFound("part not found on this job")
    units = await store.lock_units(ctx.conn, list(part.serials))
    present = {s: u for s, u in units.items() if u is not None}
    moved = remove_part_from_job(part, present, ctx.actor.user_id, now())
    for unit, movement in moved:
        await store.save_unit(ctx.conn, unit, movement)
    if part.kind is ItemKind.PART and not part.serials and part.depot_id:
        level = await store.stock_level(ctx.conn, part.depot_id, part.item_id)
        await store.set_stock(
            ctx.conn,
            part.depot_id,
            part.item_id,
            stock_after(level, part, removing=True),
        )
    await store.delete_part(ctx.conn, part.id)
    return no_content()


# -- take back --------------------------------------------------------------------------------


async def check_serial(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx)
    serial = parse_serial(ctx.request.query.get("serial"), "/query/serial")
    unit = (await store.lock_units(ctx.conn, [serial]))[serial]
    lookup = check_take_back(serial, unit, job.client_id)
    item = await store.get_item(ctx.conn, lookup.item_id) if lookup.item_id else None
    return json_ok(
        {
            "serial": lookup.serial,
            "found": lookup.found,
            "item": _item_json(item) if item else None,
            "family": item.family if item else None,
            # Case 2: the families of parts already installed for this client.
            "client_families": await store.client_part_families(
                ctx.conn, job.client_id
            ),
        }
    )


async def add_take_back(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.json(TAKE_BACK_IN)
    job = await load_visible(ctx, for_update=True)
    _require_open(job)
    depot = await _working_depot(ctx, body.get("depot_id"))
    serial = parse_serial(body["serial"], "/serial")
    unit = (await store.lock_units(ctx.conn, [serial]))[serial]
    chosen = None
    if body.get("item_id") is not None:
        chosen = await store.get_item(ctx.conn, str(body["item_id"]))
        if chosen is None:
            raise InvalidInput(
                "unknown item", [FieldProblem("/item_id", "no such item")]
            )
    record, new_unit, movement = take_back(
        str(uuid.uuid4()),
        serial,
        unit,
        chosen,
        body["condition"],
        _job_site(job),
        depot,
        ctx.actor.user_id,
        now(),
    )
    await store.save_unit(ctx.conn, new_unit, movement)
    await store.insert_take_back(ctx.conn, record)
    return json_ok(store.take_back_json(record), 201)


async def delete_take_back(ctx: Ctx) -> web.StreamResponse:
    job = await load_visible(ctx, for_update=True)
    _require_open(job)
    record = await store.get_take_back(
        ctx.conn, job.id, ctx.path_id("take_back_id", "take back")
    )
    if record is None:
        raise NotFound("take back not found on this job")
    unit = (await store.lock_units(ctx.conn, [record.serial]))[record.serial]
    assert unit is not None  # a take back always leaves its unit on record
    restored, movement = cancel_take_back(record, unit, ctx.actor.user_id, now())
    await store.save_unit(ctx.conn, restored, movement)
    await store.delete_take_back(ctx.conn, record.id)
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
    },
}
TAKE_BACK_IN = {
    "type": "object",
    "required": ["serial", "condition"],
    "additionalProperties": False,
    "properties": {
        "serial": {"type": "string"},
        "condition": {"enum": ["ok", "needs_repair", "obsolete"]},
        "item_id": UUID_OR_NULL,
        "depot_id": UUID_S,
    },
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
        responses={200: OBJ},
    )
    r(
        "PUT",
        "/parts/catalog/{item_id}/stock-settings",
        set_stock_settings,
        summary="Mark a part serialized, or labour billed from clocked time",
        tag=t,
        roles=(Role.ADMIN,),
        body=STOCK_SETTINGS_IN,
        responses={200: OBJ},
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
        responses={200: OBJ},
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
        responses={201: OBJ},
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
        responses={200: OBJ},
    )
    r(
        "POST",
        "/jobs/{job_id}/parts",
        add_job_part,
        summary="Add a part or service (serials for serialized parts)",
        tag=t,
        roles=CREW_AND_OFFICE,
        body=PART_IN,
        idempotent=True,
        responses={201: OBJ},
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
        responses={200: OBJ},
    )
    r(
        "POST",
        "/jobs/{job_id}/take-backs",
        add_take_back,
        summary="Take back a serialized part with its condition",
        tag=t,
        roles=CREW_AND_OFFICE,
        body=TAKE_BACK_IN,
        idempotent=True,
        responses={201: OBJ},
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
