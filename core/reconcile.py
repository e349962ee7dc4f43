"""Reconcile a job session's clock events with the visits derived from GPS.

Billing asks: did the technician clock in when they arrived and out when they left,
and does the billed time match the time on site?  Flags are raised only when the
derived *window* (not just the point estimate) is beyond the tolerance, so the
uncertainty of the GPS evidence never produces a false accusation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from core.geofence import Geofence
from core.visits import Visit

ClockKind = Literal["clock_in", "clock_out", "pause", "resume"]
Severity = Literal["info", "warning"]


@dataclass(frozen=True)
class ClockEvent:
    """One clock event from the device (times are UTC, positions optional)."""

    kind: ClockKind
    time: datetime
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class ReconcileParams:
    """Tolerances before a discrepancy is flagged.

    Parameters
    ----------
    clock_in_early_s : float
        Seconds a clock-in may precede the earliest possible arrival (walking up
        from the van, a phone clock slightly off). Default 300.
    clock_out_late_s : float
        Seconds a clock-out may follow the latest possible departure (writing the
        report in the van). Default 600.
    far_away_m : float
        Metres from the fence edge beyond which a clock-in/out position counts as
        "far away". Default 500.
    unclocked_min_s : float
        Seconds on site outside any clocked interval before "on site without
        clocking in" is raised. Default 600.
    billed_excess_s : float
        Seconds by which billed (clocked, minus pauses) time may exceed time on site
        before it is flagged. Default 900.
    billed_excess_ratio : float
        ... or this share of the time on site, whichever is larger. Default 0.10.
    """

    clock_in_early_s: float = 300.0
    clock_out_late_s: float = 600.0
    far_away_m: float = 500.0
    unclocked_min_s: float = 600.0
    billed_excess_s: float = 900.0
    billed_excess_ratio: float = 0.10


@dataclass(frozen=True)
class Flag:
    """A discrepancy for billing to look at."""

    code: str
    severity: Severity
    message: str
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class Interval:
    """A clocked (billable) interval; ``end`` None while still clocked in."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True)
class Reconciliation:
    """Clock vs GPS for one job session.

    Attributes
    ----------
    clock_in, clock_out : datetime or None
        First clock-in and last clock-out.
    arrival, departure : datetime or None
        First arrival and last departure of the visits.
    clock_in_delta_s : float or None
        ``clock_in - arrival``; negative = clocked in before arriving.
    clock_out_delta_s : float or None
        ``clock_out - departure``; positive = clocked out after leaving.
    billed_s : float
        Clocked time minus pauses, seconds (up to ``now`` while clocked in).
    on_site_s : float
        Time inside the visits, seconds, less bridged short absences.
    clocked_intervals : tuple of Interval
        Billable intervals after pauses.
    flags : tuple of Flag
        Discrepancies, most important first.
    """

    clock_in: datetime | None
    clock_out: datetime | None
    arrival: datetime | None
    departure: datetime | None
    clock_in_delta_s: float | None
    clock_out_delta_s: float | None
    billed_s: float
    on_site_s: float
    clocked_intervals: tuple[Interval, ...]
    flags: tuple[Flag, ...]

    def codes(self) -> set[str]:
        """The flag codes, for quick checks."""
        return {f.code for f in self.flags}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""

        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "clock_in": iso(self.clock_in),
            "clock_out": iso(self.clock_out),
            "arrival": iso(self.arrival),
            "departure": iso(self.departure),
            "clock_in_delta_s": self.clock_in_delta_s,
            "clock_out_delta_s": self.clock_out_delta_s,
            "billed_s": self.billed_s,
            "on_site_s": self.on_site_s,
            "clocked_intervals": [
                {"start": iso(i.start), "end": iso(i.end)}
                for i in self.clocked_intervals
            ],
            "flags": [f.to_dict() for f in self.flags],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Reconciliation:
        """Read back :meth:`to_dict` output: the flags exactly as they were stored."""

        def time(value: object) -> datetime | None:
            return None if value is None else datetime.fromisoformat(str(value))

        def seconds(value: object) -> float | None:
            return None if value is None else float(str(value))

        intervals = []
        for item in raw.get("clocked_intervals", []):
            start = time(item.get("start"))
            if start is None:
                raise ValueError("a stored clocked interval has no start")
            intervals.append(Interval(start, time(item.get("end"))))
        return cls(
            clock_in=time(raw.get("clock_in")),
            clock_out=time(raw.get("clock_out")),
            arrival=time(raw.get("arrival")),
            departure=time(raw.get("departure")),
            clock_in_delta_s=seconds(raw.get("clock_in_delta_s")),
            clock_out_delta_s=seconds(raw.get("clock_out_delta_s")),
            billed_s=float(raw.get("billed_s") or 0.0),
            on_site_s=float(raw.get("on_site_s") or 0.0),
            clocked_intervals=tuple(intervals),
            flags=tuple(
                Flag(
                    code=str(f["code"]),
                    severity="warning" if f.get("severity") == "warning" else "info",
                    message=str(f.get("message", "")),
                    seconds=seconds(f.get("seconds")),
                )
                for f in raw.get("flags", [])
            ),
        )


def clocked_intervals(
    events: Iterable[ClockEvent],
) -> tuple[tuple[Interval, ...], list[Flag]]:
    """Turn clock events into billable intervals; report sequences that make no sense.

    ``clock_in`` and ``resume`` open an interval, ``pause`` and ``clock_out`` close
    it; a clock-out after a pause ends the session (as :mod:`jobs_domain.sessions`
    allows) without an interval of its own.  Events are ordered by time (ties: in, resume, pause, out), so a late sync
    cannot reorder a session.
    """
    rank = {"clock_in": 0, "resume": 1, "pause": 2, "clock_out": 3}
    ordered = sorted(events, key=lambda e: (e.time, rank[e.kind]))
    out: list[Interval] = []
    flags: list[Flag] = []
    start: datetime | None = None
    paused = False  # a pause ended the interval; a clock-out may still close it
    for ev in ordered:
        opening = ev.kind in ("clock_in", "resume")
        if opening and start is None:
            start, paused = ev.time, False
        elif not opening and start is not None:
            out.append(Interval(start, ev.time))
            start, paused = None, ev.kind == "pause"
        elif ev.kind == "clock_out" and paused:
            paused = False
        else:
            flags.append(
                Flag(
                    "inconsistent_clock_events",
                    "warning",
                    f"{ev.kind} at {ev.time.isoformat()} does not fit the sequence; "
                    "ignored",
                )
            )
    if start is not None:
        out.append(Interval(start, None))
    return tuple(out), flags


def _overlap_s(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def reconcile(
    events: Sequence[ClockEvent],
    visits: Sequence[Visit],
    *,
    fence: Geofence | None = None,
    now: datetime | None = None,
    params: ReconcileParams | None = None,
) -> Reconciliation:
    """Compare a session's clock events with its derived visits.

    Parameters
    ----------
    events : sequence of ClockEvent
        The session's clock events, any order.
    visits : sequence of Visit
        Visits to the job site from :func:`core.visits.derive_visits`.
    fence : Geofence, optional
        Needed to judge clock positions ("clocked in while far away").
    now : datetime, optional
        End of open intervals and open visits (defaults to the latest time known).
    params : ReconcileParams, optional
        Tolerances.
    """
    params = params or ReconcileParams()
    intervals, flags = clocked_intervals(events)
    ordered = sorted(visits, key=lambda v: v.arrival)
    known = [e.time for e in events] + [v.arrival for v in ordered]
    known += [v.departure for v in ordered if v.departure is not None]
    horizon = now or (max(known) if known else None)

    clock_in = min((e.time for e in events if e.kind == "clock_in"), default=None)
    outs = [e.time for e in events if e.kind == "clock_out"]
    clock_out = max(outs) if outs else None
    first = ordered[0] if ordered else None
    last = ordered[-1] if ordered else None
    arrival = first.arrival if first else None
    departure = last.departure if last else None

    billed = sum(
        (iv.end or horizon or iv.start).timestamp() - iv.start.timestamp()
        for iv in intervals
    )
    on_site = 0.0
    for v in ordered:
        end = v.departure or horizon or v.arrival
        on_site += max(0.0, (end - v.arrival).total_seconds() - v.absent_s)

    in_delta = (clock_in - arrival).total_seconds() if clock_in and arrival else None
    out_delta = (
        (clock_out - departure).total_seconds() if clock_out and departure else None
    )

    if clock_in is not None and first is None:
        flags.append(
            Flag("no_visit", "warning", "clocked in but never seen on site", billed)
        )
    if clock_in is not None and first is not None:
        earliest = first.arrival_window.earliest
        if earliest is not None:
            early = (earliest - clock_in).total_seconds()
            if early > params.clock_in_early_s:
                flags.append(
                    Flag(
                        "clocked_in_before_arrival",
                        "warning",
                        f"clocked in {early / 60:.0f} min before the earliest "
                        "possible arrival",
                        early,
                    )
                )
    if clock_out is not None and last is not None and last.departure_window:
        latest = last.departure_window.latest
        if latest is not None:
            late = (clock_out - latest).total_seconds()
            if late > params.clock_out_late_s:
                flags.append(
                    Flag(
                        "clocked_out_after_departure",
                        "warning",
                        f"clocked out {late / 60:.0f} min after the latest possible "
                        "departure",
                        late,
                    )
                )
    if clock_in is not None and clock_out is None:
        flags.append(Flag("missing_clock_out", "info", "still clocked in"))
    if fence is not None:
        for ev in events:
            if ev.kind not in ("clock_in", "clock_out"):
                continue
            if ev.lat is None or ev.lon is None:
                continue
            dist = float(fence.signed_distance_m([ev.lat], [ev.lon])[0])
            if dist > params.far_away_m:
                word = "in" if ev.kind == "clock_in" else "out"
                flags.append(
                    Flag(
                        f"clocked_{word}_far_away",
                        "warning",
                        f"clocked {word} {dist / 1000:.1f} km from the site",
                        None,
                    )
                )
    for v in ordered:
        end = v.departure or horizon or v.arrival
        stay = (end - v.arrival).total_seconds()
        covered = sum(
            _overlap_s(v.arrival, end, iv.start, iv.end or horizon or iv.start)
            for iv in intervals
        )
        if stay - covered > params.unclocked_min_s:
            flags.append(
                Flag(
                    "on_site_without_clock",
                    "warning",
                    f"{(stay - covered) / 60:.0f} min on site while not clocked in "
                    f"(visit from {v.arrival.isoformat()})",
                    stay - covered,
                )
            )
    allowed = max(params.billed_excess_s, params.billed_excess_ratio * on_site)
    if intervals and ordered and billed - on_site > allowed:
        flags.append(
            Flag(
                "billed_exceeds_on_site",
                "warning",
                f"billed {billed / 60:.0f} min, on site {on_site / 60:.0f} min",
                billed - on_site,
            )
        )
    flags.sort(key=lambda f: f.severity != "warning")
    return Reconciliation(
        clock_in=clock_in,
        clock_out=clock_out,
        arrival=arrival,
        departure=departure,
        clock_in_delta_s=in_delta,
        clock_out_delta_s=out_delta,
        billed_s=billed,
        on_site_s=on_site,
        clocked_intervals=intervals,
        flags=tuple(flags),
    )


__all__ = [
    "ClockEvent",
    "Flag",
    "Interval",
    "ReconcileParams",
    "Reconciliation",
    "clocked_intervals",
    "reconcile",
]
