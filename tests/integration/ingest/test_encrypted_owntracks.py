"""Encrypted OwnTracks payloads end to end: the admin sets a device's key with
the CLI, the phone publishes encrypted through the real broker to a real ingest
worker, and what a key cannot open is a counted rejection."""

from __future__ import annotations

import io
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from nacl.exceptions import CryptoError

from api.app import init_app
from crewtrack import cli
from crewtrack.settings import Settings
from ingest.broker_auth import hash_mqtt_password
from ingest.protocols.owntracks import encrypt, key_from_passphrase
from storage.devices import add_device, key_sealer
from storage.users import create_user, issue_token
from tests.conftest import Broker
from tests.integration.ingest.helpers import (
    count,
    device_client,
    publish_all,
    wait_until,
    workers,
)

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads" / "owntracks"
PASSPHRASE = "Isartal-2024"


def _encrypted_now(name: str, tst: int, passphrase: str) -> bytes:
    """A captured payload at time ``tst``, encrypted as the app encrypts it."""
    obj = json.loads((PAYLOADS / name).read_text())
    obj["tst"] = tst
    obj.pop("topic", None)  # the capture's topic names its own user
    plain = json.dumps(obj).encode()
    return encrypt(plain, key_from_passphrase(passphrase), secrets.token_bytes(24))


def _admin(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    stdin: str = "",
) -> tuple[int, str]:
    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = cli.main(["admin", *argv])
    return rc, capsys.readouterr().out


def _registered(settings: Settings, broker: Broker, *devices: str) -> dict[str, str]:
    """Devices in the registry (for their keys) and on the broker: passwords."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for device in devices:
            add_device(conn, device, hash_password=hash_mqtt_password)
    return {device: broker.add_device(device) for device in devices}


def test_a_key_set_with_the_cli_opens_the_next_encrypted_message_and_failures_are_counted(
    settings: Settings,
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    passwords = _registered(settings, broker, "enc-1", "enc-2")
    now_s = int(time.time())
    with workers(settings, tmp_path) as (worker,):
        # the key is set while the worker runs, just before the phone sends
        rc, out = _admin(
            monkeypatch,
            settings,
            capsys,
            "set-owntracks-key",
            "enc-1",
            stdin=PASSPHRASE + "\n",
        )
        assert rc == 0, out
        assert PASSPHRASE not in out
        phone = device_client(broker.port, "enc-1", passwords["enc-1"])
        other = device_client(broker.port, "enc-2", passwords["enc-2"])
        publish_all(
            phone,
            [
                (
                    "owntracks/enc-1/phone",
                    _encrypted_now("location.json", now_s - 20, PASSPHRASE),
                ),
                (
                    "owntracks/enc-1/phone",
                    _encrypted_now("location.json", now_s - 10, "Isartal-2025"),
                ),
            ],
        )
        publish_all(
            other,
            [
                (
                    "owntracks/enc-2/phone",
                    _encrypted_now("location.json", now_s - 5, PASSPHRASE),
                )
            ],
        )
        wait_until(
            lambda: (
                count(settings.database_url, "SELECT count(*) FROM fixes")
                and count(
                    settings.database_url, "SELECT count(*) FROM rejected_messages"
                )
                == 2
            )
        )
        rejected_metric = {
            reason: worker.metric("crewtrack_ingest_rejected_total", reason=reason)
            for reason in ("decrypt_failed", "encrypted_without_key")
        }
        phone.close()
        other.close()
    with psycopg.connect(settings.database_url) as conn:
        fixes = conn.execute(
            "SELECT device_id, extract(epoch FROM time)::bigint, lat, fix_flags "
            "FROM fixes"
        ).fetchall()
        rejected = conn.execute(
            "SELECT device_id, reason FROM rejected_messages ORDER BY reason"
        ).fetchall()
        (sealed,) = conn.execute(
            "SELECT owntracks_key_sealed FROM devices WHERE id = 'enc-1'"
        ).fetchone()
    assert fixes == [("enc-1", now_s - 20, 48.137154, None)]
    assert rejected == [
        ("enc-1", "decrypt_failed"),
        ("enc-2", "encrypted_without_key"),
    ]
    assert rejected_metric == {"decrypt_failed": 1.0, "encrypted_without_key": 1.0}
    # the database holds neither the passphrase nor the key in clear
    assert PASSPHRASE.encode() not in bytes(sealed)
    assert key_from_passphrase(PASSPHRASE) not in bytes(sealed)
    rc, out = _admin(monkeypatch, settings, capsys, "list-devices", "--json")
    listed = {d["id"]: d["owntracks_key"] for d in json.loads(out)}
    assert listed == {"enc-1": True, "enc-2": False}
    assert PASSPHRASE not in (tmp_path / "ingest-0.log").read_text()


def test_clearing_a_key_rejects_the_devices_encrypted_messages_again(
    settings: Settings,
    broker: Broker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password = _registered(settings, broker, "enc-3")["enc-3"]
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    os.chmod(passphrase_file, 0o600)
    rc, _ = _admin(
        monkeypatch,
        settings,
        capsys,
        "set-owntracks-key",
        "enc-3",
        "--passphrase-file",
        str(passphrase_file),
    )
    assert rc == 0
    rc, _ = _admin(monkeypatch, settings, capsys, "clear-owntracks-key", "enc-3")
    assert rc == 0
    assert _admin(monkeypatch, settings, capsys, "clear-owntracks-key", "nope")[0] == 1
    assert (
        _admin(monkeypatch, settings, capsys, "set-owntracks-key", "nope", stdin="x\n")[
            0
        ]
        == 1
    )
    now_s = int(time.time())
    with workers(settings, tmp_path) as _:
        phone = device_client(broker.port, "enc-3", password)
        publish_all(
            phone,
            [
                (
                    "owntracks/enc-3/phone",
                    _encrypted_now("location.json", now_s - 5, PASSPHRASE),
                )
            ],
        )
        wait_until(
            lambda: count(
                settings.database_url, "SELECT count(*) FROM rejected_messages"
            )
        )
        phone.close()
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT reason FROM rejected_messages").fetchall()
        assert conn.execute("SELECT count(*) FROM fixes").fetchone() == (0,)
    assert rows == [("encrypted_without_key",)]


async def test_only_an_admin_sets_or_removes_a_key_over_the_api_and_it_is_never_shown(
    aiohttp_client: Any, settings: Settings
) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        add_device(conn, "enc-4", hash_password=hash_mqtt_password)
        tokens = {
            role: issue_token(
                conn, create_user(conn, role, role, email=f"{role}@x.test").id, "t"
            )
            for role in ("admin", "dispatcher")
        }
    client = await aiohttp_client(init_app(settings))

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    path = "/api/v1/devices/enc-4/owntracks-key"
    body = {"passphrase": PASSPHRASE}
    r = await client.put(path, json=body, headers=auth("dispatcher"))
    assert r.status == 403
    r = await client.put(path, json={"passphrase": ""}, headers=auth("admin"))
    assert r.status == 422
    r = await client.put(
        "/api/v1/devices/nope/owntracks-key", json=body, headers=auth("admin")
    )
    assert r.status == 404
    assert r.content_type == "application/problem+json"
    r = await client.put(path, json=body, headers=auth("admin"))
    assert (r.status, await r.read()) == (204, b"")
    with psycopg.connect(settings.database_url) as conn:
        (sealed,) = conn.execute(
            "SELECT owntracks_key_sealed FROM devices WHERE id = 'enc-4'"
        ).fetchone()
        # what the ingest reads back is the app's key
        sealer = key_sealer(settings.home)
        assert sealer is not None
        assert sealer.open("enc-4", bytes(sealed)) == key_from_passphrase(PASSPHRASE)
        # a sealed key copied onto another device's row does not open
        with pytest.raises(CryptoError):
            sealer.open("enc-5", bytes(sealed))
    r = await client.delete(path, headers=auth("dispatcher"))
    assert r.status == 403
    r = await client.delete(path, headers=auth("admin"))
    assert r.status == 204
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute(
            "SELECT owntracks_key_sealed FROM devices WHERE id = 'enc-4'"
        ).fetchone() == (None,)
