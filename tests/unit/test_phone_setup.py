"""A registered phone's set-up: what each app's link (and QR code) tells it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4
from zoneinfo import ZoneInfo

from dashboard.pages.users import model
from services.phone_setup import (
    Broker,
    phone_broker,
    phone_setup,
    qr_svg,
    tracker_id,
)
from storage.devices import DeviceCredentials, DeviceRecord
from storage.users import UserAccount

CREDS = DeviceCredentials("phone-a1b2c3", "phone-a1b2c3", "pw+/=secret", "dev_tok+/")
BROKER = Broker("mqtt.example.com", 8883, tls=True)


def test_the_owntracks_link_carries_its_otrc_configuration_in_base64() -> None:
    setup = phone_setup(
        CREDS, broker=BROKER, public_base_url="https://x.example", owner="Nina Field"
    )
    assert setup.owntracks_url.startswith("owntracks:///config?inline=")
    inline = unquote(setup.owntracks_url.removeprefix("owntracks:///config?inline="))
    assert "+" not in setup.owntracks_url.split("inline=")[1]  # percent-encoded
    config = json.loads(base64.b64decode(inline))
    assert config == {
        "_type": "configuration",
        "mode": 0,
        "host": "mqtt.example.com",
        "port": 8883,
        "tls": True,
        "auth": True,
        "username": "phone-a1b2c3",
        "password": "pw+/=secret",
        "deviceId": "phone-a1b2c3",
        "clientId": "phone-a1b2c3",
        "tid": "NF",
        "mqttProtocolLevel": 4,
        "pubQos": 1,
    }
    # the app publishes to owntracks/<username>/<deviceId>: the ACL's %u level
    assert setup.owntracks_topic == "owntracks/phone-a1b2c3/phone-a1b2c3"


def test_the_traccar_link_keeps_the_device_token_in_its_server_url() -> None:
    setup = phone_setup(
        CREDS,
        broker=BROKER,
        public_base_url="https://track.example.com/",
        owner="Nina Field",
    )
    link = urlsplit(setup.traccar_url)
    assert (link.scheme, link.netloc) == ("org.traccar.client", "config")
    query = parse_qs(link.query)
    assert query["id"] == ["phone-a1b2c3"]
    assert query["accuracy"] == ["high"]
    server = urlsplit(query["url"][0])
    assert (server.scheme, server.netloc, server.path) == (
        "https",
        "track.example.com",
        "/api/v1/osmand",
    )
    assert parse_qs(server.query) == {"token": ["dev_tok+/"]}
    assert query["url"] == [setup.osmand_url]


def test_phones_are_told_the_public_host_unless_a_phone_host_is_set() -> None:
    assert phone_broker("", 0, False, "https://track.example.com", 51883) == Broker(
        "track.example.com", 51883, False
    )
    assert phone_broker("mqtt.example.com", 8883, True, "https://x", 51883) == Broker(
        "mqtt.example.com", 8883, True
    )


def test_a_tracker_id_is_two_initials() -> None:
    assert tracker_id("Nina Field") == "NF"
    assert tracker_id("Élodie") == "ÉX"
    assert tracker_id("jo van der berg") == "JV"


def test_a_qr_code_is_an_svg_made_here() -> None:
    uri = qr_svg("owntracks:///config?inline=abc")
    assert uri.startswith("data:image/svg+xml")
    assert "http" not in uri.split(",", 1)[0]


def test_the_page_lists_times_in_the_company_zone_and_names_the_apps() -> None:
    zone = ZoneInfo("Europe/Paris")
    seen = datetime(2026, 12, 7, 13, 5, tzinfo=UTC)
    device = DeviceRecord(
        "phone-1", "", uuid4(), "Nina Field", uuid4(), seen, None, False, seen, "osmand"
    )
    quiet = DeviceRecord(
        "phone-2", "spare", None, None, None, seen, seen, False, None, None
    )
    rows = model.device_rows([device, quiet], zone)
    assert rows[0] == {
        "device": "phone-1",
        "label": "—",
        "owner": "Nina Field",
        "kind": "Traccar Client",
        "last_seen": "2026-12-07 14:05:00",
        "state": "active",
    }
    assert rows[1]["kind"] == "never heard from"
    assert rows[1]["state"] == "revoked 2026-12-07 14:05:00"
    assert model.device_options([device, quiet]) == [
        {"label": "phone-1 (Nina Field)", "value": "phone-1"}
    ]


def test_only_active_technicians_are_offered_for_a_phone() -> None:
    t = datetime(2026, 12, 7, tzinfo=UTC)

    def account(name: str, tech: bool, disabled: bool = False) -> UserAccount:
        return UserAccount(
            uuid4(),
            name,
            None,
            "technician" if tech else "billing",
            t,
            t if disabled else None,
            False,
            uuid4() if tech else None,
            name if tech else None,
            False,
            None,
        )

    found = [account("Nina", True), account("Bea", False), account("Old", True, True)]
    assert [o["label"] for o in model.technician_options(found)] == ["Nina"]
    assert model.user_rows(found, ZoneInfo("UTC"))[2]["state"] == (
        "disabled 2026-12-07 00:00:00"
    )


def test_the_set_up_shown_once_holds_the_login_and_both_apps_qr_codes() -> None:
    setup = phone_setup(
        CREDS, broker=BROKER, public_base_url="https://x.example", owner="Nina"
    )
    rows = dict(model.setup_rows(setup))
    assert rows["MQTT password"] == "pw+/=secret"
    assert rows["MQTT port"] == "8883 (TLS)"
    apps = model.app_setups(setup)
    assert [a.app for a in apps] == ["OwnTracks", "Traccar Client"]
    assert [a.link for a in apps] == [setup.owntracks_url, setup.traccar_url]
    assert all(a.qr.startswith("data:image/svg+xml") for a in apps)
