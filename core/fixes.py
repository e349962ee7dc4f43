"""Normalise raw GPS fixes into one canonical, sorted, de-duplicated form.

Devices sync backlogs hours late, out of order and sometimes twice.  Every algorithm in
``core`` starts from :func:`fix_arrays` (numpy, the hot path;
:func:`frame_from_arrays` turns its result back into a DataFrame), so the same set of
fixes always yields the same canonical sequence, whatever order it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.geo import FloatArray
from core.messages import NOT_VALID_FLAG

REQUIRED_COLUMNS = ("time", "lat", "lon")
IntArray = npt.NDArray[np.int64]


class FixesError(ValueError):
    """Raised when the input cannot be read as fixes (missing column, naive times)."""


@dataclass(frozen=True)
class FixArrays:
    """Canonical fixes as parallel numpy arrays.

    Attributes
    ----------
    t_ns : ndarray of int64
        Fix time, nanoseconds since the Unix epoch (UTC), strictly increasing.
    lat, lon : ndarray of float64
        Degrees (WGS84), finite and in range.
    accuracy : ndarray of float64
        Horizontal accuracy in metres (68 % radius); NaN when unknown.
    dropped : int
        Rows discarded as unusable (bad coordinates) or as duplicates of a timestamp.
    """

    t_ns: IntArray
    lat: FloatArray
    lon: FloatArray
    accuracy: FloatArray
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.t_ns)


def _time_ns(series: pd.Series) -> IntArray:
    dtype = series.dtype
    if not isinstance(dtype, pd.DatetimeTZDtype):
        if len(series) == 0:
            return np.zeros(0, dtype=np.int64)
        try:
            series = pd.to_datetime(series)
        except (TypeError, ValueError) as exc:
            raise FixesError("column 'time' must hold timestamps") from exc
        if not isinstance(series.dtype, pd.DatetimeTZDtype):
            # a naive time is ambiguous (device local? server local?) — refuse it
            raise FixesError("column 'time' must be timezone-aware (UTC)")
    idx = pd.DatetimeIndex(series).tz_convert("UTC").as_unit("ns")
    if idx.hasnans:
        raise FixesError("column 'time' has missing values")
    return np.asarray(idx.asi8, dtype=np.int64)


def _resolve_ties(
    order: IntArray,
    ts: IntArray,
    eq: npt.NDArray[np.bool_],
    lat: FloatArray,
    lon: FloatArray,
    acc: FloatArray,
) -> IntArray:
    """Keep one row per timestamp: best accuracy, then lowest lat, then lowest lon.

    Only rows that share a timestamp are ranked (a full multi-key sort of a million
    rows costs more than the rest of visit derivation).
    """
    n = len(order)
    grouped = np.zeros(n, dtype=bool)
    grouped[1:] |= eq
    grouped[:-1] |= eq
    first = grouped.copy()
    first[1:] &= ~eq  # first sorted position of each tie group
    rows = order[grouped]
    acc_key = np.where(np.isnan(acc[rows]), np.inf, acc[rows])
    rank = np.lexsort((lon[rows], lat[rows], acc_key, ts[grouped]))
    ranked, rt = rows[rank], ts[grouped][rank]
    winners = ranked[np.concatenate([[True], rt[1:] != rt[:-1]])]
    out = order.copy()
    out[first] = winners  # both ascending in time, one per group
    result: IntArray = out[~grouped | first]
    return result


def fix_arrays(points: pd.DataFrame) -> FixArrays:
    """Validate, sort and de-duplicate fixes into :class:`FixArrays`.

    Parameters
    ----------
    points : DataFrame
        Columns ``time`` (tz-aware), ``lat``, ``lon`` (degrees) and optionally
        ``accuracy`` (metres; NaN or missing = unknown).  Any row order.

    Returns
    -------
    FixArrays
        Sorted by time with one fix per timestamp.

    Notes
    -----
    Rows with non-finite or out-of-range coordinates are dropped (counted in
    ``dropped``); a negative or non-finite accuracy becomes unknown.  When several
    fixes share a timestamp (a re-sent backlog, or a device that resent a corrected
    fix), the most accurate is kept, ties broken by coordinates — a rule that depends
    only on the values, never on arrival order.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in points.columns]
    if missing:
        raise FixesError(f"points lack column(s): {', '.join(missing)}")
    t = _time_ns(points["time"])
    lat = np.asarray(points["lat"], dtype=np.float64)
    lon = np.asarray(points["lon"], dtype=np.float64)
    if "accuracy" in points.columns:
        acc = np.array(points["accuracy"], dtype=np.float64)
        acc[~(np.isfinite(acc) & (acc >= 0))] = np.nan
    else:
        acc = np.full(len(t), np.nan)
    n_in = len(t)
    ok = (
        np.isfinite(lat)
        & np.isfinite(lon)
        & (np.abs(lat) <= 90.0)
        & (np.abs(lon) <= 180.0)
    )
    if "fix_flags" in points.columns:
        # a fix its own device calls not valid (Traccar ``valid=false``) is
        # shown in trails and audits but is evidence of nothing
        ok &= (
            ~points["fix_flags"]
            .fillna("")
            .astype(str)
            .str.contains(NOT_VALID_FLAG, regex=False)
            .to_numpy()
        )
    if not ok.all():
        t, lat, lon, acc = t[ok], lat[ok], lon[ok], acc[ok]
    if len(t) > 1 and not bool(np.all(t[1:] > t[:-1])):
        order = np.argsort(t)
        ts = t[order]
        eq = ts[1:] == ts[:-1]
        if bool(eq.any()):
            order = _resolve_ties(order, ts, eq, lat, lon, acc)
        t, lat, lon, acc = t[order], lat[order], lon[order], acc[order]
    return FixArrays(
        t_ns=np.ascontiguousarray(t, dtype=np.int64),
        lat=np.ascontiguousarray(lat),
        lon=np.ascontiguousarray(lon),
        accuracy=np.ascontiguousarray(acc),
        dropped=n_in - len(t),
    )


def frame_from_arrays(fx: FixArrays) -> pd.DataFrame:
    """Build the canonical DataFrame from :class:`FixArrays`."""
    return pd.DataFrame(
        {
            "time": pd.to_datetime(fx.t_ns, unit="ns", utc=True),
            "lat": fx.lat,
            "lon": fx.lon,
            "accuracy": fx.accuracy,
        }
    )
