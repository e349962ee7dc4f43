"""Device settings the office keeps: the OwnTracks payload key (admin only).

The key is the passphrase typed into the OwnTracks app's "Encryption key"
setting; it is set and removed here, never read back (no answer, log or list
shows it: ``GET`` has nothing to offer). The same function as
``crewtrack admin set-owntracks-key`` sets it (``ingest.device_keys``).
"""

from __future__ import annotations

from aiohttp import web

from api.http.context import Ctx
from api.http.registry import Api
from api.http.responses import no_content
from ingest.device_keys import set_passphrase
from jobs_domain.actors import Role
from jobs_domain.errors import NotFound
from storage.devices import clear_owntracks_key

PASSPHRASE_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["passphrase"],
    "properties": {
        "passphrase": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1024,
            "description": "As typed into the app (its UTF-8 bytes, zero-padded "
            "or cut to 32, are the key - as the app does it).",
        }
    },
}
PATH = "/devices/{device_id}/owntracks-key"


async def set_key(ctx: Ctx) -> web.StreamResponse:
    device_id = ctx.request.match_info["device_id"]
    body = await ctx.json(PASSPHRASE_IN)
    # the schema refuses an empty passphrase (the one set_passphrase refuses)
    found = await set_passphrase(
        ctx.conn, ctx.settings.home, device_id, body["passphrase"]
    )
    if not found:
        raise NotFound(f"no active device {device_id}")
    return no_content()


async def clear_key(ctx: Ctx) -> web.StreamResponse:
    device_id = ctx.request.match_info["device_id"]
    if not await clear_owntracks_key(ctx.conn, device_id):
        raise NotFound(f"no device {device_id}")
    return no_content()


def setup(api: Api) -> None:
    api.tag("devices", "Registered phones' settings")
    api.route(
        "PUT",
        PATH,
        set_key,
        summary="Set a device's OwnTracks encryption key",
        tag="devices",
        roles=(Role.ADMIN,),
        body=PASSPHRASE_IN,
        responses={204: None},
        description="The device's encrypted OwnTracks messages (`_type: "
        "encrypted`) are opened with it from the next message on. Stored sealed "
        "with the server's secret; never shown again.",
    )
    api.route(
        "DELETE",
        PATH,
        clear_key,
        summary="Remove a device's OwnTracks encryption key",
        tag="devices",
        roles=(Role.ADMIN,),
        responses={204: None},
        description="Its encrypted messages are then rejected as "
        "`encrypted_without_key`.",
    )
