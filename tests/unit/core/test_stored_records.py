"""Stored visit records read back exactly: what billing was shown is what we show."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from core.geofence import Geofence
from core.reconcile import ClockEvent, Reconciliation, reconcile
from core.visits import Visit, derive_visits

SITE = Geofence.circle(48.1372, 11.5756, 60)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _visits() -> list[Visit]:
    times, lats, lons = [], [], []
    for i in range(0, 3600, 5):
        t = T0 + timedelta(seconds=i)
        inside = 600 <= i < 3000
        offset = 0.0 if inside else 0.01 * (1 + abs(i - 1800) / 1800)
        times.append(t)
        lats.append(48.1372)
        lons.append(11.5756 + offset)
    frame = pd.DataFrame(
        {"time": times, "lat": lats, "lon": lons, "accuracy": [8.0] * len(times)}
    )
    return derive_visits(frame, SITE)


def test_a_visit_read_back_from_its_json_writes_the_same_json() -> None:
    (visit,) = _visits()
    stored = json.loads(json.dumps(visit.to_dict()))
    assert Visit.from_dict(stored).to_dict() == stored


def test_a_visit_read_back_keeps_its_edges_and_windows() -> None:
    (visit,) = _visits()
    again = Visit.from_dict(json.loads(json.dumps(visit.to_dict())))
    assert (again.arrival, again.departure) == (visit.arrival, visit.departure)
    assert again.arrival_window == visit.arrival_window
    assert again.departure_window == visit.departure_window
    assert again.arrival_evidence.confirmed_at == visit.arrival_evidence.confirmed_at


def test_a_reconciliation_read_back_keeps_every_flag_as_stored() -> None:
    visits = _visits()
    events = [
        ClockEvent("clock_in", T0 + timedelta(minutes=1)),
        ClockEvent("clock_out", T0 + timedelta(hours=2)),
    ]
    rec = reconcile(events, visits, fence=SITE)
    assert rec.flags  # clocked in before arriving and out long after leaving
    stored = json.loads(json.dumps(rec.to_dict()))
    again = Reconciliation.from_dict(stored)
    assert again.to_dict() == stored
    assert again.codes() == rec.codes()
