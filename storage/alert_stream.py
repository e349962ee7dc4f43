"""The back-office alerts stream (Redis, ``Settings.alerts_stream``): one codec.

The API's alert relay writes each alert's JSON payload (for reserves:
``jobs_domain.report.ReserveRaised.to_json``) as ``{type, payload}``; the
dashboard reads entries back with :func:`decode_entry`. Both sides use this
module, so what one writes is what the other reads.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Stream entries older than this many are trimmed (approximately) on write.
STREAM_MAXLEN = 10_000


def entry_fields(payload: dict[str, Any]) -> dict[str, str]:
    """The fields of the stream entry that carries ``payload``."""
    return {
        "type": str(payload.get("type", "alert")),
        "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
    }


@dataclass(frozen=True)
class StreamAlert:
    """One entry of the alerts stream, as written by the relay."""

    id: str
    type: str
    at_ms: int
    payload: dict[str, Any] = field(default_factory=dict)

    def text(self, key: str) -> str:
        value = self.payload.get(key)
        return "" if value is None else str(value)


def _str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def decode_entry(entry_id: Any, fields: dict[Any, Any]) -> StreamAlert:
    """A stream entry back into its alert; the time is the payload's own
    (``raised_at``) when it has one, else the entry id's."""
    f = {_str(k): _str(v) for k, v in fields.items()}
    eid = _str(entry_id)
    try:
        payload = json.loads(f.get("payload", "{}"))
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    at_ms = int(eid.split("-")[0])
    raised = payload.get("raised_at")
    if isinstance(raised, str):
        with contextlib.suppress(ValueError):
            at_ms = int(datetime.fromisoformat(raised).timestamp() * 1000)
    return StreamAlert(eid, f.get("type", "alert"), at_ms, payload)


#: The alert key of a stream entry (what its Acknowledge button hides).
STREAM_KEY_PREFIX = "stream:"


def stream_key(entry_id: str) -> str:
    """The alert key of the stream entry ``entry_id``."""
    return f"{STREAM_KEY_PREFIX}{entry_id}"


def entry_order(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``<ms>-<seq>``) as something that sorts as Redis does."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


#: Redis sorted set of acknowledged alert keys (score: when), shared by every
#: dispatcher: one acknowledges for the whole office.
ACKED_KEY = "crewtrack:alerts:acknowledged"
ACK_KEEP_S = 7 * 86400  # a situation older than a week is not on the panel anyway


def acknowledge_sync(r: Any, alert_key: str, now_s: float) -> None:
    """Hide one alert from every dispatcher's panel (keys older than a week go)."""
    pipe = r.pipeline()
    pipe.zadd(ACKED_KEY, {alert_key: now_s})
    pipe.zremrangebyscore(ACKED_KEY, "-inf", now_s - ACK_KEEP_S)
    pipe.execute()


def acknowledged_sync(r: Any) -> frozenset[str]:
    """Every alert key acknowledged in the last week."""
    return frozenset(_str(k) for k in r.zrange(ACKED_KEY, 0, -1))
