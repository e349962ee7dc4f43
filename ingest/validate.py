"""Checks every protocol shares: coordinate ranges and the fix-time window.

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


def check_fix(fix: Fix, received_ms: int, limits: Limits) -> None:
    """Raise ``Reject`` unless ``fix`` is in range and inside the time window."""
    check_time(fix.t_ms, received_ms, limits)
    if not (-90.0 <= fix.lat <= 90.0 and -180.0 <= fix.lon <= 180.0):
        raise Reject(OUT_OF_RANGE, "lat/lon")
    if fix.acc is not None and not 0.0 <= fix.acc <= 1e6:
        raise Reject(OUT_OF_RANGE, "acc")
    if fix.spd is not None and not 0.0 <= fix.spd <= 1e4:
        raise Reject(OUT_OF_RANGE, "spd")
    if fix.hdg is not None and not 0.0 <= fix.hdg <= 360.0:
        raise Reject(OUT_OF_RANGE, "hdg")
    if fix.bat is not None and not 0.0 <= fix.bat <= 100.0:
        raise Reject(OUT_OF_RANGE, "bat")
    if fix.alt is not None and not -1e5 <= fix.alt <= 1e6:
        raise Reject(OUT_OF_RANGE, "alt")


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
