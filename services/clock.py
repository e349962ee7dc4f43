"""The one clock the use cases read (aware UTC), and when a phone's write happened.

An offline phone's outbox replays writes long after they were made. Each
carries the phone's own time (``recorded_at``) and, for what it creates, its
own id, so later entries can refer to it before the server has seen it. The
time of a fact (a note, a photo, a checked task, a clock event) is when the
phone recorded it; when the server received it goes into the job history.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from jobs_domain.errors import FieldProblem, InvalidInput

# Received this much after it was recorded, a write is "late": its history
# entry also says when it arrived.
LATE = timedelta(minutes=2)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Recorded:
    """When (and under which client id) a write was made, and when it arrived."""

    at: datetime = field(default_factory=now)
    received_at: datetime = field(default_factory=now)
    id: str | None = None

    def new_id(self) -> str:
        """The client's id for what this write creates, else a new one."""
        return self.id or str(uuid.uuid4())

    @property
    def late(self) -> bool:
        return self.received_at - self.at > LATE


def recorded(
    at: datetime | None,
    client_id: str | None,
    max_future_skew: timedelta,
    *,
    pointer: str = "/recorded_at",
) -> Recorded:
    """The write's :class:`Recorded`: now, unless the client says when it was made
    (never later than the allowed clock skew ahead of the server)."""
    received = now()
    if at is None:
        return Recorded(received, received, client_id)
    if at > received + max_future_skew:
        raise InvalidInput(
            "time in the future", [FieldProblem(pointer, "in the future")]
        )
    return Recorded(at, received, client_id)
