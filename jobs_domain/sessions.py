"""Job sessions: clock in, pause, resume, clock out — and the device events behind them.

A session is one technician's time on one job. It keeps the intervals worked
and, as GPS evidence, the position reported with every clock event plus the
device that reported it, so the tracking core can fetch the breadcrumb trail
(``device_id`` between ``clocked_in_at`` and ``clocked_out_at``) and derive
visits from it.

Device events (MQTT topic ``crewtrack/v1/<device_id>/event``) arrive as
:class:`DeviceEvent` values; they follow exactly the rules of the app's API
calls and are idempotent on ``event_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from jobs_domain.errors import Blocker, FieldProblem, InvalidInput, TransitionRefused

SessionState = Literal["running", "paused", "closed"]


class SessionKind(StrEnum):
    """The four clock events."""

    CLOCK_IN = "clock_in"
    PAUSE = "pause"
    RESUME = "resume"
    CLOCK_OUT = "clock_out"


@dataclass(frozen=True)
class Position:
    """Where the device was when the event happened (WGS84 degrees, metres)."""

    lat: float
    lon: float
    accuracy_m: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if not -90 <= self.lat <= 90:
            problems.append(FieldProblem("/position/lat", "must be within -90..90"))
        if not -180 <= self.lon <= 180:
            problems.append(FieldProblem("/position/lon", "must be within -180..180"))
        if self.accuracy_m is not None and self.accuracy_m < 0:
            problems.append(FieldProblem("/position/accuracy_m", "must be >= 0"))
        if problems:
            raise InvalidInput("invalid position", problems)


@dataclass(frozen=True)
class Evidence:
    """One clock event as it was reported: kind, time, event id, position."""

    kind: SessionKind
    at: datetime
    event_id: str | None
    position: Position | None


@dataclass(frozen=True)
class DeviceEvent:
    """A clock event from a technician's device, as the ingest decoded it.

    ``job_id`` may be the job's uuid or its number (``J-000042``); it is needed
    for ``clock_in`` and optional afterwards (the device's open session is used).
    ``at`` is the device's time of the event (UTC), not the time it arrived.
    """

    event_id: str
    kind: SessionKind
    at: datetime
    job_id: str | None = None
    position: Position | None = None


@dataclass(frozen=True)
class Session:
    """One technician's clocked time on a job."""

    id: str
    technician_id: str
    clocked_in_at: datetime
    state: SessionState
    intervals: tuple[tuple[datetime, datetime | None], ...]
    evidence: tuple[Evidence, ...]
    device_id: str | None = None
    clocked_out_at: datetime | None = None

    @classmethod
    def clock_in(
        cls,
        session_id: str,
        technician_id: str,
        at: datetime,
        *,
        event_id: str | None,
        device_id: str | None = None,
        position: Position | None = None,
    ) -> Session:
        return cls(
            id=session_id,
            technician_id=technician_id,
            clocked_in_at=at,
            state="running",
            intervals=((at, None),),
            evidence=(Evidence(SessionKind.CLOCK_IN, at, event_id, position),),
            device_id=device_id,
        )

    @property
    def held(self) -> bool:
        """Paused by its job's hold rather than by a clock event: a clock event
        always carries its id, the hold's pause has none."""
        last = self.evidence[-1]
        return (
            self.state == "paused"
            and last.kind is SessionKind.PAUSE
            and last.event_id is None
        )

    def _after_last(self, at: datetime, kind: SessionKind) -> None:
        last = max(e.at for e in self.evidence)
        if at < last:
            raise TransitionRefused(
                f"{kind.value} is earlier than the session's last event",
                [Blocker("out-of-order", f"last event at {last.isoformat()}", self.id)],
            )

    def pause(
        self, at: datetime, *, event_id: str | None, position: Position | None = None
    ) -> Session:
        if self.state != "running":
            raise _wrong_state(self, SessionKind.PAUSE, "running")
        self._after_last(at, SessionKind.PAUSE)
        start, _ = self.intervals[-1]
        return replace(
            self,
            state="paused",
            intervals=(*self.intervals[:-1], (start, at)),
            evidence=(
                *self.evidence,
                Evidence(SessionKind.PAUSE, at, event_id, position),
            ),
        )

    def resume(
        self, at: datetime, *, event_id: str | None, position: Position | None = None
    ) -> Session:
        if self.state != "paused":
            raise _wrong_state(self, SessionKind.RESUME, "paused")
        self._after_last(at, SessionKind.RESUME)
        return replace(
            self,
            state="running",
            intervals=(*self.intervals, (at, None)),
            evidence=(
                *self.evidence,
                Evidence(SessionKind.RESUME, at, event_id, position),
            ),
        )

    def clock_out(
        self, at: datetime, *, event_id: str | None, position: Position | None = None
    ) -> Session:
        if self.state == "closed":
            raise _wrong_state(self, SessionKind.CLOCK_OUT, "running or paused")
        self._after_last(at, SessionKind.CLOCK_OUT)
        intervals = self.intervals
        if self.state == "running":
            start, _ = intervals[-1]
            intervals = (*intervals[:-1], (start, at))
        return replace(
            self,
            state="closed",
            intervals=intervals,
            clocked_out_at=at,
            evidence=(
                *self.evidence,
                Evidence(SessionKind.CLOCK_OUT, at, event_id, position),
            ),
        )

    def worked(self, now: datetime | None = None) -> timedelta:
        """Time worked: the sum of the intervals (an open one counts up to ``now``)."""
        total = timedelta()
        for start, end in self.intervals:
            stop = end if end is not None else now
            if stop is not None:
                total += stop - start
        return total


def _wrong_state(session: Session, kind: SessionKind, needs: str) -> TransitionRefused:
    return TransitionRefused(
        f"cannot {kind.value}: the session is {session.state}",
        [
            Blocker(
                "session-state",
                f"session is {session.state}; needs {needs}",
                session.id,
            )
        ],
    )
