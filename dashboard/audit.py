"""The arrival audit: a technician's fixes around a site, shaped into evidence.

Pure functions over what :mod:`dashboard.queries` read. Visits are derived
with :func:`core.visits.derive_visits`, a deterministic function of the fixes
and the fence, so the page shows exactly what the derive worker stores for the
same inputs; the digest of the input fixes lets a customer check that the
evidence they receive is the evidence the times were derived from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import shapely

from core.geofence import Geofence
from core.visits import Visit, derive_visits
from storage.visits import input_digest

#: Above this many fixes the drawn line is simplified (every fix stays a dot).
MAX_TRAIL_POINTS = 1500
#: Douglas-Peucker tolerance for the drawn line, degrees (~2 m).
SIMPLIFY_TOLERANCE_DEG = 2e-5
#: Consecutive fixes further apart than this are marked as a gap on the map.
GAP_S = 120.0
#: Fixes listed around each edge: its window widened by this much on each side.
EDGE_MARGIN = timedelta(minutes=3)
#: A clock edge within this of the GPS window is not flagged.
TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class ClockEvent:
    """A clock event of the session, with the position the phone reported."""

    kind: str
    at: datetime
    lat: float | None
    lon: float | None


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
    worked_s: float | None
    events: tuple[ClockEvent, ...]


@dataclass(frozen=True)
class ReconRow:
    """One line of the reconciliation panel."""

    label: str
    clock: str
    gps: str
    delta_s: float | None
    flag: str  # "ok", or what is wrong in a few words


@dataclass
class Audit:
    """Everything the audit page, the CSV and the PDF show."""

    device_id: str
    start: datetime
    end: datetime
    fixes: pd.DataFrame  # every fix, with distance_m and inside
    trail: pd.DataFrame  # the drawn line (simplified when long)
    gaps: list[tuple[int, int]]
    visits: list[Visit]
    fence: Geofence | None
    session: SessionInfo | None
    digest: str
    recon: list[ReconRow] = field(default_factory=list)
    edge_rows: list[dict[str, Any]] = field(default_factory=list)


def session_info(
    session_id: str,
    job_id: str,
    job_number: str,
    device_id: str,
    technician: str,
    clocked_in_at: datetime,
    clocked_out_at: datetime | None,
    intervals: Any,
    evidence: Any,
) -> SessionInfo:
    """A stored session (intervals and evidence as the jobs module writes them)."""
    worked = 0.0
    open_interval = False
    for pair in intervals or []:
        start = datetime.fromisoformat(pair[0])
        if pair[1] is None:
            open_interval = True
            continue
        worked += (datetime.fromisoformat(pair[1]) - start).total_seconds()
    events = []
    for e in evidence or []:
        pos = e.get("position") or {}
        events.append(
            ClockEvent(
                kind=str(e.get("kind", "")),
                at=datetime.fromisoformat(e["at"]),
                lat=pos.get("lat"),
                lon=pos.get("lon"),
            )
        )
    return SessionInfo(
        session_id=session_id,
        job_id=job_id,
        job_number=job_number,
        device_id=device_id,
        technician=technician,
        clocked_in_at=clocked_in_at,
        clocked_out_at=clocked_out_at,
        worked_s=None if open_interval else worked,
        events=tuple(sorted(events, key=lambda ev: ev.at)),
    )


def fixes_digest(frame: pd.DataFrame) -> str:
    """The input-fixes digest exactly as the derive worker records it."""
    return input_digest(frame[["time", "lat", "lon", "accuracy"]])


def simplify_trail(frame: pd.DataFrame) -> pd.DataFrame:
    """The line to draw: every fix when short, Douglas-Peucker when long."""
    if len(frame) <= MAX_TRAIL_POINTS:
        return frame[["time", "lat", "lon"]].reset_index(drop=True)
    coords = np.column_stack([frame["lon"].to_numpy(), frame["lat"].to_numpy()])
    simple = shapely.simplify(
        shapely.linestrings(coords), SIMPLIFY_TOLERANCE_DEG, preserve_topology=False
    )
    kept = {(x, y) for x, y in shapely.get_coordinates(simple)}
    mask = [
        (x, y) in kept or i in (0, len(coords) - 1)
        for i, (x, y) in enumerate(coords.tolist())
    ]
    return frame.loc[mask, ["time", "lat", "lon"]].reset_index(drop=True)


def find_gaps(frame: pd.DataFrame, gap_s: float = GAP_S) -> list[tuple[int, int]]:
    """Index pairs (i, i+1) of consecutive fixes more than ``gap_s`` apart."""
    if len(frame) < 2:
        return []
    t = frame["time"].astype("int64").to_numpy() / 1e9
    idx = np.nonzero(np.diff(t) > gap_s)[0]
    return [(int(i), int(i) + 1) for i in idx]


def _fmt(t: datetime | None) -> str:
    return "—" if t is None else t.strftime("%Y-%m-%d %H:%M:%S")


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else "+"
    s = round(abs(seconds))
    return f"{sign}{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def duration(seconds: float | None) -> str:
    """``h:mm:ss`` without a sign."""
    return "—" if seconds is None else _hms(seconds)[1:]


def reconcile(visits: list[Visit], session: SessionInfo) -> list[ReconRow]:
    """Clock vs GPS: clock-in vs arrival, clock-out vs departure, time on site vs billed.

    A clock edge inside the GPS edge's uncertainty window widened by
    :data:`TOLERANCE` is fine; beyond it the row is flagged with what it means
    for the invoice.
    """
    rows: list[ReconRow] = []
    lo, hi = session.clocked_in_at, session.clocked_out_at
    mine = [
        v
        for v in visits
        if (hi is None or v.arrival <= hi + TOLERANCE)
        and (v.departure is None or v.departure >= lo - TOLERANCE)
    ]
    if not mine:
        rows.append(
            ReconRow("Clock-in vs arrival", _fmt(lo), "no visit", None, "never on site")
        )
        rows.append(ReconRow("Clock-out vs departure", _fmt(hi), "no visit", None, "—"))
        rows.append(
            ReconRow(
                "Time on site vs time billed",
                duration(session.worked_s),
                "0:00:00",
                session.worked_s,
                "billed with no time on site",
            )
        )
        return rows
    first, last = mine[0], mine[-1]
    delta_in = (lo - first.arrival).total_seconds()
    earliest = first.arrival_window.earliest or first.arrival
    latest = first.arrival_window.latest or first.arrival
    flag_in = "ok"
    if lo < earliest - TOLERANCE:
        flag_in = "clocked in before arriving"
    elif lo > latest + TOLERANCE:
        flag_in = "clocked in after arriving"
    rows.append(
        ReconRow(
            "Clock-in vs arrival",
            _fmt(lo),
            f"{_fmt(first.arrival)} [{_fmt(first.arrival_window.earliest)} – "
            f"{_fmt(first.arrival_window.latest)}]",
            delta_in,
            flag_in,
        )
    )
    if hi is None or last.departure is None:
        rows.append(
            ReconRow(
                "Clock-out vs departure",
                _fmt(hi),
                _fmt(last.departure),
                None,
                "still clocked in" if hi is None else "still on site",
            )
        )
    else:
        window = last.departure_window
        d_earliest = (window.earliest if window else None) or last.departure
        d_latest = (window.latest if window else None) or last.departure
        flag_out = "ok"
        if hi > d_latest + TOLERANCE:
            flag_out = "clocked out after leaving"
        elif hi < d_earliest - TOLERANCE:
            flag_out = "clocked out before leaving"
        rows.append(
            ReconRow(
                "Clock-out vs departure",
                _fmt(hi),
                f"{_fmt(last.departure)} [{_fmt(d_earliest)} – {_fmt(d_latest)}]",
                (hi - last.departure).total_seconds(),
                flag_out,
            )
        )
    on_site = 0.0
    for v in mine:
        a = max(v.arrival, lo)
        d = v.departure if v.departure is not None else (hi or v.arrival)
        if hi is not None:
            d = min(d, hi)
        on_site += max(0.0, (d - a).total_seconds() - v.absent_s)
    billed = session.worked_s
    delta = None if billed is None else billed - on_site
    flag = "ok"
    if delta is not None and delta > TOLERANCE.total_seconds():
        flag = "billed more than on site"
    rows.append(
        ReconRow(
            "Time on site vs time billed",
            duration(billed),
            duration(on_site),
            delta,
            flag,
        )
    )
    return rows


def _edge_rows(frame: pd.DataFrame, visits: list[Visit]) -> list[dict[str, Any]]:
    """The fixes behind each edge: those inside its window widened by a margin."""
    rows: list[dict[str, Any]] = []
    edges: list[tuple[str, Visit, Any]] = []
    for n, v in enumerate(visits, start=1):
        edges.append((f"arrival {n}", v, v.arrival_window))
        if v.departure is not None and v.departure_window is not None:
            edges.append((f"departure {n}", v, v.departure_window))
    for label, v, window in edges:
        at = v.arrival if label.startswith("arrival") else v.departure
        assert at is not None
        lo = (window.earliest or at) - EDGE_MARGIN
        hi = (window.latest or at) + EDGE_MARGIN
        sel = frame[(frame["time"] >= lo) & (frame["time"] <= hi)]
        records: list[dict[Any, Any]] = sel.to_dict("records")
        for rec in records:
            t = rec["time"]
            acc = rec["accuracy"]
            rows.append(
                {
                    "edge": label,
                    "time": t.strftime("%Y-%m-%d %H:%M:%S"),
                    "lat": round(float(rec["lat"]), 6),
                    "lon": round(float(rec["lon"]), 6),
                    "accuracy_m": None if acc != acc else round(float(acc), 1),
                    "distance_m": round(float(rec["distance_m"]), 1),
                    "side": "inside" if rec["inside"] else "outside",
                    "in_window": "yes"
                    if (
                        (window.earliest is None or t >= window.earliest)
                        and (window.latest is None or t <= window.latest)
                    )
                    else "",
                }
            )
    return rows


def build_audit(
    frame: pd.DataFrame,
    fence: Geofence | None,
    device_id: str,
    start: datetime,
    end: datetime,
    session: SessionInfo | None = None,
) -> Audit:
    """Shape a technician's fixes, the site fence and the session into the audit."""
    frame = frame.sort_values("time").reset_index(drop=True)
    if fence is not None and len(frame):
        dist = fence.signed_distance_m(frame["lat"].to_numpy(), frame["lon"].to_numpy())
        frame["distance_m"] = dist
        frame["inside"] = dist <= 0
    else:
        frame["distance_m"] = np.nan
        frame["inside"] = False
    visits = derive_visits(frame, fence) if fence is not None and len(frame) else []
    audit = Audit(
        device_id=device_id,
        start=start,
        end=end,
        fixes=frame,
        trail=simplify_trail(frame),
        gaps=find_gaps(frame),
        visits=visits,
        fence=fence,
        session=session,
        digest=fixes_digest(frame),
    )
    if session is not None:
        audit.recon = reconcile(visits, session)
    audit.edge_rows = _edge_rows(frame, visits)
    return audit


def edges_for_map(visits: list[Visit]) -> list[dict[str, Any]]:
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
                    "label": f"Arrival {n}: {_fmt(v.arrival)} UTC "
                    f"[{_fmt(v.arrival_window.earliest)} – "
                    f"{_fmt(v.arrival_window.latest)}]",
                }
            )
        dep = v.departure_evidence
        if v.departure is not None and dep is not None:
            ref = dep.before or dep.after
            if ref is not None:
                w = v.departure_window
                out.append(
                    {
                        "lat": ref.lat,
                        "lon": ref.lon,
                        "colour": "#c53030",
                        "label": f"Departure {n}: {_fmt(v.departure)} UTC "
                        f"[{_fmt(w.earliest if w else None)} – "
                        f"{_fmt(w.latest if w else None)}]",
                    }
                )
    return out


def edge_windows(visits: list[Visit]) -> list[dict[str, Any]]:
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
                }
            )
    return out


def clock_for_map(session: SessionInfo | None) -> list[dict[str, Any]]:
    if session is None:
        return []
    return [
        {
            "lat": e.lat,
            "lon": e.lon,
            "at": e.at,
            "label": f"{e.kind.replace('_', ' ')} {_fmt(e.at)} UTC",
        }
        for e in session.events
        if e.lat is not None and e.lon is not None
    ]


def clock_for_timeline(session: SessionInfo | None) -> list[dict[str, Any]]:
    if session is None:
        return []
    return [{"at": e.at, "kind": e.kind} for e in session.events]
