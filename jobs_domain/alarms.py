"""A device's alarm (Traccar Client's SOS button…) as the back office's alert.

The ingest keeps an alarm as a device event of type ``alarm:<name>``
(``ingest.protocols.osmand``). Applying it (``services.alarms``) raises
:class:`AlarmRaised`: who pressed it, the job they are clocked into if any and
where they were, written to the same alerts outbox as a reserve, so it reaches
the dispatcher's alert list and the webhook the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobs_domain.report_template import JsonValue

#: The device event types that are alarms: ``alarm:sos``, ``alarm:fallDown``…
ALARM_PREFIX = "alarm:"
#: The alarm a person presses for help (Traccar Client's SOS button).
SOS = "sos"
#: The alerts stream's type of an alarm (a reserve's is ``reserve.raised``).
ALARM_RAISED = "alarm.raised"


def alarm_of(event_type: str) -> str | None:
    """The alarm's name of a device event type (``"sos"``), None for other events."""
    if not event_type.startswith(ALARM_PREFIX):
        return None
    return event_type[len(ALARM_PREFIX) :] or None


@dataclass(frozen=True)
class AlarmRaised:
    """Event: a device raised an alarm; the dispatcher is alerted at once."""

    device_id: str
    event_id: str
    alarm: str
    technician_id: str | None
    technician: str  # their name; "" for a phone nobody owns
    job_id: str | None  # the job they are clocked into
    lat: float | None
    lon: float | None
    accuracy: float | None
    raised_at: datetime

    @property
    def key(self) -> str:
        """Unique per device event: applying the event again raises nothing new."""
        return f"{ALARM_PREFIX}{self.device_id}:{self.event_id}"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "type": ALARM_RAISED,
            "alarm": self.alarm,
            "device_id": self.device_id,
            "event_id": self.event_id,
            "technician_id": self.technician_id,
            "technician": self.technician,
            "job_id": self.job_id,
            "lat": self.lat,
            "lon": self.lon,
            "accuracy": self.accuracy,
            "raised_at": self.raised_at.isoformat(),
        }
