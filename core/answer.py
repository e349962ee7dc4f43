"""The answer in plain words: when the technician arrived and left, against the booking.

One sentence a customer understands, and the figures behind it, from what is
already decided elsewhere: the visits (``core.visits``), the booked window of
the job, the clocked time (``core.reconcile``) and the labour hours billed.
Times are written in the company's zone. Nothing here judges or re-derives.

    Tess Meyer arrived at Marienplatz 8 at 00:19:58 (±10 s), 4 min after the
    booked window opened; left at 01:17:21 (±8 s), 9 min before it closed; on
    site 57 min; clocked 54 min; billed 1.0 h

The ± is half the width of the edge's window (the interval the fixes bracket).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.visits import Visit, Window

#: Closer than this to a booked-window edge reads "when the window opened/closed".
ON_THE_DOT_S = 30.0


@dataclass(frozen=True)
class Answer:
    """The sentence and its figures (seconds; times UTC; ``None`` = unknown)."""

    sentence: str
    visit_count: int
    arrival: datetime | None
    arrival_uncertainty_s: float | None
    departure: datetime | None
    departure_uncertainty_s: float | None
    still_on_site: bool
    provisional: bool
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    arrival_vs_window_s: float | None  # arrival - scheduled_start; + = after it opened
    departure_vs_window_s: float | None  # departure - scheduled_end; - = before close
    on_site_s: float | None
    clocked_s: float | None
    billed_hours: Decimal | None
    #: The last departure's window (earliest, latest; UTC), None without one.
    departure_window: tuple[datetime | None, datetime | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.astimezone(UTC).isoformat()

        return {
            "sentence": self.sentence,
            "visit_count": self.visit_count,
            "arrival": iso(self.arrival),
            "arrival_uncertainty_s": self.arrival_uncertainty_s,
            "departure": iso(self.departure),
            "departure_uncertainty_s": self.departure_uncertainty_s,
            "still_on_site": self.still_on_site,
            "provisional": self.provisional,
            "scheduled_start": iso(self.scheduled_start),
            "scheduled_end": iso(self.scheduled_end),
            "arrival_vs_window_s": self.arrival_vs_window_s,
            "departure_vs_window_s": self.departure_vs_window_s,
            "on_site_s": self.on_site_s,
            "clocked_s": self.clocked_s,
            "billed_hours": None
            if self.billed_hours is None
            else str(self.billed_hours),
            "departure_window": None
            if self.departure_window is None
            else {
                "earliest": iso(self.departure_window[0]),
                "latest": iso(self.departure_window[1]),
            },
        }


def _half_up(value: float) -> int:
    """Round halves up (4.5 min reads 5 min), not to even."""
    return int(value + 0.5)


def half_width_s(window: Window | None) -> float | None:
    """Half the window's width, seconds; None when a side is unbounded."""
    if window is None or window.earliest is None or window.latest is None:
        return None
    return (window.latest - window.earliest).total_seconds() / 2


def plus_minus(seconds: float | None) -> str:
    """``±10 s`` (under 90 s, to the second, at least 1 s), else ``±3 min``."""
    if seconds is None:
        return "± unknown"
    if seconds < 90:
        return f"±{max(1, _half_up(seconds))} s"
    return f"±{_half_up(seconds / 60)} min"


def span(seconds: float) -> str:
    """``45 s``, ``57 min``, ``1 h 05 min`` (to the minute from one minute on)."""
    s = _half_up(abs(seconds))
    if s < 60:
        return f"{s} s"
    minutes = _half_up(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def hours(value: Decimal) -> str:
    """``1.0 h``, ``1.25 h``: at least one decimal, as many as the invoice has."""
    text = f"{value.normalize():f}"
    return f"{text if '.' in text else text + '.0'} h"


def booked_window(start: datetime | None, end: datetime | None, zone: ZoneInfo) -> str:
    """``2026-03-01 22:30 – 23:30`` in ``zone`` (the date again if it changes)."""
    if start is None or end is None:
        return "no booked window"
    a, b = start.astimezone(zone), end.astimezone(zone)
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%Y-%m-%d %H:%M}"
    return f"{a:%Y-%m-%d %H:%M} – {tail}"


def _relative(delta_s: float, edge: str, first: bool) -> str:
    """``4 min after the booked window opened`` / ``9 min before it closed``."""
    verb = "opened" if edge == "start" else "closed"
    what = "the booked window" if first else "it"
    if abs(delta_s) < ON_THE_DOT_S:
        return f"when {what} {verb}"
    side = "after" if delta_s > 0 else "before"
    return f"{span(delta_s)} {side} {what} {verb}"


def summarize(
    *,
    technician: str,
    site: str,
    visits: Sequence[Visit],
    zone: ZoneInfo,
    scheduled_start: datetime | None = None,
    scheduled_end: datetime | None = None,
    on_site_s: float | None = None,
    clocked_s: float | None = None,
    billed_hours: Decimal | None = None,
    session_open: bool = False,
    last_fix: datetime | None = None,
) -> Answer:
    """The plain-words answer for one job session.

    ``visits`` are the session's visits (first arrival and last departure are
    the edges told); ``on_site_s`` defaults to the visits' summed durations;
    ``clocked_s`` is clocked time less pauses; ``billed_hours`` the labour
    hours billed (None: nothing billed yet). A departure while the session is
    still open (``session_open``) is provisional: more fixes may move it.
    """
    ordered = sorted(visits, key=lambda v: v.arrival)
    first = ordered[0] if ordered else None
    last = ordered[-1] if ordered else None

    def clock(t: datetime) -> str:
        return f"{t.astimezone(zone):%H:%M:%S}"

    parts: list[str] = []
    arrival_vs = departure_vs = None
    arr_pm = dep_pm = None
    departure = None
    still = False
    if first is None or last is None:
        parts.append(f"{technician} has no recorded visit to {site}")
        if scheduled_start is not None and scheduled_end is not None:
            parts[-1] += (
                f" in the booked window {clock(scheduled_start)}–{clock(scheduled_end)}"
            )
    else:
        arr_pm = half_width_s(first.arrival_window)
        text = (
            f"{technician} arrived at {site} at {clock(first.arrival)} "
            f"({plus_minus(arr_pm)})"
        )
        if scheduled_start is not None:
            arrival_vs = (first.arrival - scheduled_start).total_seconds()
            text += ", " + _relative(arrival_vs, "start", first=True)
        else:
            text += ", no booked window"
        if len(ordered) > 1:
            text += f" (first of {len(ordered)} visits)"
        parts.append(text)
        departure = last.departure
        if departure is None:
            still = True
            since = f" at the last fix, {clock(last_fix)}" if last_fix else ""
            parts.append(f"still on site{since}")
        else:
            dep_pm = half_width_s(last.departure_window)
            text = f"left at {clock(departure)} ({plus_minus(dep_pm)})"
            window = last.departure_window
            if last.departure_provisional and window is not None:
                # the end of the track cannot settle it: say where it may lie
                lo = "?" if window.earliest is None else clock(window.earliest)
                hi = "?" if window.latest is None else clock(window.latest)
                text += f", provisional: between {lo} and {hi}"
            elif session_open:
                text += ", provisional while the session is open"
            if scheduled_end is not None:
                departure_vs = (departure - scheduled_end).total_seconds()
                text += ", " + _relative(
                    departure_vs, "end", first=scheduled_start is None
                )
            if len(ordered) > 1:
                text += " (last visit)"
            parts.append(text)
        if on_site_s is None:
            on_site_s = sum(
                ((v.departure or last_fix or v.arrival) - v.arrival).total_seconds()
                for v in ordered
            )
        parts.append(f"on site {span(on_site_s)}")
    parts.append("not clocked" if not clocked_s else f"clocked {span(clocked_s)}")
    parts.append(
        "not billed yet" if billed_hours is None else f"billed {hours(billed_hours)}"
    )
    return Answer(
        sentence="; ".join(parts),
        visit_count=len(ordered),
        arrival=None if first is None else first.arrival,
        arrival_uncertainty_s=arr_pm,
        departure=departure,
        departure_uncertainty_s=dep_pm,
        still_on_site=still,
        provisional=departure is not None
        and (session_open or (last is not None and last.departure_provisional)),
        scheduled_start=scheduled_start,
        scheduled_end=scheduled_end,
        arrival_vs_window_s=arrival_vs,
        departure_vs_window_s=departure_vs,
        on_site_s=on_site_s if ordered else None,
        clocked_s=clocked_s,
        billed_hours=billed_hours,
        departure_window=None
        if departure is None or last is None or last.departure_window is None
        else (last.departure_window.earliest, last.departure_window.latest),
    )
