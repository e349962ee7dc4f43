"""Accounts and tokens (issue 13, part 4): who gets in with which credential.

Every test here failed against the code before it: a device could take the
ingest's broker name, tokens never expired and could not be revoked, users could
not be disabled from the CLI, a disabled user's dashboard session lived on, and
device passwords were hashed with 101 PBKDF2 iterations.
"""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import json
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import msgpack
import psycopg
import pytest
from aiohttp.test_utils import TestClient

from api.app import init_app
from crewtrack.settings import Settings
from ingest.broker_auth import device_accounts, hash_mqtt_password
from storage.devices import DeviceError, add_device, device_logins
from storage.users import create_user, issue_token, token_prefix
from tests.conftest import INGEST_USER, Broker
from tests.integration.dashboard_login import log_in
from tests.integration.ingest.helpers import count, publish_all, wait_until, workers
from tests.integration.ingest.helpers import device_client as phone
from tests.integration.security.test_web import dashboard
from tests.integration.test_cli_admin import _crewtrack

__all__ = ["dashboard"]  # the fixture

# --- reserved broker names ------------------------------------------------------


def test_registering_a_device_as_the_ingests_broker_account_is_refused(
    db_url: str,
) -> None:
    out = _crewtrack(db_url, "admin", "add-device", "crewtrack-ingest")
    assert out.returncode == 1
    assert "reserved for crewtrack's own broker accounts" in out.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM devices").fetchone() == (0,)


def test_a_configured_ingest_account_name_is_refused_as_a_device_id(
    db_url: str,
) -> None:
    out = _crewtrack(
        db_url,
        "admin",
        "add-device",
        "fleet-reader",
        CREWTRACK_MQTT_USERNAME="fleet-reader",
    )
    assert out.returncode == 1
    assert "reserved" in out.stderr


@pytest.mark.parametrize(
    "name", ["crewtrack-ingest", "CREWTRACK-INGEST", "crewtrack-2"]
)
def test_the_registry_refuses_a_reserved_name_whichever_way_it_is_written(
    db_url: str, name: str
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises(DeviceError, match="reserved"):
            add_device(conn, name, hash_password=hash_mqtt_password)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO devices (id, mqtt_password_hash) VALUES (%s, 'x')", (name,)
            )


def test_the_real_ingest_still_connects_and_stores_after_a_device_tried_its_name(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    assert (
        _crewtrack(settings.database_url, "admin", "add-device", "crewtrack-ingest")
    ).returncode == 1
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        creds = add_device(conn, "honest-1", hash_password=hash_mqtt_password)
        broker.write_accounts(device_accounts(device_logins(conn), [INGEST_USER]))
    with workers(settings, tmp_path):  # "ready" = connected, maybe not subscribed
        device = phone(broker.port, "honest-1", creds.mqtt_password)

        def stored() -> int:
            fix = {"t": int(time.time() * 1000), "lat": 1.0, "lon": 2.0}
            publish_all(device, [("crewtrack/v1/honest-1/fix", msgpack.packb(fix))])
            return count(settings.database_url, "SELECT count(*) FROM fixes")

        wait_until(stored, interval_s=0.5)
        device.close()


# --- device passwords -------------------------------------------------------------


def test_a_device_password_is_always_generated_never_chosen(db_url: str) -> None:
    """144 random bits each: what keeps the broker's cheap hash safe."""
    assert "password" not in inspect.signature(add_device).parameters
    with psycopg.connect(db_url, autocommit=True) as conn:
        creds = [
            add_device(conn, f"gen-{n}", hash_password=hash_mqtt_password)
            for n in range(3)
        ]
    passwords = {c.mqtt_password for c in creds}
    assert len(passwords) == 3
    assert all(len(base64.urlsafe_b64decode(p + "==")) == 18 for p in passwords)


# --- API tokens ------------------------------------------------------------------


def _admin(db_url: str, email: str = "root@example.test") -> tuple[str, str]:
    """An admin user's id and a fresh token."""
    with psycopg.connect(db_url) as conn:
        user = create_user(conn, "Root", "admin", email=email)
        return str(user.id), issue_token(conn, user.id, "test")


async def _api_as_admin(
    aiohttp_client: Any, settings: Settings
) -> tuple[TestClient[Any, Any], str, str]:
    """The API, and an admin's id and token that it accepts."""
    user_id, token = _admin(settings.database_url)
    client = await aiohttp_client(init_app(settings))
    assert await _status(client, token) == 200
    return client, user_id, token


async def _status(client: TestClient[Any, Any], token: str) -> int:
    resp = await client.get(
        "/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status


async def test_an_expired_token_is_refused_with_401(
    aiohttp_client: Any, settings: Settings
) -> None:
    client, _, token = await _api_as_admin(aiohttp_client, settings)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' "
            "WHERE prefix = %s",
            (token_prefix(token),),
        )
    resp = await client.get(
        "/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 401
    assert "expired" in (await resp.json())["detail"]


def _expires_in_days(db_url: str, token: str) -> float:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT expires_at - now() FROM api_tokens WHERE prefix = %s",
            (token_prefix(token),),
        ).fetchone()
    assert row is not None
    return float(row[0].total_seconds()) / 86400


def _cli_token(db_url: str, email: str, *args: str, **env: str) -> str:
    """A token from `crewtrack admin token`."""
    out = _crewtrack(db_url, "admin", "token", "--email", email, "--json", *args, **env)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["token"])


def test_new_tokens_expire_after_the_configured_lifetime(db_url: str) -> None:
    _admin(db_url, "dana@example.test")
    default = _cli_token(db_url, "dana@example.test")
    week = _cli_token(db_url, "dana@example.test", CREWTRACK_TOKEN_TTL_DAYS="7")
    day = _cli_token(db_url, "dana@example.test", "--ttl-days", "1")
    got = [round(_expires_in_days(db_url, t), 2) for t in (default, week, day)]
    assert got == [90.0, 7.0, 1.0]


async def test_a_token_revoked_by_its_prefix_is_refused_at_once_and_others_still_work(
    aiohttp_client: Any, settings: Settings
) -> None:
    client, user_id, token = await _api_as_admin(aiohttp_client, settings)
    with psycopg.connect(settings.database_url) as conn:
        other = issue_token(conn, UUID(user_id), "other")
    listed = _crewtrack(settings.database_url, "admin", "list-tokens", "--json")
    prefixes = [t["prefix"] for t in json.loads(listed.stdout)]
    assert token_prefix(token) in prefixes
    assert token not in listed.stdout
    assert other not in listed.stdout
    out = _crewtrack(
        settings.database_url, "admin", "revoke-token", token_prefix(token)
    )
    assert out.returncode == 0, out.stderr
    assert "revoked 1 token" in out.stdout
    assert [await _status(client, token), await _status(client, other)] == [401, 200]


async def test_revoking_a_users_tokens_refuses_every_one_of_them(
    aiohttp_client: Any, settings: Settings
) -> None:
    _, first = _admin(settings.database_url)
    second = _cli_token(settings.database_url, "root@example.test")
    client = await aiohttp_client(init_app(settings))
    out = _crewtrack(
        settings.database_url, "admin", "revoke-token", "--email", "root@example.test"
    )
    assert out.returncode == 0, out.stderr
    assert "revoked 2 token" in out.stdout
    assert [await _status(client, first), await _status(client, second)] == [401, 401]


def test_revoking_an_unknown_prefix_says_so(db_url: str) -> None:
    out = _crewtrack(db_url, "admin", "revoke-token", "ct_nosuchtok")
    assert out.returncode == 1
    assert "no active token" in out.stderr


async def test_a_disabled_user_is_refused_at_once_and_enabling_lets_them_back(
    aiohttp_client: Any, settings: Settings
) -> None:
    client, _, token = await _api_as_admin(aiohttp_client, settings)
    off = _crewtrack(
        settings.database_url, "admin", "disable-user", "--email", "root@example.test"
    )
    assert off.returncode == 0, off.stderr
    assert await _status(client, token) == 401
    on = _crewtrack(
        settings.database_url, "admin", "enable-user", "--email", "root@example.test"
    )
    assert on.returncode == 0, on.stderr
    assert await _status(client, token) == 200


def test_disabling_a_user_revokes_their_devices_like_archiving_a_technician(
    db_url: str,
) -> None:
    user_id, _ = _admin(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_device(
            conn, "root-phone", hash_password=hash_mqtt_password, user_id=UUID(user_id)
        )
    assert _active_devices_after(db_url, "disable-user") == []
    assert _active_devices_after(db_url, "enable-user") == ["root-phone"]


def _active_devices_after(db_url: str, action: str) -> list[str]:
    out = _crewtrack(db_url, "admin", action, "--email", "root@example.test")
    assert out.returncode == 0, out.stderr
    with psycopg.connect(db_url) as conn:
        return [d.device_id for d in device_logins(conn)]


def test_enable_user_leaves_an_archived_technician_to_the_directory(
    db_url: str,
) -> None:
    with psycopg.connect(db_url) as conn:
        user = create_user(conn, "Tess", "technician", email="tess@example.test")
        conn.execute(
            "INSERT INTO technicians (user_id, name, hourly_cost, archived_at) "
            "VALUES (%s, 'Tess', 40, now())",
            (user.id,),
        )
        conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (user.id,))
    out = _crewtrack(db_url, "admin", "enable-user", "--email", "tess@example.test")
    assert out.returncode == 1
    assert "archived technician" in out.stderr


async def test_a_tokens_last_use_is_recorded(
    aiohttp_client: Any, settings: Settings
) -> None:
    before = dt.datetime.now(dt.UTC)
    _, _, token = await _api_as_admin(aiohttp_client, settings)
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT last_used_at FROM api_tokens WHERE prefix = %s",
            (token_prefix(token),),
        ).fetchone()
    assert row is not None
    assert row[0] is not None
    assert abs((row[0] - before).total_seconds()) < 60


# --- dashboard sessions ------------------------------------------------------------


def test_disable_user_ends_their_dashboard_session_at_its_next_request(
    settings: Settings, dashboard: Any
) -> None:
    client = dashboard(settings)
    user = log_in(client, settings.database_url)
    assert client.get("/").status_code == 200
    out = _crewtrack(
        settings.database_url, "admin", "disable-user", "--email", str(user.email)
    )
    assert out.returncode == 0, out.stderr
    page = client.get("/")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login")
    assert client.post("/_dash-update-component", json={}).status_code == 401
