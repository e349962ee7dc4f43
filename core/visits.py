"""Derive site visits (arrival, departure, their uncertainty and evidence) from fixes.

The algorithm in one paragraph (docs/visits.md has the long form): every fix casts a
vote "inside" or "outside" weighted by how far it lies from the fence edge *in units of
its own accuracy*; votes are capped so no single fix — however confident it claims to
be — can decide anything, poor fixes (cell towers) have no vote, and fixes a few seconds
apart share one vote because their errors are correlated.  The most likely in/out
sequence under those votes and a fixed price per change of state is computed exactly
(a two-state Viterbi, which reduces to a clamped running sum).  Each change of state is
then back-dated to the moment the technician crossed the edge, bracketed by the last
clear fix on one side and the first on the other.  Short absences are bridged, short
stays dropped.

Everything is a pure function of the set of fixes: the input is canonicalised first
(:mod:`core.fixes`), so order and duplicates cannot change the result.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.fixes import FixArrays, fix_arrays
from core.geo import FloatArray, project_local
from core.geofence import Geofence

#: A reported horizontal accuracy is a 68 % radius (Android, OwnTracks, Traccar); for
#: a 2-D Gaussian that radius is 1.51 sigma, so sigma along the fence normal is
#: accuracy / 1.51.
SIGMA_PER_ACCURACY_M = 1.0 / 1.51

#: Logistic approximation of the normal CDF, Phi(x) ~ 1 / (1 + exp(-1.702 x)); its
#: error (< 0.01) is far below the modelling error of GPS noise, and it avoids scipy.
_LOGISTIC_K = 1.702

#: Gaps between consecutive fixes longer than this are listed as gaps in the evidence
#: (a minute without a fix is already unusual for a moving phone).
EVIDENCE_GAP_S = 60.0

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class VisitParams:
    """Tunables of :func:`derive_visits`; the defaults suit a technician on foot at a
    house- to yard-sized site with a phone reporting every 1–60 s.

    Parameters
    ----------
    min_dwell_s : float
        Seconds. A stay shorter than this (a drive past, a stop at the lights) is not a
        visit. Default 180.
    max_absence_s : float
        Seconds. Leaving and coming back within this (a trip to the van) does not end
        the visit; a longer absence (lunch elsewhere) does. Default 300.
    max_blind_gap_s : float
        Seconds. Losing signal inside and reappearing inside keeps the visit going —
        unless the silence is longer than this (phone off overnight). Default 10 800.
    max_accuracy_m : float
        Metres. Fixes reporting a worse accuracy (cell-tower and Wi-Fi guesses) have no
        say on arrival or departure. Default 200.
    min_accuracy_m : float
        Metres. Reported accuracies are raised to at least this (phones claim 3 m;
        the fence itself is not drawn that precisely). Default 5.
    unknown_accuracy_m : float
        Metres assumed when a fix carries no accuracy. Default 30.
    outlier_probability : float
        Share of fixes assumed to be wrong whatever accuracy they claim (multipath).
        Caps the weight of any one fix. Default 0.02.
    confirm_fixes : float
        How many clear, independent fixes it takes to change state.  With the
        default 3, one or two outliers in a row can never start or end a visit.
    independence_s : float
        Seconds. Fixes closer together than this share their vote (GPS errors are
        correlated over seconds, so ten fixes in ten seconds are not ten witnesses).
        Default 10.
    clear_sigma : float
        A fix is *clear* evidence of a side when the fence edge lies at least this many
        standard deviations away; clear fixes bound the reported windows. Default 2.
    walking_speed_mps, driving_speed_mps : float
        Metres per second. Travel-time prior for the stretch between the nearest
        outside fix and the edge: the last ``walk_distance_m`` on foot (default
        1.4 m/s), the rest by vehicle (default 8 m/s, town traffic). The crossing is
        never placed later (arrival) or earlier (departure) than that, so a long
        silence next to a crossing is spent indoors, not on the doorstep.
    walk_distance_m : float
        Metres walked between vehicle and site. Default 100.
    spike_speed_mps : float
        Metres per second. A fix reached from its predecessor and left to its
        successor faster than this (beyond both accuracies) is a spike — multipath or
        garbage — and is ignored. Default 50 (180 km/h).
    drive_off_m : float
        Metres beyond the edge. When the data ends with fewer clear outside fixes than
        it takes to change state, the visit still closes if those fixes were reached
        from the last position on site at a speed a vehicle can drive and agree with
        travel away from it, and one of them lies this far out (two or more agreeing
        fixes: half of it). Clear outside fixes that do not meet this bar close the
        visit *provisionally*. Default 1000.
    """

    min_dwell_s: float = 180.0
    max_absence_s: float = 300.0
    max_blind_gap_s: float = 10_800.0
    max_accuracy_m: float = 200.0
    min_accuracy_m: float = 5.0
    unknown_accuracy_m: float = 30.0
    outlier_probability: float = 0.02
    confirm_fixes: float = 3.0
    independence_s: float = 10.0
    clear_sigma: float = 2.0
    walking_speed_mps: float = 1.4
    driving_speed_mps: float = 8.0
    walk_distance_m: float = 100.0
    spike_speed_mps: float = 50.0
    drive_off_m: float = 1000.0

    def __post_init__(self) -> None:
        if not 0.0 < self.outlier_probability < 0.5:
            raise ValueError("outlier_probability must be in (0, 0.5)")
        if self.confirm_fixes < 1.0:
            raise ValueError("confirm_fixes must be at least 1")
        for name in (
            "min_accuracy_m",
            "unknown_accuracy_m",
            "max_accuracy_m",
            "independence_s",
            "walking_speed_mps",
            "spike_speed_mps",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in (
            "min_dwell_s",
            "max_absence_s",
            "max_blind_gap_s",
            "clear_sigma",
            "walk_distance_m",
            "drive_off_m",
        ):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must not be negative")

    def digest(self) -> str:
        """Stable version string of these parameters (``vp1-`` + 16 hex digits)."""
        blob = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return "vp1-" + hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def vote_cap(self) -> float:
        """Largest vote (log-odds) one fully independent fix can cast."""
        eps = self.outlier_probability
        return math.log((1.0 - eps) / eps)

    @property
    def switch_cost(self) -> float:
        """Half the accumulated log-odds needed to change state (Viterbi lambda)."""
        return (self.confirm_fixes - 0.5) * self.vote_cap / 2.0


DEFAULT_PARAMS = VisitParams()


class Window(NamedTuple):
    """The interval the evidence brackets; ``None`` = unbounded (data starts inside)."""

    earliest: datetime | None
    latest: datetime | None


@dataclass(frozen=True)
class FixRef:
    """One fix cited as evidence.

    Attributes
    ----------
    time : datetime
        UTC.
    lat, lon : float
        Degrees.
    accuracy_m : float or None
        Reported accuracy in metres; None when unknown.
    distance_m : float
        Signed distance to the fence edge in metres (negative inside).
    """

    time: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    distance_m: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "time": _iso(self.time),
            "lat": self.lat,
            "lon": self.lon,
            "accuracy_m": self.accuracy_m,
            "distance_m": round(self.distance_m, 2),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FixRef:
        """Read back :meth:`to_dict` output (a stored record)."""
        acc = raw.get("accuracy_m")
        return cls(
            time=_required_time(raw.get("time")),
            lat=float(raw["lat"]),
            lon=float(raw["lon"]),
            accuracy_m=None if acc is None else float(acc),
            distance_m=float(raw["distance_m"]),
        )


@dataclass(frozen=True)
class EdgeEvidence:
    """Why an edge (arrival or departure) is where it is.

    Attributes
    ----------
    before, after : FixRef or None
        The two consecutive usable fixes the crossing was placed between (``before`` is
        None when the data starts on site).
    clear_before, clear_after : FixRef or None
        The clear fixes bounding the window (None when there was none).
    confirmed_at : datetime or None
        When the accumulated evidence first made the algorithm sure of the new state.
    """

    before: FixRef | None
    after: FixRef | None
    clear_before: FixRef | None
    clear_after: FixRef | None
    confirmed_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "before": None if self.before is None else self.before.to_dict(),
            "after": None if self.after is None else self.after.to_dict(),
            "clear_before": (
                None if self.clear_before is None else self.clear_before.to_dict()
            ),
            "clear_after": (
                None if self.clear_after is None else self.clear_after.to_dict()
            ),
            "confirmed_at": _iso(self.confirmed_at),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EdgeEvidence:
        """Read back :meth:`to_dict` output (a stored record)."""
        return cls(
            before=_ref_or_none(raw.get("before")),
            after=_ref_or_none(raw.get("after")),
            clear_before=_ref_or_none(raw.get("clear_before")),
            clear_after=_ref_or_none(raw.get("clear_after")),
            confirmed_at=_parse_time(raw.get("confirmed_at")),
        )


@dataclass(frozen=True)
class Visit:
    """One stay at the site.

    Attributes
    ----------
    arrival : datetime
        Best estimate (UTC) of the moment the technician crossed into the site.
    departure : datetime or None
        Best estimate of the moment they crossed out; None while the data ends on site.
    arrival_window, departure_window : Window
        (earliest, latest) the evidence brackets; ``departure_window`` is None while
        the visit is open.
    arrival_evidence, departure_evidence : EdgeEvidence
        The fixes behind each edge (``departure_evidence`` None while open).
    fix_count : int
        All fixes between arrival and departure (or the last fix), including ignored.
    usable_fix_count : int
        Those with an accuracy good enough to vote.
    ignored_fix_count : int
        Those too inaccurate to vote, or discarded as multipath spikes.
    gap_s : float
        Seconds inside the visit not covered by fixes at least every
        ``EVIDENCE_GAP_S`` (sum of the longer gaps).
    longest_gap_s : float
        The longest time between consecutive fixes within the visit, seconds.
    absences : tuple of Window
        Short absences (shorter than ``max_absence_s``) that were bridged.
    fence_digest, params_digest : str
        Versions of the fence geometry and parameters it was derived with.
    departure_provisional : bool
        True when the departure rests on the last fixes of the data, which show the
        technician outside but cannot settle it (too few, too close, or not agreeing
        with travel away): the departure lies in ``departure_window``, and more data
        may move or remove it.
    """

    arrival: datetime
    departure: datetime | None
    arrival_window: Window
    departure_window: Window | None
    arrival_evidence: EdgeEvidence
    departure_evidence: EdgeEvidence | None
    fix_count: int
    usable_fix_count: int
    ignored_fix_count: int
    gap_s: float
    longest_gap_s: float
    absences: tuple[Window, ...] = field(default=())
    fence_digest: str = ""
    params_digest: str = ""
    departure_provisional: bool = False

    @property
    def is_open(self) -> bool:
        """True while the data ends on site."""
        return self.departure is None

    def duration_s(self, until: datetime | None = None) -> float | None:
        """Seconds from arrival to departure (or ``until`` for an open visit)."""
        end = self.departure if self.departure is not None else until
        if end is None:
            return None
        return (end - self.arrival).total_seconds()

    @property
    def absent_s(self) -> float:
        """Seconds of bridged short absences inside the visit."""
        return sum(
            (w.latest - w.earliest).total_seconds()
            for w in self.absences
            if w.latest is not None and w.earliest is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (ISO 8601 UTC times)."""
        return {
            "arrival": _iso(self.arrival),
            "departure": _iso(self.departure),
            "arrival_window": _window_dict(self.arrival_window),
            "departure_window": (
                None
                if self.departure_window is None
                else _window_dict(self.departure_window)
            ),
            "departure_provisional": self.departure_provisional,
            "duration_s": self.duration_s(),
            "evidence": {
                "arrival": self.arrival_evidence.to_dict(),
                "departure": (
                    None
                    if self.departure_evidence is None
                    else self.departure_evidence.to_dict()
                ),
                "fix_count": self.fix_count,
                "usable_fix_count": self.usable_fix_count,
                "ignored_fix_count": self.ignored_fix_count,
                "gap_s": round(self.gap_s, 3),
                "longest_gap_s": round(self.longest_gap_s, 3),
                "absences": [_window_dict(w) for w in self.absences],
            },
            "fence_digest": self.fence_digest,
            "params_digest": self.params_digest,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Visit:
        """Read back :meth:`to_dict` output: a stored visit, not a re-derivation."""
        ev: Mapping[str, Any] = raw.get("evidence") or {}
        arrival_evidence = ev.get("arrival")
        departure_evidence = ev.get("departure")
        departure_window = raw.get("departure_window")
        return cls(
            arrival=_required_time(raw.get("arrival")),
            departure=_parse_time(raw.get("departure")),
            arrival_window=window_from_dict(raw.get("arrival_window") or {}),
            departure_window=(
                None if departure_window is None else window_from_dict(departure_window)
            ),
            arrival_evidence=EdgeEvidence.from_dict(arrival_evidence or {}),
            departure_evidence=(
                None
                if departure_evidence is None
                else EdgeEvidence.from_dict(departure_evidence)
            ),
            fix_count=int(ev.get("fix_count", 0)),
            usable_fix_count=int(ev.get("usable_fix_count", 0)),
            ignored_fix_count=int(ev.get("ignored_fix_count", 0)),
            gap_s=float(ev.get("gap_s", 0.0)),
            longest_gap_s=float(ev.get("longest_gap_s", 0.0)),
            absences=tuple(window_from_dict(w) for w in ev.get("absences", [])),
            fence_digest=str(raw.get("fence_digest", "")),
            params_digest=str(raw.get("params_digest", "")),
            departure_provisional=bool(raw.get("departure_provisional", False)),
        )


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def _parse_time(raw: object) -> datetime | None:
    """An ISO 8601 time written by :func:`_iso` (``Z`` or an offset), or None."""
    if raw is None:
        return None
    parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {raw!r}")
    return parsed


def _required_time(raw: object) -> datetime:
    parsed = _parse_time(raw)
    if parsed is None:
        raise ValueError("a stored visit edge has no time")
    return parsed


def _ref_or_none(raw: Mapping[str, Any] | None) -> FixRef | None:
    return None if raw is None else FixRef.from_dict(raw)


def window_from_dict(raw: Mapping[str, Any]) -> Window:
    """Read back a window written by ``Visit.to_dict`` (``None`` = unbounded)."""
    return Window(_parse_time(raw.get("earliest")), _parse_time(raw.get("latest")))


def _window_dict(w: Window) -> dict[str, str | None]:
    return {"earliest": _iso(w.earliest), "latest": _iso(w.latest)}


# ---------------------------------------------------------------------- the hot path
def fix_votes(
    distance_m: FloatArray, sigma_m: FloatArray, params: VisitParams
) -> FloatArray:
    """Log-odds that each fix lies inside, capped by the outlier probability.

    Parameters
    ----------
    distance_m : ndarray
        Signed distance to the fence edge, metres (negative inside).
    sigma_m : ndarray
        Standard deviation of the position along the edge normal, metres.
    params : VisitParams
        Supplies ``outlier_probability``.

    Returns
    -------
    ndarray
        ``log(p / (1 - p))`` with ``p = eps + (1 - 2 eps) Phi(-d / sigma)``: positive
        votes inside, bounded by ``±log((1 - eps) / eps)`` so that a confident-looking
        outlier counts no more than an ordinary clear fix.
    """
    eps = params.outlier_probability
    z = np.clip(distance_m / sigma_m, -30.0, 30.0)
    p_in = eps + (1.0 - 2.0 * eps) / (1.0 + np.exp(_LOGISTIC_K * z))
    out: FloatArray = np.log(p_in) - np.log1p(-p_in)
    return out


def clamped_walk(votes: FloatArray, lam: float) -> FloatArray:
    """Run the two-state Viterbi recursion on ``votes``; return the score difference.

    Parameters
    ----------
    votes : ndarray
        Per-fix log-odds of "inside" (already weighted).
    lam : float
        Price of one change of state (log-odds).

    Returns
    -------
    ndarray
        ``delta[t] = votes[t] + clip(delta[t-1], -lam, lam)`` with ``delta[-1] = 0``:
        the Viterbi score of "inside" minus "outside" at each fix.

    Notes
    -----
    Between two touches of opposite bounds the clamp acts on one side only, and a
    one-sided clamped sum is a cumulative sum minus its running extreme (Lindley's
    recursion).  So the work is a few numpy passes per *change of state*, not a Python
    step per fix: chunks double in size until the opposite bound is hit.
    """
    n = len(votes)
    cum = np.cumsum(votes)
    u = np.empty(n)
    pos, lower, v = 0, True, 0.0  # v = u[t-1] - cum[t-1]; u[-1] = cum[-1] = 0
    first_chunk = 512
    chunk = first_chunk
    while pos < n:
        end = min(n, pos + chunk)
        seg = cum[pos:end]
        if lower:
            vv = np.maximum.accumulate(-lam - seg)
            np.maximum(vv, v, out=vv)
            cand = seg + vv
            hit = cand > lam
        else:
            vv = np.minimum.accumulate(lam - seg)
            np.minimum(vv, v, out=vv)
            cand = seg + vv
            hit = cand < -lam
        h = int(np.argmax(hit)) if bool(hit.any()) else -1
        if h < 0:
            u[pos:end] = cand
            v = float(vv[-1])
            pos = end
            chunk *= 2
            continue
        u[pos : pos + h] = cand[:h]
        q = pos + h
        bound = lam if lower else -lam
        u[q] = bound
        v = bound - float(cum[q])
        lower = not lower
        pos = q + 1
        chunk = first_chunk
    delta = votes.copy()
    delta[1:] += u[:-1]
    return delta


def viterbi_states(delta: FloatArray, lam: float) -> tuple[BoolArray, IntArray]:
    """Back-track the most likely in/out sequence from :func:`clamped_walk` output.

    Returns
    -------
    (inside, hits) : tuple of ndarray
        ``inside`` per fix; ``hits`` is +1 / -1 where the evidence exceeded the switch
        price (the fix *confirms* inside / outside), else 0.

    Notes
    -----
    For two states the back-pointer rule collapses to: the state at a fix is the sign
    of the next confirming fix at or after it.  The tail after the last confirmation
    keeps that confirmed state (an unconfirmed change at the end of the data is not
    believed yet).
    """
    n = len(delta)
    hits = (delta > lam).astype(np.int64) - (delta < -lam).astype(np.int64)
    if n == 0:
        return np.zeros(0, dtype=bool), hits
    nz = hits != 0
    if not bool(nz.any()):
        return np.zeros(n, dtype=bool), hits
    idx = np.where(nz, np.arange(n), n)
    nxt = np.minimum.accumulate(idx[::-1])[::-1]
    last = int(np.flatnonzero(nz)[-1])
    filled = hits[np.minimum(nxt, last)]
    inside: BoolArray = filled > 0
    return inside, hits


#: Neighbours on each side that form the consensus a suspect fix is compared with.
SPIKE_NEIGHBOURS = 3


def spike_mask(
    x: FloatArray, y: FloatArray, t_s: FloatArray, acc_m: FloatArray, speed_mps: float
) -> BoolArray:
    """Flag fixes that are physically impossible given the fixes around them.

    Parameters
    ----------
    x, y : ndarray
        Local positions, metres.
    t_s : ndarray
        Times, seconds, strictly increasing.
    acc_m : ndarray
        Effective accuracies, metres.
    speed_mps : float
        Metres per second nothing the technician rides can exceed.

    Returns
    -------
    ndarray of bool
        True for spikes.

    Notes
    -----
    A fix is a suspect when reaching it from, or leaving it to, a neighbour would take
    more than ``speed_mps`` (beyond both accuracies).  A suspect is a spike when it also
    lies farther from the component-wise median of its ``SPIKE_NEIGHBOURS`` neighbours
    on each side than that speed allows in the time to its nearest neighbour.  The
    median is the consensus: a genuine fix squeezed between two wild ones is never
    thrown out, and a run of wild fixes going nowhere is, one by one.  Only suspects
    pay for the median, so clean data costs two vector passes.
    """
    n = len(x)
    out = np.zeros(n, dtype=bool)
    if n < 3:
        return out
    dt = np.diff(t_s)
    step = np.hypot(np.diff(x), np.diff(y))
    fast = np.maximum(step - (acc_m[1:] + acc_m[:-1]), 0.0) / dt > speed_mps
    suspect = np.zeros(n, dtype=bool)
    suspect[1:] |= fast
    suspect[:-1] |= fast
    cand = np.flatnonzero(suspect)
    if len(cand) == 0:
        return out
    k = SPIKE_NEIGHBOURS
    offsets = np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)])
    nb = np.clip(cand[:, None] + offsets[None, :], 0, n - 1)
    mx, my = np.median(x[nb], axis=1), np.median(y[nb], axis=1)
    nearest = np.min(
        np.abs(t_s[nb] - t_s[cand][:, None]) + (nb == cand[:, None]) * 1e12, axis=1
    )
    reach = acc_m[cand] + np.median(acc_m[nb], axis=1) + speed_mps * nearest
    out[cand] = np.hypot(x[cand] - mx, y[cand] - my) > reach
    return out


@dataclass(frozen=True)
class _Prepared:
    """Per-fix arrays for the usable fixes (index space of the Viterbi run)."""

    t0_ns: int
    t_s: FloatArray  # seconds since t0, usable fixes
    dist: FloatArray
    z: FloatArray
    lat: FloatArray
    lon: FloatArray
    acc: FloatArray  # reported accuracy (NaN unknown)
    eff: FloatArray  # effective accuracy, metres
    inside: BoolArray
    hits: IntArray
    all_t_s: FloatArray  # every canonical fix, for counts and gaps
    all_usable: BoolArray


def _prepare(fx: FixArrays, fence: Geofence, params: VisitParams) -> _Prepared:
    t0 = int(fx.t_ns[0])
    all_t = (fx.t_ns - t0).astype(np.float64) * 1e-9
    acc = fx.accuracy
    eff = np.where(np.isnan(acc), params.unknown_accuracy_m, acc)
    np.maximum(eff, params.min_accuracy_m, out=eff)
    usable = eff <= params.max_accuracy_m
    idx = np.flatnonzero(usable)
    x, y = project_local(fx.lat[idx], fx.lon[idx], fence.lat, fence.lon)
    spikes = spike_mask(x, y, all_t[idx], eff[idx], params.spike_speed_mps)
    if bool(spikes.any()):
        usable[idx[spikes]] = False
        idx = idx[~spikes]
    lat, lon = fx.lat[idx], fx.lon[idx]
    t_s = all_t[idx]
    dist = fence.signed_distance_m(lat, lon)
    sigma = eff[idx] * SIGMA_PER_ACCURACY_M
    z = dist / sigma
    votes = fix_votes(dist, sigma, params)
    if len(t_s):
        weight = np.empty(len(t_s))
        weight[0] = 1.0
        np.minimum(np.diff(t_s) / params.independence_s, 1.0, out=weight[1:])
        votes *= weight
    lam = params.switch_cost
    delta = clamped_walk(votes, lam)
    inside, hits = viterbi_states(delta, lam)
    return _Prepared(
        t0_ns=t0,
        t_s=t_s,
        dist=dist,
        z=z,
        lat=lat,
        lon=lon,
        acc=acc[idx],
        eff=eff[idx],
        inside=inside,
        hits=hits,
        all_t_s=all_t,
        all_usable=usable,
    )


# ------------------------------------------------------------------ per-visit assembly
@dataclass(frozen=True)
class _Edge:
    at_s: float
    earliest_s: float | None
    latest_s: float | None
    before: int | None  # usable-fix indices
    after: int | None
    clear_before: int | None
    clear_after: int | None
    confirmed: int | None
    blind: bool = False  # placed at a silence longer than max_blind_gap_s
    provisional: bool = False  # from the last fixes of the data, not settled


@dataclass(frozen=True)
class _Piece:
    first: int  # first/last usable fix index inside
    last: int
    arrival: _Edge
    departure: _Edge | None


def _last_in(sorted_idx: IntArray, lo: int, hi: int) -> int | None:
    """Largest element of ``sorted_idx`` within [lo, hi], or None."""
    p = int(np.searchsorted(sorted_idx, hi, side="right")) - 1
    if p >= 0 and int(sorted_idx[p]) >= lo:
        return int(sorted_idx[p])
    return None


def _first_in(sorted_idx: IntArray, lo: int, hi: int) -> int | None:
    """Smallest element of ``sorted_idx`` within [lo, hi], or None."""
    p = int(np.searchsorted(sorted_idx, lo, side="left"))
    if p < len(sorted_idx) and int(sorted_idx[p]) <= hi:
        return int(sorted_idx[p])
    return None


def _crossing_s(
    t_out: float,
    d_out: float,
    t_in: float,
    d_in: float,
    params: VisitParams,
    arriving: bool,
) -> float:
    """Moment of crossing between an outside and an inside fix, seconds.

    Linear interpolation of the distance to the edge, except that getting from the
    outside fix to the edge never takes longer than the travel-time prior: the last
    ``walk_distance_m`` on foot at ``walking_speed_mps``, anything farther by vehicle
    at ``driving_speed_mps``.  So a long silence next to a crossing is spent indoors
    (where phones lose GPS) — arrival hugs the last outside fix and departure the
    first outside fix — instead of being spread evenly over the gap.
    """
    out_m, in_m = max(d_out, 0.0), max(-d_in, 0.0)
    span = abs(t_in - t_out)
    lin = span * out_m / (out_m + in_m) if out_m + in_m > 0 else 0.0
    walk_m = min(out_m, params.walk_distance_m)
    prior = walk_m / params.walking_speed_mps + (out_m - walk_m) / (
        params.driving_speed_mps
    )
    dt = min(lin, prior)
    return t_out + dt if arriving else t_out - dt


def _pieces(p: _Prepared, params: VisitParams) -> list[_Piece]:
    n = len(p.t_s)
    if n == 0:
        return []
    inside = p.inside
    change = np.flatnonzero(inside[1:] != inside[:-1]) + 1
    bounds = np.concatenate([[0], change, [n]])
    clear_in = np.flatnonzero(p.z <= -params.clear_sigma).astype(np.int64)
    clear_out = np.flatnonzero(p.z >= params.clear_sigma).astype(np.int64)
    hit_in = np.flatnonzero(p.hits > 0).astype(np.int64)
    hit_out = np.flatnonzero(p.hits < 0).astype(np.int64)
    # a silence longer than max_blind_gap_s splits a stay in two
    blind = np.flatnonzero(np.diff(p.t_s) > params.max_blind_gap_s).astype(np.int64)
    t = p.t_s
    pieces: list[_Piece] = []
    for s in range(len(bounds) - 1):
        j, k_end = int(bounds[s]), int(bounds[s + 1]) - 1
        if not inside[j]:
            continue
        prev_lo = int(bounds[s - 1]) if s > 0 else 0
        next_hi = int(bounds[s + 2]) - 1 if s + 2 < len(bounds) else n - 1
        # split at blind gaps: [j..g], [g+1..] ...
        cuts = blind[(blind >= j) & (blind < k_end)]
        starts = [j, *(int(g) + 1 for g in cuts)]
        ends = [*(int(g) for g in cuts), k_end]
        for a_i, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
            if a_i == 0 and j > 0:
                b, a = j, j - 1
                at = _crossing_s(t[a], p.dist[a], t[b], p.dist[b], params, True)
                c_before = _last_in(clear_out, prev_lo, a)
                c_after = _first_in(clear_in, b, hi)
                conf = _first_in(hit_in, b, hi)
                latest_i = min(x for x in (c_after, conf, hi) if x is not None)
                arrival = _Edge(
                    at,
                    t[c_before if c_before is not None else a],
                    t[latest_i],
                    a,
                    b,
                    c_before,
                    c_after,
                    conf,
                )
            elif a_i == 0:
                # data starts on site: the arrival happened before the first fix
                conf = _first_in(hit_in, 0, hi)
                arrival = _Edge(
                    t[0], None, t[0], None, 0, None, _first_in(clear_in, 0, hi), conf
                )
            else:
                arrival = _Edge(
                    t[lo],
                    t[lo - 1],
                    t[lo],
                    lo - 1,
                    lo,
                    lo - 1,
                    _first_in(clear_in, lo, hi),
                    _first_in(hit_in, lo, hi),
                    True,
                )
            departure: _Edge | None
            if hi < k_end:
                departure = _Edge(
                    t[hi],
                    t[hi],
                    t[hi + 1],
                    hi,
                    hi + 1,
                    _last_in(clear_in, lo, hi),
                    hi + 1,
                    None,
                    True,
                )
            elif k_end < n - 1:
                a, b = k_end, k_end + 1
                at = _crossing_s(t[b], p.dist[b], t[a], p.dist[a], params, False)
                c_before = _last_in(clear_in, lo, a)
                c_after = _first_in(clear_out, b, next_hi)
                conf = _first_in(hit_out, b, next_hi)
                latest_i = min(x for x in (c_after, conf, next_hi) if x is not None)
                departure = _Edge(
                    at,
                    t[c_before if c_before is not None else a],
                    t[latest_i],
                    a,
                    b,
                    c_before,
                    c_after,
                    conf,
                )
            else:
                departure = _track_end_departure(p, params, lo, hi, clear_in)
            pieces.append(_Piece(lo, hi, arrival, departure))
    return pieces


def _track_end_departure(
    p: _Prepared, params: VisitParams, lo: int, hi: int, clear_in: IntArray
) -> _Edge | None:
    """The departure shown by the clear outside fixes that end the data, if any.

    The state machine keeps the technician on site until ``confirm_fixes`` clear
    outside fixes say otherwise, so one or two fixes from the road before the data
    ends are out-voted.  Here they are weighed instead: each must have been reached
    from the last fix on site (and from the tail fix before it) no faster than
    ``spike_speed_mps`` beyond both accuracies, successive ones must not come back
    towards the site, and one must lie ``drive_off_m`` out (half that with two or
    more agreeing fixes).  Then the visit closes; clear outside fixes that fail the
    bar close it provisionally; fixes no vehicle could have reached are ignored.
    """
    b = hi + 1
    while b > lo + 1 and p.z[b - 1] >= params.clear_sigma:
        b -= 1
    if b > hi:
        return None
    a = b - 1
    x, y = project_local(p.lat[a : hi + 1], p.lon[a : hi + 1], p.lat[a], p.lon[a])
    t, acc = p.t_s[a : hi + 1], p.eff[a : hi + 1]
    dt = np.maximum(t[1:] - t[0], 1e-3)
    reach = np.maximum(np.hypot(x[1:], y[1:]) - acc[1:] - acc[0], 0.0) / dt
    reachable = reach <= params.spike_speed_mps
    if not bool(reachable.any()):
        return None
    step_dt = np.maximum(np.diff(t[1:]), 1e-3)
    step = np.hypot(np.diff(x[1:]), np.diff(y[1:]))
    steps_ok = np.maximum(step - acc[2:] - acc[1:-1], 0.0) / step_dt
    dist = p.dist[b : hi + 1]
    away = np.diff(dist) >= -(acc[2:] + acc[1:-1])
    agree = bool(reachable.all() and (steps_ok <= params.spike_speed_mps).all())
    agree = agree and bool(away.all())
    far = params.drive_off_m if len(dist) == 1 else params.drive_off_m / 2
    settled = agree and float(dist.max()) >= far
    at = _crossing_s(
        float(p.t_s[b]),
        float(p.dist[b]),
        float(p.t_s[a]),
        float(p.dist[a]),
        params,
        False,
    )
    c_before = _last_in(clear_in, lo, a)
    return _Edge(
        at,
        float(p.t_s[c_before if c_before is not None else a]),
        float(p.t_s[b]),
        a,
        b,
        c_before,
        b,
        hi if settled else None,
        provisional=not settled,
    )


def _merge(pieces: list[_Piece], params: VisitParams) -> list[list[_Piece]]:
    """Group pieces separated by absences shorter than ``max_absence_s``."""
    groups: list[list[_Piece]] = []
    for piece in pieces:
        if groups:
            prev = groups[-1][-1]
            dep = prev.departure
            bridged = (
                dep is not None
                and not dep.blind
                and not piece.arrival.blind
                and piece.arrival.at_s - dep.at_s <= params.max_absence_s
            )
            if bridged:
                groups[-1].append(piece)
                continue
        groups.append([piece])
    return groups


def _ts(p: _Prepared, seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    ns = p.t0_ns + round(seconds * 1e9)
    return _EPOCH + timedelta(microseconds=round(ns / 1000))


def _ts_req(p: _Prepared, seconds: float) -> datetime:
    out = _ts(p, seconds)
    assert out is not None
    return out


def _ref(p: _Prepared, i: int | None) -> FixRef | None:
    if i is None:
        return None
    acc = float(p.acc[i])
    return FixRef(
        time=_ts_req(p, float(p.t_s[i])),
        lat=float(p.lat[i]),
        lon=float(p.lon[i]),
        accuracy_m=None if math.isnan(acc) else acc,
        distance_m=float(p.dist[i]),
    )


def _evidence(p: _Prepared, e: _Edge) -> EdgeEvidence:
    return EdgeEvidence(
        before=_ref(p, e.before),
        after=_ref(p, e.after),
        clear_before=_ref(p, e.clear_before),
        clear_after=_ref(p, e.clear_after),
        confirmed_at=None if e.confirmed is None else _ts(p, float(p.t_s[e.confirmed])),
    )


def _visit(
    p: _Prepared,
    group: list[_Piece],
    fence: Geofence,
    params: VisitParams,
    params_digest: str,
) -> Visit | None:
    first, last = group[0], group[-1]
    arr, dep = first.arrival, last.departure
    end_s = dep.at_s if dep is not None else float(p.t_s[last.last])
    if end_s - arr.at_s < params.min_dwell_s:
        return None
    # counts and gaps over every canonical fix in the visit span
    lo = int(np.searchsorted(p.all_t_s, arr.at_s, side="left"))
    hi = int(np.searchsorted(p.all_t_s, end_s, side="right"))
    times = p.all_t_s[lo:hi]
    usable = int(np.count_nonzero(p.all_usable[lo:hi]))
    span = np.concatenate([[arr.at_s], times, [end_s]])
    gaps = np.diff(span)
    absences = tuple(
        Window(_ts(p, a.departure.at_s), _ts(p, b.arrival.at_s))
        for a, b in pairwise(group)
        if a.departure is not None
    )
    return Visit(
        arrival=_ts_req(p, arr.at_s),
        departure=None if dep is None else _ts(p, dep.at_s),
        arrival_window=Window(_ts(p, arr.earliest_s), _ts(p, arr.latest_s)),
        departure_window=(
            None
            if dep is None
            else Window(_ts(p, dep.earliest_s), _ts(p, dep.latest_s))
        ),
        arrival_evidence=_evidence(p, arr),
        departure_evidence=None if dep is None else _evidence(p, dep),
        fix_count=len(times),
        usable_fix_count=usable,
        ignored_fix_count=len(times) - usable,
        gap_s=float(gaps[gaps > EVIDENCE_GAP_S].sum()),
        longest_gap_s=float(gaps.max()) if len(gaps) else 0.0,
        absences=absences,
        fence_digest=fence.digest,
        params_digest=params_digest,
        departure_provisional=dep is not None and dep.provisional,
    )


def derive_visits_from_arrays(
    fx: FixArrays, fence: Geofence, params: VisitParams | None = None
) -> list[Visit]:
    """Like :func:`derive_visits`, for fixes already canonicalised by ``fix_arrays``."""
    params = params or DEFAULT_PARAMS
    if len(fx) == 0:
        return []
    prepared = _prepare(fx, fence, params)
    visits: list[Visit] = []
    digest = params.digest()
    for group in _merge(_pieces(prepared, params), params):
        visit = _visit(prepared, group, fence, params, digest)
        if visit is not None:
            visits.append(visit)
    return visits


def derive_visits(
    points: pd.DataFrame, fence: Geofence, params: VisitParams | None = None
) -> list[Visit]:
    """Derive the visits to ``fence`` from a technician's fixes.

    Parameters
    ----------
    points : DataFrame
        Columns ``time`` (tz-aware), ``lat``, ``lon`` (degrees), ``accuracy``
        (metres, NaN = unknown). Any order; exact duplicates allowed.
    fence : Geofence
        The job site.
    params : VisitParams, optional
        Defaults to :data:`DEFAULT_PARAMS`.

    Returns
    -------
    list of Visit
        In time order. Deterministic: any permutation of the same fixes, with or
        without duplicates, gives equal results.
    """
    return derive_visits_from_arrays(fix_arrays(points), fence, params)
