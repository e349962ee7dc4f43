"""Pure shaping of what the queries return into what the jobs map shows.

No I/O here: the page's callbacks fetch with :mod:`dashboard.queries`, shape
with these functions and draw with its :mod:`~dashboard.pages.live_map.figures`,
so the logic is testable and the benchmark can time exactly what a map refresh
costs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from dashboard.queries import (
    Discrepancy,
    JobSite,
    LivePosition,
    OpenSession,
    StreamAlert,
    Technician,
)

#: Technician states on the live map, in legend order.
CLOCKED_IN = "clocked_in"
TRAVELLING = "travelling"
ON_HOLD = "on_hold"
OFFLINE = "offline"
STATES = (CLOCKED_IN, TRAVELLING, ON_HOLD, OFFLINE)
STATE_LABELS = {
    CLOCKED_IN: "Clocked into a job",
    TRAVELLING: "Travelling",
    ON_HOLD: "On hold",
    OFFLINE: "Offline",
}
JOB_STATUSES = ("pending", "scheduled", "in_progress", "on_hold", "completed")

#: A phone that has stored no fix for this long is shown offline even if the
#: ingest has not marked it so: five missed fixes at the slowest app setting (60 s).
STALE_AFTER_MS = 5 * 60 * 1000

#: A scheduled job with nobody on site this long after its start is late.
LATE_GRACE = timedelta(minutes=10)


class LiveTech(NamedTuple):
    """One marker of the live map (a tuple: 2,000 are built every second)."""

    device_id: str
    name: str
    team: str
    state: str
    lat: float
    lon: float
    job: str
    fix_ms: int


def classify(
    pos: LivePosition,
    session: OpenSession | None,
    job: str,
    now_ms: int,
    job_status: Mapping[str, str],
) -> str:
    """The map state of a technician from the live hash, their open session and
    the job they are clocked into (``""`` for none)."""
    if pos.status == "offline" or now_ms - pos.received_ms > STALE_AFTER_MS:
        return OFFLINE
    if not job:
        return TRAVELLING
    if (session is not None and session.state == "paused") or job_status.get(
        job
    ) == "on_hold":
        return ON_HOLD
    return CLOCKED_IN


def live_techs(
    positions: Iterable[LivePosition],
    directory: Mapping[str, Technician],
    sessions: Mapping[str, OpenSession],
    job_status: Mapping[str, str],
    now_ms: int,
) -> list[LiveTech]:
    """Join live positions with the directory and classify each technician."""
    out: list[LiveTech] = []
    for pos in positions:
        tech = directory.get(pos.device_id)
        session = sessions.get(pos.device_id)
        # the live hash names the job; the open session covers a hash without one
        job = pos.job or (session.job_id if session else "")
        out.append(
            LiveTech(
                device_id=pos.device_id,
                name=tech.name if tech else pos.device_id,
                team=tech.team if tech else "",
                state=classify(pos, session, job, now_ms, job_status),
                lat=pos.lat,
                lon=pos.lon,
                job=job,
                fix_ms=pos.fix_ms,
            )
        )
    return out


@dataclass(frozen=True)
class Filters:
    """What the dispatcher chose to see (empty = everything)."""

    states: tuple[str, ...] = STATES
    technicians: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    job_statuses: tuple[str, ...] = JOB_STATUSES

    @classmethod
    def from_inputs(
        cls,
        states: Sequence[str] | None,
        technicians: Sequence[str] | None,
        teams: Sequence[str] | None,
        job_statuses: Sequence[str] | None,
    ) -> Filters:
        return cls(
            tuple(states) if states is not None else STATES,
            tuple(technicians or ()),
            tuple(teams or ()),
            tuple(job_statuses) if job_statuses is not None else JOB_STATUSES,
        )


def apply_filters(techs: Iterable[LiveTech], f: Filters) -> list[LiveTech]:
    """Technicians that pass the state, technician and team filters."""
    states, ids, teams = set(f.states), set(f.technicians), set(f.teams)
    return [
        t
        for t in techs
        if t.state in states
        and (not ids or t.device_id in ids)
        and (not teams or t.team in teams)
    ]


def filter_sites(sites: Iterable[JobSite], f: Filters) -> list[JobSite]:
    statuses = set(f.job_statuses)
    return [s for s in sites if s.status in statuses]


# ------------------------------------------------------------------ alerts
@dataclass(frozen=True)
class Alert:
    """One line of the alerts panel."""

    kind: str  # reserve | offline | discrepancy | late | stream type
    severity: str  # warning | danger | info
    title: str
    detail: str
    at: datetime
    device_id: str = ""
    job_id: str = ""


def discrepancy_alert(d: Discrepancy) -> Alert:
    """A warning flag of a session's newest visit record, as an alert line."""
    return Alert(
        "discrepancy",
        "warning",
        f"Clock vs arrival: {d.job_number} ({d.technician})",
        d.message,
        d.derived_at,
        d.device_id,
        d.session_id,
    )


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def build_alerts(
    stream: Iterable[StreamAlert],
    techs: Iterable[LiveTech],
    sites: Iterable[JobSite],
    on_site_jobs: set[str],
    discrepancies: Iterable[Alert],
    now: datetime,
) -> list[Alert]:
    """Alerts beside the map, newest first.

    Reserves (and any other alert) come from the stream; offline-while-clocked-in
    and late arrivals are computed from the live state, so they clear by
    themselves when the situation does.
    """
    out: list[Alert] = []
    for a in stream:
        label = "Reserve raised" if a.type == "reserve" else a.type.replace("_", " ")
        out.append(
            Alert(
                a.type,
                "warning" if a.type == "reserve" else "info",
                label.capitalize(),
                a.message,
                _utc(a.at_ms),
                a.device,
                a.job,
            )
        )
    for t in techs:
        if t.state == OFFLINE and t.job:
            out.append(
                Alert(
                    "offline",
                    "danger",
                    f"{t.name} offline while clocked in",
                    f"last fix {_utc(t.fix_ms):%H:%M:%S} UTC, job {t.job}",
                    _utc(t.fix_ms),
                    t.device_id,
                    t.job,
                )
            )
    for s in sites:
        if (
            s.status == "scheduled"
            and s.scheduled_start is not None
            and now - s.scheduled_start > LATE_GRACE
            and s.job_id not in on_site_jobs
        ):
            late_min = int((now - s.scheduled_start).total_seconds() // 60)
            out.append(
                Alert(
                    "late",
                    "warning",
                    f"Late: {s.number or s.title}",
                    f"scheduled {s.scheduled_start:%H:%M} UTC, nobody on site "
                    f"after {late_min} min ({s.technician or 'unassigned'})",
                    s.scheduled_start,
                    "",
                    s.job_id,
                )
            )
    out.extend(discrepancies)
    out.sort(key=lambda a: a.at, reverse=True)
    return out
