"""Visit-record versions that mean something (issue 15): a new version only when the
derived result or the meaning of its inputs changes; provisional while the session
runs, final once it is closed and late data has settled; every version kept."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import psycopg
import pytest

from derive.worker import derive_pending, derive_session
from storage.visits import (
    derivation_history,
    latest_inputs,
    sessions_needing_derivation,
)
from tests.integration.derive.test_derive_worker import (
    ARRIVAL,
    DEPARTURE,
    _seed_session,
    _store,
    _track,
)

SETTLE = dt.timedelta(hours=1)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def _close(conn: psycopg.Connection, session: object, at: dt.datetime) -> None:
    evidence = [{"kind": "clock_out", "at": at.isoformat()}]
    conn.execute(
        "UPDATE job_sessions SET state = 'closed', clocked_out_at = %s, evidence = %s "
        "WHERE id = %s",
        (at, json.dumps(evidence), session),
    )


def test_a_steady_stream_of_fixes_on_site_stores_no_new_version_while_nothing_derived_changes(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    track = _track()
    head = [f for f in track if f[0] < ARRIVAL + dt.timedelta(minutes=10)]
    stream = [
        f for f in track if f not in head and f[0] < DEPARTURE - dt.timedelta(minutes=5)
    ]
    _store(conn, head)
    now = ARRIVAL + dt.timedelta(minutes=10)
    assert derive_pending(conn, now=now) == 1
    for i, fix in enumerate(stream[:60]):  # five minutes at one fix every 5 s
        _store(conn, [fix])
        assert derive_pending(conn, now=now + dt.timedelta(seconds=5 * i)) == 0
    (only,) = derivation_history(conn, session)
    assert only.status == "provisional"
    assert only.visits[0]["departure"] is None
    latest = latest_inputs(conn, session)
    assert latest is not None
    assert latest.fix_count == len(head) + 60 > only.fix_count
    assert latest.input_digest != only.input_digest
    assert latest.version == only.version


def test_a_closed_session_is_final_once_late_data_has_settled(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    _store(conn, _track())
    out = DEPARTURE + dt.timedelta(minutes=5)
    _close(conn, session, out)
    derive_pending(conn, now=out + dt.timedelta(minutes=10), settle=SETTLE)
    assert [d.status for d in derivation_history(conn, session)] == ["provisional"]
    assert derive_pending(conn, now=out + dt.timedelta(minutes=30), settle=SETTLE) == 0
    later = out + SETTLE + dt.timedelta(minutes=11)
    assert session in sessions_needing_derivation(conn, now=later, settle=SETTLE)
    assert derive_pending(conn, now=later, settle=SETTLE) == 1
    first, final = derivation_history(conn, session)
    assert (first.status, final.status) == ("provisional", "final")
    assert final.visits == first.visits
    assert session not in sessions_needing_derivation(conn, now=later, settle=SETTLE)


def test_a_late_fix_after_final_makes_a_new_visible_version(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    track = _track()
    late = [f for f in track if ARRIVAL - dt.timedelta(minutes=4) < f[0] < ARRIVAL]
    _store(conn, [f for f in track if f not in late])
    out = DEPARTURE + dt.timedelta(minutes=5)
    _close(conn, session, out)
    settled = out + SETTLE + dt.timedelta(minutes=5)
    derive_pending(conn, now=out + dt.timedelta(minutes=1), settle=SETTLE)
    derive_pending(conn, now=settled, settle=SETTLE)
    assert derivation_history(conn, session)[-1].status == "final"
    _store(conn, late)  # an offline backlog arrives after the record was final
    stored = derive_session(
        conn, session, now=settled + dt.timedelta(hours=2), settle=SETTLE
    )
    assert stored is not None
    history = derivation_history(conn, session)
    assert [d.status for d in history][-2:] == ["final", "provisional"]
    assert history[-1].input_digest != history[-2].input_digest
    assert history[-1].version == history[-2].version + 1
