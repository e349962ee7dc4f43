"""`crewtrack up` (what `make run` runs): the whole stack from nothing, and back.

Runs the real command in a subprocess with its own data folder and free ports,
as a newcomer would, then stops it with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from crewtrack.servers import PortAllocator, port_is_open
from crewtrack.settings import Settings, with_stack_secrets

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT_S = 120.0
FIX_TIMEOUT_S = 60.0


class Up:
    def __init__(self, home: Path, ports: dict[str, int]) -> None:
        self.home = home
        self.ports = ports
        self.env = {
            **os.environ,
            "CREWTRACK_HOME": str(home),
            "CREWTRACK_DATABASE_URL": f"postgresql://crewtrack@127.0.0.1:{ports['pg']}/crewtrack",
            "CREWTRACK_REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
            "CREWTRACK_MQTT_PORT": str(ports["mqtt"]),
            "CREWTRACK_API_PORT": str(ports["api"]),
            "CREWTRACK_DASHBOARD_PORT": str(ports["dashboard"]),
            "CREWTRACK_INGEST_METRICS_PORT": str(ports["metrics"]),
            "CREWTRACK_API_METRICS_PORT": str(ports["api_metrics"]),
            "CREWTRACK_ATTACHMENTS_DIR": str(home / "attachments"),
            "CREWTRACK_SIMULATE_DEVICES": "3",
            "CREWTRACK_SIMULATE_RATE_HZ": "1",
        }
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def dsn(self) -> str:
        """The app role's URL with the password `up` generated (as the CLI sees it)."""
        configured = Settings(
            home=self.home, database_url=self.env["CREWTRACK_DATABASE_URL"]
        )
        return with_stack_secrets(configured).database_url

    def start(self) -> str:
        """Start `crewtrack up` and return its banner once it prints one."""
        self.output = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crewtrack", "up"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if line.startswith("Ctrl-C stops everything"):
                return "".join(self.output)
        raise AssertionError("no banner from crewtrack up:\n" + "".join(self.output))

    def interrupt(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        self.output.append(out)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    ports = PortAllocator()
    runner = Up(
        tmp_path / "home",
        {
            k: ports.free_port()
            for k in (
                "pg",
                "redis",
                "mqtt",
                "api",
                "dashboard",
                "metrics",
                "api_metrics",
            )
        },
    )
    yield runner
    runner.kill()


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (our own server)
        return resp.status, resp.read()


def _fix_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM fixes").fetchone()
    return 0 if row is None else int(row[0])


def _wait_for_fixes(dsn: str, more_than: int) -> int:
    deadline = time.monotonic() + FIX_TIMEOUT_S
    count = 0
    while time.monotonic() < deadline:
        count = _fix_count(dsn)
        if count > more_than:
            return count
        time.sleep(1)
    raise AssertionError(f"no new simulated fixes landed (still {count})")


def test_up_runs_the_stack_with_a_simulated_fleet_and_stops_cleanly_on_ctrl_c(
    up: Up,
) -> None:
    banner = up.start()
    token = re.search(r"API token : (\S+)", banner)
    assert token is not None, banner
    assert "admin     : admin@crewtrack.local" in banner
    assert "not answering" not in banner, banner

    status, body = _get(f"http://127.0.0.1:{up.ports['api']}/api/v1/health")
    assert status == 200, body
    request = urllib.request.Request(
        f"http://127.0.0.1:{up.ports['api']}/api/v1/jobs",
        headers={"Authorization": f"Bearer {token.group(1)}"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
        assert resp.status == 200
    status, _ = _get(f"http://127.0.0.1:{up.ports['dashboard']}/login")
    assert status == 200
    status, metrics = _get(f"http://127.0.0.1:{up.ports['metrics']}/metrics")
    assert status == 200
    assert b"# TYPE" in metrics
    # the HTTP uploads' counters, under the ingest's names
    status, api_metrics = _get(f"http://127.0.0.1:{up.ports['api_metrics']}/metrics")
    assert status == 200
    assert b"crewtrack_ingest_rejected_by_protocol_total" in api_metrics
    assert f":{up.ports['api_metrics']}/metrics" in banner

    stored = _wait_for_fixes(up.dsn, 0)

    assert up.interrupt() == 0, "".join(up.output)
    for name, port in up.ports.items():
        assert not port_is_open(port), f"{name} still listening on {port}"

    # A second `make run` reuses the data: same fixes, same admin, same token,
    # but the secrets are not printed again: the banner says where they are.
    banner = up.start()
    assert token.group(1) not in banner
    assert "API token :" not in banner
    assert f"{up.home / 'secrets.json'}" in banner
    assert "crewtrack admin token --email admin@crewtrack.local" in banner
    assert _fix_count(up.dsn) >= stored
    _wait_for_fixes(up.dsn, _fix_count(up.dsn))
    secrets = json.loads((up.home / "secrets.json").read_text())
    assert secrets["admin_token"] == token.group(1)
    for secret_file in ("secrets.json", "mosquitto/passwd", "mosquitto/acl"):
        assert (up.home / secret_file).stat().st_mode & 0o077 == 0, secret_file
    assert up.interrupt() == 0


def test_up_refuses_to_start_over_a_stack_that_is_already_running(up: Up) -> None:
    up.start()
    second = subprocess.run(
        [sys.executable, "-m", "crewtrack", "up"],
        env=up.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert "in use" in second.stderr
    assert up.interrupt() == 0
