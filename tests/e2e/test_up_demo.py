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
from playwright.sync_api import expect

from crewtrack.demo.company import TECHNICIANS
from tests.e2e.conftest import OUTPUT, Watched, login
from tests.e2e.test_dashboard import LAYOUT_WIDTH, NO_SIDEWAYS_SCROLL
from tests.e2e.test_up import Up
from tests.e2e.test_up import up as up

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


#: The street tiles are the default basemap; this machine cannot reach them, and
#: the map draws without them (tests/e2e/test_dashboard_weight.py checks how).
TILE_HOST = "tile.openstreetmap.org"


#: The browser's own line for such a request (it names no URL; our stack is on
#: 127.0.0.1, so only an outside host fails to resolve).
UNRESOLVED = "console: Failed to load resource: net::ERR_NAME_NOT_RESOLVED"


def _own_errors(watched: Watched) -> list[str]:
    return [e for e in watched.errors if TILE_HOST not in e and e != UNRESOLVED]


def _dashboard_as_a_dispatcher_sees_it(
    up: Up, banner: str, page: Watched, phone: Watched
) -> None:
    """The demo company on the jobs map and the day board, by name, at a desk and on
    a phone (screenshots demo-*.png)."""
    found = re.search(r"^  dispatcher +(\S+@\S+) / (\S+)$", banner, re.M)
    assert found is not None, banner
    email, password = found.groups()
    url = f"http://127.0.0.1:{up.ports['dashboard']}"
    on_board = _one(
        up.dsn,
        "SELECT 'J-' || lpad(min(number)::text, 6, '0') FROM jobs "
        "WHERE status = 'in_progress'",
    )
    phones = [t.name for t in TECHNICIANS][:8]
    for watched, wide in ((page, True), (phone, False)):
        p = watched.page
        login(p, url, email, password)
        tech_list = p.locator("#tech-list")
        for name in phones:
            expect(tech_list).to_contain_text(name)
        expect(p.locator("#shown-count")).to_contain_text("8 of 8 technicians")
        assert p.evaluate(NO_SIDEWAYS_SCROLL)
        which = "desktop" if wide else "phone"
        p.screenshot(path=str(OUTPUT / f"demo-{which}-live-map.png"), full_page=True)
        p.goto(url + "/board")
        board = p.locator("#board-graph")
        expect(board).to_contain_text(phones[0])
        expect(board).to_contain_text(on_board)
        if not wide:
            assert p.evaluate(LAYOUT_WIDTH) == 390
        assert p.evaluate(NO_SIDEWAYS_SCROLL)
        p.screenshot(path=str(OUTPUT / f"demo-{which}-board.png"), full_page=True)
        assert _own_errors(watched) == []


def test_make_run_shows_the_demo_company_living_its_day(
    up: Up, page: Watched, phone: Watched
) -> None:
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
    _dashboard_as_a_dispatcher_sees_it(up, banner, page, phone)
    assert up.interrupt() == 0
