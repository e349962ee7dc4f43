"""Accounts without servers: reserved broker names, device password hashes, the
secrets `up` prints and the files it writes."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from crewtrack.runner import Secrets, _admin_lines
from crewtrack.servers import MosquittoServer, write_private
from crewtrack.settings import Settings
from ingest.broker_auth import BrokerAccount, device_accounts, hash_mqtt_password
from storage.devices import is_reserved_device_id


@pytest.mark.parametrize(
    "name", ["crewtrack-ingest", "Crewtrack-Ingest", "crewtrack-ingest-2", "crewtrack"]
)
def test_names_starting_with_crewtrack_are_reserved_for_its_own_accounts(
    name: str,
) -> None:
    assert is_reserved_device_id(name)


def test_a_configured_service_account_name_is_reserved_whatever_it_is() -> None:
    assert is_reserved_device_id("Fleet-Reader", ["fleet-reader"])
    assert not is_reserved_device_id("phone-7", ["fleet-reader"])


def test_broker_files_leave_out_a_device_under_a_reserved_name() -> None:
    accounts = device_accounts(
        [("phone-1", "h1"), ("crewtrack-ingest", "h2"), ("reader", "h3")],
        service_users=["reader"],
    )
    assert accounts == [BrokerAccount("phone-1", "h1")]


def test_device_password_hashes_are_what_mosquitto_passwd_writes() -> None:
    stored = hash_mqtt_password("s3cret")
    scheme, iterations, salt, digest = stored.split("$")[1:]
    assert (scheme, int(iterations)) == ("7", 101)
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", base64.b64decode(salt), 101)
    assert base64.b64decode(digest) == expected


def test_up_shows_the_admin_password_and_token_only_when_it_creates_them(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path)
    sec = Secrets("ingest-pw", "dash-key", "admin-pw-123", "ct_admintoken")
    first = "\n".join(_admin_lines(settings, sec))
    later = "\n".join(_admin_lines(settings, None))
    assert "admin-pw-123" in first
    assert "ct_admintoken" in first
    assert "admin-pw-123" not in later
    assert "ct_admintoken" not in later
    assert str(tmp_path / "secrets.json") in later
    assert "crewtrack admin token --email admin@crewtrack.local" in later
    assert "revoke-token" in later


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_files_are_created_readable_by_the_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # a permissive umask must not widen them
    try:
        leftover = tmp_path / "secrets.json.tmp"
        leftover.write_text("stale")
        leftover.chmod(0o644)  # a tmp file left by a crash keeps no say
        Secrets.load_or_create(tmp_path / "secrets.json")
        broker = MosquittoServer(tmp_path / "mqtt", 1)
        broker.write_accounts([BrokerAccount("crewtrack-ingest", "$7$h", True)])
        write_private(tmp_path / "other", "x")
    finally:
        os.umask(old_umask)
    for path in (
        tmp_path / "secrets.json",
        broker.passwd_file,
        broker.acl_file,
        tmp_path / "other",
    ):
        assert _mode(path) == 0o600, path
    assert not leftover.exists()
