"""The dashboard in headless Chromium against a running stack (see conftest)."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from core.geofence import Geofence
from core.visits import derive_visits
from tests.e2e.conftest import (
    FENCE_RADIUS_M,
    FLEET,
    OUTPUT,
    SITE,
    Stack,
    Watched,
    login,
)

pytestmark = pytest.mark.e2e

# Count circle features MapLibre actually drew (WebGL: not in the DOM). The
# style check first: without it, a map still loading throws (RECIPES.md).
RENDERED_CIRCLES = """(sel) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  if (!gd || !gd._fullLayout || !gd._fullLayout.map) return -1;
  const m = gd._fullLayout.map._subplot && gd._fullLayout.map._subplot.map;
  if (!m || !m.getStyle()) return -1;
  const ids = m.getStyle().layers.filter(l => l.type === 'circle').map(l => l.id);
  return m.queryRenderedFeatures({layers: ids}).length;
}"""

TECH_POSITION = """([sel, device]) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  if (!gd || !gd.data) return null;
  for (const tr of gd.data) {
    const cd = tr.customdata || [];
    for (let i = 0; i < cd.length; i++) {
      if (cd[i][0] === 'tech' && cd[i][1] === device) return [tr.lat[i], tr.lon[i]];
    }
  }
  return null;
}"""

SCREEN_POINT = """([sel, lat, lon]) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  const m = gd._fullLayout.map._subplot.map;
  const p = m.project([lon, lat]);
  const box = m.getCanvas().getBoundingClientRect();
  return [box.left + p.x, box.top + p.y];
}"""


def _wait_for(
    page: Page, script: str, arg: object, want: object, timeout_s: float = 15.0
) -> object:
    deadline = time.monotonic() + timeout_s
    value: object = None
    while time.monotonic() < deadline:
        value = page.evaluate(script, arg)
        if value == want:
            return value
        page.wait_for_timeout(150)
    raise AssertionError(f"waited for {want!r}, last value {value!r}")


def test_technicians_are_refused_and_dispatchers_get_the_jobs_map(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    p.goto(stack.url + "/audit")
    expect(p).to_have_url(stack.url + "/login?next=/audit")
    login(p, stack.url, stack.technician)
    expect(p.locator("#login-error")).to_contain_text("technicians use the mobile app")
    login(p, stack.url, stack.dispatcher, "wrong password")
    expect(p.locator("#login-error")).to_contain_text("Wrong e-mail or password")
    login(p, stack.url, stack.dispatcher)
    expect(p.locator(".topbar")).to_contain_text("Dana Dispatch · dispatcher")
    expect(p.locator("#shown-count")).to_have_text(
        f"{FLEET} of {FLEET} technicians shown"
    )
    page.assert_clean()


def test_the_map_shows_the_fleet_and_a_marker_moves_after_a_fix_is_published(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    login(p, stack.url, stack.dispatcher)
    # every technician plus the one open job site, drawn from local data only
    _wait_for(p, RENDERED_CIRCLES, "#live-map", FLEET + 1)
    expect(p.locator("#alerts")).to_contain_text("Late: J-000043")
    device = stack.fleet[5]
    target = (round(SITE[0] - 0.004, 6), round(SITE[1] - 0.002, 6))
    published = time.monotonic()
    stack.publish_fix(device, target[0], target[1], datetime.now(UTC))
    _wait_for(p, TECH_POSITION, ["#live-map", device], list(target))
    latency = time.monotonic() - published
    print(f"published fix → marker moved in {latency:.2f} s")
    assert latency < 4.0  # 2 s budget + the browser's polling and rendering
    _wait_for(p, RENDERED_CIRCLES, "#live-map", FLEET + 1)
    page.assert_clean()


def test_a_filter_changes_what_is_shown_and_survives_a_reload(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    login(p, stack.url, stack.dispatcher)
    _wait_for(p, RENDERED_CIRCLES, "#live-map", FLEET + 1)
    p.get_by_label("Travelling").uncheck()
    expect(p.locator("#shown-count")).to_have_text(f"0 of {FLEET} technicians shown")
    _wait_for(p, RENDERED_CIRCLES, "#live-map", 1)  # only the job site is left
    p.reload()
    expect(p.get_by_label("Travelling")).not_to_be_checked()
    expect(p.locator("#shown-count")).to_have_text(f"0 of {FLEET} technicians shown")
    _wait_for(p, RENDERED_CIRCLES, "#live-map", 1)
    x, y = p.evaluate(SCREEN_POINT, ["#live-map", 48.8520, 2.3600])
    p.mouse.move(x - 3, y - 3)
    p.mouse.move(x, y)  # plotly picks the clicked point from the hover state
    p.wait_for_timeout(300)
    p.mouse.click(x, y)
    expect(p.locator("#details-title")).to_have_text("Job J-000043")
    expect(p.locator("#details")).to_contain_text("3 Quai de Bourbon")
    page.assert_clean()


def _expected_edges(stack: Stack) -> tuple[str, str]:
    frame = pd.DataFrame(
        stack.session_fixes, columns=["time", "lat", "lon", "accuracy"]
    )
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    visits = derive_visits(frame, Geofence.circle(SITE[0], SITE[1], FENCE_RADIUS_M))
    assert len(visits) == 1
    assert visits[0].departure is not None
    fmt = "%Y-%m-%d %H:%M:%S"
    return visits[0].arrival.strftime(fmt), visits[0].departure.strftime(fmt)


def test_the_audit_of_a_seeded_session_shows_arrival_departure_and_flags(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    login(
        p, stack.url, stack.dispatcher, next_path=f"/audit?session={stack.session_id}"
    )
    arrival, departure = _expected_edges(stack)
    expect(p.locator(".audit-arrival")).to_contain_text(f"Arrival 1: {arrival} UTC")
    expect(p.locator(".audit-departure")).to_contain_text(
        f"Departure 1: {departure} UTC"
    )
    expect(p.locator("#recon-table")).to_contain_text("clocked in before arriving")
    expect(p.locator("#recon-table")).to_contain_text("clocked out after leaving")
    expect(p.locator("#audit-edge-fixes")).to_contain_text("arrival 1")
    _wait_for(p, RENDERED_CIRCLES, "#audit-map", len(stack.session_fixes) + 3)
    page.assert_clean()


def test_the_pdf_evidence_report_downloads_with_the_times(
    stack: Stack, page: Watched, tmp_path: Path
) -> None:
    p = page.page
    login(
        p, stack.url, stack.dispatcher, next_path=f"/audit?session={stack.session_id}"
    )
    arrival, departure = _expected_edges(stack)
    expect(p.locator(".audit-arrival")).to_contain_text(arrival)
    with p.expect_download() as download_info:
        p.get_by_text("Evidence report (PDF)").click()
    target = OUTPUT / "evidence.pdf"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    download_info.value.save_as(target)
    text = subprocess.run(
        ["pdftotext", "-layout", str(target), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert arrival in text
    assert departure in text
    assert "Job J-000042" in text
    assert "Café Müller" in text
    assert "fx1-" in text  # the digest of the input fixes
    page.assert_clean()
