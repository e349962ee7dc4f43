"""Every crewtrack command finds the passwords of the servers `up` runs.

(crewtrack/settings.py ``with_stack_secrets``; the servers' side is in
tests/integration/security/test_servers.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

from crewtrack.runner import Secrets
from crewtrack.settings import Settings, redact_url, with_stack_secrets

STORED = {"db_password": "db/pw:1", "redis_password": "redis-pw"}


def test_urls_without_passwords_get_the_ones_in_the_homes_secrets_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "secrets.json").write_text(json.dumps(STORED))
    filled = with_stack_secrets(Settings(home=tmp_path))
    assert filled.database_url == (
        "postgresql://crewtrack:db%2Fpw%3A1@127.0.0.1:55432/crewtrack"
    )
    assert filled.redis_url == "redis://:redis-pw@127.0.0.1:56379/0"


def test_a_password_the_user_gave_wins(tmp_path: Path) -> None:
    given = Settings(
        home=tmp_path,
        database_url="postgresql://crewtrack:mine@127.0.0.1:5/crewtrack",
        redis_url="redis://:mine@127.0.0.1:6/0",
    )
    assert with_stack_secrets(given, STORED) == given


def test_servers_not_run_by_up_keep_their_urls_as_given(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text(json.dumps(STORED))
    provided = Settings(home=tmp_path, start_servers=False)
    assert with_stack_secrets(provided) == provided


def test_without_a_secrets_file_nothing_changes(tmp_path: Path) -> None:
    plain = Settings(home=tmp_path / "none")
    assert with_stack_secrets(plain) == plain


def test_a_url_without_a_user_gets_the_app_role(tmp_path: Path) -> None:
    plain = Settings(home=tmp_path, database_url="postgresql://127.0.0.1:7/crewtrack")
    filled = with_stack_secrets(plain, STORED)
    assert filled.database_url.startswith("postgresql://crewtrack:db%2Fpw%3A1@")


def test_printed_urls_hide_the_password() -> None:
    assert (
        redact_url("postgresql://crewtrack:s3cret@127.0.0.1:55432/crewtrack")
        == "postgresql://crewtrack:***@127.0.0.1:55432/crewtrack"
    )
    assert redact_url("redis://:s3cret@127.0.0.1:1/0") == "redis://:***@127.0.0.1:1/0"
    assert redact_url("redis://127.0.0.1:1/0") == "redis://127.0.0.1:1/0"


def test_an_older_secrets_file_gains_the_server_passwords_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secrets.json"
    old = {
        "ingest_mqtt_password": "i",
        "dashboard_secret": "d",
        "admin_password": "a",
        "admin_token": "ct_x",
    }
    path.write_text(json.dumps(old))
    sec = Secrets.load_or_create(path)
    stored = json.loads(path.read_text())
    assert {k: stored[k] for k in old} == old
    for key in ("db_superuser_password", "db_password", "redis_password"):
        assert len(stored[key]) >= 20
        assert stored[key] == getattr(sec, key)
    assert len({stored["db_superuser_password"], stored["db_password"]}) == 2
    assert Secrets.load_or_create(path) == sec  # generated once, then kept
