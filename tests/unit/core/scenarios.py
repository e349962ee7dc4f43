"""Noisy phone tracks around a job site with KNOWN true arrival and departure times.

A scenario is built in two layers:

1. the *true path* — waypoints in local metres around the site, joined by straight
   moves at a given speed — from which the true crossings of the fence are computed on
   a 0.5 s grid;
2. the *phone* — fixes sampled from the true path every ``interval_s`` (with jitter),
   carrying a reported accuracy and a position error that is correlated in time
   (AR(1), 30 s time constant, as real GPS drift is), plus the nasty bits: indoor
   silences, multipath jumps that still claim 10 m, cell-tower fixes, shuffled and
   duplicated backlogs.

Everything is driven by one seeded ``numpy.random.Generator``: the same
``(name, seed, interval_s)`` always yields the same scenario.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from core.geo import project_local, unproject_local
from core.geofence import Geofence

START = pd.Timestamp("2024-03-04T07:00:00Z")
#: Time constant of the correlated GPS error, seconds (multipath/atmosphere drift).
DRIFT_TAU_S = 30.0
#: Truth grid, seconds: crossing times are exact to half of this.
TRUTH_STEP_S = 0.5
#: Accuracy (68 % radius) is 1.51 sigma of a 2-D Gaussian; per-axis sigma = acc / 1.51.
SIGMA_PER_ACC = 1.0 / 1.51


@dataclass(frozen=True)
class TrueVisit:
    """The ground truth of one visit (departure None = still on site at the end)."""

    arrival: datetime
    departure: datetime | None


@dataclass(frozen=True)
class Scenario:
    """A generated track with its truth."""

    name: str
    seed: int
    interval_s: float
    fence: Geofence
    points: pd.DataFrame
    truth: tuple[TrueVisit, ...]


@dataclass
class Phone:
    """How the phone reports: accuracies, error sources, gaps."""

    acc_outdoor_m: float = 8.0
    acc_indoor_m: float = 20.0
    multipath_rate: float = 0.0  # share of fixes replaced by a multipath jump
    cell_rate: float = 0.0  # share of fixes that are cell-tower guesses
    gaps: list[tuple[float, float]] = field(default_factory=list)  # no fix (s, s)
    unknown_accuracy_rate: float = 0.0
    silent_from: float | None = None  # no fix after this (s) ...
    tail_fixes: int = 0  # ... except the last few of the track


class Track:
    """Builder of a true path in local metres (site centre at the origin)."""

    def __init__(self, rng: np.random.Generator, x: float, y: float) -> None:
        self.rng = rng
        self.t = [0.0]
        self.x = [x]
        self.y = [y]
        self.indoor: list[tuple[float, float]] = []
        self.marks: list[tuple[float, float | None]] = []
        self._open: float | None = None

    @property
    def now(self) -> float:
        return self.t[-1]

    def go(self, x: float, y: float, speed_mps: float) -> Track:
        dist = math.hypot(x - self.x[-1], y - self.y[-1])
        self.t.append(self.now + max(dist / speed_mps, 0.1))
        self.x.append(x)
        self.y.append(y)
        return self

    def stay(self, seconds: float, wander_m: float = 0.0) -> Track:
        """Stay put (moving slowly around within ``wander_m`` of the spot)."""
        cx, cy, end = self.x[-1], self.y[-1], self.now + seconds
        while wander_m > 0 and self.now < end - 60:
            ang = self.rng.uniform(0, 2 * math.pi)
            r = wander_m * math.sqrt(self.rng.uniform())
            self.go(cx + r * math.cos(ang), cy + r * math.sin(ang), 0.8)
            self.t[-1] = min(self.t[-1] + self.rng.uniform(30, 240), end)
        self.t.append(max(end, self.now + 0.1))
        self.x.append(self.x[-1])
        self.y.append(self.y[-1])
        return self

    def indoors(self, seconds: float, wander_m: float = 5.0) -> Track:
        start = self.now
        self.stay(seconds, wander_m)
        self.indoor.append((start, self.now))
        return self

    def begin_visit(self) -> Track:
        self._open = self.now
        return self

    def end_visit(self) -> Track:
        assert self._open is not None
        self.marks.append((self._open, self.now))
        self._open = None
        return self

    def finish(self) -> None:
        if self._open is not None:
            self.marks.append((self._open, None))
            self._open = None


# ------------------------------------------------------------------ site and moves
@dataclass(frozen=True)
class Site:
    fence: Geofence
    radius_m: float  # circle radius, or a conservative inner reach for polygons
    door: tuple[float, float]  # the building entrance, inside, local metres
    approach: float  # direction (radians) the road comes from


def circle_site(rng: np.random.Generator) -> Site:
    lat0 = float(rng.uniform(35, 60))
    lon0 = float(rng.uniform(-10, 25))
    radius = float(rng.uniform(70, 150))
    ang = rng.uniform(0, 2 * math.pi)
    r = radius * rng.uniform(0.0, 0.4)
    return Site(
        Geofence.circle(lat0, lon0, radius),
        radius,
        (r * math.cos(ang), r * math.sin(ang)),
        float(rng.uniform(0, 2 * math.pi)),
    )


def polygon_site(rng: np.random.Generator) -> Site:
    """An L-shaped yard of about 160 x 120 m, rotated at random."""
    lat0 = float(rng.uniform(35, 60))
    lon0 = float(rng.uniform(-10, 25))
    xs = np.array([-80, 80, 80, 0, 0, -80, -80], dtype=float)
    ys = np.array([-60, -60, 0, 0, 60, 60, -60], dtype=float)
    rot = rng.uniform(0, 2 * math.pi)
    xr = xs * math.cos(rot) - ys * math.sin(rot)
    yr = xs * math.sin(rot) + ys * math.cos(rot)
    lat, lon = unproject_local(xr, yr, lat0, lon0)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    fence = Geofence.from_geojson({"type": "Polygon", "coordinates": [ring]})
    # the building sits in the lower arm; the fence's own origin is its bbox centre,
    # so express the door in the fence's local frame via lat/lon
    door_lat, door_lon = unproject_local(
        np.array([-40 * math.cos(rot) + 30 * math.sin(rot)]),
        np.array([-40 * math.sin(rot) - 30 * math.cos(rot)]),
        lat0,
        lon0,
    )
    dx, dy = project_local(door_lat, door_lon, fence.lat, fence.lon)
    return Site(fence, 50.0, (float(dx[0]), float(dy[0])), float(rot - math.pi / 2))


def _edge_point(site: Site, ang: float, offset_m: float) -> tuple[float, float]:
    """A point ``offset_m`` outside (negative: inside) the edge, looking from the door."""
    dx, dy = math.cos(ang), math.sin(ang)
    ox, oy = site.door
    # march outwards from the door until the signed distance reaches the offset
    lo, hi = 0.0, 5_000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lat, lon = unproject_local(
            np.array([ox + mid * dx]),
            np.array([oy + mid * dy]),
            site.fence.lat,
            site.fence.lon,
        )
        d = float(site.fence.signed_distance_m(lat, lon)[0])
        if d < offset_m:
            lo = mid
        else:
            hi = mid
    return ox + lo * dx, oy + lo * dy


def arrive(
    tr: Track, site: Site, park_offset_m: float, wait_s: float, from_far: bool = True
) -> None:
    """Drive in from the road, park ``park_offset_m`` beyond the edge, walk to the door."""
    ang = site.approach + tr.rng.uniform(-0.4, 0.4)
    px, py = _edge_point(site, ang, park_offset_m)
    if from_far:
        rx, ry = px + 1500 * math.cos(ang), py + 1500 * math.sin(ang)
        tr.go(rx, ry, 14.0)
    tr.go(px, py, tr.rng.uniform(8, 13)).stay(wait_s)
    tr.go(*site.door, tr.rng.uniform(1.1, 1.5))


def leave(tr: Track, site: Site, park_offset_m: float, wait_s: float) -> None:
    """Walk back to the vehicle, sit in it ``wait_s``, drive away."""
    ang = site.approach + tr.rng.uniform(-0.4, 0.4)
    px, py = _edge_point(site, ang, park_offset_m)
    tr.go(px, py, tr.rng.uniform(1.1, 1.5)).stay(wait_s)
    tr.go(px + 2000 * math.cos(ang), py + 2000 * math.sin(ang), tr.rng.uniform(8, 13))


def work(tr: Track, site: Site, seconds: float, indoor_share: float = 0.6) -> None:
    """Work on site: indoors near the door, with walks around the plot."""
    end = tr.now + seconds
    while tr.now < end - 1:
        left = end - tr.now
        chunk = min(left, tr.rng.uniform(300, 1200))
        if tr.rng.uniform() < indoor_share:
            tr.indoors(chunk)
        else:
            ang = tr.rng.uniform(0, 2 * math.pi)
            r = site.radius_m * tr.rng.uniform(0.1, 0.5)
            spot = (site.door[0] + r * math.cos(ang), site.door[1] + r * math.sin(ang))
            tr.go(*spot, 1.2).stay(max(chunk - 60, 1), wander_m=5)
            tr.go(*site.door, 1.2)


# ------------------------------------------------------------------ the phone
def sample(
    tr: Track, site: Site, phone: Phone, interval_s: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Sample fixes from the true path as a phone would report them."""
    t_end = tr.now
    t = np.arange(rng.uniform(0, interval_s), t_end, interval_s)
    t = t + rng.uniform(-0.1, 0.1, len(t)) * interval_s
    t = np.sort(np.round(t[(t >= 0) & (t <= t_end)], 3))
    keep = np.ones(len(t), dtype=bool)
    for a, b in phone.gaps:
        keep &= ~((t >= a) & (t < b))
    if phone.silent_from is not None:
        after = np.flatnonzero(t > phone.silent_from)
        keep[after[: max(len(after) - phone.tail_fixes, 0)]] = False
    t = t[keep]
    n = len(t)
    tx = np.interp(t, tr.t, tr.x)
    ty = np.interp(t, tr.t, tr.y)
    indoor = np.zeros(n, dtype=bool)
    for a, b in tr.indoor:
        indoor |= (t >= a) & (t <= b)
    base = np.where(indoor, phone.acc_indoor_m, phone.acc_outdoor_m)
    acc = base * rng.lognormal(0.0, 0.3, n)
    # AR(1) drift: correlated over DRIFT_TAU_S, stationary sigma from the accuracy
    rho = np.exp(-np.diff(t, prepend=t[0] - interval_s) / DRIFT_TAU_S)
    innov = rng.normal(size=(n, 2))
    ex, ey = np.empty(n), np.empty(n)
    px = py = 0.0
    for i in range(n):  # the generator may loop; the algorithm under test may not
        s = math.sqrt(1 - rho[i] ** 2)
        px = rho[i] * px + s * innov[i, 0]
        py = rho[i] * py + s * innov[i, 1]
        ex[i], ey[i] = px, py
    sig = acc * SIGMA_PER_ACC
    fx, fy = tx + ex * sig, ty + ey * sig
    # multipath: a jump of hundreds of metres that still claims ~10 m
    mp = rng.uniform(size=n) < phone.multipath_rate
    ang = rng.uniform(0, 2 * math.pi, n)
    jump = rng.uniform(150, 600, n)
    fx = np.where(mp, tx + jump * np.cos(ang), fx)
    fy = np.where(mp, ty + jump * np.sin(ang), fy)
    acc = np.where(mp, rng.uniform(5, 15, n), acc)
    # cell towers: position of a tower somewhere within the claimed 500-1500 m
    cell = (rng.uniform(size=n) < phone.cell_rate) & ~mp
    cacc = rng.uniform(500, 1500, n)
    cr = cacc * np.sqrt(rng.uniform(size=n))
    fx = np.where(cell, tx + cr * np.cos(ang), fx)
    fy = np.where(cell, ty + cr * np.sin(ang), fy)
    acc = np.where(cell, cacc, acc)
    acc = np.round(acc, 1)
    unknown = rng.uniform(size=n) < phone.unknown_accuracy_rate
    acc = np.where(unknown, np.nan, acc)
    lat, lon = unproject_local(fx, fy, site.fence.lat, site.fence.lon)
    return pd.DataFrame(
        {
            "time": START + pd.to_timedelta(np.round(t * 1000).astype(np.int64), "ms"),
            "lat": lat,
            "lon": lon,
            "accuracy": acc,
        }
    )


def truth_of(tr: Track, site: Site) -> tuple[TrueVisit, ...]:
    """True crossings: first entry and last exit inside each declared visit."""
    grid = np.arange(0.0, tr.now + TRUTH_STEP_S, TRUTH_STEP_S)
    gx, gy = np.interp(grid, tr.t, tr.x), np.interp(grid, tr.t, tr.y)
    lat, lon = unproject_local(gx, gy, site.fence.lat, site.fence.lon)
    inside = site.fence.contains(lat, lon)
    out: list[TrueVisit] = []
    for a, b in tr.marks:
        hi = tr.now if b is None else b
        sel = np.flatnonzero(inside & (grid >= a) & (grid <= hi))
        assert len(sel), "a declared visit never enters the fence"
        arr = grid[sel[0]] - TRUTH_STEP_S / 2
        dep = None if b is None else grid[sel[-1]] + TRUTH_STEP_S / 2
        out.append(
            TrueVisit(
                (START + pd.Timedelta(seconds=arr)).to_pydatetime(),
                None
                if dep is None
                else (START + pd.Timedelta(seconds=dep)).to_pydatetime(),
            )
        )
    return tuple(out)


# ------------------------------------------------------------------ the scenarios
Builder = Callable[[np.random.Generator, Site, Phone, float], Track]


def _standard_visit(
    rng: np.random.Generator, site: Site, tr: Track, minutes: tuple[float, float]
) -> None:
    tr.begin_visit()
    arrive(tr, site, rng.uniform(10, 40), rng.uniform(0, 90), from_far=False)
    work(tr, site, rng.uniform(*minutes) * 60)
    leave(tr, site, rng.uniform(10, 40), rng.uniform(0, 60))
    tr.end_visit()


def _start(rng: np.random.Generator, site: Site) -> Track:
    ang = site.approach
    tr = Track(rng, 2500 * math.cos(ang), 2500 * math.sin(ang))
    return tr.stay(rng.uniform(120, 600))


def sc_simple(rng: np.random.Generator, site: Site, phone: Phone, iv: float) -> Track:
    tr = _start(rng, site)
    _standard_visit(rng, site, tr, (30, 90))
    tr.stay(600)
    return tr


def sc_edge_drift(
    rng: np.random.Generator, site: Site, phone: Phone, iv: float
) -> Track:
    """The van is parked right on the fence line; the tech sits in it before and after."""
    phone.acc_outdoor_m = 12.0
    tr = _start(rng, site)
    tr.begin_visit()
    arrive(tr, site, rng.uniform(3, 8), rng.uniform(300, 600), from_far=False)
    work(tr, site, rng.uniform(30, 90) * 60)
    leave(tr, site, rng.uniform(3, 8), rng.uniform(300, 600))
    tr.end_visit()
    tr.stay(600)
    return tr


def sc_multipath(
    rng: np.random.Generator, site: Site, phone: Phone, iv: float
) -> Track:
    phone.multipath_rate = 0.03
    return sc_simple(rng, site, phone, iv)


def sc_indoor_gap(
    rng: np.random.Generator, site: Site, phone: Phone, iv: float
) -> Track:
    """Half an hour without a single fix in the middle of the job."""
    tr = _start(rng, site)
    tr.begin_visit()
    arrive(tr, site, rng.uniform(10, 40), rng.uniform(0, 90), from_far=False)
    work(tr, site, rng.uniform(5, 20) * 60)
    gap_start = tr.now
    tr.indoors(1800 + rng.uniform(0, 300))
    phone.gaps.append((gap_start + 30, gap_start + 1830))
    work(tr, site, rng.uniform(5, 20) * 60)
    leave(tr, site, rng.uniform(10, 40), rng.uniform(0, 60))
    tr.end_visit()
    tr.stay(600)
    return tr


def sc_van_trip(rng: np.random.Generator, site: Site, phone: Phone, iv: float) -> Track:
    """A one-to-two-minute trip to the van (parked outside) in the middle."""
    tr = _start(rng, site)
    tr.begin_visit()
    park = rng.uniform(15, 40)
    arrive(tr, site, park, rng.uniform(0, 60), from_far=False)
    work(tr, site, rng.uniform(10, 40) * 60)
    ang = site.approach + rng.uniform(-0.3, 0.3)
    tr.go(*_edge_point(site, ang, park), 1.5).stay(rng.uniform(60, 120))
    tr.go(*site.door, 1.5)
    work(tr, site, rng.uniform(10, 40) * 60)
    leave(tr, site, park, rng.uniform(0, 60))
    tr.end_visit()
    tr.stay(600)
    return tr


def sc_drive_by(rng: np.random.Generator, site: Site, phone: Phone, iv: float) -> Track:
    """Driving along a road through the site (maybe a short stop at lights): no visit."""
    ang = site.approach
    tr = Track(rng, 2000 * math.cos(ang), 2000 * math.sin(ang))
    tr.stay(rng.uniform(60, 300))
    off = site.radius_m * rng.uniform(-0.5, 0.5)
    nx, ny = -math.sin(ang), math.cos(ang)
    mid = (site.door[0] + off * nx, site.door[1] + off * ny)
    speed = rng.uniform(6, 15)
    tr.go(*mid, speed).stay(rng.uniform(0, 60))
    tr.go(mid[0] - 2000 * math.cos(ang), mid[1] - 2000 * math.sin(ang), speed)
    tr.stay(300)
    return tr


def sc_park_outside(
    rng: np.random.Generator, site: Site, phone: Phone, iv: float
) -> Track:
    """Parks well outside, sits in the van for a few minutes, then walks in."""
    tr = _start(rng, site)
    tr.begin_visit()
    arrive(tr, site, rng.uniform(40, 90), rng.uniform(60, 240), from_far=False)
    work(tr, site, rng.uniform(30, 90) * 60)
    leave(tr, site, rng.uniform(40, 90), rng.uniform(60, 240))
    tr.end_visit()
    tr.stay(600)
    return tr


def sc_two_visits(
    rng: np.random.Generator, site: Site, phone: Phone, iv: float
) -> Track:
    """Morning visit, lunch 3 km away, afternoon visit."""
    tr = _start(rng, site)
    _standard_visit(rng, site, tr, (30, 60))
    tr.stay(rng.uniform(30, 60) * 60)
    _standard_visit(rng, site, tr, (30, 60))
    tr.stay(600)
    return tr


def sc_cell_towers(
    rng: np.random.Generator, site: Site, phone: Phone, iv: float
) -> Track:
    phone.cell_rate = 0.2
    return sc_simple(rng, site, phone, iv)


def sc_polygon(rng: np.random.Generator, site: Site, phone: Phone, iv: float) -> Track:
    return sc_simple(rng, site, phone, iv)


def sc_still_on_site(
    rng: np.random.Generator, site: Site, phone: Phone, iv: float
) -> Track:
    """The data ends while the technician is still working."""
    tr = _start(rng, site)
    tr.begin_visit()
    arrive(tr, site, rng.uniform(10, 40), rng.uniform(0, 90), from_far=False)
    work(tr, site, rng.uniform(20, 60) * 60)
    return tr


def sc_drive_off_end(
    rng: np.random.Generator, site: Site, phone: Phone, iv: float
) -> Track:
    """The phone goes quiet as the technician walks out; the data ends with one or
    two fixes from the road, kilometres away (issue 15)."""
    tr = _start(rng, site)
    tr.begin_visit()
    arrive(tr, site, rng.uniform(10, 40), rng.uniform(0, 90), from_far=False)
    work(tr, site, rng.uniform(30, 90) * 60)
    phone.silent_from = tr.now
    leave(tr, site, rng.uniform(10, 40), rng.uniform(0, 60))
    tr.end_visit()
    ang = math.atan2(tr.y[-1], tr.x[-1])
    tr.go(tr.x[-1] + 1500 * math.cos(ang), tr.y[-1] + 1500 * math.sin(ang), 12.0)
    phone.tail_fixes = int(rng.integers(1, 3))
    return tr


def sc_hard_day(rng: np.random.Generator, site: Site, phone: Phone, iv: float) -> Track:
    """Everything at once: multipath, cell fixes, unknown accuracies, an indoor gap."""
    phone.multipath_rate = 0.02
    phone.cell_rate = 0.1
    phone.unknown_accuracy_rate = 0.05
    return sc_indoor_gap(rng, site, phone, iv)


@dataclass(frozen=True)
class Spec:
    build: Builder
    polygon: bool = False
    backlog: bool = False  # shuffle and duplicate like a late offline sync
    #: the data cannot place the departure within seconds (only its window): scored
    #: on its own, not in the per-interval error percentiles
    ragged_end: bool = False


SCENARIOS: dict[str, Spec] = {
    "simple": Spec(sc_simple),
    "edge_drift": Spec(sc_edge_drift),
    "multipath": Spec(sc_multipath),
    "indoor_gap": Spec(sc_indoor_gap),
    "van_trip": Spec(sc_van_trip),
    "drive_by": Spec(sc_drive_by),
    "park_outside": Spec(sc_park_outside),
    "two_visits": Spec(sc_two_visits),
    "backlog": Spec(sc_simple, backlog=True),
    "cell_towers": Spec(sc_cell_towers),
    "polygon_site": Spec(sc_polygon, polygon=True),
    "still_on_site": Spec(sc_still_on_site),
    "hard_day": Spec(sc_hard_day, backlog=True),
    "drive_off_end": Spec(sc_drive_off_end, ragged_end=True),
}

INTERVALS_S = (5.0, 60.0)


def build(name: str, seed: int, interval_s: float = 5.0) -> Scenario:
    """Generate scenario ``name`` deterministically from ``seed``."""
    spec = SCENARIOS[name]
    # one stream per (name, seed, interval): scenarios never share random numbers
    key = [seed, int(interval_s * 1000), *name.encode()]
    rng = np.random.default_rng(key)
    site = polygon_site(rng) if spec.polygon else circle_site(rng)
    phone = Phone()
    tr = spec.build(rng, site, phone, interval_s)
    tr.finish()
    points = sample(tr, site, phone, interval_s, rng)
    if spec.backlog:
        dup = points.sample(frac=0.2, random_state=int(rng.integers(1 << 31)))
        points = pd.concat([points, dup]).sample(
            frac=1.0, random_state=int(rng.integers(1 << 31))
        )
    return Scenario(name, seed, interval_s, site.fence, points, truth_of(tr, site))


def corpus(seeds: range, names: tuple[str, ...] | None = None) -> list[Scenario]:
    """Every scenario at every sampling interval for every seed."""
    return [
        build(name, seed, iv)
        for name in (names or tuple(SCENARIOS))
        for iv in INTERVALS_S
        for seed in seeds
    ]
