"""Ad-hoc presence: was a technician at a place between two moments?

No job or fence needs to exist beforehand: the place is any :class:`Geofence`, and
the answer is :func:`core.visits.derive_visits` over the technician's fixes — the
same windows and evidence as a job session's visits — restricted to the visits that
overlap the asked range, with the number of fixes in it and one plain sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

import numpy as np
import pandas as pd

from core.answer import half_width_s, plus_minus, span
from core.fixes import fix_arrays
from core.geofence import Geofence
from core.visits import Visit, VisitParams, derive_visits_from_arrays


@dataclass(frozen=True)
class Presence:
    """The visits overlapping ``[start, end]`` and the fixes behind the answer.

    Attributes
    ----------
    start, end : datetime
        The range asked about (UTC).
    visits : list of Visit
        Every derived visit that overlaps the range (its edges may lie outside).
    fix_count : int
        Distinct fixes inside the range.
    """

    start: datetime
    end: datetime
    visits: list[Visit]
    fix_count: int

    def answer(self, who: str, place: str, zone: tzinfo) -> str:
        """The answer in one sentence, times in ``zone`` (the company's)."""

        def hms(t: datetime) -> str:
            return t.astimezone(zone).strftime("%H:%M:%S")

        def day(t: datetime) -> str:
            return t.astimezone(zone).strftime("%Y-%m-%d %H:%M")

        asked = f"between {day(self.start)} and {day(self.end)}"
        if self.fix_count == 0 and not self.visits:
            return (
                f"There are no fixes from {who} {asked}, so the data cannot say "
                f"whether they were at {place}."
            )
        if not self.visits:
            return (
                f"{who} was not at {place} {asked} ({self.fix_count} fixes, none "
                "showing a stay on site)."
            )
        parts = []
        for v in self.visits:  # worded as core.answer words a session's visits
            text = f"arrived {hms(v.arrival)} ({plus_minus(half_width_s(v.arrival_window))})"
            if v.departure is None:
                text += ", still there at the last fix"
            else:
                pm = plus_minus(half_width_s(v.departure_window))
                left = "probably left" if v.departure_provisional else "left"
                text += f", {left} {hms(v.departure)} ({pm})"
            on_site = v.duration_s()
            if on_site is not None:
                text += f", on site {span(on_site - v.absent_s)}"
            parts.append(text)
        return (
            f"{who} was at {place} {asked}: {'; then '.join(parts)} "
            f"({self.fix_count} fixes)."
        )


def presence(
    points: pd.DataFrame,
    fence: Geofence,
    start: datetime,
    end: datetime,
    params: VisitParams | None = None,
) -> Presence:
    """Derive the visits to ``fence`` from ``points`` and keep those overlapping
    ``[start, end]``.

    ``points`` should reach beyond the range (the derive worker's session margin)
    so that an edge just outside it is placed with its evidence.
    """
    fx = fix_arrays(points)
    visits = derive_visits_from_arrays(fx, fence, params)
    lo, hi = pd.Timestamp(start).value, pd.Timestamp(end).value
    count = int(np.count_nonzero((fx.t_ns >= lo) & (fx.t_ns <= hi)))
    kept = [
        v
        for v in visits
        if v.arrival <= end and (v.departure is None or v.departure >= start)
    ]
    return Presence(start=start, end=end, visits=kept, fix_count=count)
