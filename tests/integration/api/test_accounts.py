"""Users and devices through the API: the admin's use cases on the real database."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from tests.integration.api.conftest import World


async def add_technician(w: World, name: str = "Nina Field") -> Any:
    email = f"{uuid.uuid4().hex[:8]}@example.test"
    body = {"name": name, "email": email, "role": "technician", "team": "North"}
    return await w.call("admin", "POST", "/users", 201, body)


async def login(w: World, email: str, password: str) -> int:
    response = await w.api.post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    await response.read()
    return response.status


async def test_a_technician_added_by_an_admin_gets_a_profile_and_a_password_shown_once(
    world: World,
) -> None:
    w = world
    made = await add_technician(w)
    assert made["role"] == "technician"
    assert made["active"] is True
    assert made["technician_id"]
    assert made["technician_name"] == "Nina Field"
    assert len(made["password"]) >= 16
    assert await login(w, made["email"], made["password"]) == 200
    again = await w.call("admin", "GET", f"/users/{made['id']}", 200)
    assert "password" not in again
    listed = await w.call("admin", "GET", "/users", 200)
    assert made["id"] in [u["id"] for u in listed["items"]]
    tech = await w.call("admin", "GET", f"/technicians/{made['technician_id']}", 200)
    assert tech["team"] == "North"


async def test_a_registered_phone_uploads_with_the_traccar_set_up_and_is_listed_as_seen(
    world: World,
) -> None:
    w = world
    made = await add_technician(w)
    phone = await w.call(
        "admin",
        "POST",
        "/devices",
        201,
        {"technician_id": made["technician_id"], "label": "Nina's Pixel"},
    )
    setup = phone["setup"]
    device_id = phone["id"]
    assert device_id.startswith("phone-")
    assert phone["owner"] == "Nina Field"
    assert setup["mqtt"]["username"] == device_id
    assert setup["mqtt"]["password"]
    config = setup["owntracks"]["config"]
    inline = unquote(setup["owntracks"]["url"].split("inline=", 1)[1])
    assert json.loads(base64.b64decode(inline)) == config
    assert config["username"] == device_id
    link = urlsplit(setup["traccar"]["url"])
    query = parse_qs(link.query)
    assert (link.scheme, query["id"]) == ("org.traccar.client", [device_id])
    server = urlsplit(query["url"][0])
    fix = {
        "id": device_id,
        "lat": "53.8",
        "lon": "-1.55",
        "timestamp": int(time.time()),
    }
    response = await w.api.get(
        server.path + "?" + server.query, params=fix, allow_redirects=False
    )
    assert response.status == 200, await response.text()
    devices = await w.call("admin", "GET", "/devices", 200)
    listed = next(d for d in devices["items"] if d["id"] == device_id)
    assert listed["kind"] == "osmand"
    assert listed["last_seen"] is not None
    assert listed["technician_id"] == made["technician_id"]
    assert "setup" not in listed
    assert "mqtt_password" not in json.dumps(devices)
    taken = await w.call(
        "admin",
        "POST",
        "/devices",
        422,
        {"technician_id": made["technician_id"], "device_id": device_id},
    )
    assert taken["errors"][0]["pointer"] == "/device_id"


async def test_disabling_a_user_shuts_out_tokens_and_phones_and_enabling_brings_them_back(
    world: World,
) -> None:
    w = world
    made = await add_technician(w)
    user_path = f"/users/{made['id']}"
    token = (
        await (
            await w.api.post(
                "/api/v1/auth/login",
                json={"email": made["email"], "password": made["password"]},
            )
        ).json()
    )["token"]
    phone = await w.call(
        "admin", "POST", "/devices", 201, {"technician_id": made["technician_id"]}
    )
    off = await w.call("admin", "POST", user_path + "/disable", 200)
    assert off["active"] is False
    me = await w.api.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 401
    assert await login(w, made["email"], made["password"]) == 401
    devices = (await w.call("admin", "GET", "/devices", 200))["items"]
    assert next(d for d in devices if d["id"] == phone["id"])["active"] is False
    on = await w.call("admin", "POST", user_path + "/enable", 200)
    assert on["active"] is True
    assert await login(w, made["email"], made["password"]) == 200
    devices = (await w.call("admin", "GET", "/devices", 200))["items"]
    assert next(d for d in devices if d["id"] == phone["id"])["active"] is True
    old = await w.api.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert old.status == 200


async def test_a_stale_if_match_is_refused_and_a_technicians_role_follows_the_profile(
    world: World,
) -> None:
    w = world
    office = await w.call(
        "admin",
        "POST",
        "/users",
        201,
        {"name": "Olga Office", "email": "olga@example.test", "role": "billing"},
    )
    path = f"/users/{office['id']}"
    read = await w.api.get("/api/v1" + path, headers=w.people.auth("admin"))
    seen = read.headers["ETag"]
    await w.call("admin", "PATCH", path, 200, {"role": "dispatcher"})
    stale = await w.api.patch(
        "/api/v1" + path,
        json={"role": "admin"},
        headers={**w.people.auth("admin"), "If-Match": seen},
    )
    assert stale.status == 412
    assert (await w.call("admin", "GET", path, 200))["role"] == "dispatcher"
    tech = await add_technician(w)
    refused = await w.call(
        "admin", "PATCH", f"/users/{tech['id']}", 422, {"role": "dispatcher"}
    )
    assert refused["errors"][0]["pointer"] == "/role"
    short = await w.call(
        "admin", "POST", path + "/reset-password", 422, {"password": "short"}
    )
    assert short["errors"][0]["pointer"] == "/password"
    chosen = await w.call(
        "admin", "POST", path + "/reset-password", 200, {"password": "a-long-secret-1"}
    )
    assert "password" not in chosen


async def test_an_admin_can_neither_disable_nor_demote_themselves(
    world: World,
) -> None:
    w = world
    users = (await w.call("admin", "GET", "/users", 200))["items"]
    admin = next(u for u in users if u["email"] == "admin@example.test")
    await w.call("admin", "POST", f"/users/{admin['id']}/disable", 409)
    await w.call("admin", "PATCH", f"/users/{admin['id']}", 409, {"role": "billing"})


@pytest.mark.parametrize("who", ["dispatcher", "billing", "tess"])
async def test_only_an_admin_manages_users_and_devices(world: World, who: str) -> None:
    w = world
    some = str(uuid.uuid4())
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/users", None),
        ("POST", "/users", {"name": "X", "email": "x@example.test", "role": "admin"}),
        ("GET", f"/users/{some}", None),
        ("PATCH", f"/users/{some}", {"role": "admin"}),
        ("POST", f"/users/{some}/disable", None),
        ("POST", f"/users/{some}/enable", None),
        ("POST", f"/users/{some}/reset-password", {}),
        ("GET", "/devices", None),
        ("POST", "/devices", {"technician_id": w.people.technician_ids["tess"]}),
        ("POST", "/devices/phone-x/revoke", None),
    ]
    for method, path, body in calls:
        problem = await w.call(who, method, path, 403, body)
        assert "admin" in problem["detail"]
