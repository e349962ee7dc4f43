"""Checks every protocol shares: coordinate ranges and the fix-time window.

A bad time or position rejects the fix; an implausible optional field (a
battery of 43,628 %) is dropped from it and flagged, the fix is kept.

A fix is stored only if its time lies between the retention horizon and a
little after its receive time; a phone with a skewed clock must not write
evidence into the future, and a fix older than retention would be dropped by
the next retention run anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import FUTURE, OUT_OF_RANGE, TOO_OLD, DeviceEvent, Fix, Reject

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Limits:
    """The time window, from settings (``max_future_skew_s``, ``retention_days``)."""

    max_future_ms: int = 600_000
    retention_ms: int = 400 * DAY_MS

    @classmethod
    def from_settings(cls, max_future_skew_s: int, retention_days: int) -> Limits:
        return cls(max_future_skew_s * 1000, retention_days * DAY_MS)


# optional fields and their plausible domains; a value outside is dropped
# (the field becomes absent, the fix is flagged ``dropped:<field>``), never the fix
OPTIONAL_RANGES = (
    ("acc", 0.0, 1e6),
    ("alt", -1e5, 1e6),
    ("spd", 0.0, 1e4),
    ("hdg", 0.0, 360.0),
    ("bat", 0.0, 100.0),
)


def check_fix(fix: Fix, received_ms: int, limits: Limits) -> Fix:
    """The fix to store: ``Reject`` unless its time and position are valid.

    Implausible optional fields are dropped and named in ``fix.flags``.
    """
    check_time(fix.t_ms, received_ms, limits)
    if not (-90.0 <= fix.lat <= 90.0 and -180.0 <= fix.lon <= 180.0):
        raise Reject(OUT_OF_RANGE, "lat/lon")
    dropped: dict[str, None] = {}
    for name, lo, hi in OPTIONAL_RANGES:
        value = getattr(fix, name)
        if value is not None and not lo <= value <= hi:
            dropped[name] = None
    if not dropped:
        return fix
    flags = [fix.flags] if fix.flags else []
    flags += [f"dropped:{name}" for name in dropped]
    return fix._replace(**dropped, flags=",".join(flags))  # type: ignore[arg-type]


def check_event(event: DeviceEvent, received_ms: int, limits: Limits) -> None:
    """Raise ``Reject`` unless the event's time and optional position are valid."""
    check_time(event.t_ms, received_ms, limits)
    if (
        event.lat is not None
        and event.lon is not None
        and not (-90.0 <= event.lat <= 90.0 and -180.0 <= event.lon <= 180.0)
    ):
        raise Reject(OUT_OF_RANGE, "lat/lon")
    if event.acc is not None and not 0.0 <= event.acc <= 1e6:
        raise Reject(OUT_OF_RANGE, "acc")


def check_time(t_ms: int, received_ms: int, limits: Limits) -> None:
    if t_ms > received_ms + limits.max_future_ms:
        raise Reject(FUTURE, str(t_ms))
    if t_ms < received_ms - limits.retention_ms:
        raise Reject(TOO_OLD, str(t_ms))
