"""The arrival audit: a technician's fixes around a site, shaped into evidence.

Pure functions over what :mod:`dashboard.queries` read. For a job session the
audit shows the visit record the derive worker stored (``visit_derivations``):
its visits, windows, edge evidence and reconciliation exactly as stored, the
same record billing gets from ``GET /api/v1/sessions/{id}/visits``. Nothing
here re-derives or re-judges a session. Only the "technician + time range"
view, which has no session and so no record, derives visits on the fly with
:func:`core.visits.derive_visits` against a chosen job site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from core import history
from core.answer import Answer, booked_window
from core.geofence import Geofence
from core.reconcile import ClockEvent, Flag, Reconciliation
from core.visits import Visit, Window, derive_visits
from dashboard.clock import stamp
from dashboard.queries import DerivationRow, SessionRow
from services.presence import PresenceAnswer
from storage.session_answer import SessionFacts
from storage.session_answer import answer as session_answer
from storage.visits import clock_events, input_digest

UTC_ZONE = ZoneInfo("UTC")

#: Douglas-Peucker tolerance of the drawn line, metres: finer than any phone fix
#: is accurate, so the simplified line never hides a real turn.
TRAIL_TOLERANCE_M = 2.0
#: Silences longer than this are gaps (the core's default: two missed fixes at
#: the slowest one-a-minute setting).
GAP_S = 120.0
#: Fixes listed around each edge: its window widened by this much on each side.
EDGE_MARGIN = timedelta(minutes=3)

#: Which reconciliation row a stored flag belongs to (display only: the flags
#: themselves, and whether they are raised, come from the stored record).
ROW_FLAGS = {
    "clock_in": ("clocked_in_before_arrival", "clocked_in_far_away"),
    "clock_out": (
        "clocked_out_after_departure",
        "clocked_out_far_away",
        "missing_clock_out",
    ),
    "time": ("billed_exceeds_on_site", "no_visit", "on_site_without_clock"),
}

#: How a stored ``fix_flags`` code reads (migration 0170): what is less certain.
FIX_FLAG_WORDS = {
    "receive_time": "timed on receipt (the phone sent no time)",
    "not_valid": "not valid by its phone (no evidence for arrival or departure)",
}


def fix_flag_words(raw: Any) -> str:
    """A fix's stored ``fix_flags`` in words; empty when the fix is as sent.

    ``receive_time`` → "timed on receipt …", ``dropped:speed`` → "speed dropped
    (implausible)"; a code this page does not know is shown as stored.
    """
    if not isinstance(raw, str) or not raw:
        return ""
    words = []
    for code in (c.strip() for c in raw.split(",")):
        if code.startswith("dropped:"):
            words.append(f"{code.removeprefix('dropped:')} dropped (implausible)")
        elif code:
            words.append(FIX_FLAG_WORDS.get(code, code))
    return "; ".join(words)


@dataclass(frozen=True)
class SessionInfo:
    """What the audit needs to know about a job session."""

    session_id: str
    job_id: str
    job_number: str
    device_id: str
    technician: str
    clocked_in_at: datetime
    clocked_out_at: datetime | None
    events: tuple[ClockEvent, ...]


@dataclass(frozen=True)
class StoredRecord:
    """One stored visit record of a session, parsed into the core's types."""

    version: int
    of: int
    derived_at: datetime
    input_digest: str
    params_digest: str
    fence_digest: str
    fence: dict[str, Any]
    fix_count: int
    window_start: datetime
    window_end: datetime
    session_state: str
    visits: tuple[Visit, ...]
    reconciliation: Reconciliation

    def label(self, zone: ZoneInfo = UTC_ZONE) -> str:
        """``v2 of 2, derived 2025-…, input digest fx1-…`` (time in ``zone``)."""
        return (
            f"v{self.version} of {self.of}, derived {fmt_time(self.derived_at, zone)}, "
            f"input digest {self.input_digest}"
        )


@dataclass(frozen=True)
class ReconRow:
    """One line of the reconciliation panel, from the stored reconciliation."""

    label: str
    clock: str
    gps: str
    delta_s: float | None
    flags: tuple[Flag, ...]


@dataclass
class Audit:
    """Everything the audit page, the CSV and the PDF show."""

    device_id: str
    start: datetime
    end: datetime
    fixes: pd.DataFrame  # every fix, with distance_m and inside
    trail: pd.DataFrame  # the drawn line (core.history.simplify_trail)
    coverage: history.Coverage
    stops: list[history.Stop]
    visits: list[Visit]
    fence: Geofence | None
    session: SessionInfo | None
    digest: str  # of the fixes shown, computed now
    record: StoredRecord | None = None  # the stored visit record (session mode)
    derived_now: bool = False  # range mode: visits derived on the fly
    recon: list[ReconRow] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    edge_rows: list[dict[str, Any]] = field(default_factory=list)
    #: The company's time zone: every time the page and the PDF show.
    zone: ZoneInfo = UTC_ZONE
    #: The plain-words answer (core.answer) of the record shown; session mode.
    answer: Answer | None = None
    #: The job's booked window (scheduled start, end; UTC); session mode.
    booked: tuple[datetime | None, datetime | None] | None = None
    #: What the answer is worded from besides the record (who, where, booked).
    facts: SessionFacts | None = None
    #: Presence mode (services.presence): the answer in the company's zone and
    #: the same sentence in UTC (the CSV's).
    presence: str | None = None
    presence_utc: str | None = None

    def answer_in(self, zone: ZoneInfo) -> Answer | None:
        """The answer worded in another zone (the CSV's UTC); None without one."""
        if self.answer is None or self.facts is None or self.record is None:
            return None
        return _answer(self.facts, self.record, self.fixes, zone)

    def booked_text(self, zone: ZoneInfo | None = None) -> str:
        """The booked window in words (``zone``: the company's unless given)."""
        start, end = self.booked or (None, None)
        return booked_window(start, end, zone or self.zone)

    @property
    def flagged_fixes(self) -> int:
        """How many fixes shown carry a ``fix_flags`` (less certain evidence)."""
        flags = self.fixes.get("fix_flags")
        return 0 if flags is None else int(flags.fillna("").astype(bool).sum())

    @property
    def gaps(self) -> list[tuple[int, int]]:
        """The coverage's gaps as index pairs into ``fixes`` (for the map)."""
        return gap_pairs(self.fixes, self.coverage.gaps)

    @property
    def digest_matches(self) -> bool | None:
        """Whether the fixes shown are the record's input (None without a record)."""
        return None if self.record is None else self.record.input_digest == self.digest


# ------------------------------------------------------------ stored record
def stored_record(row: DerivationRow, of: int) -> StoredRecord:
    """Parse one ``visit_derivations`` row; ``of`` is the session's newest version."""
    return StoredRecord(
        version=row.version,
        of=of,
        derived_at=row.derived_at,
        input_digest=row.input_digest,
        params_digest=row.params_digest,
        fence_digest=row.fence_digest,
        fence=row.fence,
        fix_count=row.fix_count,
        window_start=row.window_start,
        window_end=row.window_end,
        session_state=row.session_state,
        visits=tuple(
            sorted((Visit.from_dict(v) for v in row.visits), key=lambda v: v.arrival)
        ),
        reconciliation=Reconciliation.from_dict(row.reconciliation),
    )


def session_info(row: SessionRow) -> SessionInfo:
    """A stored session with its clock events (parsed as the derive worker does)."""
    return SessionInfo(
        session_id=row.session_id,
        job_id=row.job_id,
        job_number=row.job_number,
        device_id=row.device_id,
        technician=row.technician,
        clocked_in_at=row.clocked_in_at,
        clocked_out_at=row.clocked_out_at,
        events=tuple(
            sorted(clock_events(list(row.evidence or [])), key=lambda ev: ev.time)
        ),
    )


# ------------------------------------------------------------------- shaping
def fixes_digest(frame: pd.DataFrame) -> str:
    """The input-fixes digest exactly as the derive worker records it."""
    return input_digest(frame[["time", "lat", "lon", "accuracy"]])


def trail_line(frame: pd.DataFrame) -> pd.DataFrame:
    """The line to draw: the core's Douglas-Peucker in metres (every fix stays a dot)."""
    if frame.empty:
        return frame[["time", "lat", "lon"]].reset_index(drop=True)
    cols = ["time", "lat", "lon", "accuracy"]
    return history.simplify_trail(frame[cols], TRAIL_TOLERANCE_M)[
        ["time", "lat", "lon"]
    ]


def gap_pairs(
    frame: pd.DataFrame, gaps: Sequence[history.Gap]
) -> list[tuple[int, int]]:
    """Each gap as the index pair (last fix before, first fix after) in ``frame``."""
    if not gaps or frame.empty:
        return []
    times = frame["time"].astype("int64").to_numpy()
    out = []
    for g in gaps:
        end = int(np.searchsorted(times, pd.Timestamp(g.end).value))
        if 0 < end < len(times):
            out.append((end - 1, end))
    return out


def fmt_time(t: datetime | None, zone: ZoneInfo = UTC_ZONE) -> str:
    """A time as the company reads it (the page says which zone, once)."""
    return stamp(t, zone)


def hms(seconds: float | None) -> str:
    """``+h:mm:ss`` / ``-h:mm:ss``; a dash when unknown."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else "+"
    s = round(abs(seconds))
    return f"{sign}{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def duration(seconds: float | None) -> str:
    """``h:mm:ss`` without a sign."""
    return "—" if seconds is None else hms(seconds)[1:]


def provisional(v: Visit) -> str:
    """`` (provisional)`` for a departure the end of the track cannot settle."""
    return (
        " (provisional)" if v.departure is not None and v.departure_provisional else ""
    )


def _window_text(w: Window | None, zone: ZoneInfo = UTC_ZONE) -> str:
    if w is None:
        return ""
    return f" [{fmt_time(w.earliest, zone)} – {fmt_time(w.latest, zone)}]"


def recon_rows(
    rec: Reconciliation, visits: Sequence[Visit], zone: ZoneInfo = UTC_ZONE
) -> list[ReconRow]:
    """The stored reconciliation as three rows, each with its stored flags.

    Every figure is read from the record: clock times, GPS edges, the deltas
    the derive worker computed, billed and on-site seconds. The windows shown
    next to the edges are those of the first and last stored visit.
    """

    def flags(row: str) -> tuple[Flag, ...]:
        return tuple(f for f in rec.flags if f.code in ROW_FLAGS[row])

    first = visits[0] if visits else None
    last = visits[-1] if visits else None
    billed_delta = rec.billed_s - rec.on_site_s if visits else None
    return [
        ReconRow(
            "Clock-in vs arrival",
            fmt_time(rec.clock_in, zone),
            "no visit"
            if first is None
            else fmt_time(rec.arrival, zone) + _window_text(first.arrival_window, zone),
            rec.clock_in_delta_s,
            flags("clock_in"),
        ),
        ReconRow(
            "Clock-out vs departure",
            fmt_time(rec.clock_out, zone),
            "no visit"
            if last is None
            else (
                fmt_time(rec.departure, zone)
                + _window_text(last.departure_window, zone)
                if rec.departure is not None
                else "still on site"
            ),
            rec.clock_out_delta_s,
            flags("clock_out"),
        ),
        ReconRow(
            "Time on site vs time billed",
            duration(rec.billed_s),
            duration(rec.on_site_s),
            billed_delta,
            flags("time"),
        ),
    ]


def _evidence_roles(visits: Sequence[Visit]) -> dict[tuple[str, datetime], str]:
    """(edge label, fix time) → the role the stored evidence gives that fix."""
    roles: dict[tuple[str, datetime], str] = {}
    for n, v in enumerate(visits, start=1):
        for label, ev in (
            (f"arrival {n}", v.arrival_evidence),
            (f"departure {n}", v.departure_evidence),
        ):
            if ev is None:
                continue
            for role, ref in (
                ("clear before", ev.clear_before),
                ("before", ev.before),
                ("after", ev.after),
                ("clear after", ev.clear_after),
            ):
                if ref is not None:
                    key = (label, ref.time)
                    roles[key] = roles[key] + ", " + role if key in roles else role
    return roles


def _edge_rows(
    frame: pd.DataFrame, visits: Sequence[Visit], zone: ZoneInfo = UTC_ZONE
) -> list[dict[str, Any]]:
    """The fixes behind each edge: those inside its window widened by a margin.

    ``evidence`` names the fixes the derivation cited (before/after the
    crossing, the clear fixes bounding the window).
    """
    rows: list[dict[str, Any]] = []
    edges: list[tuple[str, datetime, Window]] = []
    for n, v in enumerate(visits, start=1):
        edges.append((f"arrival {n}", v.arrival, v.arrival_window))
        if v.departure is not None and v.departure_window is not None:
            edges.append((f"departure {n}", v.departure, v.departure_window))
    roles = _evidence_roles(visits)
    for label, at, window in edges:
        lo = (window.earliest or at) - EDGE_MARGIN
        hi = (window.latest or at) + EDGE_MARGIN
        sel = frame[(frame["time"] >= lo) & (frame["time"] <= hi)]
        records: list[dict[Any, Any]] = sel.to_dict("records")
        for rec in records:
            t = rec["time"]
            acc = rec["accuracy"]
            dist = rec["distance_m"]
            rows.append(
                {
                    "edge": label,
                    "time": fmt_time(t.to_pydatetime(), zone),
                    "lat": round(float(rec["lat"]), 6),
                    "lon": round(float(rec["lon"]), 6),
                    "accuracy_m": None if acc != acc else round(float(acc), 1),
                    "distance_m": None if dist != dist else round(float(dist), 1),
                    "side": "inside" if rec["inside"] else "outside",
                    "in_window": "yes"
                    if (
                        (window.earliest is None or t >= window.earliest)
                        and (window.latest is None or t <= window.latest)
                    )
                    else "",
                    "evidence": roles.get((label, t.to_pydatetime()), ""),
                    "fix_flags": fix_flag_words(rec.get("fix_flags")),
                }
            )
    return rows


def flag_lines(frame: pd.DataFrame) -> list[str]:
    """How many fixes are less certain, by what (``fix_flags``), for the page and PDF."""
    if "fix_flags" not in frame or frame.empty:
        return []
    counts: dict[str, int] = {}
    for raw in frame["fix_flags"]:
        for words in filter(None, fix_flag_words(raw).split("; ")):
            counts[words] = counts.get(words, 0) + 1
    return [f"{n} fixes {words}" for words, n in sorted(counts.items())]


def coverage_lines(c: history.Coverage, zone: ZoneInfo = UTC_ZONE) -> list[str]:
    """The coverage figures in words, for the page and the PDF."""
    pct = c.accuracy_percentiles_m
    acc = (
        " · ".join(f"p{k} {v:.0f} m" for k, v in pct.items())
        if pct
        else "no accuracy reported"
    )
    lines = [
        f"{c.fix_count} fixes over {duration(c.span_s)}, "
        f"{c.fixes_per_minute:.1f} fixes/min",
        f"{len(c.gaps)} gaps longer than {GAP_S / 60:.0f} min, "
        f"{duration(c.gap_s)} in total",
        f"accuracy {acc}"
        + (
            f"; {c.unknown_accuracy_count} fixes without accuracy"
            if c.unknown_accuracy_count
            else ""
        ),
    ]
    lines += [
        f"gap {fmt_time(g.start, zone)} – {fmt_time(g.end, zone)} ({duration(g.seconds)})"
        for g in c.gaps
    ]
    return lines


def stop_lines(audit: Audit) -> list[str]:
    """Stays found from the trail alone (no fence): a cross-check of the visits."""
    out = []
    for stop in audit.stops:
        where = ""
        if audit.fence is not None:
            d = float(audit.fence.signed_distance_m([stop.lat], [stop.lon])[0])
            where = " inside the fence" if d <= 0 else f", {d:.0f} m outside the fence"
        out.append(
            f"{fmt_time(stop.start, audit.zone)} – {fmt_time(stop.end, audit.zone)} "
            f"({duration(stop.seconds)}, "
            f"{stop.fix_count} fixes){where}"
        )
    return out


def _with_distance(frame: pd.DataFrame, fence: Geofence | None) -> pd.DataFrame:
    frame = frame.sort_values("time").reset_index(drop=True)
    if fence is not None and len(frame):
        dist = fence.signed_distance_m(frame["lat"].to_numpy(), frame["lon"].to_numpy())
        frame["distance_m"] = dist
        frame["inside"] = dist <= 0  # the core's sign: negative inside
    else:
        frame["distance_m"] = np.nan
        frame["inside"] = False
    return frame


def session_audit(
    frame: pd.DataFrame,
    record: StoredRecord | None,
    fallback_fence: Geofence | None,
    device_id: str,
    start: datetime,
    end: datetime,
    session: SessionInfo,
    zone: ZoneInfo = UTC_ZONE,
    facts: SessionFacts | None = None,
) -> Audit:
    """A job session's audit from its stored visit record (or none: not derived yet).

    ``frame`` holds the device's fixes over the record's window, so its digest
    can be checked against the record's ``input_digest``. The fence drawn is
    the one the record was derived with. ``facts`` (who, where, the booked
    window, hours billed) give the plain-words answer of the record, worded by
    :mod:`core.answer` as the API's ``summary`` is.
    """
    fence = (
        Geofence.from_geojson(record.fence) if record is not None else fallback_fence
    )
    visits = list(record.visits) if record is not None else []
    audit = _audit(
        frame,
        fence,
        visits,
        device_id,
        start,
        end,
        session=session,
        record=record,
        zone=zone,
    )
    if facts is not None:
        audit.facts = facts
        audit.booked = (facts.scheduled_start, facts.scheduled_end)
        if record is not None:
            audit.answer = _answer(facts, record, audit.fixes, zone)
    return audit


def _answer(
    facts: SessionFacts, record: StoredRecord, frame: pd.DataFrame, zone: ZoneInfo
) -> Answer:
    """The record's answer in words (core.answer via storage.session_answer)."""
    last_fix = frame["time"].max() if len(frame) else None
    return session_answer(
        facts,
        list(record.visits),
        record.reconciliation,
        record.session_state,
        zone,
        None if last_fix is None else last_fix.to_pydatetime(),
    )


def range_audit(
    frame: pd.DataFrame,
    fence: Geofence | None,
    device_id: str,
    start: datetime,
    end: datetime,
    zone: ZoneInfo = UTC_ZONE,
) -> Audit:
    """A technician's fixes over a range; visits derived now against ``fence``."""
    visits = derive_visits(frame, fence) if fence is not None and len(frame) else []
    return _audit(
        frame,
        fence,
        visits,
        device_id,
        start,
        end,
        derived_now=fence is not None,
        zone=zone,
    )


def presence_audit(answer: PresenceAnswer, zone: ZoneInfo = UTC_ZONE) -> Audit:
    """An ad-hoc presence answer (services.presence) as the audit shows it: the
    fixes read (margins too), the asked place and the visits overlapping the range."""
    p = answer.presence
    audit = _audit(
        answer.fixes,
        answer.place.fence,
        list(p.visits),
        answer.technician,
        p.start,
        p.end,
        derived_now=True,
        zone=zone,
    )
    audit.presence = answer.sentence
    audit.presence_utc = p.answer(answer.technician, answer.place.label, UTC_ZONE)
    return audit


def _audit(
    frame: pd.DataFrame,
    fence: Geofence | None,
    visits: list[Visit],
    device_id: str,
    start: datetime,
    end: datetime,
    *,
    session: SessionInfo | None = None,
    record: StoredRecord | None = None,
    derived_now: bool = False,
    zone: ZoneInfo = UTC_ZONE,
) -> Audit:
    """What both views show: the fixes against the fence, the trail, coverage,
    stops and digest, the visits with the fixes behind their edges, and the
    stored reconciliation when there is a record."""
    frame = _with_distance(frame, fence)
    points = frame[["time", "lat", "lon", "accuracy"]]
    return Audit(
        device_id=device_id,
        start=start,
        end=end,
        fixes=frame,
        trail=trail_line(frame),
        coverage=history.coverage(points, GAP_S),
        stops=history.stay_points(points),
        visits=visits,
        fence=fence,
        session=session,
        digest=fixes_digest(frame),
        record=record,
        derived_now=derived_now,
        recon=[] if record is None else recon_rows(record.reconciliation, visits, zone),
        flags=[] if record is None else list(record.reconciliation.flags),
        edge_rows=_edge_rows(frame, visits, zone),
        zone=zone,
    )


# ----------------------------------------------------------------- drawing
def edges_for_map(
    visits: Sequence[Visit], zone: ZoneInfo = UTC_ZONE
) -> list[dict[str, Any]]:
    """Arrival (green) and departure (red) markers at the fix after/before the edge."""
    out: list[dict[str, Any]] = []
    for n, v in enumerate(visits, start=1):
        ref = v.arrival_evidence.after or v.arrival_evidence.before
        if ref is not None:
            out.append(
                {
                    "lat": ref.lat,
                    "lon": ref.lon,
                    "colour": "#1a9850",
                    "label": f"Arrival {n}: {fmt_time(v.arrival, zone)}"
                    + _window_text(v.arrival_window, zone),
                }
            )
        dep = v.departure_evidence
        if v.departure is not None and dep is not None:
            ref = dep.before or dep.after
            if ref is not None:
                out.append(
                    {
                        "lat": ref.lat,
                        "lon": ref.lon,
                        "colour": "#c53030",
                        "label": f"Departure {n}{provisional(v)}: "
                        f"{fmt_time(v.departure, zone)}"
                        + _window_text(v.departure_window, zone),
                    }
                )
    return out


def edge_windows(visits: Sequence[Visit]) -> list[dict[str, Any]]:
    """Arrival/departure times and windows for the timeline."""
    out: list[dict[str, Any]] = []
    for v in visits:
        out.append(
            {
                "at": v.arrival,
                "earliest": v.arrival_window.earliest,
                "latest": v.arrival_window.latest,
                "colour": "#1a9850",
            }
        )
        if v.departure is not None:
            w = v.departure_window
            out.append(
                {
                    "at": v.departure,
                    "earliest": w.earliest if w else None,
                    "latest": w.latest if w else None,
                    "colour": "#c53030",
                    "provisional": v.departure_provisional,
                }
            )
    return out


def clock_for_map(
    session: SessionInfo | None, zone: ZoneInfo = UTC_ZONE
) -> list[dict[str, Any]]:
    if session is None:
        return []
    return [
        {
            "lat": e.lat,
            "lon": e.lon,
            "at": e.time,
            "label": f"{e.kind.replace('_', ' ')} {fmt_time(e.time, zone)}",
        }
        for e in session.events
        if e.lat is not None and e.lon is not None
    ]


def clock_for_timeline(session: SessionInfo | None) -> list[dict[str, Any]]:
    if session is None:
        return []
    return [{"at": e.time, "kind": e.kind} for e in session.events]
