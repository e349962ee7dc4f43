"""Prometheus text-format metrics, without a client library.

The ingest needs counters (with one label), two histograms and a few gauges;
rendering them is thirty lines, and it keeps the hot path to a dict increment.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from core.messages import Processed

# Batch commit latency buckets (seconds): a 2,000-row COPY commits in 5-20 ms
# here; the tail buckets catch a database under load or restarting.
COMMIT_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)
# Receive -> commit (consumer lag per message): the flush interval is 50 ms.
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


class Counter:
    def __init__(self, name: str, doc: str, label: str | None = None) -> None:
        self.name, self.doc, self.label = name, doc, label
        self.values: defaultdict[str, float] = defaultdict(float)

    def inc(self, amount: float = 1.0, label: str = "") -> None:
        self.values[label] += amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} counter"]
        if self.label is None:
            lines.append(f"{self.name} {self.values['']:g}")
        else:
            for value, n in sorted(self.values.items()):
                lines.append(f'{self.name}{{{self.label}="{value}"}} {n:g}')
        return lines


class Histogram:
    def __init__(self, name: str, doc: str, buckets: Sequence[float]) -> None:
        self.name, self.doc = name, doc
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float, n: int = 1) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += n
        self.sum += value * n
        self.count += n

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} histogram"]
        acc = 0
        for bound, n in zip((*self.buckets, math.inf), self.counts, strict=True):
            acc += n
            le = "+Inf" if bound == math.inf else f"{bound:g}"
            lines.append(f'{self.name}_bucket{{le="{le}"}} {acc}')
        lines += [f"{self.name}_sum {self.sum:g}", f"{self.name}_count {self.count}"]
        return lines


class Gauge:
    def __init__(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self.name, self.doc, self.read = name, doc, read

    def render(self) -> list[str]:
        return [
            f"# HELP {self.name} {self.doc}",
            f"# TYPE {self.name} gauge",
            f"{self.name} {self.read():g}",
        ]


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of sample ``name{labels}`` in Prometheus text, None if absent.

    Reads sample lines only: ``# HELP`` text that happens to contain the name
    and a number never counts (readiness once matched "connected 1" there).
    """
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    key = f"{name}{{{want}}}" if want else name
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        if name_part == key:
            return float(value)
    return None


def samples(text: str, name: str) -> dict[str, float]:
    """Every sample of a one-label metric: label value -> sample value."""
    out: dict[str, float] = {}
    prefix = name + "{"
    for line in text.splitlines():
        if line.startswith(prefix):
            labels, _, value = line.rpartition(" ")
            out[labels[len(prefix) :].split('"')[1]] = float(value)
    return out


def odd_inputs(p: Processed) -> list[str]:
    """The odd-input reasons of one processed message (one per occurrence)."""
    reasons = list(p.odd)
    for fix in p.fixes:
        if fix.flags:
            reasons += fix.flags.split(",")
    return reasons


class IngestMetrics:
    """Every metric of one ingest worker."""

    def __init__(self) -> None:
        self.started = time.time()
        self.messages = Counter(
            "crewtrack_ingest_messages_total",
            "MQTT/HTTP messages received.",
            "protocol",
        )
        self.fixes_stored = Counter(
            "crewtrack_ingest_fixes_stored_total",
            "Fixes committed (rows written; redelivered duplicates count once per write).",
        )
        self.events_stored = Counter(
            "crewtrack_ingest_events_stored_total", "New device events committed."
        )
        self.rejected = Counter(
            "crewtrack_ingest_rejected_total", "Rejected messages or fixes.", "reason"
        )
        self.odd_inputs = Counter(
            "crewtrack_ingest_odd_inputs_total",
            "Odd inputs kept (a sentinel, a dropped field, a receive-time fix, "
            "a placeholder position, a retained clear), per reason.",
            "reason",
        )
        # per protocol (osmand, owntracks, native): which kind of device is odd;
        # never per device (unbounded labels) - rejected_messages has the device
        self.rejected_by_protocol = Counter(
            "crewtrack_ingest_rejected_by_protocol_total",
            "Rejected messages or fixes, per protocol.",
            "protocol",
        )
        self.odd_by_protocol = Counter(
            "crewtrack_ingest_odd_inputs_by_protocol_total",
            "Odd inputs kept, per protocol.",
            "protocol",
        )
        self.acks = Counter(
            "crewtrack_ingest_acks_total", "MQTT messages acknowledged."
        )
        self.db_errors = Counter(
            "crewtrack_ingest_db_errors_total", "Failed batch writes (retried)."
        )
        self.redis_errors = Counter(
            "crewtrack_ingest_redis_errors_total", "Failed live-state writes (retried)."
        )
        self.fallbacks = Counter(
            "crewtrack_ingest_conflict_fallbacks_total",
            "Batches that hit a duplicate and took the ON CONFLICT path.",
        )
        self.commit_seconds = Histogram(
            "crewtrack_ingest_batch_commit_seconds",
            "Time to write and commit one batch.",
            COMMIT_BUCKETS,
        )
        self.lag_seconds = Histogram(
            "crewtrack_ingest_consumer_lag_seconds",
            "Receive -> commit delay per message (consumer lag).",
            LAG_BUCKETS,
        )
        # Where one flush's time goes (wall seconds summed per step; divide by
        # crewtrack_ingest_flushes_total for the mean): decided from numbers.
        self.flush_steps = Counter(
            "crewtrack_ingest_flush_step_seconds_total",
            "Wall time spent per flush step (build, copy_fixes, ..., acks, live).",
            "step",
        )
        self.flushes = Counter("crewtrack_ingest_flushes_total", "Flushes written.")
        self.live_rounds = Counter(
            "crewtrack_ingest_live_rounds_total", "Redis live-state rounds written."
        )
        self.live_devices = Counter(
            "crewtrack_ingest_live_devices_total", "Device updates written to Redis."
        )
        self.gauges: list[Gauge] = []
        self.extra: list[Counter] = []

    def counter(
        self, name: str, doc: str, label: str, labels: Sequence[str] = ()
    ) -> Counter:
        """A further labelled counter; ``labels`` are shown (at 0) from the start."""
        counter = Counter(name, doc, label)
        for value in labels:
            counter.values[value] = 0.0
        self.extra.append(counter)
        return counter

    def count_odd_inputs(self, p: Processed) -> None:
        """Count what was odd about a stored or cleared message, per reason."""
        for reason in odd_inputs(p):
            self.odd_inputs.inc(1, reason)
            self.odd_by_protocol.inc(1, p.protocol)

    def count_outcome(self, p: Processed) -> None:
        """After the commit: a message's rejections and odd inputs (MQTT and HTTP)."""
        for r in p.rejections:
            self.rejected.inc(1, r.reason)
            self.rejected_by_protocol.inc(1, p.protocol)
        self.count_odd_inputs(p)

    def gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self.gauges.append(Gauge(name, doc, read))

    def render(self) -> str:
        lines: list[str] = []
        metrics: list[Counter | Histogram | Gauge] = [
            self.messages,
            self.fixes_stored,
            self.events_stored,
            self.rejected,
            self.odd_inputs,
            self.rejected_by_protocol,
            self.odd_by_protocol,
            self.acks,
            self.db_errors,
            self.redis_errors,
            self.fallbacks,
            self.commit_seconds,
            self.lag_seconds,
            self.flush_steps,
            self.flushes,
            self.live_rounds,
            self.live_devices,
            *self.extra,
            *self.gauges,
        ]
        for metric in metrics:
            lines += metric.render()
        return "\n".join(lines) + "\n"
