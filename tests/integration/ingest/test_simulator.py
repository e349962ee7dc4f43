"""The simulator registers its phones and publishes through the real broker."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psycopg
import pytest

from crewtrack import simulator
from crewtrack.settings import Settings
from ingest.broker_auth import device_accounts
from storage.devices import device_logins
from tests.conftest import Broker
from tests.integration.ingest.helpers import count, wait_until, workers


def test_simulated_phones_register_publish_and_sync_an_offline_backlog(
    settings: Settings,
    broker: Broker,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = [f"simt-{i:04d}" for i in range(3)]
    creds = simulator.load_credentials(settings, ids, register=True)
    saved = json.loads((settings.home / "sim-devices.json").read_text())
    assert set(saved) == set(ids)
    assert saved == creds
    with psycopg.connect(settings.database_url) as conn:
        broker.write_accounts(device_accounts(device_logins(conn)))
    with workers(settings, tmp_path), caplog.at_level(logging.INFO, "crewtrack"):
        rc = simulator.main(
            [
                "--devices",
                "3",
                "--rate",
                "5",
                "--duration",
                "4",
                "--offline-burst",
                "1.5",
                "--prefix",
                "simt",
            ],
            settings,
        )
        assert rc == 0
        # every fix and event left the phones' outboxes by the end-to-end ack
        assert "; 0 items never acked" in caplog.text
        # 3 phones × 5 Hz × 4 s, the backlogs included (a tick may fall at the edge)
        wait_until(
            lambda: count(settings.database_url, "SELECT count(*) FROM fixes") >= 57
        )
    total = count(settings.database_url, "SELECT count(*) FROM fixes")
    assert 57 <= total <= 63
    batches = count(
        settings.database_url,
        "SELECT count(*) FROM ingest_messages WHERE fix_count > 1",
    )
    assert batches >= 3  # each phone synced its offline backlog as one batch
    assert count(settings.database_url, "SELECT count(*) FROM rejected_messages") == 0
    # a second run reuses the saved credentials: no new registration needed
    assert simulator.load_credentials(settings, ids, register=False) == creds
