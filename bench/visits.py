"""Benchmark: visit derivation throughput against a bare distance computation.

Run ``python bench/visits.py [n_fixes]``. Builds one technician's track of ``n``
fixes (default one million: 5 s sampling, about 58 days, a site visit every two
hours, correlated GPS noise, 2 % multipath jumps, shuffled 1 % duplicates), then
times, in the same run:

* baseline — the bare vectorised haversine distance from every fix to the site
  (numpy arrays already in hand), i.e. the least any geofence must do;
* derive_visits — the whole thing from the DataFrame: canonicalise (sort, dedupe,
  validate), spikes, votes, Viterbi, edges, evidence.

Prints fixes/s for both and the ratio. Best of ``REPEATS`` runs each.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.geo import haversine_m, unproject_local
from core.geofence import Geofence
from core.visits import derive_visits

REPEATS = 3
SITE_LAT, SITE_LON, RADIUS_M = 48.137, 11.575, 100.0
CYCLE_S = 7200.0  # one visit every two hours


def make_track(n: int, seed: int = 7) -> pd.DataFrame:
    """A repeating day: 40 min away, drive in, 60 min on site, drive away."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 5.0
    phase = t % CYCLE_S
    # distance from the site centre along a road: far (2 km) -> site -> far
    r = np.interp(
        phase,
        [0, 2400, 2600, 2660, 6260, 6320, 6520, CYCLE_S],
        [2000, 2000, 40, 10, 10, 40, 2000, 2000],
    )
    ang = 0.7
    noise = rng.normal(0, 5, (n, 2))
    kernel = np.ones(6) / np.sqrt(6)  # ~30 s correlated error
    noise[:, 0] = np.convolve(noise[:, 0], kernel, mode="same")
    noise[:, 1] = np.convolve(noise[:, 1], kernel, mode="same")
    x = r * np.cos(ang) + noise[:, 0]
    y = r * np.sin(ang) + noise[:, 1]
    mp = rng.uniform(size=n) < 0.02
    x[mp] += rng.uniform(-500, 500, mp.sum())
    y[mp] += rng.uniform(-500, 500, mp.sum())
    lat, lon = unproject_local(x, y, SITE_LAT, SITE_LON)
    acc = np.round(rng.lognormal(np.log(8), 0.3, n), 1)
    df = pd.DataFrame(
        {
            "time": pd.Timestamp("2024-01-01T00:00:00Z") + pd.to_timedelta(t, unit="s"),
            "lat": lat,
            "lon": lon,
            "accuracy": acc,
        }
    )
    dup = df.sample(frac=0.01, random_state=1)
    return pd.concat([df, dup], ignore_index=True).sample(frac=1.0, random_state=2)


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    df = make_track(n)
    fence = Geofence.circle(SITE_LAT, SITE_LON, RADIUS_M)
    lat, lon = df["lat"].to_numpy(), df["lon"].to_numpy()
    rows = len(df)

    base_s = best_of(lambda: haversine_m(SITE_LAT, SITE_LON, lat, lon) - RADIUS_M)
    visits = derive_visits(df, fence)
    derive_s = best_of(lambda: derive_visits(df, fence))
    # the shuffled backlog is the worst case; a live, time-ordered feed skips the sort
    ordered = df.sort_values("time").drop_duplicates(ignore_index=True)
    ordered_s = best_of(lambda: derive_visits(ordered, fence))

    expected = int(n * 5.0 // CYCLE_S)
    print(f"fixes: {rows:,} ({n:,} unique, shuffled, 1 % duplicated)")
    print(f"visits found: {len(visits)} (track holds {expected} full cycles)")
    print(
        f"baseline distance only : {rows / base_s:>14,.0f} fixes/s  ({base_s * 1e3:.0f} ms)"
    )
    print(
        f"derive_visits, backlog : {rows / derive_s:>14,.0f} fixes/s  ({derive_s * 1e3:.0f} ms)"
    )
    print(
        f"derive_visits, ordered : {len(ordered) / ordered_s:>14,.0f} fixes/s  ({ordered_s * 1e3:.0f} ms)"
    )
    print(
        f"ratio derive/baseline  : {base_s / derive_s:.3f} (backlog), "
        f"{base_s / ordered_s * len(ordered) / rows:.3f} (ordered)"
    )


if __name__ == "__main__":
    main()
