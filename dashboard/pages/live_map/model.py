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
from zoneinfo import ZoneInfo

from dashboard.clock import hhmm, localize_text
from dashboard.queries import (
    Discrepancy,
    JobBrief,
    JobSite,
    LivePosition,
    OpenSession,
    Technician,
)
from jobs_domain.alarms import ALARM_RAISED, SOS
from storage.alert_stream import StreamAlert, stream_key

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
    technician_id: str = ""


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
                technician_id=(tech.technician_id or "") if tech else "",
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


# ------------------------------------------------------------ job labels
def job_label(job_id: str, briefs: Mapping[str, JobBrief]) -> str:
    """A job as people name it: its number and client, never its UUID."""
    if not job_id:
        return ""
    brief = briefs.get(job_id)
    if brief is None:
        return "a job not on the map"
    return f"{brief.number} · {brief.client}" if brief.client else brief.number


def site_briefs(sites: Iterable[JobSite]) -> dict[str, JobBrief]:
    return {s.job_id: JobBrief(s.number, s.client, s.title) for s in sites}


def ago(ms: int, now_ms: int) -> str:
    """How long ago a fix was stored, as a person says it."""
    s = max(0, (now_ms - ms) // 1000)
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min ago"
    return f"{s // 86400} d ago"


# ------------------------------------------------------------ technician list
class TechRow(NamedTuple):
    """One line of the technician list beside the map (a tuple, like
    :class:`LiveTech`: 2,000 are built on every tick of the list)."""

    device_id: str
    name: str
    team: str
    state: str
    job: str  # the job they are clocked into, as people name it
    next_job: str  # their next booked job today, with its window
    last_seen: str
    battery: float | None
    lat: float
    lon: float


STATE_ORDER = {s: i for i, s in enumerate(STATES)}


def next_jobs(
    sites: Iterable[JobSite], now: datetime, zone: ZoneInfo
) -> dict[str, str]:
    """Each technician's next booked job (by technician id), with its window."""
    best: dict[str, JobSite] = {}
    for s in sites:
        if s.status not in ("scheduled", "pending") or s.scheduled_start is None:
            continue
        if s.scheduled_end is not None and s.scheduled_end < now:
            continue
        for tid in s.technician_ids:
            cur = best.get(tid)
            if cur is None or s.scheduled_start < (cur.scheduled_start or now):
                best[tid] = s
    return {
        tid: f"{s.number} at {hhmm(s.scheduled_start, zone)}" for tid, s in best.items()
    }


def tech_rows(
    techs: Iterable[LiveTech],
    sites: Sequence[JobSite],
    batteries: Mapping[str, float | None],
    now: datetime,
    zone: ZoneInfo,
    search: str = "",
) -> list[TechRow]:
    """The technician list: matching ``search`` (name, team, device, job),
    clocked-in first, then by name."""
    briefs = site_briefs(sites)
    upcoming = next_jobs(sites, now, zone)
    now_ms = int(now.timestamp() * 1000)
    needle = search.strip().lower()
    rows = []
    for t in techs:
        job = job_label(t.job, briefs)
        if needle and not any(
            needle in v.lower() for v in (t.name, t.team, t.device_id, job)
        ):
            continue
        rows.append(
            TechRow(
                t.device_id,
                t.name,
                t.team,
                t.state,
                job,
                upcoming.get(t.technician_id, ""),
                ago(t.fix_ms, now_ms),
                batteries.get(t.device_id),
                t.lat,
                t.lon,
            )
        )
    rows.sort(key=lambda r: (STATE_ORDER[r.state], r.name.lower()))
    return rows


# ------------------------------------------------------------------ alerts
@dataclass(frozen=True)
class Alert:
    """One line of the alerts panel: what happened, to which job, who, when."""

    key: str  # stable while the situation lasts: acknowledging hides this key
    kind: str  # sos | alarm | reserve | offline | discrepancy | late | another type
    severity: str  # sos | danger | warning | info
    title: str
    detail: str
    at: datetime
    device_id: str = ""
    job_id: str = ""
    session_id: str = ""


@dataclass(frozen=True)
class Names:
    """What alerts need to name things as people do (read by the callbacks)."""

    jobs: Mapping[str, JobBrief]
    users: Mapping[str, str]
    zone: ZoneInfo


def discrepancy_alert(d: Discrepancy, zone: ZoneInfo) -> Alert:
    """A warning flag of a session's newest visit record, as an alert line."""
    return Alert(
        f"discrepancy:{d.session_id}:{d.code}",
        "discrepancy",
        "warning",
        f"Clock vs arrival: {' · '.join(filter(None, (d.job_number, d.client)))} "
        f"({d.technician})",
        localize_text(d.message, zone),
        d.derived_at,
        d.device_id,
        "",
        d.session_id,
    )


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


#: The kind of an SOS alert: red, above every other alert until acknowledged.
SOS_KIND = "sos"
#: The kind of any other alarm (a fall…): next, above the reserves and the rest.
ALARM_KIND = "alarm"


def _position(a: StreamAlert) -> str:
    lat, lon, acc = (a.payload.get(k) for k in ("lat", "lon", "accuracy"))
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return "no position sent: their last fix is on the map"
    near = f" (±{acc:.0f} m)" if isinstance(acc, int | float) else ""
    return f"at {lat:.5f}, {lon:.5f}{near}"


def alarm_alert(a: StreamAlert, job: str) -> Alert:
    """A device's alarm (``alarm.raised``): who, their job (``job``, as people
    name it; "" for none) and where. An SOS is its own kind, shown first."""
    alarm = a.text("alarm")
    who = a.text("technician") or f"device {a.text('device_id')}"
    sos = alarm == SOS
    return Alert(
        stream_key(a.id),
        SOS_KIND if sos else ALARM_KIND,
        "sos" if sos else "danger",
        f"SOS: {who}" if sos else f"Alarm ({alarm}): {who}",
        f"{f'on {job}' if job else 'not clocked into a job'} · {_position(a)}",
        _utc(a.at_ms),
        a.text("device_id"),
        a.text("job_id"),
    )


def stream_alert(a: StreamAlert, names: Names) -> Alert:
    """An entry of the alerts stream (a reserve raised on a job report, a
    device's alarm)."""
    job_id = a.text("job_id")
    job = job_label(job_id, names.jobs) if job_id else ""
    number = names.jobs[job_id].number if job_id in names.jobs else job
    if a.type == ALARM_RAISED:
        return alarm_alert(a, job)
    if a.type == "reserve.raised":
        who = names.users.get(a.text("raised_by"), "a technician")
        photos = int(a.payload.get("photo_count") or 0)
        field_name = a.text("field_label") or a.text("field_key")
        family = a.text("family_name")
        where = f"{family} › {field_name}" if family else field_name
        said = f" “{a.text('comment')}”" if a.text("comment") else ""
        extra = f" · {photos} photo{'s' if photos != 1 else ''}" if photos else ""
        return Alert(
            stream_key(a.id),
            "reserve",
            "warning",
            f"Reserve on {number or 'a job'}: {where}",
            f"{job} · raised by {who}{said}{extra}",
            _utc(a.at_ms),
            "",
            job_id,
        )
    message = a.text("message") or a.text("comment")
    return Alert(
        stream_key(a.id),
        a.type,
        "info",
        a.type.replace(".", " ").replace("_", " ").capitalize(),
        " · ".join(p for p in (job, message) if p),
        _utc(a.at_ms),
        a.text("device_id"),
        job_id,
    )


def build_alerts(
    stream: Iterable[StreamAlert],
    techs: Iterable[LiveTech],
    sites: Iterable[JobSite],
    on_site_jobs: set[str],
    discrepancies: Iterable[Alert],
    now: datetime,
    names: Names,
    acknowledged: frozenset[str] = frozenset(),
) -> list[Alert]:
    """Alerts beside the map, SOS first, then the other alarms, then newest
    first, without the acknowledged ones.

    Reserves, alarms (SOS) and any other alert come from the stream;
    offline-while-clocked-in and late arrivals are computed from the live state,
    so they clear by themselves when the situation does.
    """
    sites = list(sites)
    jobs = {**site_briefs(sites), **names.jobs}
    zone = names.zone
    out = [stream_alert(a, names) for a in stream]
    for t in techs:
        if t.state == OFFLINE and t.job:
            out.append(
                Alert(
                    f"offline:{t.device_id}:{t.job}",
                    "offline",
                    "danger",
                    f"{t.name} offline while clocked in",
                    f"last fix {hhmm(_utc(t.fix_ms), zone)} · {job_label(t.job, jobs)}",
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
                    f"late:{s.job_id}:{s.scheduled_start.isoformat()}",
                    "late",
                    "warning",
                    f"Late: {s.number} · {s.client}"
                    if s.client
                    else f"Late: {s.number}",
                    f"booked {hhmm(s.scheduled_start, zone)}, nobody on site "
                    f"after {late_min} min ({s.technician or 'unassigned'})",
                    s.scheduled_start,
                    "",
                    s.job_id,
                )
            )
    out.extend(discrepancies)
    out = [a for a in out if a.key not in acknowledged]
    out.sort(key=lambda a: a.at, reverse=True)
    # stable: the newest SOS first, then the other alarms, then the rest
    out.sort(key=lambda a: (a.kind != SOS_KIND, a.kind != ALARM_KIND))
    return out
