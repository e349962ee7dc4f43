"""Helpers for ingest integration tests: worker subprocesses, device publishers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from crewtrack.outbox import Outbox
from crewtrack.servers import PortAllocator
from crewtrack.settings import Settings
from ingest.metrics import sample as metric

ROOT = Path(__file__).resolve().parents[3]
_ports = PortAllocator()


class Worker:
    """An ingest replica as a real process (so SIGKILL is real)."""

    def __init__(self, settings: Settings, client_id: str, log_path: Path) -> None:
        self.settings = settings.replace(
            ingest_client_id=client_id, ingest_metrics_port=_ports.free_port()
        )
        self.client_id = client_id
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        env = {**os.environ, **self.settings.as_env(), "PYTHONPATH": str(ROOT)}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crewtrack",
                "ingest",
                "--client-id",
                self.client_id,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, timeout_s: float = 30) -> Worker:
        """Wait until the worker is connected and subscribed (metrics say so).

        Also checks that it reads MQTT on the path its settings ask for.
        """
        fast = 1 if self.settings.ingest_mqtt_fast_path == "auto" else 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("worker exited:\n" + self.log()[-3000:])
            try:
                metrics = self.metrics()
            except OSError:
                metrics = ""
            if metric(metrics, "crewtrack_ingest_connected") == 1:
                path = metric(metrics, "crewtrack_ingest_mqtt_fast_path")
                assert path == fast, self.log()[-3000:]
                return self
            time.sleep(0.05)
        raise TimeoutError("worker not ready:\n" + self.log()[-3000:])

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=40)
        self.proc = None
        return rc

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample's value now (None when absent or the worker does not answer)."""
        try:
            return metric(self.metrics(), name, **labels)
        except OSError:
            return None

    def metrics(self) -> str:
        import urllib.request

        url = f"http://127.0.0.1:{self.settings.ingest_metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def workers(
    settings: Settings, tmp_path: Path, ids: tuple[str, ...] = ("ingest-0",)
) -> Iterator[list[Worker]]:
    started = [Worker(settings, i, tmp_path / f"{i}.log").start() for i in ids]
    try:
        for w in started:
            w.wait_ready()
        yield started
    finally:
        for w in started:
            w.kill()


class Phone:
    """A phone with its own broker credentials; tracks which publishes were acked.

    paho keeps a QoS 1 message published while disconnected and sends it after
    the reconnect, but reports it as failed; acks are therefore tracked with
    ``on_publish`` (mid -> reason code).
    """

    def __init__(
        self, port: int, device_id: str, password: str, *, v5: bool = True
    ) -> None:
        self.device_id = device_id
        self.acked: dict[int, Any] = {}
        self.sent: list[int] = []
        self.disconnects: list[Any] = []  # reason codes, broker's and our own
        self.received: list[tuple[str, bytes]] = []  # messages on subscribed topics
        self._lock = threading.Lock()
        self._login = (device_id, password, v5)
        self.connect(port)

    def connect(self, port: int) -> None:
        """Connect with a new client (a closed one cannot restart its loop cleanly)."""
        device_id, password, v5 = self._login
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"phone-{device_id}",
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        )
        client.username_pw_set(device_id, password)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(0.2, 1)
        client.on_publish = self._on_publish
        client.on_disconnect = self._on_disconnect
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        with self._lock:
            self.sent, self.acked = [], {}  # message ids are the client's
        self.client = client
        client.connect("127.0.0.1", port, 30)
        client.loop_start()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        """Runs on paho's thread after each (re)connect."""

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append((m.topic, bytes(m.payload)))

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the broker's SUBACK."""
        done = threading.Event()
        self.client.on_subscribe = lambda *_a: done.set()
        self.client.subscribe(topic, qos=1)
        if not done.wait(10):
            raise TimeoutError(f"no SUBACK for {topic}")

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        with self._lock:
            self.acked[mid] = rc

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        with self._lock:
            self.disconnects.append(rc)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> int:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        self.sent.append(info.mid)
        return info.mid

    def wait_acked(self, timeout_s: float = 60) -> dict[int, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                if all(m in self.acked for m in self.sent):
                    return dict(self.acked)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.device_id}: broker never acked some messages"
                )
            time.sleep(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class OutboxPhone(Phone):
    """A native phone as ``crewtrack simulate`` runs one: an :class:`Outbox`
    keeps every fix and event until the end-to-end ack; each (re)connect
    subscribes to the ack topic and resends everything unacked, and so does an
    overdue ack (:meth:`tick`)."""

    def __init__(
        self, port: int, device_id: str, password: str, *, ack_timeout_s: float = 5
    ) -> None:
        self.outbox = Outbox(ack_timeout_s=ack_timeout_s, max_ack_timeout_s=10)
        self.topic = f"crewtrack/v1/{device_id}"
        self.box_lock = threading.Lock()  # paho's thread and the test's
        self.resends = 0
        super().__init__(port, device_id, password)

    def _on_connect(self, c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            return
        c.subscribe(f"{self.topic}/ack", qos=1)
        with self.box_lock:
            messages = self.outbox.resend(time.time())
            self.resends += bool(messages)
        self._send(messages)

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        with self.box_lock:
            self.outbox.on_ack(bytes(m.payload))

    def add_fix(self, fix: dict[str, Any]) -> None:
        with self.box_lock:
            assert self.outbox.add_fix(fix)
        self.flush()

    def add_event(self, event: dict[str, Any]) -> None:
        with self.box_lock:
            self.outbox.add_event(event)
        self.flush()

    def flush(self) -> None:
        """Send what was never sent (kept for the reconnect while offline)."""
        if not self.client.is_connected():
            return
        with self.box_lock:
            messages = self.outbox.outgoing(time.time())
        self._send(messages)

    def tick(self) -> None:
        """Resend everything unacked when an ack is overdue."""
        now = time.time()
        with self.box_lock:
            due = self.client.is_connected() and self.outbox.due_for_resend(now)
            messages = self.outbox.resend(now) if due else []
        self._send(messages)

    def _send(self, messages: list[tuple[str, bytes]]) -> None:
        for kind, payload in messages:
            self.publish(f"{self.topic}/{kind}", payload)

    def unacked(self) -> int:
        with self.box_lock:
            return self.outbox.unacked().total

    def wait_all_acked(self, timeout_s: float = 60) -> None:
        """Until the outbox is empty (resending when acks are overdue)."""
        deadline = time.monotonic() + timeout_s
        while self.unacked():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.device_id}: {self.unacked()} never acked")
            self.tick()
            time.sleep(0.05)


def device_client(
    port: int, device_id: str, password: str, *, v5: bool = True
) -> Phone:
    """A connected phone (its own credentials), network loop running."""
    return Phone(port, device_id, password, v5=v5)


def publish_all(
    phone: Phone,
    messages: list[tuple[str, bytes]],
    *,
    qos: int = 1,
    retain: bool = False,
    timeout_s: float = 60,
) -> dict[int, Any]:
    """Publish and wait for every PUBACK; returns mid -> reason code."""
    for t, p in messages:
        phone.publish(t, p, qos=qos, retain=retain)
    return phone.wait_acked(timeout_s)


def wait_until(
    predicate: Callable[[], Any], timeout_s: float = 30, interval_s: float = 0.1
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


def count(db_url: str, sql: str, *params: Any) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(sql, params).fetchone()
        return int(row[0]) if row else 0
