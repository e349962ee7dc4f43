"""Every read the dashboard makes: Redis live state and SQL over PostgreSQL.

The dashboard only reads. Live positions come from the ingest's Redis contract
(hash ``crewtrack:live:<device_id>``, GEO set ``crewtrack:geo``) and the alerts
stream the API writes (``Settings.alerts_stream``); directory data (technicians, teams, job sites, sessions,
visits) from the database, whose tables all exist through the migrations.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import pandas as pd
import psycopg
import redis
from psycopg_pool import ConnectionPool

from core.geofence import Geofence
from crewtrack.settings import Settings
from jobs_domain.alarms import ALARM_RAISED
from jobs_domain.job import format_job_number
from storage.alert_stream import (
    ACK_KEEP_S,
    STREAM_KEY_PREFIX,
    StreamAlert,
    decode_entry,
    entry_order,
    stream_key,
)
from storage.clients import ADDRESS_LINES
from storage.live import key as live_key
from storage.live import live_position_sync, live_rows_sync
from storage.visits import fence_of

T = TypeVar("T")


class TtlCache:
    """Per-app cache of slow-changing directory reads (technicians, job sites).

    Owned by one app instance (each worker process builds its own), never a
    module global. A dispatcher's map polls every second; the directory changes
    a few times a day, so re-reading it every ``ttl_s`` is plenty.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            value: T = hit[1]
            return value
        value = load()
        with self._lock:
            self._values[key] = (now, value)
        return value


@dataclass
class Sources:
    """The connections one dashboard app reads from (built by ``create_app``)."""

    pool: ConnectionPool
    redis: redis.Redis
    #: The stream of back-office alerts (``CREWTRACK_ALERTS_STREAM``).
    alerts_stream: str = Settings.alerts_stream
    cache: TtlCache = field(default_factory=lambda: TtlCache(10.0))

    @contextmanager
    def conn(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            yield conn

    def close(self) -> None:
        self.pool.close()
        self.redis.close()


# --------------------------------------------------------------------- live
class LivePosition(NamedTuple):
    """A technician's latest stored fix (from Redis): what the map needs of it.

    A tuple, not a frozen dataclass: 2,000 are built every second.
    """

    device_id: str
    lat: float
    lon: float
    fix_ms: int
    job: str
    received_ms: int
    status: str


def _num(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        return None


#: The live-hash fields the map reads (of the ingest's FIELDS), in this order.
MAP_FIELDS = ("lat", "lon", "t", "job", "received_at", "status")


def live_positions(r: redis.Redis) -> list[LivePosition]:
    """Every device's latest position, by device id (one server-side read).

    Only the fields the map shows are read; devices without a position are
    left out, as in the ingest's own reader.
    """
    out: list[LivePosition] = []
    for dev, lat, lon, t, job, received, status in live_rows_sync(r, MAP_FIELDS):
        if not lat or not lon:
            continue
        out.append(
            LivePosition(
                dev,
                float(lat),
                float(lon),
                int(float(t)) if t else 0,
                job,
                int(float(received)) if received else 0,
                status or "online",
            )
        )
    out.sort(key=lambda p: p.device_id)
    return out


def live_detail(r: redis.Redis, device_id: str) -> dict[str, Any] | None:
    """Every field of one device's live state (the details panel), or None."""
    return live_position_sync(r, device_id)


def batteries(r: redis.Redis, device_ids: list[str]) -> dict[str, float | None]:
    """The last battery level of each device (the technician list's rows)."""
    pipe = r.pipeline(transaction=False)
    for d in device_ids:
        pipe.hget(live_key(d), "bat")
    return {d: _num(_text(v)) for d, v in zip(device_ids, pipe.execute(), strict=True)}


def _text(v: Any) -> str | None:
    return v.decode() if isinstance(v, bytes) else v


#: The newest entries of the alerts stream the panel shows (older alarms not
#: acknowledged yet are shown too, :func:`recent_alerts`).
RECENT_ALERTS = 30


@dataclass(frozen=True)
class RecentAlerts:
    """What the alerts panel shows of the stream, and how much it leaves out."""

    #: the newest entries, then every open alarm older than them; newest first
    alerts: list[StreamAlert]
    #: older entries the stream holds that are neither shown nor acknowledged
    older: int


def _entry_id(alert_key: str) -> str | None:
    """The stream entry id an alert key names (None: not a stream entry's key)."""
    if not alert_key.startswith(STREAM_KEY_PREFIX):
        return None
    entry_id = alert_key.removeprefix(STREAM_KEY_PREFIX)
    try:
        entry_order(entry_id)
    except ValueError:  # a key the browser made up
        return None
    return entry_id


def recent_alerts(
    sources: Sources,
    acknowledged: frozenset[str] = frozenset(),
    count: int = RECENT_ALERTS,
) -> RecentAlerts:
    """The newest ``count`` alerts of the configured stream and, older than
    them, every alarm (an SOS…) not acknowledged yet: an open alarm stays on
    the panel however many alerts came after it.

    The stream is read newest first and cannot be searched by type, so the
    alarms come from the alerts outbox (PostgreSQL, ``report_alerts``: the
    stream id the relay gave each one); the stream itself is then asked for
    those entries (one it has trimmed, or another stream's, is not shown).
    """
    r = sources.redis
    stream = sources.alerts_stream
    pipe = r.pipeline(transaction=False)
    pipe.xrevrange(stream, count=count)
    pipe.xlen(stream)
    entries, length = pipe.execute()
    newest = [decode_entry(entry_id, fields) for entry_id, fields in entries]
    if len(newest) >= length:
        return RecentAlerts(newest, 0)
    edge = entry_order(newest[-1].id)
    open_older = [
        i
        for i in open_alarm_ids(sources)
        if entry_order(i) < edge and stream_key(i) not in acknowledged
    ]
    acked_older = [
        i
        for i in map(_entry_id, acknowledged)
        if i is not None and entry_order(i) < edge
    ]
    pipe = r.pipeline(transaction=False)
    for entry_id in open_older + acked_older:
        pipe.xrange(stream, entry_id, entry_id, count=1)
    held = pipe.execute()
    pinned = [decode_entry(*hit[0]) for hit in held[: len(open_older)] if hit]
    pinned.sort(key=lambda a: entry_order(a.id), reverse=True)
    acked_held = sum(1 for hit in held[len(open_older) :] if hit)
    older = length - len(newest) - len(pinned) - acked_held
    return RecentAlerts(newest + pinned, max(older, 0))


def open_alarm_ids(sources: Sources) -> list[str]:
    """Stream ids of the alarms delivered in the last week (an acknowledgement
    is kept that long: an older alarm is not on the panel anyway)."""
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT stream_id FROM report_alerts
                WHERE event_key IS NOT NULL AND stream_id IS NOT NULL
                  AND payload->>'type' = %s
                  AND created_at > now() - make_interval(secs => %s)""",
            (ALARM_RAISED, ACK_KEEP_S),
        ).fetchall()
    return [str(row[0]) for row in rows]


@dataclass(frozen=True)
class JobBrief:
    """What a person needs to recognise a job: its number, client and title."""

    number: str
    client: str
    title: str


def job_briefs(sources: Sources, job_ids: set[str]) -> dict[str, JobBrief]:
    """Number, client and title of each job id (unknown ids are left out)."""
    if not job_ids:
        return {}
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT j.id::text, j.number, coalesce(c.name, ''),
                      coalesce(j.doc->>'description', '')
                 FROM jobs j LEFT JOIN clients c ON c.id = j.client_id
                WHERE j.id::text = ANY (%s)""",
            (sorted(job_ids),),
        ).fetchall()
    return {r[0]: JobBrief(format_job_number(r[1]), r[2], r[3]) for r in rows}


def user_names(sources: Sources, user_ids: set[str]) -> dict[str, str]:
    """Display names of users (a technician's own name when they are one)."""
    if not user_ids:
        return {}
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT u.id::text, coalesce(nullif(t.name, ''), u.name)
                 FROM users u LEFT JOIN technicians t ON t.user_id = u.id
                WHERE u.id::text = ANY (%s)""",
            (sorted(user_ids),),
        ).fetchall()
    return {r[0]: r[1] for r in rows}


# --------------------------------------------------------------- directory
@dataclass(frozen=True)
class Technician:
    """A device and the person carrying it."""

    device_id: str
    name: str
    team: str
    user_id: str | None
    technician_id: str | None = None


def technicians(sources: Sources) -> dict[str, Technician]:
    """Every active device with its technician's name and team (cached)."""
    return sources.cache.get("technicians", lambda: _load_technicians(sources))


def _load_technicians(sources: Sources) -> dict[str, Technician]:
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT d.id,
                      coalesce(nullif(t.name, ''), nullif(u.name, ''),
                               nullif(d.label, ''), d.id),
                      coalesce(t.team, ''), d.user_id::text, t.id::text
                 FROM devices d
                 LEFT JOIN users u ON u.id = d.user_id
                 LEFT JOIN technicians t ON t.user_id = d.user_id
                WHERE d.revoked_at IS NULL"""
        ).fetchall()
    return {row[0]: Technician(*row) for row in rows}


@dataclass(frozen=True)
class JobSite:
    """A job with its property's location and geofence."""

    job_id: str
    number: str
    title: str
    status: str
    lat: float
    lon: float
    fence: dict[str, Any] | None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    address: str
    client: str
    technician: str
    technician_ids: tuple[str, ...] = ()


def site_geofence(site: JobSite) -> Geofence | None:
    """The core geofence of a job site, built as the derive worker builds it."""
    return fence_of(site.lat, site.lon, site.fence)


def job_sites(sources: Sources) -> list[JobSite]:
    """Open and today's jobs with their sites and fences (cached)."""
    return sources.cache.get("job_sites", lambda: _load_job_sites(sources))


def _address(raw: Any) -> str:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return str(raw)
    if isinstance(raw, list):
        return ", ".join(str(p) for p in raw if p)
    if isinstance(raw, dict):
        return ", ".join(str(v) for v in raw.values() if v)
    return ""


_JOB_SITES_SQL = """
    SELECT j.id::text, j.number, coalesce(j.doc->>'description', ''), j.status,
           p.lat, p.lon, p.geofence, j.scheduled_start, j.scheduled_end,
           p.address, c.name,
           coalesce((SELECT string_agg(t.name, ', ' ORDER BY t.name)
                       FROM technicians t WHERE t.id = ANY (j.technician_ids)), ''),
           coalesce(j.technician_ids::text[], '{}')
      FROM jobs j
      JOIN properties p ON p.id = j.property_id
      JOIN clients c ON c.id = j.client_id
     WHERE p.lat IS NOT NULL AND p.lon IS NOT NULL
"""
_OPEN_OR_RECENT = """
       AND (j.status NOT IN ('completed', 'cancelled')
            OR j.updated_at > now() - interval '1 day')
"""


def _load_job_sites(sources: Sources) -> list[JobSite]:
    with sources.conn() as conn:
        rows = conn.execute(_JOB_SITES_SQL + _OPEN_OR_RECENT).fetchall()
    return [_job_site(row) for row in rows]


def _job_site(row: tuple[Any, ...]) -> JobSite:
    fence = row[6]
    if isinstance(fence, str):
        fence = json.loads(fence)
    return JobSite(
        job_id=row[0],
        number=format_job_number(row[1]),
        title=row[2],
        status=row[3],
        lat=float(row[4]),
        lon=float(row[5]),
        fence=fence,
        scheduled_start=row[7],
        scheduled_end=row[8],
        address=_address(row[9]),
        client=row[10] or "",
        technician=row[11],
        technician_ids=tuple(row[12]),
    )


def _address_in_order(raw: Any) -> str:
    """A property's address in reading order (as the jobs pages print it)."""
    if isinstance(raw, dict):
        return ", ".join(str(raw[k]) for k in ADDRESS_LINES if raw.get(k))
    return _address(raw)


def fenced_properties(sources: Sources) -> list[tuple[str, str]]:
    """Every active property with a fence the derive can use: (id, "client · address")
    (cached: the audit's picker searches them as the dispatcher types)."""
    return sources.cache.get("fenced_properties", lambda: _fenced_properties(sources))


def _fenced_properties(sources: Sources) -> list[tuple[str, str]]:
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT p.id::text, c.name, p.address, p.lat, p.lon, p.geofence
                 FROM properties p JOIN clients c ON c.id = p.client_id
                WHERE p.archived_at IS NULL AND p.geofence IS NOT NULL
                ORDER BY c.name, p.created_at"""
        ).fetchall()
    return [
        (r[0], f"{r[1]} · {_address_in_order(r[2])}")
        for r in rows
        if fence_of(r[3], r[4], r[5]) is not None
    ]


def job_site(sources: Sources, job_id: str) -> JobSite | None:
    """One job's site, whatever its status (the audit and the details panel)."""
    with sources.conn() as conn:
        row = conn.execute(
            _JOB_SITES_SQL + " AND j.id::text = %s", (job_id,)
        ).fetchone()
    return None if row is None else _job_site(row)


@dataclass(frozen=True)
class OpenSession:
    """A technician's open job session (clocked in, maybe paused)."""

    session_id: str
    job_id: str
    device_id: str
    state: str
    clocked_in_at: datetime


def open_sessions(sources: Sources) -> dict[str, OpenSession]:
    """Open sessions by device id: who is clocked in, and who is paused."""
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT id::text, job_id::text, device_id, state, clocked_in_at
                 FROM job_sessions
                WHERE clocked_out_at IS NULL AND device_id IS NOT NULL"""
        ).fetchall()
    return {row[2]: OpenSession(*row) for row in rows}


# --------------------------------------------------------------- history
def fixes(
    sources: Sources, device_id: str, start: datetime, end: datetime
) -> pd.DataFrame:
    """Every stored fix of a device in [start, end], oldest first."""
    with sources.conn() as conn:
        cur = conn.execute(
            """SELECT time, lat, lon, accuracy, speed, heading, battery, received_at,
                      fix_flags
                 FROM fixes
                WHERE device_id = %s AND time >= %s AND time <= %s
                ORDER BY time""",
            (device_id, start, end),
        )
        rows = cur.fetchall()
    cols = [
        "time",
        "lat",
        "lon",
        "accuracy",
        "speed",
        "heading",
        "battery",
        "received_at",
        "fix_flags",  # e.g. "receive_time": the device sent no time (issue 18)
    ]
    frame = pd.DataFrame(rows, columns=cols)
    if frame.empty:
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
    for col in ("lat", "lon", "accuracy", "speed", "heading", "battery"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


# ---------------------------------------------------------------- sessions
@dataclass(frozen=True)
class SessionRow:
    """A job session as stored (evidence and intervals still raw JSON)."""

    session_id: str
    job_id: str
    job_number: str
    device_id: str
    technician: str
    state: str
    clocked_in_at: datetime
    clocked_out_at: datetime | None
    intervals: Any
    evidence: Any


_SESSIONS_SQL = """
    SELECT s.id::text, s.job_id::text, j.number, coalesce(s.device_id, ''),
           t.name, s.state, s.clocked_in_at, s.clocked_out_at, s.intervals,
           s.evidence
      FROM job_sessions s
      JOIN jobs j ON j.id = s.job_id
      JOIN technicians t ON t.id = s.technician_id
"""


def _session_row(row: tuple[Any, ...]) -> SessionRow:
    return SessionRow(
        row[0], row[1], format_job_number(row[2]), row[3], row[4], row[5], *row[6:]
    )


@dataclass(frozen=True)
class SessionChoice:
    """What the audit's session picker names a session by."""

    session_id: str
    job_number: str
    technician: str
    clocked_in_at: datetime


#: Sessions the audit's picker searches among (newest first; one linked from
#: elsewhere is offered too): a few days of a 2,000-technician fleet.
SESSION_CHOICES = 10_000

_SESSION_CHOICES_SQL = """
    SELECT s.id::text, j.number, t.name, s.clocked_in_at
      FROM job_sessions s
      JOIN jobs j ON j.id = s.job_id
      JOIN technicians t ON t.id = s.technician_id
"""


def _session_choice(row: tuple[Any, ...]) -> SessionChoice:
    return SessionChoice(row[0], format_job_number(row[1]), row[2], row[3])


def session_choices(
    sources: Sources, linked: Sequence[str] = (), limit: int = SESSION_CHOICES
) -> list[SessionChoice]:
    """The newest sessions (cached), and the ``linked`` ones not among them."""
    newest: list[SessionChoice] = sources.cache.get(
        "session_choices",
        lambda: _read_session_choices(sources, limit),
    )
    known = {c.session_id for c in newest}
    missing = [s for s in linked if s not in known]
    if not missing:
        return newest
    with sources.conn() as conn:
        rows = conn.execute(
            _SESSION_CHOICES_SQL + " WHERE s.id::text = ANY (%s)", (missing,)
        ).fetchall()
    return [_session_choice(r) for r in rows] + newest


def _read_session_choices(sources: Sources, limit: int) -> list[SessionChoice]:
    with sources.conn() as conn:
        rows = conn.execute(
            _SESSION_CHOICES_SQL + " ORDER BY s.clocked_in_at DESC LIMIT %s", (limit,)
        ).fetchall()
    return [_session_choice(r) for r in rows]


def session(sources: Sources, session_id: str) -> SessionRow | None:
    with sources.conn() as conn:
        row = conn.execute(
            _SESSIONS_SQL + " WHERE s.id::text = %s", (session_id,)
        ).fetchone()
    return None if row is None else _session_row(row)


def device_events(
    sources: Sources, device_id: str, start: datetime, end: datetime
) -> list[tuple[str, datetime, float | None, float | None]]:
    """Clock events a device reported in [start, end] (type, time, lat, lon)."""
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT type, time, lat, lon FROM device_events
                WHERE device_id = %s AND time BETWEEN %s AND %s ORDER BY time""",
            (device_id, start, end),
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


@dataclass(frozen=True)
class VersionRow:
    """One stored version of a session's visits (for the version picker)."""

    version: int
    derived_at: datetime
    input_digest: str
    fix_count: int
    session_state: str


def derivation_versions(sources: Sources, session_id: str) -> list[VersionRow]:
    """Every stored version of a session's visits, oldest first."""
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT version, derived_at, input_digest, fix_count, session_state
                 FROM visit_derivations WHERE session_id::text = %s
                ORDER BY version""",
            (session_id,),
        ).fetchall()
    return [VersionRow(*r) for r in rows]


@dataclass(frozen=True)
class DerivationRow:
    """One visit record exactly as the derive worker stored it (JSON still raw)."""

    version: int
    derived_at: datetime
    input_digest: str
    params_digest: str
    fence_digest: str
    fence: dict[str, Any]
    fix_count: int
    window_start: datetime
    window_end: datetime
    session_state: str
    visits: list[dict[str, Any]]
    reconciliation: dict[str, Any]


_DERIVATION_SQL = """
    SELECT version, derived_at, input_digest, params_digest, fence_digest, fence,
           fix_count, window_start, window_end, session_state, visits, reconciliation
      FROM visit_derivations
     WHERE session_id::text = %s AND (%s::int IS NULL OR version = %s::int)
     ORDER BY version DESC LIMIT 1
"""


def derivation(
    sources: Sources, session_id: str, version: int | None = None
) -> DerivationRow | None:
    """One stored version of a session's visits: the newest when ``version`` is None."""
    with sources.conn() as conn:
        row = conn.execute(_DERIVATION_SQL, (session_id, version, version)).fetchone()
    return None if row is None else DerivationRow(*row)


def device_choices(sources: Sources) -> list[tuple[str, str]]:
    """(device id, "name (device)") for the technician picker."""
    techs = technicians(sources)
    return sorted(
        ((d, f"{t.name} ({d})" if t.name != d else d) for d, t in techs.items()),
        key=lambda p: p[1].lower(),
    )


@dataclass(frozen=True)
class Discrepancy:
    """A warning flag of a session's newest derivation (clock vs arrival)."""

    session_id: str
    job_number: str
    technician: str
    device_id: str
    code: str
    message: str
    derived_at: datetime
    client: str = ""


#: An open session's flags wait this long: its first fixes on site are still
#: arriving, and "never seen on site" a minute after clocking in is noise.
OPEN_SESSION_GRACE_MIN = 10


def recent_discrepancies(sources: Sources, hours: int = 24) -> list[Discrepancy]:
    """Warning flags of the newest derivation of sessions derived in the last
    hours: closed sessions, and open ones clocked in for a while."""
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT DISTINCT ON (d.session_id)
                      d.session_id::text, j.number, t.name, coalesce(s.device_id, ''),
                      d.reconciliation, d.derived_at, coalesce(c.name, '')
                 FROM visit_derivations d
                 JOIN job_sessions s ON s.id = d.session_id
                 JOIN jobs j ON j.id = s.job_id
                 JOIN technicians t ON t.id = s.technician_id
                 LEFT JOIN clients c ON c.id = j.client_id
                WHERE d.derived_at > now() - make_interval(hours => %s)
                  AND (s.clocked_out_at IS NOT NULL
                       OR s.clocked_in_at < now() - make_interval(mins => %s))
                ORDER BY d.session_id, d.version DESC""",
            (hours, OPEN_SESSION_GRACE_MIN),
        ).fetchall()
    out: list[Discrepancy] = []
    for sid, number, tech, device, recon, at, client in rows:
        for flag in (recon or {}).get("flags", []):
            if flag.get("severity") == "warning":
                out.append(
                    Discrepancy(
                        sid,
                        format_job_number(number),
                        tech,
                        device,
                        str(flag.get("code", "")),
                        str(flag.get("message", "")),
                        at,
                        client,
                    )
                )
    return out


# --------------------------------------------------------------- day board
@dataclass(frozen=True)
class BoardTechnician:
    technician_id: str
    name: str
    team: str


@dataclass(frozen=True)
class BoardJob:
    """A job the day board shows: on a technician's row, or in the tray."""

    job_id: str
    number: str
    status: str
    client: str
    address: str
    title: str
    start: datetime | None
    end: datetime | None
    version: int
    manager_id: str | None  # the Job Manager's technician id
    crew_ids: tuple[str, ...]


@dataclass(frozen=True)
class BoardVisit:
    """A derived visit of a technician at a job (newest visit record version)."""

    session_id: str
    job_id: str
    technician_id: str
    arrival: datetime
    departure: datetime | None


def board_technicians(sources: Sources) -> list[BoardTechnician]:
    """Every technician not archived, by name."""
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT id::text, name, coalesce(team, '') FROM technicians
                WHERE archived_at IS NULL ORDER BY lower(name), id"""
        ).fetchall()
    return [BoardTechnician(*r) for r in rows]


def board_jobs(sources: Sources, start: datetime, end: datetime) -> list[BoardJob]:
    """Live jobs booked in [start, end), and the open jobs the tray holds: not
    scheduled yet, nobody assigned, or on hold."""
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT j.id::text, j.number, j.status, coalesce(c.name, ''),
                      p.address, coalesce(j.doc->>'description', ''),
                      j.scheduled_start, j.scheduled_end, j.version,
                      (SELECT m->>'technician_id' FROM jsonb_array_elements(
                              coalesce(j.doc->'crew', '[]')) m
                        WHERE m->>'role' = 'job_manager' LIMIT 1),
                      coalesce(j.technician_ids::text[], '{}')
                 FROM jobs j
                 LEFT JOIN clients c ON c.id = j.client_id
                 LEFT JOIN properties p ON p.id = j.property_id
                WHERE j.status <> 'cancelled'
                  AND ((j.scheduled_start < %(end)s AND j.scheduled_end > %(start)s)
                       OR (j.status IN ('pending', 'on_hold', 'scheduled')
                           AND (j.scheduled_start IS NULL
                                OR cardinality(j.technician_ids) = 0
                                OR j.status = 'on_hold')))
                ORDER BY j.scheduled_start NULLS LAST, j.number""",
            {"start": start, "end": end},
        ).fetchall()
    return [
        BoardJob(
            r[0],
            format_job_number(r[1]),
            r[2],
            r[3],
            _address(r[4]),
            r[5],
            r[6],
            r[7],
            int(r[8]),
            r[9],
            tuple(r[10]),
        )
        for r in rows
    ]


def board_visits(sources: Sources, start: datetime, end: datetime) -> list[BoardVisit]:
    """The visits of the newest visit record of every session in [start, end)."""
    with sources.conn() as conn:
        rows = conn.execute(
            """SELECT DISTINCT ON (d.session_id)
                      d.session_id::text, s.job_id::text, s.technician_id::text,
                      d.visits
                 FROM visit_derivations d
                 JOIN job_sessions s ON s.id = d.session_id
                WHERE s.clocked_in_at < %(end)s
                  AND coalesce(s.clocked_out_at, now()) > %(start)s
                ORDER BY d.session_id, d.version DESC""",
            {"start": start, "end": end},
        ).fetchall()
    out: list[BoardVisit] = []
    for sid, job_id, tech_id, visits in rows:
        for v in visits or []:
            arrival = v.get("arrival")
            if not arrival:
                continue
            departure = v.get("departure")
            out.append(
                BoardVisit(
                    sid,
                    job_id,
                    tech_id,
                    datetime.fromisoformat(arrival),
                    datetime.fromisoformat(departure) if departure else None,
                )
            )
    return out
