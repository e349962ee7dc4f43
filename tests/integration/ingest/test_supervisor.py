"""`crewtrack up` restarts an ingest replica that is alive but stays disconnected."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest

from crewtrack.runner import Child, ingest_watch, read_metrics, supervise_once
from crewtrack.servers import PortAllocator
from crewtrack.settings import Settings
from ingest.metrics import sample, samples
from tests.integration.ingest.helpers import ROOT, wait_until

RESTART_AFTER_S = 4.0


def _ingest_child(settings: Settings, tmp_path: Path) -> Child:
    port = PortAllocator().free_port()
    settings = settings.replace(
        ingest_metrics_port=port,
        ingest_restart_after_s=RESTART_AFTER_S,
        ingest_reconnect_max_s=0.5,
    )
    env = {**os.environ, **settings.as_env(), "PYTHONPATH": str(ROOT)}
    return Child(
        "ingest-0",
        [sys.executable, "-m", "crewtrack", "ingest", "--client-id", "ingest-sv"],
        env,
        tmp_path / "ingest-0.log",
        watch=ingest_watch(settings, port),
    )


def _pid(child: Child) -> int | None:
    return None if child.proc is None else child.proc.pid


def test_an_ingest_locked_out_for_too_long_is_restarted_and_the_log_says_why(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    child = _ingest_child(settings.replace(mqtt_password="wrong"), tmp_path)
    child.start()
    first = _pid(child)
    watch = child.watch
    assert watch is not None
    try:
        # the broker has refused it at least once before the watch looks: on a
        # loaded machine the child's start-up alone can outlast RESTART_AFTER_S,
        # and then the (right) reason would be that its metrics do not answer
        def refused() -> bool:
            text = read_metrics(watch.metrics_url)
            failures = samples(text or "", "crewtrack_ingest_connection_failures_total")
            return any(v > 0 for v in failures.values())

        wait_until(refused, timeout_s=60)
        with caplog.at_level(logging.WARNING, logger="crewtrack.up"):

            def restarted() -> bool:
                supervise_once([child], time.monotonic())
                return _pid(child) not in (None, first) and child.poll() is None

            wait_until(restarted, timeout_s=120, interval_s=0.2)
        assert "ingest-0 is alive but not connected to the broker for" in caplog.text
        assert "connection failures: refused" in caplog.text
    finally:
        child.terminate()
        child.wait(timeout=15)


def test_a_connected_ingest_is_left_alone(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    child = _ingest_child(settings, tmp_path)
    child.start()
    first = _pid(child)
    watch = child.watch
    assert watch is not None
    try:

        def connected() -> bool:
            text = read_metrics(watch.metrics_url)
            return text is not None and sample(text, "crewtrack_ingest_connected") == 1

        wait_until(connected, timeout_s=60)
        connected_at = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="crewtrack.up"):

            def watched_long_enough() -> bool:
                supervise_once([child], time.monotonic())
                return time.monotonic() - connected_at > 3 * RESTART_AFTER_S

            wait_until(watched_long_enough, timeout_s=60, interval_s=0.2)
        assert _pid(child) == first
        assert child.poll() is None
        assert "restarting" not in caplog.text
    finally:
        child.terminate()
        child.wait(timeout=15)
