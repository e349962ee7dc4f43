"""What the Users & devices page shows, from the accounts' records (pure).

Times are in the company's zone; a phone's set-up becomes the rows and QR codes
the page shows once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dashboard.clock import stamp
from services.phone_setup import PhoneSetup, qr_svg
from storage.devices import DeviceRecord
from storage.users import UserAccount

#: What each protocol is, for a person (the apps' own names).
KINDS = {
    "owntracks": "OwnTracks",
    "osmand": "Traccar Client",
    "native": "crewtrack app",
}
ROLE_CHOICES = (
    ("admin", "Admin"),
    ("dispatcher", "Dispatcher"),
    ("billing", "Billing"),
    ("technician", "Technician"),
)


def user_rows(found: Sequence[UserAccount], zone: ZoneInfo) -> list[dict[str, str]]:
    return [
        {
            "name": a.name,
            "email": a.email or "—",
            "role": a.role,
            "state": "active"
            if a.disabled_at is None
            else f"disabled {stamp(a.disabled_at, zone)}",
            "technician": a.technician_name or "—",
            "last_login": stamp(a.last_login, zone),
        }
        for a in found
    ]


def device_rows(found: Sequence[DeviceRecord], zone: ZoneInfo) -> list[dict[str, str]]:
    return [
        {
            "device": d.id,
            "label": d.label or "—",
            "owner": d.owner or "—",
            "kind": KINDS.get(d.kind or "", d.kind or "never heard from"),
            "last_seen": stamp(d.last_seen, zone),
            "state": "active"
            if d.revoked_at is None
            else f"revoked {stamp(d.revoked_at, zone)}",
        }
        for d in found
    ]


def user_options(found: Sequence[UserAccount]) -> list[dict[str, str]]:
    return [
        {
            "label": f"{a.name} ({a.email or 'no e-mail'}, {a.role}"
            + (", disabled)" if a.disabled_at else ")"),
            "value": str(a.id),
        }
        for a in found
    ]


def technician_options(found: Sequence[UserAccount]) -> list[dict[str, str]]:
    """The technicians a phone can be registered for (active, with a profile)."""
    return [
        {"label": a.technician_name or a.name, "value": str(a.technician_id)}
        for a in found
        if a.technician_id is not None
        and a.disabled_at is None
        and not a.technician_archived
    ]


def device_options(found: Sequence[DeviceRecord]) -> list[dict[str, str]]:
    return [
        {"label": f"{d.id} ({d.owner or 'no owner'})", "value": d.id}
        for d in found
        if d.revoked_at is None
    ]


@dataclass(frozen=True)
class AppSetup:
    """One app's set-up as the page shows it: a QR code of its link."""

    app: str
    how: str
    link: str
    qr: str  # SVG data URI


def setup_rows(setup: PhoneSetup) -> list[tuple[str, str]]:
    """The MQTT login and the Traccar Client server, for typing by hand."""
    b = setup.broker
    return [
        ("Device id", setup.device_id),
        ("MQTT host", b.host),
        ("MQTT port", f"{b.port}" + (" (TLS)" if b.tls else "")),
        ("MQTT username", setup.mqtt_username),
        ("MQTT password", setup.mqtt_password),
        ("Topics (crewtrack protocol)", setup.native_topic + "fix, …/event"),
        ("OwnTracks topic", setup.owntracks_topic),
        ("Traccar Client server URL", setup.osmand_url),
    ]


def app_setups(setup: PhoneSetup) -> list[AppSetup]:
    return [
        AppSetup(
            "OwnTracks",
            "Scan with the phone's camera: the link opens OwnTracks with this "
            "broker and login (MQTT mode).",
            setup.owntracks_url,
            qr_svg(setup.owntracks_url),
        ),
        AppSetup(
            "Traccar Client",
            "Scan from Traccar Client's settings (QR code): it sets the server "
            "URL with the device's token, and the device id.",
            setup.traccar_url,
            qr_svg(setup.traccar_url),
        ),
    ]
