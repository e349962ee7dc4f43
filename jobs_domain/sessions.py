"""Job sessions: clock in, pause, resume, clock out — and the device events behind them.

A session is one technician's time on one job. It keeps the intervals worked
and, as GPS evidence, the position reported with every clock event plus the
device that reported it, so the tracking core can fetch the breadcrumb trail
(``device_id`` between ``clocked_in_at`` and ``clocked_out_at``) and derive
visits from it.

Device events (MQTT topic ``crewtrack/v1/<device_id>/event``) arrive as
:class:`DeviceEvent` values; they follow exactly the rules of the app's API
calls and are idempotent on ``event_id``.

An offline phone syncs its clock events late and in any order, so a
technician's sessions on a job are not built by appending each event as it
arrives: they are :func:`fold` of every clock event of that technician on the
job, in the order they happened. An event that does not fit yet (a clock-out
whose clock-in has not arrived, a resume whose pause is missing) is kept as
:class:`Unplaced` and placed as soon as the events around it arrive; the
sessions never depend on the order of arrival.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
    device_id: str | None = None

    @property
    def automatic(self) -> bool:
        """Made by the job itself (a hold's pause and resume, the clock-out of
        completing or cancelling it), not reported by a technician: no event id."""
        return self.event_id is None


_LIFECYCLE = {
    SessionKind.CLOCK_IN: 0,
    SessionKind.PAUSE: 1,
    SessionKind.RESUME: 2,
    SessionKind.CLOCK_OUT: 3,
}


def _when(e: Evidence) -> tuple[datetime, int, str]:
    """Time order; events at the same instant in their lifecycle order."""
    return (e.at, _LIFECYCLE[e.kind], e.event_id or "")


@dataclass(frozen=True)
class Unplaced:
    """A technician's clock event that does not fit their sessions yet.

    ``reason`` is the refusal it would get if nothing else arrived (for
    example ``not-clocked-in`` for a clock-out whose clock-in is still on the
    phone); it is placed as soon as the missing events arrive.
    """

    technician_id: str
    evidence: Evidence
    reason: str
    detail: str


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
            evidence=(
                Evidence(SessionKind.CLOCK_IN, at, event_id, position, device_id),
            ),
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

    def pause(
        self, at: datetime, *, event_id: str | None, position: Position | None = None
    ) -> Session:
        return self.then(Evidence(SessionKind.PAUSE, at, event_id, position))

    def resume(
        self, at: datetime, *, event_id: str | None, position: Position | None = None
    ) -> Session:
        return self.then(Evidence(SessionKind.RESUME, at, event_id, position))

    def clock_out(
        self, at: datetime, *, event_id: str | None, position: Position | None = None
    ) -> Session:
        return self.then(Evidence(SessionKind.CLOCK_OUT, at, event_id, position))

    def then(self, e: Evidence) -> Session:
        """The session after a pause, resume or clock-out; refused when it does not fit."""
        intervals = self.intervals
        if e.kind is SessionKind.CLOCK_IN:
            raise TransitionRefused(
                "already clocked in",
                [Blocker("already-clocked-in", "clock out first", self.id)],
            )
        if e.kind is SessionKind.PAUSE:
            if self.state != "running":
                raise _wrong_state(self, e.kind, "running")
            state: SessionState = "paused"
            intervals = (*intervals[:-1], (intervals[-1][0], e.at))
        elif e.kind is SessionKind.RESUME:
            if self.state != "paused":
                raise _wrong_state(self, e.kind, "paused")
            state = "running"
            intervals = (*intervals, (e.at, None))
        else:
            if self.state == "closed":
                raise _wrong_state(self, e.kind, "running or paused")
            if self.state == "running":
                intervals = (*intervals[:-1], (intervals[-1][0], e.at))
            state = "closed"
        return replace(
            self,
            state=state,
            intervals=intervals,
            clocked_out_at=e.at if state == "closed" else None,
            evidence=(*self.evidence, e),
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


def fold(
    technician_id: str,
    evidence: Iterable[Evidence],
    existing: Sequence[Session],
    new_id: Callable[[], str],
) -> tuple[list[Session], list[Unplaced]]:
    """One technician's sessions on a job from all their clock events, in time order.

    Events that do not fit (yet) come back as :class:`Unplaced`, except the
    automatic ones (a hold's pause, a completion's clock-out): those only ever
    applied to a session that was open, and are dropped when late events show
    there was none.

    Sessions keep their ids: a session keeps the id of the one that started with
    the same clock-in, and a session whose clock-in changed takes over an id
    that would otherwise be lost (adding events never lowers the number of
    sessions, so every existing id lives on and what refers to it stays valid).
    """
    sessions: list[Session] = []
    unplaced: list[Unplaced] = []
    current: Session | None = None
    for e in sorted(set(evidence), key=_when):
        try:
            if current is None:
                if e.kind is not SessionKind.CLOCK_IN:
                    raise TransitionRefused(
                        "not clocked in",
                        [Blocker("not-clocked-in", "clock in first", technician_id)],
                    )
                current = Session.clock_in(
                    "",
                    technician_id,
                    e.at,
                    event_id=e.event_id,
                    device_id=e.device_id,
                    position=e.position,
                )
            else:
                current = current.then(e)
        except TransitionRefused as refused:
            if not e.automatic:
                item = refused.items[0]
                unplaced.append(Unplaced(technician_id, e, item.code, refused.message))
            continue
        if current.state == "closed":
            sessions.append(current)
            current = None
    if current is not None:
        sessions.append(current)
    return _keep_ids(sessions, existing, new_id), unplaced


def _keep_ids(
    folded: list[Session], existing: Sequence[Session], new_id: Callable[[], str]
) -> list[Session]:
    by_start = {s.evidence[0]: s.id for s in existing}
    taken = {by_start[s.evidence[0]] for s in folded if s.evidence[0] in by_start}
    spare = [s.id for s in existing if s.id not in taken]
    named = []
    for s in folded:
        sid = by_start.get(s.evidence[0])
        if sid is None:
            sid = spare.pop(0) if spare else new_id()
        named.append(replace(s, id=sid))
    return named
