"""The admin CLI: users with roles and tokens, devices with broker credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from storage.users import token_digest, verify_password


def _crewtrack(db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crewtrack", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CREWTRACK_DATABASE_URL": db_url, **env},
        timeout=60,
        check=False,
    )


def test_add_user_creates_the_role_and_prints_a_working_token(db_url: str) -> None:
    out = _crewtrack(
        db_url,
        "admin",
        "add-user",
        "--name",
        "Dana",
        "--role",
        "dispatcher",
        "--email",
        "dana@example.com",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT u.role FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.token_sha256 = %s",
            (token_digest(data["token"]),),
        ).fetchone()
    assert row == ("dispatcher",)


def test_add_device_prints_credentials_once_and_stores_only_hashes(db_url: str) -> None:
    out = _crewtrack(db_url, "admin", "add-device", "phone-7", "--json")
    assert out.returncode == 0, out.stderr
    creds = json.loads(out.stdout)
    assert creds["mqtt_username"] == "phone-7"
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT mqtt_password_hash, http_token_sha256 FROM devices WHERE id = 'phone-7'"
        ).fetchone()
    assert row is not None
    assert creds["mqtt_password"] not in row[0]
    assert row[0].startswith("$7$")
    assert row[1] == token_digest(creds["http_token"])


def test_a_device_id_that_could_escape_its_topic_level_is_refused(db_url: str) -> None:
    out = _crewtrack(db_url, "admin", "add-device", "dev/../other", "--json")
    assert out.returncode == 1
    assert "[A-Za-z0-9_-]{1,64}" in out.stderr


def test_registering_the_same_device_twice_is_refused(db_url: str) -> None:
    assert _crewtrack(db_url, "admin", "add-device", "phone-8").returncode == 0
    again = _crewtrack(db_url, "admin", "add-device", "phone-8")
    assert again.returncode == 1
    assert "already registered" in again.stderr


def test_broker_files_hold_every_active_device_and_the_ingest_account(
    db_url: str, tmp_path: Path
) -> None:
    assert _crewtrack(db_url, "admin", "add-device", "phone-a").returncode == 0
    assert _crewtrack(db_url, "admin", "add-device", "phone-b").returncode == 0
    assert _crewtrack(db_url, "admin", "revoke-device", "phone-b").returncode == 0
    out = _crewtrack(
        db_url,
        "admin",
        "broker-files",
        "--out",
        str(tmp_path),
        CREWTRACK_MQTT_PASSWORD="s3cret",
    )
    assert out.returncode == 0, out.stderr
    users = [
        line.split(":")[0] for line in (tmp_path / "passwd").read_text().splitlines()
    ]
    assert sorted(users) == ["crewtrack-ingest", "phone-a"]
    assert "user crewtrack-ingest" in (tmp_path / "acl").read_text()


def test_broker_files_seed_the_demo_first_only_when_the_demo_is_on(
    db_url: str, tmp_path: Path
) -> None:
    def broker_users(demo: str) -> list[str]:
        out = _crewtrack(
            db_url,
            "admin",
            "broker-files",
            "--seed-demo",
            "--out",
            str(tmp_path),
            CREWTRACK_MQTT_PASSWORD="s3cret",
            CREWTRACK_HOME=str(tmp_path / "home"),
            CREWTRACK_DEMO=demo,
        )
        assert out.returncode == 0, out.stderr
        passwd = (tmp_path / "passwd").read_text().splitlines()
        return sorted(line.split(":")[0] for line in passwd)

    assert broker_users("false") == ["crewtrack-ingest"]
    with_demo = broker_users("true")
    fleet = json.loads((tmp_path / "home" / "demo-fleet.json").read_text())
    assert len(fleet) >= 5
    assert with_demo == sorted(["crewtrack-ingest", *fleet])


def test_add_user_runs_the_accounts_use_case_a_technician_gets_a_profile_and_a_password(
    db_url: str,
) -> None:
    out = _crewtrack(
        db_url,
        "admin",
        "add-user",
        "--name",
        "Nina Field",
        "--role",
        "technician",
        "--email",
        "nina@example.com",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT u.email, u.password_hash, t.name FROM users u "
            "JOIN technicians t ON t.user_id = u.id WHERE u.id = %s",
            (data["id"],),
        ).fetchone()
    assert row is not None
    assert verify_password(data["password"], row[1])
    assert row[2] == "Nina Field"
    again = _crewtrack(
        db_url,
        "admin",
        "add-user",
        "--name",
        "X",
        "--role",
        "billing",
        "--email",
        "nina@example.com",
    )
    assert again.returncode == 1
    assert "another user has this e-mail" in again.stderr
