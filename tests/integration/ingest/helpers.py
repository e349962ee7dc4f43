"""Helpers for ingest integration tests: worker subprocesses, device publishers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from crewtrack.servers import PortAllocator
from crewtrack.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
_ports = PortAllocator()


class Worker:
    """An ingest replica as a real process (so SIGKILL is real)."""

    def __init__(self, settings: Settings, client_id: str, log_path: Path) -> None:
        self.settings = settings.replace(
            ingest_client_id=client_id, ingest_metrics_port=_ports.free_port()
        )
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        env = {**os.environ, **self.settings.as_env(), "PYTHONPATH": str(ROOT)}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ingest"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def wait_ready(self, timeout_s: float = 30) -> Worker:
        """Wait until the worker is connected and subscribed (metrics say so)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("worker exited:\n" + self.log()[-3000:])
            try:
                if "crewtrack_ingest_connected 1" in self.metrics():
                    return self
            except OSError:
                pass
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

    def metrics(self) -> str:
        import urllib.request

        url = f"http://127.0.0.1:{self.settings.ingest_metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - local
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


def device_client(
    port: int, device_id: str, password: str, *, v5: bool = True
) -> mqtt.Client:
    """A connected phone (its own credentials), network loop running."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"phone-{device_id}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    client.username_pw_set(device_id, password)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    return client


def publish_all(
    client: mqtt.Client,
    messages: list[tuple[str, bytes]],
    *,
    qos: int = 1,
    retain: bool = False,
    timeout_s: float = 60,
) -> None:
    """Publish and wait for every PUBACK; a message whose ack is lost is re-sent."""
    infos = [client.publish(t, p, qos=qos, retain=retain) for t, p in messages]
    for (t, p), info in zip(messages, infos, strict=True):
        deadline = time.monotonic() + timeout_s
        while not info.is_published():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no PUBACK for {t}")
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS,) or not client.is_connected():
                time.sleep(0.2)
                if client.is_connected():
                    info = client.publish(t, p, qos=qos, retain=retain)
                continue
            info.wait_for_publish(0.5)


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
