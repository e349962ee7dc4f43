"""``crewtrack simulate``: realistic phones publishing through the real broker.

Each simulated technician drives between job sites around a town centre
(~40 km/h with GPS noise and a realistic accuracy), dwells on site, clocks in
on arrival and out on departure, and publishes with its own broker
credentials, exactly as the app does: single fixes while online, and after an
``--offline-burst`` the whole backlog as ``{"fixes": [...]}`` batches.

Every fix and clock event stays in the phone's :class:`~crewtrack.outbox.Outbox`
until the ingest's end-to-end ack on ``crewtrack/v1/<id>/ack`` says it is
stored (a PUBACK is not enough: docs/protocol.md "End-to-end ack"); after a
reconnect, and when an ack is overdue, whatever is unacked is sent again. At
the end of ``--duration`` each phone waits up to :data:`DRAIN_S` for its last
acks.

Credentials are kept in ``<home>/sim-devices.json`` so a second run reuses
them; ``--register`` adds missing devices to the registry.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import random
import selectors
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from crewtrack.outbox import Outbox
from crewtrack.settings import Settings
from ingest.broker_auth import hash_mqtt_password
from storage.devices import DeviceError, add_device

log = logging.getLogger(__name__)

CENTRE = (48.137, 11.575)  # Munich: any town works; the dashboard centres on the fleet
SITE_SPREAD_M = 8_000  # job sites within ~8 km of the centre: a day's service area
DRIVE_SPEED_MS = 11.0  # ~40 km/h average in town
DWELL_S = (120.0, 600.0)  # on site between 2 and 10 minutes (compressed for a demo)
GPS_NOISE_M = (3.0, 15.0)  # 68 % accuracy of a phone outdoors … near buildings
M_PER_DEG = 111_320.0
DRAIN_S = 10.0  # at the end, wait this long for the last acks
RESEND_CHECK_S = 1.0  # how often phones look for overdue acks


@dataclass
class SimDevice:
    device_id: str
    password: str
    rng: random.Random
    lat: float = CENTRE[0]
    lon: float = CENTRE[1]
    target: tuple[float, float] = CENTRE
    job: str = ""
    dwell_until: float = 0.0
    heading: float = 0.0
    speed: float = 0.0
    battery: float = 100.0
    offline_from: float = math.inf
    offline_until: float = -math.inf
    outbox: Outbox = field(default_factory=Outbox)
    client: mqtt.Client | None = None

    @property
    def topic(self) -> str:
        return f"crewtrack/v1/{self.device_id}"

    def offline(self, now: float) -> bool:
        """Whether the simulated phone has no signal (``--offline-burst``)."""
        return self.offline_from <= now < self.offline_until

    def send(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish outbox messages (``(kind, payload)``) at QoS 1."""
        assert self.client is not None
        for kind, payload in messages:
            self.client.publish(f"{self.topic}/{kind}", payload, qos=1)

    def flush(self, now: float, *, resend: bool = False) -> None:
        """Send what the outbox holds unsent (everything unacked if ``resend``)."""
        if self.client is None or not self.client.is_connected():
            return  # the outbox keeps it; the reconnect resends
        box = self.outbox
        self.send(box.resend(now) if resend else box.outgoing(now))

    def pick_site(self) -> None:
        r = SITE_SPREAD_M * math.sqrt(self.rng.random())
        a = self.rng.random() * 2 * math.pi
        self.target = (
            CENTRE[0] + r * math.cos(a) / M_PER_DEG,
            CENTRE[1]
            + r * math.sin(a) / (M_PER_DEG * math.cos(math.radians(CENTRE[0]))),
        )
        self.job = f"sim-job-{self.rng.randrange(1, 500)}"

    def step(self, dt: float, now: float) -> list[dict[str, Any]]:
        """Advance ``dt`` seconds; return clock events that happened."""
        events: list[dict[str, Any]] = []
        self.battery = max(5.0, self.battery - dt * 0.0005)
        if now < self.dwell_until:
            self.speed = 0.0
            if now + dt >= self.dwell_until:
                events.append(self._event("clock_out", now))
                self.pick_site()
            return events
        dy = (self.target[0] - self.lat) * M_PER_DEG
        dx = (self.target[1] - self.lon) * M_PER_DEG * math.cos(math.radians(self.lat))
        dist = math.hypot(dx, dy)
        step = DRIVE_SPEED_MS * dt * self.rng.uniform(0.6, 1.3)
        if dist <= step:
            self.lat, self.lon = self.target
            self.dwell_until = now + self.rng.uniform(*DWELL_S)
            events.append(self._event("clock_in", now))
            return events
        self.lat += dy / dist * step / M_PER_DEG
        self.lon += dx / dist * step / (M_PER_DEG * math.cos(math.radians(self.lat)))
        self.heading = math.degrees(math.atan2(dx, dy)) % 360
        self.speed = step / dt
        return events

    def _event(self, kind: str, now: float) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "type": kind,
            "t": int(now * 1000),
            "job": self.job,
            "lat": self.lat,
            "lon": self.lon,
        }

    def fix(self, now: float) -> dict[str, Any]:
        acc = self.rng.uniform(*GPS_NOISE_M)
        noise = self.rng.gauss(0, acc / 1.5)
        bearing = self.rng.random() * 2 * math.pi
        return {
            "t": int(now * 1000),
            "lat": round(self.lat + noise * math.cos(bearing) / M_PER_DEG, 7),
            "lon": round(
                self.lon
                + noise
                * math.sin(bearing)
                / (M_PER_DEG * math.cos(math.radians(self.lat))),
                7,
            ),
            "acc": round(acc, 1),
            "spd": round(self.speed, 1),
            "hdg": round(self.heading, 1),
            "bat": round(self.battery, 1),
            "src": "fused",
        }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="crewtrack simulate", description=__doc__)
    p.add_argument(
        "--devices", type=int, default=None, help="phones (default: setting)"
    )
    p.add_argument("--rate", type=float, default=None, help="fixes/s per phone")
    p.add_argument(
        "--duration", type=float, default=0, help="seconds; 0 = until Ctrl-C"
    )
    p.add_argument(
        "--offline-burst",
        type=float,
        default=0,
        metavar="SECONDS",
        help="each phone goes offline once for SECONDS, then syncs its backlog",
    )
    p.add_argument("--register", action="store_true", help="add missing devices")
    p.add_argument("--prefix", default="sim", help="device id prefix")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def credentials_file(settings: Settings) -> Path:
    return settings.home / "sim-devices.json"


def load_credentials(
    settings: Settings, ids: list[str], register: bool
) -> dict[str, dict[str, str]]:
    """Credentials of ``ids`` from the JSON file, registering missing ones if asked."""
    path = credentials_file(settings)
    known: dict[str, dict[str, str]] = (
        json.loads(path.read_text()) if path.exists() else {}
    )
    missing = [d for d in ids if d not in known]
    if missing:
        if not register:
            raise SystemExit(
                f"no credentials for {len(missing)} device(s) in {path}; use --register"
            )
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            for dev in missing:
                try:
                    creds = add_device(
                        conn,
                        dev,
                        hash_password=hash_mqtt_password,
                        label="simulated phone",
                    )
                except DeviceError:
                    # registered by an earlier run whose file was lost: new password
                    conn.execute("DELETE FROM devices WHERE id = %s", (dev,))
                    creds = add_device(
                        conn,
                        dev,
                        hash_password=hash_mqtt_password,
                        label="simulated phone",
                    )
                known[dev] = creds.as_dict()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1))
        tmp.chmod(0o600)
        tmp.replace(path)
    return known


class FleetLoop:
    """Every phone's MQTT connection on one thread, through one selector.

    paho's external-loop API (socket open/close and want-write callbacks,
    ``loop_read``/``loop_write``/``loop_misc``) instead of a network thread per
    phone, so thousands of phones cost sockets, not threads. A phone whose
    connection drops reconnects after a back-off, as the app does.
    """

    RECONNECT_S = (1.0, 30.0)
    MISC_EVERY_S = 1.0  # keepalive pings and retries

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.selector = selectors.DefaultSelector()
        self.clients: list[mqtt.Client] = []
        self.retry_at: dict[mqtt.Client, tuple[float, float]] = {}
        self._misc_at = 0.0
        self._closing = False

    def add(self, dev: SimDevice) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"phone-{dev.device_id}",
            protocol=mqtt.MQTTv5,
            userdata=dev,
        )
        client.username_pw_set(dev.device_id, dev.password)
        client.max_queued_messages_set(0)
        client.will_set(
            f"crewtrack/v1/{dev.device_id}/status", b"offline", qos=1, retain=True
        )
        client.on_connect = self._connected
        client.on_message = self._acked
        client.on_socket_open = self._opened
        client.on_socket_close = self._closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._wrote
        self.clients.append(client)
        self._connect(client, self.RECONNECT_S[0])
        return client

    @staticmethod
    def _connected(
        client: mqtt.Client, dev: SimDevice, _f: Any, rc: Any, _p: Any
    ) -> None:
        """Subscribe to the acks, say online, resend everything unacked."""
        if rc.is_failure:
            return
        client.subscribe(f"{dev.topic}/ack", qos=1)
        client.publish(f"{dev.topic}/status", b"online", qos=1, retain=True)
        now = time.time()
        if not dev.offline(now):
            dev.flush(now, resend=True)

    @staticmethod
    def _acked(_c: mqtt.Client, dev: SimDevice, message: mqtt.MQTTMessage) -> None:
        dev.outbox.on_ack(bytes(message.payload))

    def _connect(self, client: mqtt.Client, backoff: float) -> None:
        try:
            if client.socket() is None and client not in self.retry_at:
                client.connect(self.settings.mqtt_host, self.settings.mqtt_port, 60)
            else:
                client.reconnect()
            self.retry_at.pop(client, None)
        except OSError as exc:
            log.debug("phone connect failed (%s); retrying in %.0f s", exc, backoff)
            self.retry_at[client] = (
                time.monotonic() + backoff,
                min(backoff * 2, self.RECONNECT_S[1]),
            )

    def _opened(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self.selector.register(sock, selectors.EVENT_READ, client)

    def _closed(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(sock)
        if not self._closing and client not in self.retry_at:
            self.retry_at[client] = (
                time.monotonic() + self.RECONNECT_S[0],
                self.RECONNECT_S[0] * 2,
            )

    def _want_write(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(
                sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client
            )

    def _wrote(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(sock, selectors.EVENT_READ, client)

    def run_for(self, seconds: float) -> None:
        """Serve every connection for up to ``seconds`` (at least one select)."""
        deadline = time.monotonic() + seconds
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            if not self.selector.get_map():
                time.sleep(timeout)  # nobody connected: only retries are due
            else:
                for key, mask in self.selector.select(timeout):
                    client: mqtt.Client = key.data
                    if mask & selectors.EVENT_READ:
                        client.loop_read()
                    if mask & selectors.EVENT_WRITE and client.socket() is not None:
                        client.loop_write()
            now = time.monotonic()
            if now >= self._misc_at:
                self._misc_at = now + self.MISC_EVERY_S
                for client in self.clients:
                    if client.socket() is not None:
                        client.loop_misc()
                for client, (at, backoff) in list(self.retry_at.items()):
                    if at <= now:
                        self._connect(client, backoff)
            if now >= deadline:
                return

    def pending_writes(self) -> bool:
        return any(c.want_write() for c in self.clients if c.socket() is not None)

    def close(self, timeout_s: float) -> None:
        """Send what is queued (bounded), then disconnect every phone."""
        deadline = time.monotonic() + timeout_s
        while self.pending_writes() and time.monotonic() < deadline:
            self.run_for(0.05)
        self._closing = True
        self.retry_at.clear()
        for client in self.clients:
            client.disconnect()
        self.run_for(0.1)
        self.selector.close()


def main(argv: list[str] | None, settings: Settings) -> int:
    """Run the simulated fleet; returns 0 when ``--duration`` is over."""
    args = parse_args(argv)
    n = settings.simulate_devices if args.devices is None else args.devices
    rate = settings.simulate_rate_hz if args.rate is None else args.rate
    if n <= 0 or rate <= 0:
        return 0
    ids = [f"{args.prefix}-{i:04d}" for i in range(n)]
    creds = load_credentials(settings, ids, args.register)
    master = random.Random(args.seed)  # noqa: S311 - a simulation, not security
    start = time.time()
    fleet: list[SimDevice] = []
    net = FleetLoop(settings)
    for dev_id in ids:
        d = SimDevice(
            dev_id,
            creds[dev_id]["mqtt_password"],
            random.Random(master.random()),  # noqa: S311
        )
        d.pick_site()
        d.lat += d.rng.uniform(-0.02, 0.02)
        d.lon += d.rng.uniform(-0.03, 0.03)
        if args.offline_burst > 0:
            window = (
                max(args.duration - args.offline_burst, 1.0) if args.duration else 60.0
            )
            d.offline_from = start + d.rng.uniform(0, window * 0.5)
            d.offline_until = d.offline_from + args.offline_burst
        d.client = net.add(d)
        fleet.append(d)
    interval = 1.0 / rate
    next_at = {d.device_id: start + d.rng.random() * interval for d in fleet}
    published = 0
    resend_at = 0.0
    log.info("simulating %d phones at %.2f Hz", n, rate)
    try:
        while not args.duration or time.time() - start < args.duration:
            now = time.time()
            if now >= resend_at:
                resend_at = now + RESEND_CHECK_S
                for d in fleet:
                    if not d.offline(now) and d.outbox.due_for_resend(now):
                        d.flush(now, resend=True)
            due = min(next_at.values())
            if due > now:
                net.run_for(min(due - now, 0.05))
                continue
            for d in fleet:
                if next_at[d.device_id] > now:
                    continue
                next_at[d.device_id] += interval
                for e in d.step(interval, now):
                    d.outbox.add_event(e)
                d.outbox.add_fix(d.fix(now))
                published += 1
                if not d.offline(now):
                    d.flush(now)  # a fix, or the backlog after an offline burst
            net.run_for(0)  # send what this tick queued
    except KeyboardInterrupt:
        pass
    finally:
        unacked = drain(fleet, net, DRAIN_S)
        for d in fleet:
            if d.client is not None:
                d.client.publish(f"{d.topic}/status", b"offline", qos=1, retain=True)
        net.close(timeout_s=10)
    log.info("published %d fixes; %d items never acked", published, unacked)
    return 0


def drain(fleet: list[SimDevice], net: FleetLoop, timeout_s: float) -> int:
    """Send every outbox's rest, wait up to ``timeout_s`` for the acks; unacked left."""
    deadline = time.monotonic() + timeout_s
    for d in fleet:
        d.offline_until = -math.inf  # the burst is over: send what was held
        d.flush(time.time())
    while time.monotonic() < deadline:
        if not any(d.outbox.unacked().total for d in fleet):
            break
        now = time.time()
        for d in fleet:
            if d.outbox.due_for_resend(now):
                d.flush(now, resend=True)
        net.run_for(0.05)
    return sum(d.outbox.unacked().total for d in fleet)
