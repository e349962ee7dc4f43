"""What a newly registered phone is told, once: its MQTT login, and the set-up
of the two apps crewtrack speaks with, each as a link a QR code can carry.

- **OwnTracks** (MQTT): its ``.otrc`` configuration (``_type: configuration``)
  inline in ``owntracks:///config?inline=<base64 of the JSON>``, the URL config
  both the iOS and Android apps open (OwnTracks booklet, "Remote configuration").
  Scanned with the phone's camera, the link opens the app with the settings.
- **Traccar Client** (OsmAnd over HTTP): ``org.traccar.client://config?url=…&id=…``,
  the deep link its QR scanner and link handler apply
  (``ConfigurationService.applyUri``: a non-http link's ``url`` parameter is the
  server URL as given, so it keeps the device token's ``?token=``; an ``http``
  link would lose its query).

Nothing here is stored: the caller shows it once and forgets it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import segno

from crewtrack.settings import Settings
from storage.devices import DeviceCredentials

OWNTRACKS_URL = "owntracks:///config?inline="
TRACCAR_URL = "org.traccar.client://config?"
OSMAND_PATH = "/api/v1/osmand"
#: Traccar Client settings the link sets besides server and id: high accuracy
#: and a fix every 30 s at most, often enough to see an arrival at a job site.
TRACCAR_SETTINGS = {"accuracy": "high", "interval": "30", "distance": "0"}
#: MQTT 3.1.1: what OwnTracks speaks by default and the broker accepts.
OWNTRACKS_MQTT_LEVEL = 4


@dataclass(frozen=True)
class Broker:
    """Where phones reach the MQTT broker (not where the ingest does)."""

    host: str
    port: int
    tls: bool = False


def phone_broker(
    phone_host: str, phone_port: int, tls: bool, public_base_url: str, mqtt_port: int
) -> Broker:
    """The broker phones are told: the configured phone host, else the public
    address's host; the configured phone port, else the broker's own."""
    host = phone_host or urlsplit(public_base_url).hostname or "127.0.0.1"
    return Broker(host, phone_port or mqtt_port, tls)


@dataclass(frozen=True)
class PhoneSetup:
    """A phone's credentials and each app's set-up, shown once."""

    device_id: str
    broker: Broker
    mqtt_username: str
    mqtt_password: str
    http_token: str
    osmand_url: str
    owntracks_config: dict[str, Any]
    owntracks_url: str
    traccar_url: str

    @property
    def native_topic(self) -> str:
        return f"crewtrack/v1/{self.device_id}/"

    @property
    def owntracks_topic(self) -> str:
        return f"owntracks/{self.mqtt_username}/{self.device_id}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "mqtt": {
                "host": self.broker.host,
                "port": self.broker.port,
                "tls": self.broker.tls,
                "username": self.mqtt_username,
                "password": self.mqtt_password,
                "topics": [self.native_topic + "fix", self.native_topic + "event"],
            },
            "owntracks": {
                "topic": self.owntracks_topic,
                "config": self.owntracks_config,
                "url": self.owntracks_url,
            },
            "traccar": {
                "server_url": self.osmand_url,
                "device_id": self.device_id,
                "http_token": self.http_token,
                "url": self.traccar_url,
            },
        }


def tracker_id(name: str) -> str:
    """OwnTracks' two-character tracker id (the map label): the initials."""
    words = [w for w in name.split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]) or name[:2]
    return (letters.upper() + "XX")[:2]


def owntracks_config(
    creds: DeviceCredentials, broker: Broker, tid: str
) -> dict[str, Any]:
    """The ``.otrc`` JSON: MQTT mode, this broker, the device's own login; the
    app publishes to ``owntracks/<username>/<deviceId>``, the only OwnTracks
    topic the broker's ACL lets this login write."""
    return {
        "_type": "configuration",
        "mode": 0,  # MQTT
        "host": broker.host,
        "port": broker.port,
        "tls": broker.tls,
        "auth": True,
        "username": creds.mqtt_username,
        "password": creds.mqtt_password,
        "deviceId": creds.device_id,
        "clientId": creds.device_id,
        "tid": tid,
        "mqttProtocolLevel": OWNTRACKS_MQTT_LEVEL,
        "pubQos": 1,
    }


def owntracks_link(config: dict[str, Any]) -> str:
    """``owntracks:///config?inline=`` with the base64 of the JSON (percent-encoded,
    so a ``+`` in it does not turn into a space)."""
    raw = json.dumps(config, separators=(",", ":")).encode()
    return OWNTRACKS_URL + quote(base64.b64encode(raw).decode(), safe="")


def traccar_link(osmand_url: str, device_id: str) -> str:
    return TRACCAR_URL + urlencode(
        {"url": osmand_url, "id": device_id, **TRACCAR_SETTINGS}
    )


def phone_setup(
    creds: DeviceCredentials, *, broker: Broker, public_base_url: str, owner: str
) -> PhoneSetup:
    """Everything a phone needs, from its new credentials (``owner``: the
    technician's name, for OwnTracks' label)."""
    config = owntracks_config(creds, broker, tracker_id(owner))
    osmand = (
        public_base_url.rstrip("/")
        + OSMAND_PATH
        + "?"
        + urlencode({"token": creds.http_token})
    )
    return PhoneSetup(
        device_id=creds.device_id,
        broker=broker,
        mqtt_username=creds.mqtt_username,
        mqtt_password=creds.mqtt_password,
        http_token=creds.http_token,
        osmand_url=osmand,
        owntracks_config=config,
        owntracks_url=owntracks_link(config),
        traccar_url=traccar_link(osmand, creds.device_id),
    )


def for_settings(s: Settings, creds: DeviceCredentials, owner: str) -> PhoneSetup:
    """:func:`phone_setup` with the addresses the settings give phones."""
    broker = phone_broker(
        s.phone_mqtt_host,
        s.phone_mqtt_port,
        s.phone_mqtt_tls,
        s.public_base_url,
        s.mqtt_port,
    )
    return phone_setup(
        creds, broker=broker, public_base_url=s.public_base_url, owner=owner
    )


def qr_svg(payload: str) -> str:
    """A QR code of ``payload`` as an SVG data URI (made here, nothing fetched):
    error correction M, 4 px modules with the standard quiet zone."""
    code = segno.make(payload, error="m")
    return str(code.svg_data_uri(scale=4, dark="#000", light="#fff"))
