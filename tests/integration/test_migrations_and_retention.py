"""Migrations apply once, in order, and refuse edited history; retention drops old chunks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from storage.migrate import MigrationError, current_version, discover, migrate
from storage.retention import delete_expired_rows, drop_expired_chunks


def _copy_migrations_to(folder: Path) -> None:
    """The project's migrations, copied where a test may add or edit one."""
    for m in discover():
        (folder / f"{m.name}.sql").write_text(m.sql)


def test_a_migrated_database_records_the_newest_version(db_url: str) -> None:
    assert current_version(db_url) == discover()[-1].version


def test_migrating_twice_applies_nothing_the_second_time(db_url: str) -> None:
    assert migrate(db_url) == []


def test_new_migrations_apply_in_name_order(db_url: str, tmp_path: Path) -> None:
    _copy_migrations_to(tmp_path)
    (tmp_path / "9998_first.sql").write_text("CREATE TABLE t_first (x int);")
    (tmp_path / "9999_second.sql").write_text("ALTER TABLE t_first ADD COLUMN y int;")
    assert migrate(db_url, tmp_path) == ["9998_first", "9999_second"]
    assert current_version(db_url) == "9999"


def test_an_applied_migration_whose_text_changed_is_refused(
    db_url: str, tmp_path: Path
) -> None:
    _copy_migrations_to(tmp_path)
    first = discover()[0]
    (tmp_path / f"{first.name}.sql").write_text(first.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(db_url, tmp_path)


def test_a_failing_migration_leaves_nothing_half_applied(
    db_url: str, tmp_path: Path
) -> None:
    _copy_migrations_to(tmp_path)
    (tmp_path / "9999_broken.sql").write_text(
        "CREATE TABLE half (x int); SELECT no_such_function();"
    )
    with pytest.raises(psycopg.errors.UndefinedFunction):
        migrate(db_url, tmp_path)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)
    assert current_version(db_url) == discover()[-1].version


def test_a_misnamed_migration_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "add_things.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover(tmp_path)


def _insert_fix(conn: psycopg.Connection, at: dt.datetime) -> None:
    conn.execute(
        "INSERT INTO fixes (time, device_id, lat, lon) VALUES (%s, 'd1', 48.1, 11.5)",
        (at,),
    )


def test_retention_drops_chunks_past_the_horizon_and_keeps_the_rest(
    db_url: str,
) -> None:
    now = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        _insert_fix(conn, now - dt.timedelta(days=500))
        _insert_fix(conn, now - dt.timedelta(days=401))
        _insert_fix(conn, now - dt.timedelta(days=10))
        _insert_fix(conn, now - dt.timedelta(hours=1))
        dropped = drop_expired_chunks(conn, dt.timedelta(days=400), now=now)
        remaining = conn.execute("SELECT count(*) FROM fixes").fetchone()
    assert len(dropped) == 2
    assert remaining == (2,)


def test_retention_deletes_provenance_and_rejections_older_than_the_horizon(
    db_url: str,
) -> None:
    now = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
    old, recent = now - dt.timedelta(days=450), now - dt.timedelta(days=3)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for i, at in enumerate([old, old, recent]):
            conn.execute(
                "INSERT INTO ingest_messages (device_id, payload_sha256, received_at, "
                "topic, protocol, kind, fix_count, payload_size) "
                "VALUES ('d1', %s, %s, 'crewtrack/v1/d1/fix', 'native', 'fix', 1, 20)",
                (bytes([i]) * 32, at),
            )
            conn.execute(
                "INSERT INTO rejected_messages (received_at, topic, protocol, reason, "
                "payload_sha256, payload_size, payload) "
                "VALUES (%s, 'crewtrack/v1/d1/fix', 'native', 'bad_msgpack', %s, 1, 'x')",
                (at, bytes([i]) * 32),
            )
        deleted = delete_expired_rows(conn, dt.timedelta(days=400), now=now)
        kept = conn.execute(
            "SELECT (SELECT count(*) FROM ingest_messages), "
            "(SELECT count(*) FROM rejected_messages)"
        ).fetchone()
    assert deleted == 4
    assert kept == (1, 1)
