"""SIGTERM ends a worker promptly while fixes stream in, and loses nothing.

Every shutdown step is bounded (ingest/service.py); the bound asserted here is
only the generous one of ``Worker.stop`` (40 s) - how fast is the bench's job.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import msgpack

from crewtrack.settings import Settings
from tests.conftest import Broker
from tests.integration.ingest.helpers import Worker, count, device_client, wait_until

FIXES = 3_000
STREAM_SECONDS = 3.0


def test_sigterm_ends_a_streaming_worker_promptly_and_a_restart_stores_the_rest(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    password = broker.add_device("term-1")
    base = int(time.time() * 1000) - 3600_000
    worker = Worker(settings, "ingest-0", tmp_path / "ingest-0.log").start()
    worker.wait_ready()
    phone = device_client(broker.port, "term-1", password)
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            for i in range(FIXES):
                body = {"t": base + i * 1000, "lat": 48.1 + i * 1e-5, "lon": 11.5}
                phone.publish("crewtrack/v1/term-1/fix", msgpack.packb(body))
                time.sleep(STREAM_SECONDS / FIXES)
            phone.wait_acked(timeout_s=60)
        except BaseException as exc:
            errors.append(exc)

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        wait_until(
            lambda: count(settings.database_url, "SELECT count(*) FROM fixes") > 0,
            timeout_s=30,
        )
        assert worker.proc is not None
        proc = worker.proc
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=40)
        took = time.monotonic() - started
        worker.proc = None
        assert rc == 0, worker.log()[-3000:]
        assert "did not finish" not in worker.log(), worker.log()[-3000:]
        streamer.join()
        assert not errors, errors
        # what the stopped worker did not ack comes back to the next one
        w2 = Worker(settings, "ingest-0", tmp_path / "ingest-0b.log").start()
        try:
            w2.wait_ready()
            wait_until(
                lambda: (
                    count(settings.database_url, "SELECT count(*) FROM fixes") >= FIXES
                ),
                timeout_s=60,
                interval_s=0.2,
            )
            time.sleep(0.5)
            assert (
                count(settings.database_url, "SELECT count(DISTINCT time) FROM fixes")
                == count(settings.database_url, "SELECT count(*) FROM fixes")
                == FIXES
            )
            assert w2.stop() == 0
        finally:
            w2.kill()
    finally:
        streamer.join()
        phone.close()
        worker.kill()
    assert took < 40
