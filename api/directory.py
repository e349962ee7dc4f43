"""Clients, properties (job sites) and technicians."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from api import schemas as s
from api.http.context import Ctx, Handler
from api.http.identifiers import make_etag, uuid_or_404
from api.http.pagination import (
    PAGINATION_PARAMS,
    id_page,
    page_limit,
    page_schema,
    uuid_cursor,
)
from api.http.registry import Api
from api.http.responses import json_ok, no_content
from jobs_domain.actors import OFFICE, STAFF_READERS, Role
from jobs_domain.errors import invalid
from jobs_domain.money import format_money
from jobs_domain.permissions import MATRIX, Act
from jobs_domain.properties import navigation_url
from services import directory as service
from storage.clients import ClientRecord, PropertyRecord, TechnicianRecord

NAME = {"type": "string", "minLength": 1, "maxLength": 200}
#: Who edits clients and properties: the matrix the dashboard's pages read too.
DIRECTORY_EDITORS = MATRIX[Act.EDIT_DIRECTORY]
ADMIN = (Role.ADMIN,)  # technicians are users: only an admin adds or archives them
ARCHIVED_AT = {"type": ["string", "null"]}  # set while archived

CLIENT_IN = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": NAME,
        "email": {"type": ["string", "null"], "maxLength": 320},
        "phone": {"type": ["string", "null"], "maxLength": 50},
        "notes": {"type": "string", "maxLength": 5000},
    },
}
CLIENT_PATCH = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": CLIENT_IN["properties"],
}
CLIENT_OUT = {
    "type": "object",
    "required": ["id", "name", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
        "notes": {"type": "string"},
        "version": {"type": "integer"},
        "created_at": {"type": "string"},
        "archived_at": ARCHIVED_AT,
    },
}
LOCATION = {
    "type": "object",
    "required": ["lat", "lon"],
    "additionalProperties": False,
    "properties": {"lat": s.LAT, "lon": s.LON},
}
ADDRESS = {
    "type": "object",
    "required": ["line1"],
    "additionalProperties": False,
    "properties": {
        "line1": {"type": "string", "minLength": 1, "maxLength": 200},
        "line2": {"type": "string", "maxLength": 200},
        "city": {"type": "string", "maxLength": 100},
        "postcode": {"type": "string", "maxLength": 20},
        "country": {"type": "string", "maxLength": 60},
    },
}
GEOFENCE = {
    "oneOf": [
        {
            "type": "object",
            "required": ["radius_m"],
            "additionalProperties": False,
            "properties": {
                "radius_m": {"type": "number", "minimum": 10, "maximum": 5000}
            },
        },
        {
            "type": "object",
            "required": ["polygon"],
            "additionalProperties": False,
            "properties": {
                "polygon": {
                    "type": "array",
                    "minItems": 3,
                    "maxItems": 500,
                    "items": {
                        "type": "array",
                        "prefixItems": [s.LON, s.LAT],
                        "minItems": 2,
                        "maxItems": 2,
                    },
                }
            },
        },
    ]
}
PROPERTY_IN = {
    "type": "object",
    "required": ["client_id", "address"],
    "additionalProperties": False,
    "properties": {
        "client_id": s.UUID_S,
        "address": ADDRESS,
        "location": LOCATION,
        "geofence": GEOFENCE,
    },
}
PROPERTY_PATCH = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        "address": ADDRESS,
        "location": {"anyOf": [LOCATION, {"type": "null"}]},
        "geofence": {"oneOf": [*GEOFENCE["oneOf"], {"type": "null"}]},
    },
}
PROPERTY_OUT = {
    "type": "object",
    "required": ["id", "client_id", "address", "navigation_url"],
    "properties": {
        "id": {"type": "string"},
        "client_id": {"type": "string"},
        "address": {"type": "object"},
        "location": {"type": ["object", "null"]},
        "geofence": {"type": ["object", "null"]},
        "navigation_url": {"type": "string"},
        "version": {"type": "integer"},
        "created_at": {"type": "string"},
        "archived_at": ARCHIVED_AT,
    },
}
TECHNICIAN_EDITABLE: s.S = {
    "name": NAME,
    "phone": {"type": ["string", "null"], "maxLength": 50},
    "hourly_cost": {"type": "number", "minimum": 0, "maximum": 100000},
    "team": {"type": "string", "maxLength": 100},  # "" takes the technician off teams
}
TECHNICIAN_IN = {
    "type": "object",
    "required": ["user_id", "name"],
    "additionalProperties": False,
    "properties": {"user_id": s.UUID_S, **TECHNICIAN_EDITABLE},
}
TECHNICIAN_PATCH = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": TECHNICIAN_EDITABLE,
}
TECHNICIAN_OUT = {
    "type": "object",
    "required": ["id", "user_id", "name", "hourly_cost", "device_ids"],
    "properties": {
        "id": {"type": "string"},
        "user_id": {"type": "string"},
        "name": {"type": "string"},
        "phone": {"type": ["string", "null"]},
        "hourly_cost": s.MONEY_OUT,
        "device_ids": {"type": "array", "items": {"type": "string"}},
        "team": {"type": "string"},
        "version": {"type": "integer"},
        "created_at": {"type": "string"},
        "archived_at": ARCHIVED_AT,
    },
}
TEAMS_OUT = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "technicians"],
                "properties": {
                    "name": {"type": "string"},
                    "technicians": {"type": "integer"},
                },
            },
        }
    },
}


def client_json(c: ClientRecord) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "notes": c.notes,
        "version": c.version,
        "created_at": c.created_at,
        "archived_at": c.archived_at,
    }


def property_json(p: PropertyRecord) -> dict[str, Any]:
    lines = p.address_lines()
    return {
        "id": p.id,
        "client_id": p.client_id,
        "address": p.address_object(),
        "location": None if p.lat is None else {"lat": p.lat, "lon": p.lon},
        "geofence": p.geofence,
        "navigation_url": navigation_url(lines, p.lat, p.lon),
        "version": p.version,
        "created_at": p.created_at,
        "archived_at": p.archived_at,
    }


def technician_json(t: TechnicianRecord) -> dict[str, Any]:
    return {
        "id": t.id,
        "user_id": t.user_id,
        "name": t.name,
        "phone": t.phone,
        "hourly_cost": format_money(t.hourly_cost),
        "version": t.version,
        "created_at": t.created_at,
        "device_ids": list(t.device_ids),
        "team": t.team,
        "archived_at": t.archived_at,
    }


INCLUDE_ARCHIVED = {
    "name": "include_archived",
    "in": "query",
    "schema": {"type": "boolean"},
    "description": "true: archived records too (default false)",
}


def include_archived(ctx: Ctx) -> bool:
    raw = ctx.request.query.get("include_archived", "false")
    if raw not in ("true", "false"):
        raise invalid("/query/include_archived", "true or false")
    return raw == "true"


Record = Any  # a ClientRecord, PropertyRecord or TechnicianRecord


Change = Callable[..., Awaitable[Record]]  # (conn, id, [body,] *, check) -> record


@dataclass(frozen=True)
class Kind:
    """One kind of directory record: how its path names it and how it is rendered."""

    name: str  # "client": its ETag prefix and what a 404 calls it
    param: str  # "client_id"
    render: Callable[[Record], dict[str, Any]]

    def answer(self, record: Record) -> web.StreamResponse:
        etag = make_etag(self.name, record.id, record.version)
        return json_ok(self.render(record), etag=etag)

    def editor(self, action: Change, schema: s.S) -> Handler:
        """PATCH: edit the record with the body's members (If-Match)."""

        async def edit(ctx: Ctx) -> web.StreamResponse:
            body = await ctx.json(schema)
            record = await action(
                ctx.conn,
                ctx.path_id(self.param, self.name),
                body,
                check=self.check(ctx),
            )
            return self.answer(record)

        return edit

    def archiver(self, action: Change) -> Handler:
        """DELETE: archive the record (204)."""

        async def archive(ctx: Ctx) -> web.StreamResponse:
            await action(
                ctx.conn, ctx.path_id(self.param, self.name), check=self.check(ctx)
            )
            return no_content()

        return archive

    def restorer(self, action: Change) -> Handler:
        """POST …/restore: undo the record's archive (the record)."""

        async def restore(ctx: Ctx) -> web.StreamResponse:
            record = await action(
                ctx.conn, ctx.path_id(self.param, self.name), check=self.check(ctx)
            )
            return self.answer(record)

        return restore

    def check(self, ctx: Ctx) -> Callable[[Record], None]:
        """What a use case runs on the locked record: If-Match against its ETag."""
        return lambda r: ctx.check_if_match(make_etag(self.name, r.id, r.version))


CLIENT = Kind("client", "client_id", client_json)
PROPERTY = Kind("property", "property_id", property_json)
TECHNICIAN = Kind("technician", "technician_id", technician_json)


async def create_client(ctx: Ctx) -> web.StreamResponse:
    client = await service.create_client(ctx.conn, await ctx.json(CLIENT_IN))
    return json_ok(
        client_json(client),
        201,
        location=f"/api/v1/clients/{client.id}",
        etag=make_etag("client", client.id, client.version),
    )


async def list_clients(ctx: Ctx) -> web.StreamResponse:
    limit = page_limit(ctx.request)
    items = await service.list_clients(
        ctx.conn,
        q=ctx.request.query.get("q"),
        after=uuid_cursor(ctx.request),
        limit=limit + 1,
        include_archived=include_archived(ctx),
    )
    return json_ok(id_page([client_json(c) for c in items], limit))


async def get_client(ctx: Ctx) -> web.StreamResponse:
    return CLIENT.answer(
        await service.get_client(ctx.conn, ctx.path_id("client_id", "client"))
    )


async def create_property(ctx: Ctx) -> web.StreamResponse:
    prop = await service.create_property(ctx.conn, await ctx.json(PROPERTY_IN))
    return json_ok(property_json(prop), 201, location=f"/api/v1/properties/{prop.id}")


async def list_properties(ctx: Ctx) -> web.StreamResponse:
    limit = page_limit(ctx.request)
    client_id = ctx.request.query.get("client_id")
    if client_id is not None:
        client_id = uuid_or_404(client_id, "client")
    items = await service.list_properties(
        ctx.conn,
        client_id=client_id,
        after=uuid_cursor(ctx.request),
        limit=limit + 1,
        include_archived=include_archived(ctx),
    )
    return json_ok(id_page([property_json(p) for p in items], limit))


async def get_property(ctx: Ctx) -> web.StreamResponse:
    return PROPERTY.answer(
        await service.get_property(ctx.conn, ctx.path_id("property_id", "property"))
    )


async def create_technician(ctx: Ctx) -> web.StreamResponse:
    tech = await service.create_technician(ctx.conn, await ctx.json(TECHNICIAN_IN))
    return json_ok(
        technician_json(tech), 201, location=f"/api/v1/technicians/{tech.id}"
    )


async def list_teams(ctx: Ctx) -> web.StreamResponse:
    found = await service.teams(ctx.conn)
    return json_ok(
        {"items": [{"name": name, "technicians": size} for name, size in found]}
    )


async def list_technicians(ctx: Ctx) -> web.StreamResponse:
    limit = page_limit(ctx.request)
    items = await service.list_technicians(
        ctx.conn,
        after=uuid_cursor(ctx.request),
        limit=limit + 1,
        include_archived=include_archived(ctx),
    )
    return json_ok(id_page([technician_json(t) for t in items], limit))


async def get_technician(ctx: Ctx) -> web.StreamResponse:
    return TECHNICIAN.answer(
        await service.get_technician(
            ctx.conn, ctx.path_id("technician_id", "technician")
        )
    )


def setup(api: Api) -> None:
    api.tag("clients", "Clients, their properties (job sites) and technicians")
    client = api.schema("Client", CLIENT_OUT)
    prop = api.schema("Property", PROPERTY_OUT)
    tech = api.schema("Technician", TECHNICIAN_OUT)
    r = api.route
    r(
        "POST",
        "/clients",
        create_client,
        summary="Create a client",
        tag="clients",
        roles=OFFICE,
        body=CLIENT_IN,
        idempotent=True,
        responses={201: {"$ref": client}},
    )
    r(
        "GET",
        "/clients",
        list_clients,
        summary="List clients",
        tag="clients",
        roles=STAFF_READERS,
        query=[
            *PAGINATION_PARAMS,
            {"name": "q", "in": "query", "schema": {"type": "string"}},
            INCLUDE_ARCHIVED,
        ],
        responses={200: page_schema(client)},
    )
    r(
        "GET",
        "/clients/{client_id}",
        get_client,
        summary="A client",
        tag="clients",
        roles=STAFF_READERS,
        responses={200: {"$ref": client}},
    )
    r(
        "PATCH",
        "/clients/{client_id}",
        CLIENT.editor(service.update_client, CLIENT_PATCH),
        summary="Edit a client (name, e-mail, phone, notes)",
        tag="clients",
        roles=DIRECTORY_EDITORS,
        body=CLIENT_PATCH,
        if_match=True,
        responses={200: {"$ref": client}},
    )
    r(
        "POST",
        "/properties",
        create_property,
        summary="Create a property (job site)",
        tag="clients",
        roles=OFFICE,
        body=PROPERTY_IN,
        idempotent=True,
        responses={201: {"$ref": prop}},
    )
    r(
        "GET",
        "/properties",
        list_properties,
        summary="List properties",
        tag="clients",
        roles=STAFF_READERS,
        query=[
            *PAGINATION_PARAMS,
            {"name": "client_id", "in": "query", "schema": {"type": "string"}},
            INCLUDE_ARCHIVED,
        ],
        responses={200: page_schema(prop)},
    )
    r(
        "GET",
        "/properties/{property_id}",
        get_property,
        summary="A property",
        tag="clients",
        roles=STAFF_READERS,
        responses={200: {"$ref": prop}},
    )
    r(
        "POST",
        "/technicians",
        create_technician,
        summary="Register a technician",
        tag="clients",
        roles=ADMIN,
        body=TECHNICIAN_IN,
        idempotent=True,
        responses={201: {"$ref": tech}},
    )
    r(
        "GET",
        "/technicians",
        list_technicians,
        summary="List technicians",
        tag="clients",
        roles=STAFF_READERS,
        query=[*PAGINATION_PARAMS, INCLUDE_ARCHIVED],
        responses={200: page_schema(tech)},
    )
    r(
        "GET",
        "/technicians/{technician_id}",
        get_technician,
        summary="A technician",
        tag="clients",
        roles=STAFF_READERS,
        responses={200: {"$ref": tech}},
    )
    r(
        "GET",
        "/teams",
        list_teams,
        summary="The teams technicians are in (set with a technician's team)",
        tag="clients",
        roles=STAFF_READERS,
        responses={200: TEAMS_OUT},
    )
    r(
        "PATCH",
        "/technicians/{technician_id}",
        TECHNICIAN.editor(service.update_technician, TECHNICIAN_PATCH),
        summary="Edit a technician (name, phone, hourly cost, team)",
        tag="clients",
        roles=OFFICE,
        body=TECHNICIAN_PATCH,
        if_match=True,
        responses={200: {"$ref": tech}},
    )
    r(
        "PATCH",
        "/properties/{property_id}",
        PROPERTY.editor(service.update_property, PROPERTY_PATCH),
        summary="Edit a property (address, location, geofence)",
        description="A change of the geofence, or of the location a radius is "
        "centred on, re-derives the visits of every session at the property.",
        tag="clients",
        roles=DIRECTORY_EDITORS,
        body=PROPERTY_PATCH,
        if_match=True,
        responses={200: {"$ref": prop}},
    )
    archivable = (
        (CLIENT, "/clients/{client_id}", client, OFFICE, ARCHIVE_CLIENT),
        (PROPERTY, "/properties/{property_id}", prop, OFFICE, ARCHIVE_PROPERTY),
        (TECHNICIAN, "/technicians/{technician_id}", tech, ADMIN, ARCHIVE_TECHNICIAN),
    )
    for kind, path, ref, roles, (archive, restore, why) in archivable:
        r(
            "DELETE",
            path,
            kind.archiver(archive),
            summary=f"Archive a {kind.name} (never deleted: jobs and invoices "
            "refer to it)",
            description=why,
            tag="clients",
            roles=roles,
            if_match=True,
            conflicts=True,
            responses={204: None},
        )
        r(
            "POST",
            path + "/restore",
            kind.restorer(restore),
            summary=f"Undo the archive of a {kind.name}",
            tag="clients",
            roles=roles,
            if_match=True,
            conflicts=True,
            responses={200: {"$ref": ref}},
        )


ARCHIVE_CLIENT = (
    service.archive_client,
    service.restore_client,
    "Refused (409, each open job a blocking item) while the client has open jobs. "
    "Its properties are archived with it, and restored with it.",
)
ARCHIVE_PROPERTY = (
    service.archive_property,
    service.restore_property,
    "Refused (409) while open jobs are at the property; restoring needs its "
    "client restored.",
)
ARCHIVE_TECHNICIAN = (
    service.archive_technician,
    service.restore_technician,
    "Refused (409) while the technician is on an open job's crew. Their user is "
    "disabled (tokens and login refused) and their devices revoked; their "
    "sessions, fixes and visits stay. Restoring brings back both.",
)
