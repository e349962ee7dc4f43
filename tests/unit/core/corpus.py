"""Score visit derivation against the scenario corpus; also score a naive geofence.

``python -m tests.unit.core.corpus`` prints the report used in docs/visits.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

import numpy as np
import pandas as pd

from core.fixes import fix_arrays
from core.geofence import Geofence
from core.visits import derive_visits
from tests.unit.core.scenarios import (
    INTERVALS_S,
    SCENARIOS,
    Scenario,
    TrueVisit,
    corpus,
)


@dataclass(frozen=True)
class Derived:
    """The part of a visit the scoring needs (shared by ours and the naive one)."""

    arrival: datetime
    departure: datetime | None
    arrival_window: tuple[datetime | None, datetime | None] | None = None
    departure_window: tuple[datetime | None, datetime | None] | None = None


Method = Callable[[pd.DataFrame, Geofence], list[Derived]]


def ours(points: pd.DataFrame, fence: Geofence) -> list[Derived]:
    return [
        Derived(v.arrival, v.departure, v.arrival_window, v.departure_window)
        for v in derive_visits(points, fence)
    ]


def naive(points: pd.DataFrame, fence: Geofence) -> list[Derived]:
    """What reference tracking servers do: enter/exit on every single fix.

    It even gets the benefit of sorted, de-duplicated input (a real one drops late
    fixes instead).
    """
    fx = fix_arrays(points)
    inside = fence.contains(fx.lat, fx.lon)
    times = pd.to_datetime(fx.t_ns, unit="ns", utc=True)
    change = np.flatnonzero(np.diff(inside.astype(np.int8))) + 1
    edges = np.concatenate([[0], change, [len(inside)]])
    out: list[Derived] = []
    for a, b in pairwise(edges):
        if inside[a]:
            dep = times[b].to_pydatetime() if b < len(inside) else None
            out.append(Derived(times[a].to_pydatetime(), dep))
    return out


def _overlap(d: Derived, t: TrueVisit, end: datetime) -> float:
    a = max(d.arrival, t.arrival)
    b = min(d.departure or end, t.departure or end)
    return (b - a).total_seconds()


def _inside(w: tuple[datetime | None, datetime | None] | None, t: datetime) -> bool:
    if w is None:
        return False
    lo, hi = w
    return (lo is None or lo <= t) and (hi is None or t <= hi)


@dataclass
class Tally:
    """Scores of one method over one group of scenarios."""

    runs: int = 0
    count_ok: int = 0
    arrival_err: list[float] = field(default_factory=list)
    departure_err: list[float] = field(default_factory=list)
    covered: int = 0
    edges: int = 0
    open_ok: int = 0
    open_total: int = 0
    derived: int = 0
    true: int = 0

    def p(self, which: str, q: float) -> float:
        errs = self.arrival_err if which == "arrival" else self.departure_err
        return float(np.percentile(errs, q)) if errs else float("nan")

    @property
    def coverage(self) -> float:
        return self.covered / self.edges if self.edges else float("nan")


def score(scenario: Scenario, derived: Sequence[Derived], tally: Tally) -> None:
    """Add one scenario's result to ``tally``."""
    end = pd.Timestamp(scenario.points["time"].max()).to_pydatetime()
    tally.runs += 1
    tally.derived += len(derived)
    tally.true += len(scenario.truth)
    matched: list[Derived | None] = []
    used: set[int] = set()
    for tv in scenario.truth:
        best, best_ov = None, 0.0
        for i, d in enumerate(derived):
            ov = _overlap(d, tv, end)
            if i not in used and ov > best_ov:
                best, best_ov = i, ov
        if best is not None:
            used.add(best)
        matched.append(None if best is None else derived[best])
    if len(derived) == len(scenario.truth) and all(m is not None for m in matched):
        tally.count_ok += 1
    for tv, d in zip(scenario.truth, matched, strict=True):
        if d is None:
            continue
        tally.arrival_err.append(abs((d.arrival - tv.arrival).total_seconds()))
        tally.edges += 1
        tally.covered += _inside(d.arrival_window, tv.arrival)
        if tv.departure is None:
            tally.open_total += 1
            tally.open_ok += d.departure is None
        elif d.departure is not None:
            tally.departure_err.append(
                abs((d.departure - tv.departure).total_seconds())
            )
            tally.edges += 1
            tally.covered += _inside(d.departure_window, tv.departure)


@dataclass
class Report:
    """Per-interval tallies for ours and the naive geofence, plus per-scenario counts."""

    seeds: int
    tallies: dict[tuple[str, float], Tally]
    per_scenario: dict[tuple[str, str], Tally]
    #: scenarios whose data only brackets the departure (``Spec.ragged_end``)
    ragged: dict[tuple[str, float], Tally] = field(default_factory=dict)

    def tally(self, method: str, interval_s: float) -> Tally:
        return self.tallies[(method, interval_s)]


def evaluate(seeds: range, names: tuple[str, ...] | None = None) -> Report:
    """Run both methods over the corpus."""
    methods: dict[str, Method] = {"crewtrack": ours, "naive": naive}
    tallies = {(m, iv): Tally() for m in methods for iv in INTERVALS_S}
    ragged = {(m, iv): Tally() for m in methods for iv in INTERVALS_S}
    per: dict[tuple[str, str], Tally] = {}
    for sc in corpus(seeds, names):
        pooled = ragged if SCENARIOS[sc.name].ragged_end else tallies
        for m, fn in methods.items():
            derived = fn(sc.points, sc.fence)
            score(sc, derived, pooled[(m, sc.interval_s)])
            score(sc, derived, per.setdefault((m, sc.name), Tally()))
    return Report(len(seeds), tallies, per, ragged)


def _fmt(x: float) -> str:
    return "—" if np.isnan(x) else f"{x:.0f} s" if x >= 10 else f"{x:.1f} s"


def format_report(report: Report) -> str:
    """Markdown tables: headline per sampling interval, then visit counts per scenario."""
    lines = [
        f"Corpus: {len(report.per_scenario) // 2} scenarios × "
        f"{len(INTERVALS_S)} sampling intervals × {report.seeds} seeds.",
        "",
        "| method | sampling | runs with right visit count | arrival error p50 / p95 "
        "| departure error p50 / p95 | truth inside window |",
        "|---|---|---|---|---|---|",
    ]
    for iv in INTERVALS_S:
        for m in ("crewtrack", "naive"):
            t = report.tally(m, iv)
            cov = "n/a (none)" if m == "naive" else f"{100 * t.coverage:.1f} %"
            lines.append(
                f"| {m} | every {iv:.0f} s | {t.count_ok}/{t.runs} "
                f"({100 * t.count_ok / t.runs:.0f} %) "
                f"| {_fmt(t.p('arrival', 50))} / {_fmt(t.p('arrival', 95))} "
                f"| {_fmt(t.p('departure', 50))} / {_fmt(t.p('departure', 95))} "
                f"| {cov} |"
            )
    lines += [
        "",
        "Tracks that end with the technician driving off (one or two fixes from the "
        "road, scored apart from the table above):",
        "",
        "| method | sampling | right visit count | departure error p50 / p95 "
        "| truth inside window |",
        "|---|---|---|---|---|",
    ]
    for iv in INTERVALS_S:
        for m in ("crewtrack", "naive"):
            t = report.ragged[(m, iv)]
            if not t.runs:
                continue
            cov = "n/a (none)" if m == "naive" else f"{100 * t.coverage:.1f} %"
            lines.append(
                f"| {m} | every {iv:.0f} s | {t.count_ok}/{t.runs} "
                f"| {_fmt(t.p('departure', 50))} / {_fmt(t.p('departure', 95))} "
                f"| {cov} |"
            )
    lines += [
        "",
        "| scenario | crewtrack: right count | crewtrack: visits found / true "
        "| naive: right count | naive: visits found / true |",
        "|---|---|---|---|---|",
    ]
    names = sorted({name for _, name in report.per_scenario})
    for name in names:
        o, n = (
            report.per_scenario[("crewtrack", name)],
            report.per_scenario[("naive", name)],
        )
        lines.append(
            f"| {name} | {o.count_ok}/{o.runs} | {o.derived}/{o.true} "
            f"| {n.count_ok}/{n.runs} | {n.derived}/{n.true} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    seeds = int(argv[1]) if len(argv) > 1 else 8
    print(format_report(evaluate(range(seeds))))


if __name__ == "__main__":
    main(sys.argv)
