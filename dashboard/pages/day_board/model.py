"""Pure shaping of the day board: rows of bars per technician, the tray, flags.

No I/O and no Dash: the callbacks read with :mod:`dashboard.queries`, shape
here and draw with :mod:`~dashboard.pages.day_board.figures`. Times stay aware
(UTC) here; the figure shows them in the company's zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dashboard.queries import BoardJob, BoardTechnician, BoardVisit

#: Arriving this long after the booked start is late; leaving this long before
#: the booked end of a job is early (the same grace as the jobs map's alert).
LATE_GRACE = timedelta(minutes=10)
EARLY_GRACE = timedelta(minutes=10)
#: A gap between two visits longer than this is not travel (a break, the night).
MAX_TRAVEL = timedelta(hours=2)
#: Where a booked window sits on its row: category position + (from, to).
BOOKED_BAND = (-0.42, 0.02)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The company's local day as an aware [start, end) range."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


@dataclass(frozen=True)
class Segment:
    """One bar on a technician's row."""

    kind: str  # booked | on_site | travel
    start: datetime
    end: datetime
    label: str
    ref: str  # job id (booked), session id (on site), "" (travel)
    status: str = ""


@dataclass(frozen=True)
class Flag:
    """A late arrival or an early departure, drawn at the moment it happened."""

    kind: str  # late | early
    at: datetime
    text: str
    job_id: str


@dataclass(frozen=True)
class Row:
    technician: BoardTechnician
    segments: tuple[Segment, ...]
    flags: tuple[Flag, ...]


@dataclass(frozen=True)
class Board:
    rows: tuple[Row, ...]
    tray: tuple[BoardJob, ...]  # not scheduled, nobody assigned, or on hold
    start: datetime
    end: datetime


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def build_board(
    technicians: Sequence[BoardTechnician],
    jobs: Iterable[BoardJob],
    visits: Iterable[BoardVisit],
    start: datetime,
    end: datetime,
    now: datetime,
    team: str = "",
) -> Board:
    """Every technician's booked windows, time on site (derived visits), travel
    between sites and late/early flags in [start, end); the tray of open jobs."""
    jobs = list(jobs)
    by_id = {j.job_id: j for j in jobs}
    tray = tuple(
        j
        for j in jobs
        if j.status in ("pending", "on_hold", "scheduled")
        and (j.start is None or not j.crew_ids or j.status == "on_hold")
    )
    visits_by_tech: dict[str, list[BoardVisit]] = {}
    for v in visits:
        visits_by_tech.setdefault(v.technician_id, []).append(v)
    rows = []
    for tech in technicians:
        if team and tech.team != team:
            continue
        segments: list[Segment] = []
        flags: list[Flag] = []
        for j in jobs:
            if tech.technician_id not in j.crew_ids or j.start is None or j.end is None:
                continue
            if j.end <= start or j.start >= end:
                continue
            segments.append(
                Segment("booked", j.start, j.end, j.number, j.job_id, j.status)
            )
        mine = sorted(
            visits_by_tech.get(tech.technician_id, []), key=lambda v: v.arrival
        )
        for i, v in enumerate(mine):
            left = v.departure or min(now, end)
            job = by_id.get(v.job_id)
            label = job.number if job else "a job"
            segments.append(Segment("on_site", v.arrival, left, label, v.session_id))
            if job is not None and job.start is not None:
                if v.arrival - job.start > LATE_GRACE and (
                    i == 0 or mine[i - 1].job_id != v.job_id
                ):
                    flags.append(
                        Flag(
                            "late",
                            v.arrival,
                            f"{label}: arrived {_minutes(v.arrival - job.start)} min "
                            "after the booked start",
                            job.job_id,
                        )
                    )
                last_here = i == len(mine) - 1 or mine[i + 1].job_id != v.job_id
                if (
                    v.departure is not None
                    and job.end is not None
                    and job.end - v.departure > EARLY_GRACE
                    and last_here
                    and job.status in ("completed", "in_progress", "on_hold")
                ):
                    flags.append(
                        Flag(
                            "early",
                            v.departure,
                            f"{label}: left {_minutes(job.end - v.departure)} min "
                            "before the booked end",
                            job.job_id,
                        )
                    )
            if i + 1 < len(mine) and v.departure is not None:
                gap = mine[i + 1].arrival - v.departure
                if timedelta(0) < gap <= MAX_TRAVEL and mine[i + 1].job_id != v.job_id:
                    segments.append(
                        Segment(
                            "travel",
                            v.departure,
                            mine[i + 1].arrival,
                            f"travel {_minutes(gap)} min",
                            "",
                        )
                    )
        rows.append(Row(tech, tuple(segments), tuple(flags)))
    return Board(tuple(rows), tray, start, end)


def window_from_form(
    day: date, start_hhmm: str, end_hhmm: str, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    """A booked window typed on the board (local HH:MM on the board's day)."""
    try:
        s = time.fromisoformat(start_hhmm)
        e = time.fromisoformat(end_hhmm)
    except ValueError as exc:
        raise ValueError("times are HH:MM, e.g. 09:30") from exc
    start = datetime.combine(day, s, tzinfo=zone)
    end = datetime.combine(day, e, tzinfo=zone)
    if end <= start:
        raise ValueError("the window must end after it starts")
    return start, end


#: A dragged window snaps to this grid (local time).
DROP_SNAP = timedelta(minutes=5)


@dataclass(frozen=True)
class Drop:
    """Where a dragged booked window was let go: its job, new row, new window."""

    job_id: str
    technician_id: str | None
    start: datetime
    end: datetime


def _snap(t: datetime) -> datetime:
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = round((t - midnight) / DROP_SNAP)
    return midnight + steps * DROP_SNAP


def drop_from_board(
    raw: dict[str, object], row_technicians: Sequence[str], zone: ZoneInfo
) -> Drop:
    """The change a drag on the board asks for.

    ``raw`` is what ``assets/board-drag.js`` sends: the shape's job id, its new
    ``x0``/``x1`` (local wall times, as the figure draws them) and the middle of
    its new vertical extent (category position). The row under that middle is the
    new technician; the times snap to :data:`DROP_SNAP`."""
    try:
        job_id = str(raw["job_id"])
        start = datetime.fromisoformat(str(raw["x0"])).replace(tzinfo=zone)
        end = datetime.fromisoformat(str(raw["x1"])).replace(tzinfo=zone)
        middle = float(str(raw["y"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("the board sent a drop it cannot read") from exc
    if not row_technicians:
        raise ValueError("the board has no rows")
    start, end = sorted((_snap(start), _snap(end)))
    if end <= start:
        raise ValueError("the window must end after it starts")
    row = round(middle - sum(BOOKED_BAND) / 2)
    row = min(max(row, 0), len(row_technicians) - 1)
    return Drop(job_id, row_technicians[row], start, end)
