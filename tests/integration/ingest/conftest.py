"""Every ingest integration test that asks for ``settings`` runs on both MQTT read paths.

``auto`` is the fast path (ingest/mqtt_fast.py: it must pass its start-up
check on the installed paho), ``off`` is paho's public path; workers check at
start that their ``crewtrack_ingest_mqtt_fast_path`` gauge says which one runs
(helpers.Worker.wait_ready).
"""

from __future__ import annotations

import pytest

from crewtrack.settings import Settings
from ingest.mqtt_fast import MODES


@pytest.fixture(params=MODES, ids=[f"fast_path_{m}" for m in MODES])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.replace(ingest_mqtt_fast_path=request.param)
