"""Tiny builders for core tests: a site, and tracks written as legs in metres."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.geo import unproject_local
from core.geofence import Geofence

SITE_LAT, SITE_LON = 52.52, 13.405
START = pd.Timestamp("2024-05-06T08:00:00Z")


def site(radius_m: float = 100.0) -> Geofence:
    return Geofence.circle(SITE_LAT, SITE_LON, radius_m)


@dataclass(frozen=True)
class Leg:
    """Move in a straight line to ``(x, y)`` metres east/north of the site centre over
    ``seconds`` (0 = jump)."""

    x: float
    y: float
    seconds: float


def make_track(
    legs: list[Leg],
    every_s: float = 5.0,
    accuracy_m: float = 8.0,
    noise_m: float = 0.0,
    seed: int = 0,
    start_xy: tuple[float, float] = (1000.0, 0.0),
) -> pd.DataFrame:
    """Sample a piecewise-linear path every ``every_s`` seconds."""
    t_w, x_w, y_w = [0.0], [start_xy[0]], [start_xy[1]]
    for leg in legs:
        t_w.append(t_w[-1] + leg.seconds)
        x_w.append(leg.x)
        y_w.append(leg.y)
    t = np.arange(0.0, t_w[-1] + 1e-9, every_s)
    x, y = np.interp(t, t_w, x_w), np.interp(t, t_w, y_w)
    if noise_m:
        rng = np.random.default_rng(seed)
        x = x + rng.normal(0, noise_m, len(t))
        y = y + rng.normal(0, noise_m, len(t))
    lat, lon = unproject_local(x, y, SITE_LAT, SITE_LON)
    return pd.DataFrame(
        {
            "time": START + pd.to_timedelta(t, unit="s"),
            "lat": lat,
            "lon": lon,
            "accuracy": np.full(len(t), accuracy_m),
        }
    )


def seconds_after_start(t: object) -> float:
    return float((pd.Timestamp(t) - START).total_seconds())


def fix(x: float, y: float, t_s: float, accuracy_m: float = 8.0) -> dict[str, object]:
    lat, lon = unproject_local(np.array([x]), np.array([y]), SITE_LAT, SITE_LON)
    return {
        "time": START + pd.Timedelta(seconds=t_s),
        "lat": float(lat[0]),
        "lon": float(lon[0]),
        "accuracy": accuracy_m,
    }
