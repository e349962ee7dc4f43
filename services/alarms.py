"""Device alarms (SOS) raised as alerts, the way a reserve is.

An alarm arrives as a stored device event ``alarm:<name>`` (Traccar Client's
SOS button over HTTP, ``api.tracking_osmand``; anything the ingest stores).
:func:`raise_alarm` names the phone's technician and the job they are clocked
into, and writes the alert to the ``report_alerts`` outbox with ``NOTIFY`` in
one transaction; the alert relay (``api.alert_relay``) then appends it to the
alerts stream the dashboard reads and posts it to the webhook, as it does a
reserve. Idempotent on the device event: applying it again raises nothing new.
"""

from __future__ import annotations

from typing import Any

import psycopg

from jobs_domain.alarms import AlarmRaised, alarm_of
from services.reports import announce_alerts
from storage import job_sessions
from storage import reports as store
from storage.device_events import StoredEvent

Conn = psycopg.AsyncConnection[Any]


async def raise_alarm(conn: Conn, event: StoredEvent) -> AlarmRaised | None:
    """The alert of an alarm event (None: not an alarm). Written once per event;
    the relay delivers it after the commit."""
    alarm = alarm_of(event.type)
    if alarm is None:
        return None
    async with conn.transaction():
        owner = await job_sessions.device_owner(conn, event.device_id)
        job_id = (
            await job_sessions.open_session_job(conn, owner.technician_id)
            if owner is not None
            else None
        )
        raised = AlarmRaised(
            device_id=event.device_id,
            event_id=event.event_id,
            alarm=alarm,
            technician_id=owner.technician_id if owner else None,
            technician=owner.name if owner else "",
            job_id=job_id,
            lat=event.lat,
            lon=event.lon,
            accuracy=event.accuracy,
            raised_at=event.time,
        )
        if await store.insert_event_alert(conn, raised.key, raised.to_json()):
            await announce_alerts(conn)
    return raised
