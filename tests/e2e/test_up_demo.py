"""`make run` shows a working company: within a minute of `crewtrack up`'s banner
the demo's jobs are under way, phones are on site and on the road, a reserve is
raised and sessions have derived visits to audit.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

import psycopg
import pytest

from tests.e2e.test_up import Up
from tests.e2e.test_up import up as up  # the fixture

pytestmark = pytest.mark.e2e

LIVELY_WITHIN_S = 60.0


def _one(dsn: str, query: str) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def _positions(up: Up, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{up.ports['api']}/api/v1/live/positions",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
        body = json.loads(resp.read())
    return list(body["items"])


def test_make_run_shows_the_demo_company_living_its_day(up: Up) -> None:
    banner = up.start()
    assert "demo company Isartal Haustechnik GmbH" in banner
    for role in ("admin", "dispatcher", "billing", "technician"):
        assert re.search(rf"^  {role} +\S+@\S+ / \S+$", banner, re.M), banner
    token = re.search(r"API token : (\S+)", banner)
    assert token is not None
    seen: dict[str, Any] = {}
    deadline = time.monotonic() + LIVELY_WITHIN_S
    while time.monotonic() < deadline:
        positions = _positions(up, token.group(1))
        seen = {
            "phones": len(positions),
            "moving": sum(1 for p in positions if (p.get("speed_mps") or 0) > 1),
            "on_site": sum(1 for p in positions if p.get("job_id")),
            "in_progress": _one(
                up.dsn, "SELECT count(*) FROM jobs WHERE status = 'in_progress'"
            ),
            "clocked_in_over_mqtt": _one(
                up.dsn,
                "SELECT count(*) FROM job_history WHERE action = 'started' "
                "AND source LIKE 'device demo-%'",
            ),
            "reserves": _one(up.dsn, "SELECT count(*) FROM report_alerts"),
            "visits": _one(
                up.dsn,
                "SELECT count(DISTINCT session_id) FROM visit_derivations "
                "WHERE jsonb_array_length(visits) > 0",
            ),
        }
        if seen["phones"] == 8 and all(seen.values()):
            break
        time.sleep(2)
    assert seen["phones"] == 8, seen
    assert all(seen.values()), seen
    assert up.interrupt() == 0
