"""The evidence log: bundles that verify offline, and an audit that finds tampering."""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crewtrack import evidence as glue
from crewtrack.settings import Settings
from derive.worker import derive_pending
from services import evidence
from storage import evidence_log
from tests.integration.derive.test_derive_worker import _seed_session, _store, _track


def _later() -> dt.datetime:
    """A notary pass a minute from now: every row stored so far is past the lag."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def session(conn: psycopg.Connection) -> uuid.UUID:
    sid = _seed_session(conn)
    _store(conn, _track())
    conn.execute(
        "INSERT INTO device_events (device_id, event_id, type, time, received_at, "
        "message_sha256) VALUES ('phone-1', 'e1', 'clock_in', %s, now(), '\\x01')",
        (dt.datetime(2026, 3, 2, 8, 12, tzinfo=dt.UTC),),
    )
    assert derive_pending(conn) == 1
    return sid


def _bundle(
    conn: psycopg.Connection, db_url: str, redis_url: str, sid: uuid.UUID, home: Path
) -> bytes:
    key = evidence.signing_key(home)
    stack = Settings(
        home=home,
        database_url=db_url,
        redis_url=redis_url,
        company_timezone="Europe/Berlin",
        start_servers=False,
    )
    evidence_log.append_pending(conn, now=_later())
    return evidence.export_session(conn, sid, key, glue.presenter(stack))


def _offsets(bundle: bytes) -> list[int]:
    """Byte offsets to corrupt: every member's header and a spread of its data,
    the central directory and the end record."""
    z = zipfile.ZipFile(io.BytesIO(bundle))
    out: set[int] = set(range(0, 40))  # the first local header, byte by byte
    for info in z.infolist():
        start = info.header_offset
        data = start + 30 + len(info.filename.encode())
        out.update(range(start, data, 3))
        step = max(1, info.file_size // 25)
        out.update(range(data, data + info.file_size, step))
        out.add(data + info.file_size - 1)
    out.update(range(len(bundle) - 120, len(bundle)))  # central dir tail + EOCD
    return sorted(o for o in out if 0 <= o < len(bundle))


def test_a_session_bundle_verifies_and_fails_after_any_one_byte_is_changed(
    conn: psycopg.Connection,
    db_url: str,
    redis_url: str,
    session: uuid.UUID,
    tmp_path: Path,
) -> None:
    bundle = _bundle(conn, db_url, redis_url, session, tmp_path)
    assert evidence.verify(bundle) == []
    pinned = evidence.signing_key(tmp_path).public_key()
    assert evidence.verify(bundle, pinned) == []
    z = zipfile.ZipFile(io.BytesIO(bundle))
    kinds = {json.loads(line)["kind"] for line in z.read("items.jsonl").splitlines()}
    assert kinds == {"fix", "event", "visit"}
    assert z.read("report.pdf").startswith(b"%PDF")
    offsets = _offsets(bundle)
    assert len(offsets) > 300
    for offset in offsets:
        changed = bytearray(bundle)
        changed[offset] ^= 0x01
        assert evidence.verify(bytes(changed), pinned), f"byte {offset} unnoticed"


def test_verification_names_the_item_whose_bytes_were_changed(
    conn: psycopg.Connection,
    db_url: str,
    redis_url: str,
    session: uuid.UUID,
    tmp_path: Path,
) -> None:
    bundle = _bundle(conn, db_url, redis_url, session, tmp_path)
    z = zipfile.ZipFile(io.BytesIO(bundle))
    members = {n: z.read(n) for n in z.namelist()}
    lines = members["items.jsonl"].split(b"\n")
    lines[2] = lines[2].replace(b'"lat":', b'"lat":1', 1)
    members["items.jsonl"] = b"\n".join(lines)
    problems = evidence.verify(evidence._zip(members))
    assert "items.jsonl does not match its sha256 in manifest.json" in problems
    assert any(
        p.startswith("item 3 ") and "do not hash to the logged leaf" in p
        for p in problems
    )


def test_the_checkpoint_is_signed_by_a_key_kept_outside_the_database(
    conn: psycopg.Connection,
    db_url: str,
    redis_url: str,
    session: uuid.UUID,
    tmp_path: Path,
) -> None:
    bundle = _bundle(conn, db_url, redis_url, session, tmp_path)
    secrets = tmp_path / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    raw = json.loads(secrets.read_text())[evidence.KEY_FIELD]
    dump = conn.execute(
        "SELECT string_agg(t::text, '') FROM evidence_checkpoints t"
    ).fetchone()
    assert dump is not None
    assert raw not in dump[0]
    assert evidence_log.audit(conn, evidence.signing_key(tmp_path).public_key()).ok
    stranger = Ed25519PrivateKey.generate().public_key()
    report = evidence_log.audit(conn, stranger)
    assert report.checkpoint_problems
    assert any("pinned key" in p for p in evidence.verify(bundle, stranger))


def _fix_ref(conn: psycopg.Connection, which: str) -> str:
    got = conn.execute(
        f"SELECT time FROM fixes ORDER BY time {which} LIMIT 1"
    ).fetchone()
    assert got is not None
    return "phone-1@" + got[0].astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_the_audit_finds_a_fix_changed_deleted_or_inserted_and_an_event_or_record_changed(
    conn: psycopg.Connection, session: uuid.UUID, tmp_path: Path
) -> None:
    key = evidence.signing_key(tmp_path)
    evidence_log.append_pending(conn, now=_later())
    evidence_log.sign_checkpoint(conn, key)
    assert evidence_log.audit(conn, key.public_key()).ok
    first, last = _fix_ref(conn, "ASC"), _fix_ref(conn, "DESC")
    conn.execute(
        "UPDATE fixes SET lat = lat + 0.0001 WHERE time = (SELECT min(time) FROM fixes)"
    )
    conn.execute("DELETE FROM fixes WHERE time = (SELECT max(time) FROM fixes)")
    conn.execute(
        "INSERT INTO fixes (time, device_id, lat, lon, received_at) "
        "VALUES ('2026-03-02 07:00:00+00', 'phone-1', 48.1, 11.5, '2026-03-02 07:00+00')"
    )
    conn.execute(
        "UPDATE visit_derivations SET visits = '[]'::jsonb WHERE session_id = %s",
        (session,),
    )
    event = conn.execute(
        "SELECT device_id || ':' || event_id FROM device_events ORDER BY time LIMIT 1"
    ).fetchone()
    assert event is not None
    conn.execute(
        "UPDATE device_events SET lat = coalesce(lat, 48.0) + 0.0001 "
        "WHERE device_id || ':' || event_id = %s",
        (event[0],),
    )
    report = evidence_log.audit(conn, key.public_key())
    assert ("fix", first) in report.changed
    assert ("event", event[0]) in report.changed
    assert ("visit", "1") in report.changed
    assert report.deleted == [("fix", last)]
    assert report.inserted == [("fix", "phone-1@2026-03-02T07:00:00.000000Z")]
    assert not report.ok


def test_the_audit_finds_a_rewritten_log_against_its_signed_checkpoint(
    conn: psycopg.Connection, session: uuid.UUID, tmp_path: Path
) -> None:
    key = evidence.signing_key(tmp_path)
    evidence_log.append_pending(conn, now=_later())
    evidence_log.sign_checkpoint(conn, key)
    conn.execute("UPDATE evidence_leaves SET leaf_hash = sha256('x') WHERE seq = 3")
    report = evidence_log.audit(conn, key.public_key())
    assert any("no longer have the root" in p for p in report.checkpoint_problems)


def test_appending_twice_logs_each_row_once(
    conn: psycopg.Connection, session: uuid.UUID
) -> None:
    first = evidence_log.append_pending(conn, now=_later())
    assert first == conn.execute("SELECT count(*) FROM fixes").fetchone()[0] + 2
    assert evidence_log.append_pending(conn, now=_later()) == 0


def test_the_cli_exports_verifies_and_audits_with_exit_codes_that_say_so(
    conn: psycopg.Connection,
    db_url: str,
    redis_url: str,
    session: uuid.UUID,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from crewtrack.cli import main

    monkeypatch.setenv("CREWTRACK_DATABASE_URL", db_url)
    monkeypatch.setenv("CREWTRACK_REDIS_URL", redis_url)
    monkeypatch.setenv("CREWTRACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CREWTRACK_START_SERVERS", "false")
    evidence_log.append_pending(conn, now=_later())
    out, pem = tmp_path / "e.zip", tmp_path / "key.pem"
    assert main(["evidence", "export", "--session", str(session), "-o", str(out)]) == 0
    assert main(["evidence", "public-key"]) == 0
    pem.write_text(capsys.readouterr().out.split("\n", 1)[1])
    assert main(["evidence", "verify", str(out), "--key", str(pem)]) == 0
    assert "verifies" in capsys.readouterr().out
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x20
    out.write_bytes(bytes(data))
    assert main(["evidence", "verify", str(out), "--key", str(pem)]) == 1
    assert "FAIL:" in capsys.readouterr().out
    assert main(["evidence", "audit"]) == 0
    conn.execute("DELETE FROM fixes WHERE time = (SELECT min(time) FROM fixes)")
    assert main(["evidence", "audit"]) == 1
    assert "DELETED: fix phone-1@" in capsys.readouterr().out
