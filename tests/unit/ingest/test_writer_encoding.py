"""The batch writer encodes rows as messages arrive and never crashes on one."""

from __future__ import annotations

import hashlib

from core.messages import Fix, InboundMessage, Processed
from ingest.writer import STORE_ERROR, _encode


def test_a_message_the_row_encoding_cannot_hold_becomes_a_store_error_rejection() -> (
    None
):
    payload = b"\x81\xa1t\x01"
    good = Fix("van-1", 1_700_000_000_000, 48.1, 11.5, 5.0)
    beyond_float4 = good._replace(t_ms=good.t_ms + 1, acc=1e39)  # validation bug
    p = Processed(
        InboundMessage("crewtrack/v1/van-1/fix", payload, 1_700_000_000_500),
        "native",
        "van-1",
        hashlib.sha256(payload).digest(),
        fixes=[good, beyond_float4],
        carried=2,
    )
    kept, rows = _encode(p)
    assert kept.fixes == []
    assert [r.reason for r in kept.rejections] == [STORE_ERROR]
    assert "float" in kept.rejections[0].detail
    assert (rows.fixes, rows.fix_rows, rows.message_row) == (0, b"", b"")

    ok, ok_rows = _encode(p._replace(fixes=[good], carried=1))
    assert ok.rejections == []
    assert ok_rows.fixes == 1
    assert ok_rows.message_row
