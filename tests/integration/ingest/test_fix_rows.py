"""The ingest's own binary COPY encoding stores exactly what psycopg would.

``storage.fixes.encode_message`` writes PostgreSQL's binary COPY format by
hand (it is the ingest's hot path); these tests store every shape of fix that
way and the same values through plain parameterised INSERTs, and compare.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import msgpack
import psycopg

from core.messages import InboundMessage, Processed
from ingest.pipeline import process
from ingest.validate import Limits
from storage.fixes import (
    FIX_COLUMNS,
    MESSAGE_COLUMNS,
    ms_to_datetime,
    store_batch,
)

NOW_MS = int(time.time() * 1000)


def native(device: str, fixes: list[dict[str, Any]], received_ms: int) -> Processed:
    body: Any = fixes[0] if len(fixes) == 1 else {"fixes": fixes}
    msg = InboundMessage(f"crewtrack/v1/{device}/fix", msgpack.packb(body), received_ms)
    p = process(msg, Limits())
    assert not p.rejections, p.rejections
    return p


def every_shape() -> list[dict[str, Any]]:
    """Fixes with each optional field absent or present, at awkward values."""
    optional = {
        "acc": [None, 0.0, 4.2, 1e6],
        "alt": [None, -412.5, 0.1, 8848.86],
        "spd": [None, 0.0, 33.3],
        "hdg": [None, 0.0, 359.9],
        "bat": [None, 0, 100],
        "src": [None, "gps", "network", "fused"],
        "mock": [None, True, False],
    }
    fixes = []
    t = NOW_MS - 3_600_000
    # every field's every value at least once, combined with its neighbours
    for i, combo in enumerate(itertools.product(*optional.values())):
        if i % 7:  # a spread over the 5,184 combinations keeps the test quick
            continue
        fix: dict[str, Any] = {
            "t": t + i,
            "lat": [-90.0, 90.0, 48.137154, 0][i % 4],
            "lon": [-180.0, 180.0, 11.576124, 0][i % 4],
        }
        fix.update(
            {k: v for k, v in zip(optional, combo, strict=True) if v is not None}
        )
        fixes.append(fix)
    return fixes


def reference_rows(p: Processed) -> list[tuple[Any, ...]]:
    received = ms_to_datetime(p.message.received_ms)
    return [
        (ms_to_datetime(f.t_ms), *f[:1], *f[2:], received, p.sha256) for f in p.fixes
    ]


def test_hand_encoded_fix_and_provenance_rows_equal_psycopgs_own(db_url: str) -> None:
    shapes = every_shape()
    messages = [
        native("van-1", shapes[: len(shapes) // 2], NOW_MS),
        native("van-2", shapes[len(shapes) // 2 :], NOW_MS + 17),
        native("v", [{"t": NOW_MS - 5, "lat": 1.5, "lon": -2.5}], NOW_MS + 1),
        process(  # an implausible battery: dropped, the row flagged
            InboundMessage(
                "owntracks/ann/phone-7",
                b'{"_type":"location","tst":%d,"lat":52.5,"lon":13.4,"batt":43628}'
                % (NOW_MS // 1000 - 90),
                NOW_MS + 3,
            ),
            Limits(),
        ),
        process(
            InboundMessage(
                "owntracks/ann/phone-7",
                json.dumps(
                    {
                        "_type": "location",
                        "t": "p",
                        "tst": NOW_MS // 1000 - 60,
                        "lat": 52.52,
                        "lon": 13.405,
                        "acc": 12,
                        "vel": 36,
                        "batt": 80,
                    }
                ).encode(),
                NOW_MS + 2,
            ),
            Limits(),
        ),
    ]
    assert messages[-1].fixes[0].ping
    assert messages[-2].fixes[0].flags == "dropped:bat"
    with psycopg.connect(db_url, autocommit=True) as conn:
        result = store_batch(conn, messages)
        assert not result.fallback
        assert result.fixes == sum(len(p.fixes) for p in messages) > 700
        conn.execute("CREATE TABLE ref_fixes (LIKE fixes)")
        conn.execute("CREATE TABLE ref_messages (LIKE ingest_messages)")
        with conn.cursor() as cur:
            cols = ", ".join(FIX_COLUMNS)
            cur.executemany(
                f"INSERT INTO ref_fixes ({cols}) VALUES "
                f"({', '.join(['%s'] * len(FIX_COLUMNS))})",
                [row for p in messages for row in reference_rows(p)],
            )
            cur.executemany(
                f"INSERT INTO ref_messages ({', '.join(MESSAGE_COLUMNS)}) VALUES "
                f"({', '.join(['%s'] * len(MESSAGE_COLUMNS))})",
                [
                    (
                        p.device_id,
                        p.sha256,
                        ms_to_datetime(p.message.received_ms),
                        p.message.topic,
                        p.protocol,
                        p.kind,
                        p.carried,
                        len(p.rejections),
                        len(p.message.payload),
                    )
                    for p in messages
                ],
            )
        for ours, ref, cols in (
            ("fixes", "ref_fixes", FIX_COLUMNS),
            ("ingest_messages", "ref_messages", MESSAGE_COLUMNS),
        ):
            c = ", ".join(cols)
            diff = conn.execute(
                f"(SELECT {c} FROM {ours} EXCEPT ALL SELECT {c} FROM {ref}) UNION ALL "
                f"(SELECT {c} FROM {ref} EXCEPT ALL SELECT {c} FROM {ours})"
            ).fetchall()
            assert diff == [], f"{ours}: {diff[:4]}"
        stored = conn.execute("SELECT count(*) FROM fixes").fetchone()
        assert stored == (result.fixes,)


def test_a_fix_carried_by_two_messages_of_one_flush_is_stored_once(db_url: str) -> None:
    first = native(
        "van-1",
        [
            {"t": NOW_MS - 9, "lat": 1.0, "lon": 2.0},
            {"t": NOW_MS - 8, "lat": 1.0, "lon": 2.0},
        ],
        NOW_MS,
    )
    resent = native(
        "van-1",
        [
            {"t": NOW_MS - 8, "lat": 1.0, "lon": 2.0},
            {"t": NOW_MS - 7, "lat": 1.0, "lon": 2.0},
        ],
        NOW_MS + 5,
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        result = store_batch(conn, [first, resent])
        assert result.fallback  # the direct COPY met the duplicate, nothing was lost
        rows = conn.execute("SELECT time FROM fixes ORDER BY time").fetchall()
        assert [r[0] for r in rows] == [ms_to_datetime(NOW_MS - k) for k in (9, 8, 7)]
        assert conn.execute("SELECT count(*) FROM ingest_messages").fetchone() == (2,)


def test_a_redelivered_message_in_the_same_flush_keeps_one_provenance_row(
    db_url: str,
) -> None:
    p = native(
        "van-1",
        [
            {"t": NOW_MS - 9, "lat": 1.0, "lon": 2.0},
            {"t": NOW_MS - 9, "lat": 1.0, "lon": 2.0},  # repeated in it
            {"t": NOW_MS - 8, "lat": 1.0, "lon": 2.0},
        ],
        NOW_MS,
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        result = store_batch(conn, [p, p])
        assert conn.execute("SELECT count(*) FROM fixes").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM ingest_messages").fetchone() == (1,)
        # and the same message in a later flush changes nothing
        again = store_batch(conn, [p])
        assert again.fallback
        assert conn.execute("SELECT count(*) FROM fixes").fetchone() == (2,)
    assert result.messages == 1
