"""Times as the company reads them: its zone, everywhere a person reads a time.

Stored times are UTC; every page converts with these. Stored messages (a visit
record's flags, written by ``core.reconcile``) name times in ISO 8601 UTC;
:func:`localize_text` rewrites those for reading.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

#: An ISO 8601 date-time with an offset, as ``datetime.isoformat`` writes it.
_ISO = re.compile(
    r"\b(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}:\d{2}|Z)"
)


def local(t: datetime, zone: ZoneInfo) -> datetime:
    """A time as the company reads it."""
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(zone)


def wall(t: datetime, zone: ZoneInfo) -> datetime:
    """The company's wall-clock time, naive (Plotly draws naive times as given)."""
    return local(t, zone).replace(tzinfo=None)


def stamp(t: datetime | None, zone: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in the company's zone (the page names the zone once)."""
    return "—" if t is None else f"{local(t, zone):%Y-%m-%d %H:%M:%S}"


def hhmm(t: datetime | None, zone: ZoneInfo) -> str:
    return "—" if t is None else f"{local(t, zone):%H:%M}"


def localize_text(text: str, zone: ZoneInfo) -> str:
    """``… (visit from 2026-12-07T00:32:00+00:00)`` → ``… (visit from 01:32:00)``;
    the date stays when it is not today's in the zone."""
    today = datetime.now(UTC).astimezone(zone).date()

    def one(m: re.Match[str]) -> str:
        raw = f"{m.group(1)}T{m.group(2)}{m.group(4).replace('Z', '+00:00')}"
        try:
            t = datetime.fromisoformat(raw).astimezone(zone)
        except ValueError:
            return m.group(0)
        return f"{t:%H:%M:%S}" if t.date() == today else f"{t:%Y-%m-%d %H:%M:%S}"

    return _ISO.sub(one, text)
