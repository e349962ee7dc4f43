"""A property's fence version and a session's clock events: the derive re-derives once per change."""

from __future__ import annotations

import psycopg

from derive.worker import derive_pending
from storage.visits import derivation_history, sessions_needing_derivation
from tests.integration.derive.test_derive_worker import _seed_session, _store, _track
from tests.integration.derive.test_derive_worker import conn as conn


def _bump(conn: psycopg.Connection, geofence: str | None = None) -> None:
    conn.execute(
        "UPDATE properties SET fence_version = fence_version + 1, "
        "geofence = coalesce(%s::jsonb, geofence)",
        (geofence,),
    )


def test_a_fence_version_the_last_derivation_did_not_use_re_derives_once(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    _store(conn, _track())
    assert derive_pending(conn) == 1
    assert sessions_needing_derivation(conn) == []
    _bump(conn, '{"radius_m": 300}')
    assert sessions_needing_derivation(conn) == [session]
    assert derive_pending(conn) == 1
    v1, v2 = derivation_history(conn, session)
    assert (v1.fence_version, v2.fence_version) == (0, 1)
    assert v1.fence_digest != v2.fence_digest
    assert sessions_needing_derivation(conn) == []


def test_a_bump_that_leaves_the_fence_as_it_was_cannot_keep_the_sweep_busy(
    conn: psycopg.Connection,
) -> None:
    session = _seed_session(conn)
    _store(conn, _track())
    derive_pending(conn)
    _bump(conn)
    assert derive_pending(conn) == 1, "recorded once, with the same visits"
    assert derive_pending(conn) == 0
    v1, v2 = derivation_history(conn, session)
    assert (v2.fence_digest, v2.visits) == (v1.fence_digest, v1.visits)
    assert sessions_needing_derivation(conn) == []


def test_a_late_clock_event_placed_in_a_closed_session_re_derives_it(
    conn: psycopg.Connection,
) -> None:
    """A pause synced after the clock-out changes the events, not the state."""
    session = _seed_session(conn)
    _store(conn, _track())
    conn.execute(
        "UPDATE job_sessions SET state = 'closed', clocked_out_at = clocked_in_at + "
        "interval '1 hour', evidence = jsonb_build_array("
        "jsonb_build_object('kind', 'clock_in', 'at', clocked_in_at, 'event_id', 'i'),"
        "jsonb_build_object('kind', 'clock_out', 'at', clocked_in_at + interval '1 hour',"
        " 'event_id', 'o')) WHERE id = %s",
        (session,),
    )
    derive_pending(conn)
    assert sessions_needing_derivation(conn) == []
    conn.execute(
        "UPDATE job_sessions SET evidence = jsonb_insert(evidence, '{1}', "
        "jsonb_build_object('kind', 'pause', 'at', clocked_in_at + interval '10 minutes',"
        " 'event_id', 'p')) WHERE id = %s",
        (session,),
    )
    assert sessions_needing_derivation(conn) == [session]
    assert derive_pending(conn) == 1
    *_, before, after = derivation_history(conn, session)
    assert before.reconciliation != after.reconciliation
    assert sessions_needing_derivation(conn) == []
