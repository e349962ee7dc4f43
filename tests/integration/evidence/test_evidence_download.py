"""A session's evidence bundle taken from the API and from the audit page: the
same bundle the CLI exports, for billing and admin only, and it verifies."""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pandas as pd
import psycopg
import pytest
from aiohttp.test_utils import TestClient

from api.app import init_app
from crewtrack import evidence as glue
from crewtrack.settings import Settings
from dashboard import app as dashboard_app
from derive.worker import derive_pending
from services import evidence
from storage import evidence_log
from tests.integration.api.conftest import ClientFactory, People, seed_people
from tests.integration.dashboard_login import log_in
from tests.integration.derive.test_derive_worker import (
    ARRIVAL,
    _seed_session,
    _store,
    _track,
)

BOOKED = (ARRIVAL - dt.timedelta(minutes=4), ARRIVAL + dt.timedelta(minutes=50))
ZONE = "Europe/Berlin"


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def people(db_url: str) -> People:
    return seed_people(db_url)


@pytest.fixture
def stack(settings: Settings) -> Settings:
    return settings.replace(company_timezone=ZONE, dashboard_tile_url="none")


@pytest.fixture
def session(conn: psycopg.Connection) -> uuid.UUID:
    """A derived session of a booked job, one fix timed on receipt, all logged."""
    sid = _seed_session(conn)
    conn.execute(
        "UPDATE jobs SET scheduled_start = %s, scheduled_end = %s "
        "WHERE id = (SELECT job_id FROM job_sessions WHERE id = %s)",
        (*BOOKED, sid),
    )
    track = _track()
    _store(conn, track)
    conn.execute(
        "UPDATE fixes SET fix_flags = 'receive_time' WHERE time = %s", (track[3][0],)
    )
    assert derive_pending(conn) == 1
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    evidence_log.append_pending(conn, now=later)
    return sid


def _members(bundle: bytes) -> dict[str, bytes]:
    z = zipfile.ZipFile(io.BytesIO(bundle))
    return {n: z.read(n) for n in z.namelist()}


def _same_records(a: bytes, b: bytes) -> None:
    """Two bundles of one session: the same records and presentation (the
    checkpoint may differ, and the PDF's "generated" time)."""
    ma, mb = _members(a), _members(b)
    assert sorted(ma) == sorted(evidence.MEMBERS) == sorted(mb)
    for name in ("items.jsonl", "fixes.csv", "visit_records.json"):
        assert ma[name] == mb[name], name


async def test_billing_and_admin_download_the_bundle_through_the_api_and_it_verifies(
    aiohttp_client: ClientFactory,
    stack: Settings,
    people: People,
    session: uuid.UUID,
    conn: psycopg.Connection,
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(
        init_app(stack, evidence_presenter=glue.presenter(stack))
    )
    url = f"/api/v1/sessions/{session}/evidence.zip"
    bundles = []
    for who in ("billing", "admin"):
        answer = await client.get(url, headers=people.auth(who))
        assert answer.status == 200, await answer.text()
        assert answer.content_type == "application/zip"
        assert (
            f'filename="crewtrack-evidence-{session}.zip"'
            in (answer.headers["Content-Disposition"])
        )
        bundles.append(await answer.read())
    pinned = evidence.signing_key(stack.home).public_key()
    for bundle in bundles:
        assert evidence.verify(bundle, pinned) == []
    key = evidence.signing_key(stack.home)
    cli = evidence.export_session(conn, session, key, glue.presenter(stack))
    _same_records(bundles[0], cli)
    broken = bytearray(bundles[0])
    broken[len(broken) // 3] ^= 0x01
    assert evidence.verify(bytes(broken), pinned) != []


async def test_other_roles_are_refused_and_an_unknown_session_is_not_found(
    aiohttp_client: ClientFactory,
    stack: Settings,
    people: People,
    session: uuid.UUID,
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(
        init_app(stack, evidence_presenter=glue.presenter(stack))
    )
    url = f"/api/v1/sessions/{session}/evidence.zip"
    assert (await client.get(url)).status == 401
    for who in ("dispatcher", "tess"):
        answer = await client.get(url, headers=people.auth(who))
        assert answer.status == 403
        assert answer.content_type == "application/problem+json"
    missing = await client.get(
        f"/api/v1/sessions/{uuid.uuid4()}/evidence.zip", headers=people.auth("billing")
    )
    assert missing.status == 404
    assert missing.content_type == "application/problem+json"
    bad = await client.get(
        "/api/v1/sessions/not-a-uuid/evidence.zip", headers=people.auth("billing")
    )
    assert bad.status == 404


async def test_an_api_without_the_presentation_refuses_with_a_problem_not_a_crash(
    aiohttp_client: ClientFactory,
    stack: Settings,
    people: People,
    session: uuid.UUID,
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(init_app(stack))
    answer = await client.get(
        f"/api/v1/sessions/{session}/evidence.zip", headers=people.auth("billing")
    )
    assert answer.status == 503
    assert "without the audit's presentation" in (await answer.json())["detail"]


def test_the_audit_page_downloads_the_bundle_for_billing_and_it_verifies(
    stack: Settings, db_url: str, session: uuid.UUID, conn: psycopg.Connection
) -> None:
    server = dashboard_app.create_app(stack).server
    client = server.test_client()
    log_in(client, db_url, "billing")
    answer = client.get(f"/audit/evidence/{session}.zip")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/zip"
    bundle = answer.get_data()
    pinned = evidence.signing_key(stack.home).public_key()
    assert evidence.verify(bundle, pinned) == []
    key = evidence.signing_key(stack.home)
    cli = evidence.export_session(conn, session, key, glue.presenter(stack))
    _same_records(bundle, cli)
    assert client.get(f"/audit/evidence/{uuid.uuid4()}.zip").status_code == 404


def test_the_audit_page_refuses_the_bundle_to_a_dispatcher(
    stack: Settings, db_url: str, session: uuid.UUID
) -> None:
    client = dashboard_app.create_app(stack).server.test_client()
    log_in(client, db_url, "dispatcher")
    assert client.get(f"/audit/evidence/{session}.zip").status_code == 403


def test_the_bundles_csv_leads_with_the_answer_and_booked_window_in_utc(
    stack: Settings, session: uuid.UUID
) -> None:
    shown = glue.presentation(stack, session)
    lines = shown.csv.splitlines()
    header = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    assert header["format"] == "crewtrack-fixes/2"
    assert header["session"] == str(session)
    start, end = (t.isoformat().replace("+00:00", "Z") for t in BOOKED)
    assert header["booked_window"] == f"{start}/{end}"
    # worded in UTC: the arrival's clock time is the UTC one, not Berlin's
    assert header["answer"].startswith("Tom arrived at 1 Main St at ")
    assert "after the booked window opened" in header["answer"]
    assert header["answer"].endswith("(times UTC)")
    summary = pd.read_json(io.StringIO(header["summary"]), typ="series")
    assert summary["scheduled_start"] == BOOKED[0].isoformat()
    arrival = dt.datetime.fromisoformat(str(summary["arrival"]))
    assert f"at {arrival:%H:%M:%S} " in header["answer"]
    frame = pd.read_csv(io.StringIO(shown.csv), comment="#")
    assert frame["fix_flags"].fillna("").tolist().count("receive_time") == 1
