"""A property's fence version: the derive re-derives a session once per fence edit."""

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
