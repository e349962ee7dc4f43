"""The living day: the demo company's phones live its schedule.

Each technician's phone (a :class:`crewtrack.simulator.SimDevice` on the
simulator's :class:`~crewtrack.simulator.FleetLoop`) works through the
technician's jobs of the day in window order, through the real interfaces:

- over MQTT with its own broker credentials: fixes on ``crewtrack/v1/<device>/fix``
  and clock events on ``…/event`` naming the real job id (the ingest applies
  them: clock-in puts the job In Progress);
- over the HTTP API with the technician's own token: report values (some with a
  reserve), a part from the van, hold, complete.

On start every phone first syncs the trail of the day so far (one batch of
fixes around each session the seed clocked), so the derive worker has visits to
derive at once. Then: drivers drive at town speed from a point on the way to
their next site, arrive, clock in, work, report, add a part, clock out and
complete; those already on site finish. Scripted variety: a technician arrives
after the window (the seed left that job late), one phone is offline for a
while and syncs its backlog (fixes batch, then the queued clock events), one
technician leaves the site before clocking out, one job goes On Hold.

Every message goes through :func:`publish`: into the phone's
:class:`~crewtrack.outbox.Outbox`, kept until the ingest's end-to-end ack
(resent after a reconnect or when an ack is overdue), as the app does.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crewtrack.demo import company as co
from crewtrack.demo.seed import fleet_path
from crewtrack.runner import read_metrics
from crewtrack.settings import Settings
from crewtrack.simulator import M_PER_DEG, FleetLoop, SimDevice, drain
from ingest.metrics import sample

log = logging.getLogger("crewtrack.demo")

ARRIVED_M = 12.0  # this close to the site's centre the van is parked
TRAIL_EVERY_S = 15.0  # spacing of the synced trail of the day so far
TRAIL_BEFORE_S = 240.0  # on site this long before the seed's clock-in
TRAIL_AFTER_S = 120.0  # … and after its clock-out
TRAIL_DRIVE_S = 600.0  # each half of the drive between two sites
TRAIL_HOME_M = (1500.0, 4000.0)  # where the first drive of the day starts
REFRESH_IDLE_S = 60.0  # an idle technician asks for new jobs this often
STACK_READY_TIMEOUT_S = 90.0  # `up` starts the API and the ingest alongside us


@dataclass(frozen=True)
class DayParams:
    """How fast the day goes. The defaults are the demo's: things happen within
    two minutes of start; tests compress further."""

    rate_hz: float = 1.0  # fixes per second per phone
    speed_mps: float = 11.0  # ~40 km/h in town
    dwell_s: tuple[float, float] = (200.0, 320.0)  # > 180 s: a derivable visit
    finish_s: tuple[float, float] = (45.0, 110.0)  # left for those already on site
    start_gap_m: tuple[float, float] = (500.0, 1400.0)  # drive left at start
    offline_after_s: float = 10.0
    offline_s: float = 90.0
    hold_after_s: float = 30.0
    api_timeout_s: float = 10.0
    seed: int = 7


class ApiError(RuntimeError):
    """The API refused or could not be reached."""


class Api:
    """The HTTP API as one technician's app sees it (their bearer token)."""

    def __init__(self, base: str, token: str, timeout_s: float) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, body: Any = None, *, key: str = "") -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if key:
            headers["Idempotency-Key"] = key
        req = urllib.request.Request(  # noqa: S310 (our own API's URL)
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 (our API)
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise ApiError(f"{method} {path}: {exc.code} {detail}") from exc
        except OSError as exc:
            raise ApiError(f"{method} {path}: {exc}") from exc
        return json.loads(raw) if raw else None


@dataclass
class Tech:
    """One technician's phone and where they are in their day."""

    index: int
    name: str
    technician_id: str
    dev: SimDevice
    api: Api
    jobs: list[dict[str, Any]] = field(default_factory=list)
    job: dict[str, Any] | None = None
    phase: str = "idle"  # driving | working | leaving | idle
    phase_at: float = 0.0  # when the phase started (monotonic-free: wall time)
    dwell: float = 0.0
    done_steps: set[str] = field(default_factory=set)
    leaving_job: dict[str, Any] | None = None
    refresh_at: float = 0.0
    parked: tuple[float, float] | None = None  # where the synced trail ended
    script: str = ""  # late | offline | leaves_early | hold | reserve | ""


@dataclass
class DayStats:
    """What the day did (tests and the log read it)."""

    clock_events: int = 0
    fixes: int = 0
    trail_fixes: int = 0
    reports: int = 0
    reserves: int = 0
    parts: int = 0
    completed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    offline: dict[str, tuple[float, float]] = field(default_factory=dict)
    synced_backlogs: int = 0
    unacked: int = 0  # fixes and events no ingest acked by the end
    api_errors: int = 0


def _event_id(job_id: str, tech_id: str, kind: str) -> str:
    return str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"crewtrack-demo-day:{job_id}:{tech_id}:{kind}")
    )


def publish(tech: Tech, channel: str, payload: dict[str, Any], now: float) -> None:
    """Into the phone's outbox, kept until the end-to-end ack (docs/protocol.md);
    sent at once unless the phone is offline (then it waits there: its backlog)."""
    dev = tech.dev
    if channel == "fix":
        for fix in payload.get("fixes", [payload]):
            dev.outbox.add_fix(fix)
    else:
        dev.outbox.add_event(payload)
    if not dev.offline(now):
        dev.flush(now)


def sync_backlog(tech: Tech, stats: DayStats, now: float) -> None:
    """Back online: what the outbox kept goes out (fixes as batches, then events)."""
    dev = tech.dev
    held = dev.outbox.unacked()
    dev.flush(now)
    if held.total:
        stats.synced_backlogs += 1
        log.info(
            "phone back online: synced its backlog",
            extra={
                "device_id": dev.device_id,
                "fixes": held.fixes,
                "events": held.events,
            },
        )


# -- geometry -------------------------------------------------------------------------------


def site_of(job: dict[str, Any]) -> tuple[float, float]:
    loc = (job.get("property") or {}).get("location") or {}
    return float(loc["lat"]), float(loc["lon"])


def _offset(
    lat: float, lon: float, bearing: float, metres: float
) -> tuple[float, float]:
    return (
        lat + metres * math.cos(bearing) / M_PER_DEG,
        lon + metres * math.sin(bearing) / (M_PER_DEG * math.cos(math.radians(lat))),
    )


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (b[0] - a[0]) * M_PER_DEG
    dx = (b[1] - a[1]) * M_PER_DEG * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def drive(dev: SimDevice, target: tuple[float, float], dt: float, speed: float) -> bool:
    """Move towards ``target`` (speed varying like traffic); whether arrived."""
    dist = _distance_m((dev.lat, dev.lon), target)
    step = speed * dt * dev.rng.uniform(0.6, 1.3)
    if dist <= max(step, ARRIVED_M):
        dev.lat, dev.lon = target
        dev.speed = 0.0
        return True
    dy = (target[0] - dev.lat) * M_PER_DEG
    dx = (target[1] - dev.lon) * M_PER_DEG * math.cos(math.radians(dev.lat))
    dev.lat += dy / dist * step / M_PER_DEG
    dev.lon += dx / dist * step / (M_PER_DEG * math.cos(math.radians(dev.lat)))
    dev.heading = math.degrees(math.atan2(dx, dy)) % 360
    dev.speed = step / dt
    return False


# -- the day of one technician --------------------------------------------------------------


def _parse(ts: str | None) -> datetime | None:
    return None if ts is None else datetime.fromisoformat(ts)


def todays_jobs(tech: Tech, now: datetime) -> list[dict[str, Any]]:
    """The technician's jobs with a window within half a day of now, in window order."""
    since = (now - timedelta(hours=14)).isoformat()
    until = (now + timedelta(hours=14)).isoformat()
    q = urllib.parse.urlencode(
        {"technician_id": tech.technician_id, "from": since, "to": until, "limit": 200}
    )
    items = tech.api.call("GET", f"/jobs?{q}")["items"]
    return sorted(items, key=lambda j: j["scheduled_start"] or "")


@dataclass(frozen=True)
class Stint:
    """One of the seed's sessions as the trail lives it: where, and the clock times."""

    site: tuple[float, float]
    clocked_in: datetime
    clocked_out: datetime | None  # when the last clocked interval ended; None: running


def trail_so_far(
    tech: Tech, jobs: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Fixes of the day so far around each of the seed's sessions (deterministic)."""
    stints: list[Stint] = []
    for job in jobs:
        if job["status"] not in ("completed", "in_progress", "on_hold"):
            continue
        sessions = tech.api.call("GET", f"/jobs/{job['id']}/sessions")["items"]
        for s in sessions:
            if s.get("device_id") != tech.dev.device_id:
                continue
            start = _parse(s["clocked_in_at"])
            assert start is not None
            intervals = s.get("intervals") or [[None, s["clocked_out_at"]]]
            stints.append(Stint(site_of(job), start, _parse(intervals[-1][1])))
    stints.sort(key=lambda st: st.clocked_in)
    rng = random.Random(f"trail:{tech.dev.device_id}")  # noqa: S311 - a simulation
    return trail_of(stints, now, rng)


def trail_of(
    stints: list[Stint], now: datetime, rng: random.Random
) -> list[dict[str, Any]]:
    """The phone's fixes for a day of ``stints``, up to ``now``.

    The van comes from home to the first site, stays from a few minutes before
    the clock-in to a little after the clock-out, then drives off at once, towards
    the next site: half the way, a stop somewhere off any site (the phone still, no
    fixes), the other half just before the next arrival. So the trail has an outside fix soon after each real
    departure: what a phone on a van sends, and what the derivation needs to close
    a visit where it really ended. A paused session (a job put on hold) is left
    when it paused.
    """
    fixes: list[dict[str, Any]] = []
    bearing = rng.random() * 2 * math.pi
    first = stints[0].site if stints else (0.0, 0.0)
    at: tuple[float, float] = _offset(*first, bearing, rng.uniform(*TRAIL_HOME_M))
    free_from: datetime | None = None  # when the van may leave where it is
    for index, stint in enumerate(stints):
        arrive = stint.clocked_in - timedelta(seconds=TRAIL_BEFORE_S)
        leg_from = arrive - timedelta(seconds=TRAIL_DRIVE_S)
        if free_from is not None:
            leg_from = max(leg_from, free_from)
        _leg(fixes, rng, at, stint.site, leg_from, arrive, now)
        end = stint.clocked_out
        leave = now if end is None else end + timedelta(seconds=TRAIL_AFTER_S)
        t = arrive
        while t <= min(leave, now):
            fixes.append(_trail_fix(rng, stint.site, t, 0.0))
            t += timedelta(seconds=TRAIL_EVERY_S)
        if leave >= now:
            return fixes
        drive = timedelta(seconds=TRAIL_DRIVE_S)
        if index + 1 < len(stints):
            towards = stints[index + 1].site
            next_arrive = stints[index + 1].clocked_in - timedelta(
                seconds=TRAIL_BEFORE_S
            )
        else:  # the last stint so far: off towards somewhere else
            towards = _offset(*stint.site, rng.random() * 2 * math.pi, 3000.0)
            next_arrive = leave + 4 * drive
        if next_arrive - leave <= 2 * drive:  # straight on to the next site
            halfway, leg_end = towards, next_arrive
        else:
            halfway = (
                (stint.site[0] + towards[0]) / 2,
                (stint.site[1] + towards[1]) / 2,
            )
            leg_end = leave + drive
        _leg(fixes, rng, stint.site, halfway, leave, leg_end, now)
        at, free_from = halfway, leg_end
    return fixes


def _leg(
    fixes: list[dict[str, Any]],
    rng: random.Random,
    origin: tuple[float, float],
    target: tuple[float, float],
    start: datetime,
    end: datetime,
    now: datetime,
) -> None:
    """Driving fixes from ``origin`` towards ``target`` over ``(start, end)``."""
    span = (end - start).total_seconds()
    if span <= 0:
        return
    metres_per_s = _distance_m(origin, target) / span
    t = start + timedelta(seconds=TRAIL_EVERY_S)
    while t < end and t <= now:
        share = (t - start).total_seconds() / span
        pos = (
            origin[0] + (target[0] - origin[0]) * share,
            origin[1] + (target[1] - origin[1]) * share,
        )
        fixes.append(_trail_fix(rng, pos, t, round(metres_per_s, 1)))
        t += timedelta(seconds=TRAIL_EVERY_S)


def _trail_fix(
    rng: random.Random, pos: tuple[float, float], at: datetime, speed: float
) -> dict[str, Any]:
    acc = rng.uniform(4.0, 12.0)
    lat, lon = _offset(
        pos[0], pos[1], rng.random() * 2 * math.pi, rng.gauss(0, acc / 1.5)
    )
    return {
        "t": int(at.timestamp() * 1000),
        "lat": round(lat, 7),
        "lon": round(lon, 7),
        "acc": round(acc, 1),
        "spd": speed,
        "bat": 80.0,
        "src": "fused",
    }


class Day:
    """Every technician's day, ticked on one thread with the phones' connections."""

    def __init__(self, settings: Settings, api_url: str, params: DayParams) -> None:
        self.settings = settings
        self.params = params
        self.stats = DayStats()
        self.net = FleetLoop(settings)
        self.rng = random.Random(params.seed)  # noqa: S311 - a simulation
        fleet = json.loads(fleet_path(settings).read_text())
        self.techs: list[Tech] = []
        scripts = {2: "late", 3: "offline", 5: "hold", 6: "leaves_early", 1: "reserve"}
        for index, person in enumerate(co.TECHNICIANS):
            entry = fleet.get(person.device_id)
            if entry is None:
                continue
            dev = SimDevice(
                person.device_id,
                entry["mqtt_password"],
                random.Random(self.rng.random()),  # noqa: S311
            )
            self.techs.append(
                Tech(
                    index,
                    person.name,
                    entry["technician_id"],
                    dev,
                    Api(api_url, entry["api_token"], params.api_timeout_s),
                    script=scripts.get(index, ""),
                )
            )

    # -- start ---------------------------------------------------------------------------

    def start(self) -> None:
        now = time.time()
        wall = datetime.fromtimestamp(now, UTC)
        for tech in self.techs:
            tech.dev.client = self.net.add(tech.dev)
            try:
                jobs = todays_jobs(tech, wall)
                trail = trail_so_far(tech, jobs, wall)
            except ApiError as exc:
                log.warning("%s: no jobs (%s)", tech.name, exc)
                self.stats.api_errors += 1
                jobs, trail = [], []
            publish(tech, "fix", {"fixes": trail}, now)  # the outbox batches it
            if trail:
                tech.parked = (trail[-1]["lat"], trail[-1]["lon"])
            self.stats.trail_fixes += len(trail)
            tech.jobs = jobs
            self._place(tech, jobs, now)
            if tech.script == "offline":
                tech.dev.offline_from = now + self.params.offline_after_s
                tech.dev.offline_until = tech.dev.offline_from + self.params.offline_s
                self.stats.offline[tech.dev.device_id] = (
                    tech.dev.offline_from,
                    tech.dev.offline_until,
                )
        self.net.run_for(0.2)

    def _place(self, tech: Tech, jobs: list[dict[str, Any]], now: float) -> None:
        """Where the technician is when the day starts, and what they do first."""
        last: tuple[float, float] | None = None
        for job in jobs:
            if job["status"] in ("completed", "on_hold"):
                last = site_of(job)
        current = next((j for j in jobs if j["status"] == "in_progress"), None)
        if current is not None:
            tech.dev.lat, tech.dev.lon = site_of(current)
            self._begin_work(tech, current, now, self.params.finish_s, clocked=True)
            return
        upcoming = self._next_job(tech)
        if upcoming is None:
            if tech.parked is not None:  # where the trail left the van
                tech.dev.lat, tech.dev.lon = tech.parked
            tech.phase, tech.refresh_at = "idle", now + REFRESH_IDLE_S
            return
        target = site_of(upcoming)
        gap = self.rng.uniform(*self.params.start_gap_m)
        if tech.script == "offline":  # arrives while offline: the clock-in waits
            gap = self.params.speed_mps * (
                self.params.offline_after_s + self.params.offline_s / 2
            )
        bearing = (
            math.atan2(last[1] - target[1], last[0] - target[0])
            if last is not None
            else self.rng.random() * 2 * math.pi
        )
        tech.dev.lat, tech.dev.lon = _offset(target[0], target[1], bearing, gap)
        tech.job, tech.phase, tech.phase_at = upcoming, "driving", now

    def _next_job(self, tech: Tech) -> dict[str, Any] | None:
        for job in tech.jobs:
            if job["status"] == "scheduled":
                return job
        return None

    # -- the tick --------------------------------------------------------------------------

    def tick(self, tech: Tech, now: float, dt: float) -> None:
        try:
            self._advance(tech, now, dt)
        except ApiError as exc:
            self.stats.api_errors += 1
            log.warning("%s: %s", tech.name, exc)
        dev = tech.dev
        dev.battery = max(5.0, dev.battery - dt * 0.0005)
        if dev.offline(now - dt) and not dev.offline(now):
            sync_backlog(tech, self.stats, now)
        elif dev.outbox.due_for_resend(now) and not dev.offline(now):
            dev.flush(now, resend=True)  # an ack is overdue: resend what is unacked
        publish(tech, "fix", dev.fix(now), now)
        self.stats.fixes += 1

    def _advance(self, tech: Tech, now: float, dt: float) -> None:
        p = self.params
        if tech.phase == "driving" and tech.job is not None:
            if drive(tech.dev, site_of(tech.job), dt, p.speed_mps):
                self._clock(tech, tech.job, "clock_in", now)
                self._begin_work(tech, tech.job, now, p.dwell_s, clocked=False)
        elif tech.phase == "working" and tech.job is not None:
            if not tech.dev.offline_from <= now < tech.dev.offline_until:
                self._work(tech, tech.job, now)  # offline, the app's writes wait
        elif tech.phase == "leaving" and tech.job is not None:
            done = tech.leaving_job
            if drive(tech.dev, site_of(tech.job), dt, p.speed_mps):
                self._clock(tech, tech.job, "clock_in", now)
                self._begin_work(tech, tech.job, now, p.dwell_s, clocked=False)
            elif done is not None and now - tech.phase_at > p.hold_after_s:
                self._finish(tech, done, now)
                tech.leaving_job = None
        elif tech.phase == "idle" and now >= tech.refresh_at:
            tech.refresh_at = now + REFRESH_IDLE_S
            tech.jobs = todays_jobs(tech, datetime.fromtimestamp(now, UTC))
            upcoming = self._next_job(tech)
            if upcoming is not None:
                tech.job, tech.phase, tech.phase_at = upcoming, "driving", now

    def _begin_work(
        self,
        tech: Tech,
        job: dict[str, Any],
        now: float,
        dwell: tuple[float, float],
        *,
        clocked: bool,
    ) -> None:
        tech.job, tech.phase, tech.phase_at = job, "working", now
        tech.dwell = tech.dev.rng.uniform(*dwell)
        tech.done_steps = set()
        tech.dev.speed = 0.0
        log.info("%s on site: %s", tech.name, job["number"])

    def _work(self, tech: Tech, job: dict[str, Any], now: float) -> None:
        share = (now - tech.phase_at) / tech.dwell
        steps = tech.done_steps
        if tech.script == "hold" and now - tech.phase_at >= self.params.hold_after_s:
            tech.script = ""
            self._call(
                tech,
                "POST",
                f"/jobs/{job['id']}/hold",
                {"reason": "Boiler room locked: caretaker on holiday until Thursday"},
            )
            self.stats.held.append(job["number"])
            job["status"] = "on_hold"
            self._next(tech, now)
            return
        if share >= 0.3 and "report" not in steps:
            steps.add("report")
            self._fill_report(tech, job)
        if share >= 0.5 and "part" not in steps:
            steps.add("part")
            self._add_part(tech, job)
        if tech.script == "leaves_early" and share >= 0.6:
            tech.script = ""  # drives off still clocked in; clocks out on the way
            job["status"] = "completed"
            tech.leaving_job = job
            following = self._next_job(tech)
            if following is None:
                self._finish(tech, job, now)
                tech.leaving_job = None
                tech.phase = "idle"
                return
            tech.job, tech.phase, tech.phase_at = following, "leaving", now
            log.info("%s left %s early, still clocked in", tech.name, job["number"])
            return
        if share >= 1.0:
            self._finish(tech, job, now)
            self._next(tech, now)

    def _next(self, tech: Tech, now: float) -> None:
        following = self._next_job(tech)
        if following is None:
            tech.phase, tech.job, tech.refresh_at = "idle", None, now + REFRESH_IDLE_S
        else:
            tech.job, tech.phase, tech.phase_at = following, "driving", now

    def _finish(self, tech: Tech, job: dict[str, Any], now: float) -> None:
        """Clock out over MQTT, then complete through the API."""
        self._clock(tech, job, "clock_out", now)
        job["status"] = "completed"
        self.net.run_for(0.2)
        for _ in range(10):  # the clock-in may still be on its way through the ingest
            try:
                self._call(tech, "POST", f"/jobs/{job['id']}/complete", raise_=True)
                self.stats.completed.append(job["number"])
                log.info("%s completed %s", tech.name, job["number"])
                return
            except ApiError as exc:
                if " 409 " not in str(exc):
                    self.stats.api_errors += 1
                    log.warning("%s: %s", tech.name, exc)
                    return
                self.net.run_for(0.3)

    def _clock(self, tech: Tech, job: dict[str, Any], kind: str, now: float) -> None:
        event = {
            "id": _event_id(job["id"], tech.technician_id, kind),
            "type": kind,
            "t": int(now * 1000),
            "job": job["id"],
            "lat": tech.dev.lat,
            "lon": tech.dev.lon,
            "acc": 8.0,
        }
        publish(tech, "event", event, now)
        self.stats.clock_events += 1

    def _fill_report(self, tech: Tech, job: dict[str, Any]) -> None:
        template = next(
            (
                name
                for name in co.TEMPLATE_NAMES
                if co.WORK[name][0] == job["description"]
            ),
            None,
        )
        if template is None:
            return
        fields = {k: {"value": v} for k, v in co.ANSWERS[template].items()}
        if self._call(
            tech, "PATCH", f"/jobs/{job['id']}/report/fields", {"fields": fields}
        ):
            self.stats.reports += 1
        if tech.script == "reserve":
            tech.script = ""
            key, comment = co.RESERVE
            body = {"field_key": key, "comment": comment, "photos": []}
            rid = _event_id(job["id"], tech.technician_id, "reserve")
            if self._call(
                tech,
                "POST",
                f"/jobs/{job['id']}/report/reserves",
                {**body, "id": rid},
                key=rid,
            ):
                self.stats.reserves += 1

    def _add_part(self, tech: Tech, job: dict[str, Any]) -> None:
        code = co.PLAIN_PARTS[tech.dev.rng.randrange(len(co.PLAIN_PARTS))]
        found = self._call(tech, "GET", f"/parts/catalog?q={code}")
        items = [i for i in (found or {}).get("items", []) if i.get("sku") == code]
        if not items:
            return
        key = _event_id(job["id"], tech.technician_id, "part")
        if self._call(
            tech,
            "POST",
            f"/jobs/{job['id']}/parts",
            {"item_id": items[0]["id"], "quantity": 1},
            key=key,
        ):
            self.stats.parts += 1

    def _call(
        self,
        tech: Tech,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str = "",
        raise_: bool = False,
    ) -> Any:
        try:
            return tech.api.call(method, path, body, key=key) or True
        except ApiError as exc:
            if raise_:
                raise
            self.stats.api_errors += 1
            log.warning("%s: %s", tech.name, exc)
            return None

    # -- run ---------------------------------------------------------------------------------

    def run(self, duration_s: float, stop: Any = None) -> DayStats:
        interval = 1.0 / self.params.rate_hz
        self.start()
        begin = time.time()
        next_at = begin
        try:
            while not duration_s or time.time() - begin < duration_s:
                if stop is not None and stop.is_set():
                    break
                now = time.time()
                if now < next_at:
                    self.net.run_for(min(next_at - now, 0.05))
                    continue
                next_at += interval
                for tech in self.techs:
                    self.tick(tech, now, interval)
                self.net.run_for(0)
        finally:
            left = drain([t.dev for t in self.techs], self.net, timeout_s=10)
            self.stats.unacked = left
            if left:
                log.warning("%d fixes and events never acked", left)
            self.net.close(timeout_s=10)
        return self.stats


def api_base(settings: Settings) -> str:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "") else settings.api_host  # noqa: S104
    return f"http://{host}:{settings.api_port}/api/v1"


def wait_for_stack(settings: Settings, api_url: str, timeout_s: float) -> bool:
    """Wait until the API answers and the first ingest replica is subscribed:
    a phone's first messages must not reach a broker nobody reads yet."""
    metrics = f"http://127.0.0.1:{settings.ingest_metrics_port}/metrics"
    deadline = time.monotonic() + timeout_s
    api_ok = ingest_ok = False
    while time.monotonic() < deadline:
        api_ok = api_ok or _answers(api_url + "/health")
        text = read_metrics(metrics) if not ingest_ok else None
        ingest_ok = ingest_ok or (
            text is not None and sample(text, "crewtrack_ingest_connected") == 1
        )
        if api_ok and ingest_ok:
            return True
        time.sleep(0.5)
    log.warning(
        "starting the demo day before the stack is ready (api %s, ingest %s)",
        api_ok,
        ingest_ok,
    )
    return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (our API)
            return bool(resp.status == 200)
    except OSError:
        return False


def run_day(
    settings: Settings,
    *,
    duration_s: float = 0,
    params: DayParams | None = None,
    api_url: str | None = None,
    stop: Any = None,
) -> int:
    """Live the demo day (until ``duration_s`` is over, ``stop`` is set or Ctrl-C)."""
    if not fleet_path(settings).exists():
        log.error("no demo fleet in %s: run `crewtrack seed-demo` first", settings.home)
        return 1
    url = api_url or api_base(settings)
    wait_for_stack(settings, url, STACK_READY_TIMEOUT_S)
    day = Day(settings, url, params or DayParams())
    try:
        stats = day.run(duration_s, stop)
    except KeyboardInterrupt:
        return 0
    log.info("demo day over", extra={"stats": vars(stats)})
    return 0
