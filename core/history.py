"""What an audit view needs from a trail: a simplified line, coverage, and stops.

The stop detector here does not look at the fence at all; it is an independent
cross-check of :func:`core.visits.derive_visits` ("the fence says 40 minutes; the
trail alone shows a 41-minute stop 20 m from the door").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.fixes import FixArrays, fix_arrays, frame_from_arrays
from core.geo import FloatArray, project_local, unproject_local

IntArray = npt.NDArray[np.int64]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Percentiles of reported accuracy shown in the audit view.
ACCURACY_PERCENTILES = (50, 90, 95, 99)


def _dt(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def douglas_peucker(x: FloatArray, y: FloatArray, tolerance_m: float) -> IntArray:
    """Indices of the points kept by Douglas–Peucker simplification.

    Parameters
    ----------
    x, y : ndarray
        Planar positions in metres, in trail order.
    tolerance_m : float
        Metres: no dropped point lies farther than this from the simplified line.

    Returns
    -------
    ndarray of int64
        Sorted indices, always including the first and the last point.

    Notes
    -----
    Iterative (an explicit stack), so a million-point trail cannot overflow the
    recursion limit; each split measures its whole span with one numpy pass.
    """
    n = len(x)
    if n <= 2:
        return np.arange(n, dtype=np.int64)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        px, py = x[a + 1 : b] - x[a], y[a + 1 : b] - y[a]
        dx, dy = x[b] - x[a], y[b] - y[a]
        seg2 = dx * dx + dy * dy
        if seg2 == 0.0:
            dist = np.hypot(px, py)
        else:
            # distance to the segment (not the infinite line): trails double back
            t = np.clip((px * dx + py * dy) / seg2, 0.0, 1.0)
            dist = np.hypot(px - t * dx, py - t * dy)
        i = int(np.argmax(dist))
        if dist[i] > tolerance_m:
            m = a + 1 + i
            keep[m] = True
            stack.append((a, m))
            stack.append((m, b))
    return np.flatnonzero(keep).astype(np.int64)


def simplify_trail(points: pd.DataFrame, tolerance_m: float = 5.0) -> pd.DataFrame:
    """Return the canonical trail reduced for display.

    Parameters
    ----------
    points : DataFrame
        Fixes (``time``, ``lat``, ``lon``, ``accuracy``), any order.
    tolerance_m : float
        Metres; default 5, about the size of a drawn line at street zoom.

    Returns
    -------
    DataFrame
        The kept fixes (same columns), time-ordered.
    """
    fx = fix_arrays(points)
    if len(fx) == 0:
        return frame_from_arrays(fx)
    x, y = project_local(fx.lat, fx.lon, float(fx.lat[0]), float(fx.lon[0]))
    idx = douglas_peucker(x, y, tolerance_m)
    return frame_from_arrays(
        FixArrays(fx.t_ns[idx], fx.lat[idx], fx.lon[idx], fx.accuracy[idx])
    )


@dataclass(frozen=True)
class Gap:
    """A stretch without fixes: from the last fix before to the first fix after."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Coverage:
    """How well a trail covers its time span.

    Attributes
    ----------
    fix_count : int
        Distinct fixes.
    span_s : float
        Seconds from first to last fix.
    fixes_per_minute : float
        ``fix_count`` over the span in minutes (0 for a single fix).
    gaps : tuple of Gap
        Silences longer than the threshold.
    gap_s : float
        Their total, seconds.
    accuracy_percentiles_m : dict
        Percentile -> metres of the reported accuracy (known values only).
    unknown_accuracy_count : int
        Fixes without an accuracy.
    """

    fix_count: int
    span_s: float
    fixes_per_minute: float
    gaps: tuple[Gap, ...]
    gap_s: float
    accuracy_percentiles_m: dict[int, float]
    unknown_accuracy_count: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "fix_count": self.fix_count,
            "span_s": self.span_s,
            "fixes_per_minute": round(self.fixes_per_minute, 3),
            "gaps": [
                {
                    "start": g.start.isoformat(),
                    "end": g.end.isoformat(),
                    "seconds": g.seconds,
                }
                for g in self.gaps
            ],
            "gap_s": self.gap_s,
            "accuracy_percentiles_m": {
                f"p{k}": v for k, v in self.accuracy_percentiles_m.items()
            },
            "unknown_accuracy_count": self.unknown_accuracy_count,
        }


def coverage(points: pd.DataFrame, gap_threshold_s: float = 120.0) -> Coverage:
    """Measure fix density, silences and accuracy of a trail.

    Parameters
    ----------
    points : DataFrame
        Fixes, any order.
    gap_threshold_s : float
        Seconds; silences longer than this are listed. Default 120 (two missed
        one-a-minute fixes).
    """
    fx = fix_arrays(points)
    n = len(fx)
    if n == 0:
        return Coverage(0, 0.0, 0.0, (), 0.0, {}, 0)
    span = (int(fx.t_ns[-1]) - int(fx.t_ns[0])) / 1e9
    dt = np.diff(fx.t_ns) / 1e9
    big = np.flatnonzero(dt > gap_threshold_s)
    gaps = tuple(
        Gap(_dt(int(fx.t_ns[i])), _dt(int(fx.t_ns[i + 1]))) for i in big.tolist()
    )
    known = fx.accuracy[~np.isnan(fx.accuracy)]
    pct = (
        {
            p: float(v)
            for p, v in zip(
                ACCURACY_PERCENTILES,
                np.percentile(known, ACCURACY_PERCENTILES),
                strict=True,
            )
        }
        if len(known)
        else {}
    )
    return Coverage(
        fix_count=n,
        span_s=span,
        fixes_per_minute=n / (span / 60.0) if span > 0 else 0.0,
        gaps=gaps,
        gap_s=float(dt[big].sum()),
        accuracy_percentiles_m=pct,
        unknown_accuracy_count=int(n - len(known)),
    )


@dataclass(frozen=True)
class Stop:
    """A place the device stayed, found from the trail alone.

    Attributes
    ----------
    start, end : datetime
        First and last fix of the stay.
    lat, lon : float
        Median position of its fixes, degrees.
    fix_count : int
        Fixes in the stay.
    """

    start: datetime
    end: datetime
    lat: float
    lon: float
    fix_count: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def stay_points(
    points: pd.DataFrame,
    radius_m: float = 60.0,
    min_duration_s: float = 300.0,
    max_accuracy_m: float = 100.0,
) -> list[Stop]:
    """Detect stops: stretches that stay within ``radius_m`` for ``min_duration_s``.

    Parameters
    ----------
    points : DataFrame
        Fixes, any order.
    radius_m : float
        Metres from the stay's first fix that still count as the same place. Default
        60 (GPS noise indoors plus walking around a house).
    min_duration_s : float
        Seconds; shorter stays (traffic lights) are not stops. Default 300.
    max_accuracy_m : float
        Metres; worse fixes (cell towers) are left out. Default 100.

    Returns
    -------
    list of Stop
        In time order.

    Notes
    -----
    The classic stay-point rule (Li et al., 2008) with two robustness tweaks: a
    single fix outside the radius (a multipath jump) does not end the stay if the
    next one is back inside, and consecutive stays at the same place (within
    ``radius_m``, less than ``min_duration_s`` apart) are one stay.
    """
    fx = fix_arrays(points)
    acc = fx.accuracy
    ok = np.isnan(acc) | (acc <= max_accuracy_m)
    t, lat, lon = fx.t_ns[ok], fx.lat[ok], fx.lon[ok]
    n = len(t)
    if n == 0:
        return []
    x, y = project_local(lat, lon, float(lat[0]), float(lon[0]))
    found: list[IntArray] = []  # member indices of each stay
    i = 0
    while i < n:
        j, outside = _stay_end(x, y, i, radius_m)
        if (int(t[j - 1]) - int(t[i])) / 1e9 >= min_duration_s:
            members = np.arange(i, j, dtype=np.int64)[~outside[: j - i]]
            prev = found[-1] if found else None
            # the anchor is the stay's first fix, which may still be on the way in:
            # a stay cut short that way continues in the next one at the same place
            if prev is not None and (
                (int(t[members[0]]) - int(t[prev[-1]])) / 1e9 <= min_duration_s
                and np.hypot(
                    np.median(x[prev]) - np.median(x[members]),
                    np.median(y[prev]) - np.median(y[members]),
                )
                <= radius_m
            ):
                found[-1] = np.concatenate([prev, members])
            else:
                found.append(members)
            i = j
        else:
            i += 1
    stops: list[Stop] = []
    for members in found:
        mx, my = float(np.median(x[members])), float(np.median(y[members]))
        mlat, mlon = unproject_local([mx], [my], float(lat[0]), float(lon[0]))
        stops.append(
            Stop(
                _dt(int(t[members[0]])),
                _dt(int(t[members[-1]])),
                float(mlat[0]),
                float(mlon[0]),
                len(members),
            )
        )
    return stops


def _stay_end(
    x: FloatArray, y: FloatArray, i: int, radius_m: float
) -> tuple[int, npt.NDArray[np.bool_]]:
    """End (exclusive) of the stay anchored at ``i`` and the outside-mask from ``i``.

    The stay ends at the first fix that is outside the radius together with the fix
    after it. Looks ahead in growing chunks so a moving trail costs O(1) per anchor.
    """
    n = len(x)
    size = 32
    while True:
        end = min(n, i + size)
        outside = np.hypot(x[i:end] - x[i], y[i:end] - y[i]) > radius_m
        pair = outside.copy()
        pair[:-1] &= outside[1:]
        if end < n:
            pair[-1] = False  # its successor is not loaded yet
        rel = np.flatnonzero(pair)
        if len(rel):
            return i + int(rel[0]), outside
        if end == n:
            return n, outside
        size *= 4
