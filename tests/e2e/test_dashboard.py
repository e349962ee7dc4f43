"""The dashboard in headless Chromium against a running stack (see conftest)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
from playwright.sync_api import Page, expect

from core.messages import Fix
from core.reconcile import Reconciliation
from core.visits import Visit
from crewtrack.settings import Settings
from dashboard.pages.live_map.layout import FILTER_TECHS
from jobs_domain.alarms import AlarmRaised
from storage import live, session_answer
from storage.alert_stream import entry_fields
from storage.visits import Derivation, derivation_history
from tests.e2e.conftest import (
    FLEET,
    LATE_SITE,
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

MAP_CENTRE = """(sel) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  if (!gd || !gd._fullLayout || !gd._fullLayout.map) return null;
  const c = gd._fullLayout.map.center;
  return [Math.round(c.lat * 1e4) / 1e4, Math.round(c.lon * 1e4) / 1e4];
}"""

SCREEN_POINT = """([sel, lat, lon]) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  const m = gd._fullLayout.map._subplot.map;
  const p = m.project([lon, lat]);
  const box = m.getCanvas().getBoundingClientRect();
  return [box.left + p.x, box.top + p.y];
}"""


def drawn(technicians: int, sites: int) -> int:
    """Circles the jobs map draws: one a technician, two a job site (its halo)."""
    return technicians + 2 * sites


NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
#: The width a page is laid out at: a phone's own (390) only with a viewport
#: meta tag; without one a phone lays it out at 980 px and shrinks it.
LAYOUT_WIDTH = "window.innerWidth"

#: The day board's timeline in its panel: how far it scrolls sideways, whether
#: the "now" line and a technician's name are inside the panel's visible part.
BOARD_VIEW = """(name) => {
  const panel = document.querySelector('.board-timeline');
  const gd = panel && panel.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullLayout || !gd.layout.shapes) return null;
  const box = panel.getBoundingClientRect();
  const inside = (r) => r.left >= box.left - 1 && r.right <= box.right + 1;
  const now = gd.querySelector('.shapelayer path[data-index="'
    + gd.layout.shapes.findIndex((s) => s.name === 'now') + '"]');
  const label = Array.from(gd.querySelectorAll('.yaxislayer-above text'))
    .find((t) => t.textContent === name);
  return {
    scrolls: panel.scrollWidth > panel.clientWidth,
    now: !!now && inside(now.getBoundingClientRect()),
    name: !!label && inside(label.getBoundingClientRect()),
  };
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
    p.screenshot(path=str(OUTPUT / "login.png"), full_page=True)
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
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
    expect(p.locator("#alerts")).to_contain_text("Late: J-000043")
    device = stack.fleet[5]
    target = (round(SITE[0] - 0.004, 6), round(SITE[1] - 0.002, 6))
    published = time.monotonic()
    stack.publish_fix(device, target[0], target[1], datetime.now(UTC))
    _wait_for(p, TECH_POSITION, ["#live-map", device], list(target))
    latency = time.monotonic() - published
    print(f"published fix → marker moved in {latency:.2f} s")
    assert latency < 4.0  # 2 s budget + the browser's polling and rendering
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
    page.assert_clean()


def test_a_filter_changes_what_is_shown_and_survives_a_reload(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    login(p, stack.url, stack.dispatcher)
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
    # the technician picker's options come from the server by what is typed
    expect(p.locator("#tech-list")).to_contain_text("Tech 07")  # filled after the map
    p.locator(f"#{FILTER_TECHS}").click()
    content = p.locator(".dash-dropdown-content")
    content.locator("input.dash-dropdown-search").fill("tech 07")
    expect(content.locator(".dash-dropdown-option")).to_have_text(["Tech 07 (dev07)"])
    content.locator(".dash-dropdown-option").click()
    p.keyboard.press("Escape")
    expect(p.locator("#shown-count")).to_have_text(f"1 of {FLEET} technicians shown")
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(1, 1))
    p.locator(f"#{FILTER_TECHS} .dash-dropdown-clear").click()
    expect(p.locator("#shown-count")).to_have_text(
        f"{FLEET} of {FLEET} technicians shown"
    )
    p.get_by_label("Travelling").uncheck()
    expect(p.locator("#shown-count")).to_have_text(f"0 of {FLEET} technicians shown")
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(0, 1))  # only the job site
    p.reload()
    expect(p.get_by_label("Travelling")).not_to_be_checked()
    expect(p.locator("#shown-count")).to_have_text(f"0 of {FLEET} technicians shown")
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(0, 1))
    x, y = p.evaluate(SCREEN_POINT, ["#live-map", 48.8520, 2.3600])
    p.mouse.move(x - 3, y - 3)
    p.mouse.move(x, y)  # plotly picks the clicked point from the hover state
    p.wait_for_timeout(300)
    p.mouse.click(x, y)
    expect(p.locator("#details-title")).to_have_text("Job J-000043")
    expect(p.locator("#details")).to_contain_text("3 Quai de Bourbon")
    page.assert_clean()


FMT = "%Y-%m-%d %H:%M:%S"


def _stored(stack: Stack, version: int | None = None) -> Derivation:
    """A version of the seeded session's visit record, read as the API reads it."""
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        history = derivation_history(conn, uuid.UUID(stack.session_id))
    assert [d.version for d in history] == [1, 2]
    return history[-1] if version is None else history[version - 1]


#: The company's zone the e2e stack runs with (the setting's default).
ZONE = Settings().company_zone


def _edge(raw: str | None) -> str:
    """A stored UTC time as the pages print it: in the company's zone."""
    assert raw is not None
    return datetime.fromisoformat(raw).astimezone(ZONE).strftime(FMT)


def test_the_audit_of_a_session_shows_its_stored_visit_record_and_older_versions(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    login(
        p, stack.url, stack.dispatcher, next_path=f"/audit?session={stack.session_id}"
    )
    v2 = _stored(stack)
    visit = v2.visits[0]
    arrival, departure = _edge(visit["arrival"]), _edge(visit["departure"])
    expect(p.locator("#audit-record")).to_contain_text(
        f"v2 of 2, derived {_derived_at(stack, 2)}, input digest {v2.input_digest}"
    )
    expect(p.locator("#audit-zone")).to_have_text(f"Times in {ZONE.key}.")
    # the page leads with the answer in plain words (core.answer), company time
    sentence, booked = _answer(stack, v2)
    expect(p.locator("#audit-answer")).to_have_text(sentence)
    assert sentence.startswith(
        f"Tech 00 arrived at 12 Rue de Rivoli at {arrival[11:]} (±"
    )
    assert "after the booked window opened; left at " + departure[11:] in sentence
    assert "before it closed" in sentence
    assert sentence.endswith("; clocked 1 h 03 min; not billed yet")
    start, end = (t.astimezone(ZONE) for t in booked)
    expect(p.locator("#audit-booked")).to_have_text(
        f"Booked window: {start:%Y-%m-%d %H:%M} – {end:%H:%M} ({ZONE.key})"
    )
    expect(p.locator("#audit-timeline")).to_contain_text("booked")
    expect(p.locator("#audit-evidence")).to_have_count(0)  # dispatchers: no bundle
    answer_box = p.locator("#audit-answer").bounding_box()
    map_box = p.locator("#audit-map").bounding_box()
    assert answer_box is not None
    assert map_box is not None
    assert answer_box["y"] < map_box["y"]  # the answer first, above the evidence
    p.screenshot(path=str(OUTPUT / "audit-answer-desktop.png"), full_page=True)
    p.set_viewport_size({"width": 390, "height": 844})
    expect(p.locator("#audit-answer")).to_have_text(sentence)
    p.wait_for_timeout(300)  # the map relayouts to the narrow window
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    p.screenshot(path=str(OUTPUT / "audit-answer-phone.png"), full_page=True)
    p.set_viewport_size({"width": 1400, "height": 900})
    expect(p.locator(".audit-arrival")).to_contain_text(f"Arrival 1: {arrival} ")
    expect(p.locator(".audit-departure")).to_contain_text(f"Departure 1: {departure}")
    codes = {f["code"] for f in v2.reconciliation["flags"]}
    assert {"clocked_in_before_arrival", "clocked_out_after_departure"} <= codes
    for flag in v2.reconciliation["flags"]:
        expect(p.locator("#recon-flags")).to_contain_text(
            f"{flag['severity']} · {flag['code']}: {flag['message']}"
        )
    expect(p.locator("#recon-table")).to_contain_text(
        _edge(v2.reconciliation["clock_in"])
    )
    expect(p.locator("#audit-edge-fixes")).to_contain_text("arrival 1")
    n = len(stack.session_fixes)
    # core.history's coverage: one fix every 30 s, no silence over 2 min
    expect(p.locator("#audit-coverage")).to_contain_text(
        f"{n} fixes over 0:59:30, 2.0 fixes/min"
    )
    expect(p.locator("#audit-coverage")).to_contain_text("0 gaps longer than 2 min")
    expect(p.locator("#audit-replay-label")).to_contain_text(f"(fix 1 of {n})")
    # every fix, arrival, departure, the clock-in position and the replay marker
    _wait_for(p, RENDERED_CIRCLES, "#audit-map", n + 4)
    # the first version, derived before the last fixes were synced: still on site
    v1 = _stored(stack, 1)
    p.locator("#audit-version").click()
    p.get_by_role("option", name="v1 of 2").click()
    expect(p.locator("#audit-record")).to_contain_text(
        f"v1 of 2, derived {_derived_at(stack, 1)}"
    )
    expect(p.locator(".audit-departure")).to_have_text("Departure 1: —")
    expect(p.locator("#recon-table")).to_contain_text("still on site")
    assert v1.visits[0]["departure"] is None
    assert "clocked_out_after_departure" not in {
        f["code"] for f in v1.reconciliation["flags"]
    }
    expect(p.locator("#recon-flags")).not_to_contain_text("clocked_out_after_departure")
    page.assert_clean()


def test_billing_asks_the_audit_whether_a_technician_was_at_a_place_without_a_job(
    stack: Stack, page: Watched
) -> None:
    """Ad-hoc presence (services.presence, the API's use case): the answer first,
    the same arrival and departure as the session's stored visit record, the asked
    place on the map; a typed circle elsewhere is a no."""
    p = page.page
    login(p, stack.url, stack.billing, next_path="/audit")
    visit = _stored(stack).visits[0]
    arrival, departure = _edge(visit["arrival"]), _edge(visit["departure"])
    first, last = stack.session_fixes[0][0], stack.session_fixes[-1][0]
    p.fill("#audit-start", f"{first.astimezone(ZONE):%Y-%m-%d %H:%M}")
    p.press("#audit-start", "Tab")
    p.fill(
        "#audit-end", f"{(last + timedelta(minutes=1)).astimezone(ZONE):%Y-%m-%d %H:%M}"
    )
    p.press("#audit-end", "Tab")
    p.locator("#audit-presence-technician").click()
    p.get_by_role("option", name="Tech 00").click()
    p.locator("#audit-presence-property").click()
    p.get_by_role("option", name="Café Müller · 12 Rue de Rivoli").click()
    p.locator("#audit-presence-ask").click()
    answer = p.locator("#audit-answer")
    expect(answer).to_contain_text("Tech 00 was at 12 Rue de Rivoli")
    # the same windows as the session's record: the same fixes, fence and params
    expect(answer).to_contain_text(f"arrived {arrival[11:]} (±")
    expect(answer).to_contain_text(f"left {departure[11:]} (±")
    expect(p.locator(".audit-arrival")).to_contain_text(f"Arrival 1: {arrival} ")
    expect(p.locator("#audit-edge-fixes")).to_contain_text("arrival 1")
    _wait_for(p, RENDERED_CIRCLES, "#audit-map", len(stack.session_fixes) + 3)
    answer_box = answer.bounding_box()
    map_box = p.locator("#audit-map").bounding_box()
    assert answer_box is not None
    assert map_box is not None
    assert answer_box["y"] < map_box["y"]
    p.screenshot(path=str(OUTPUT / "audit-presence-desktop.png"), full_page=True)
    p.set_viewport_size({"width": 390, "height": 844})
    p.wait_for_timeout(300)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    p.screenshot(path=str(OUTPUT / "audit-presence-phone.png"), full_page=True)
    p.set_viewport_size({"width": 1400, "height": 900})
    lat, lon = SITE
    p.fill("#audit-presence-circle", f"{lat + 0.01:.5f}, {lon:.5f}, 80")
    p.press("#audit-presence-circle", "Tab")
    p.locator("#audit-presence-ask").click()
    expect(answer).to_contain_text(f"Tech 00 was not at {lat + 0.01:.5f}, {lon:.5f}")
    p.fill("#audit-presence-circle", "somewhere")
    p.press("#audit-presence-circle", "Tab")
    p.locator("#audit-presence-ask").click()
    expect(answer).to_have_text("Type the place as: lat, lon, radius in metres.")
    # billing sees the day board but may not plan (the API's matrix): nothing drags
    before = _job_43(stack)
    p.goto(f"{stack.url}/board")
    expect(p.locator("#board-graph")).to_contain_text("J-000043")
    expect(p.locator("#plan-result")).to_contain_text("read-only for you")
    shapes = (
        "() => document.querySelector('#board-graph .js-plotly-plot').layout.shapes"
    )
    drawn_before = p.evaluate(shapes)
    windows = [s for s in drawn_before if s.get("name", "").startswith("job:")]
    assert windows
    assert not any(s["editable"] for s in windows)
    _drag_window(p, "J-000043", "Tech 00", timedelta(hours=1))
    p.wait_for_timeout(800)  # what a drop would take to be sent (QUIET_MS) and more
    assert p.evaluate(shapes) == drawn_before
    assert _job_43(stack) == before
    expect(p.locator("#plan-result")).not_to_contain_text("rescheduled")
    page.assert_clean()


def _answer(stack: Stack, record: Derivation) -> tuple[str, tuple[datetime, datetime]]:
    """The session's answer as core.answer words it from the stored record, and
    the job's booked window (UTC)."""
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        facts = session_answer.session_facts(conn, stack.session_id)
        last = conn.execute(
            "SELECT max(time) FROM fixes WHERE device_id = 'dev00' "
            "AND time BETWEEN %s AND %s",
            (record.window_start, record.window_end),
        ).fetchone()
    assert facts is not None
    assert last is not None
    assert facts.scheduled_start is not None
    assert facts.scheduled_end is not None
    answer = session_answer.answer(
        facts,
        sorted((Visit.from_dict(v) for v in record.visits), key=lambda v: v.arrival),
        Reconciliation.from_dict(record.reconciliation),
        record.session_state,
        ZONE,
        last[0],
    )
    return answer.sentence, (facts.scheduled_start, facts.scheduled_end)


def _derived_at(stack: Stack, version: int) -> str:
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT derived_at FROM visit_derivations "
            "WHERE session_id = %s AND version = %s",
            (stack.session_id, version),
        ).fetchone()
    assert row is not None
    return str(row[0].astimezone(ZONE).strftime(FMT))


def test_the_pdf_evidence_report_names_the_visit_record_version_and_its_digest(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    login(
        p, stack.url, stack.dispatcher, next_path=f"/audit?session={stack.session_id}"
    )
    v2 = _stored(stack)
    arrival, departure = (
        _edge(v2.visits[0]["arrival"]),
        _edge(v2.visits[0]["departure"]),
    )
    expect(p.locator(".audit-arrival")).to_contain_text(arrival)
    with p.expect_download() as download_info:
        p.get_by_text("Evidence report (PDF)").click()
    assert download_info.value.suggested_filename.endswith("-v2.pdf")
    target = OUTPUT / "evidence.pdf"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    download_info.value.save_as(target)
    text = subprocess.run(
        ["pdftotext", "-raw", str(target), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert arrival in text
    assert departure in text
    assert "Job J-000042" in text
    assert "Café Müller" in text
    assert "Visit record version 2 of 2" in text
    assert f"All times in {ZONE.key}" in text
    flat = "".join(text.split())  # the digest may wrap across lines
    assert f"Inputdigest(fromthevisitrecord):{v2.input_digest}" in flat
    assert "digestsmatch" in flat
    for flag in v2.reconciliation["flags"]:
        assert flag["code"] in flat
    page.assert_clean()


def test_the_jobs_map_and_the_audit_render_at_phone_width(
    stack: Stack, phone: Watched
) -> None:
    """Every page at 390 px, without sideways scrolling, the maps as wide as the
    screen (screenshots of the map and the audit here, the day board's after)."""
    p = phone.page
    p.goto(stack.url + "/login")
    assert p.evaluate(LAYOUT_WIDTH) == 390
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    p.screenshot(path=str(OUTPUT / "phone-login.png"), full_page=True)
    _sos(stack, stack.fleet[3], "J-000043")  # an SOS on the list, first
    login(p, stack.url, stack.dispatcher)
    expect(p.locator("#alerts")).to_contain_text("Late: J-000043")
    expect(p.locator("#alerts li.alert").first).to_contain_text("SOS: Tech 03")
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
    expect(p.locator("#tech-list")).to_contain_text("Tech 00")
    assert p.evaluate(LAYOUT_WIDTH) == 390
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    assert p.locator("#live-map").bounding_box()["width"] >= 360  # type: ignore[index]
    p.screenshot(path=str(OUTPUT / "phone-live-map.png"), full_page=True)
    p.locator("#alerts li.alert-sos").get_by_role("button", name="Acknowledge").click()
    expect(p.locator("#alerts li.alert-sos")).to_have_count(0)
    p.goto(f"{stack.url}/audit?session={stack.session_id}")
    expect(p.locator("#audit-record")).to_contain_text("v2 of 2")
    _wait_for(p, RENDERED_CIRCLES, "#audit-map", len(stack.session_fixes) + 4)
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    assert p.locator("#audit-map").bounding_box()["width"] >= 360  # type: ignore[index]
    p.screenshot(path=str(OUTPUT / "phone-audit.png"), full_page=True)
    p.goto(f"{stack.url}/board")
    expect(p.locator("#board-graph")).to_contain_text("J-000043")
    # the day scrolls sideways inside its panel, opened at now (whatever the
    # hour: most of the day is out of a phone's view), the names in view
    _wait_for(p, BOARD_VIEW, "Tech 00", {"scrolls": True, "now": True, "name": True})
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    p.screenshot(path=str(OUTPUT / "phone-day-board.png"), full_page=True)
    # a finger's swipe across the timeline scrolls it (plotly must not take it)
    scrolled = "document.querySelector('.board-timeline').scrollLeft"
    at = p.evaluate(scrolled)
    box = p.locator(".board-timeline").bounding_box()
    assert box is not None
    _swipe(p, box["y"] + box["height"] / 2, 120 if at > 0 else -120)
    assert p.evaluate(scrolled) != at
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    p.evaluate("document.querySelector('.board-timeline').scrollLeft = 1e6")
    p.wait_for_timeout(200)
    assert p.evaluate(BOARD_VIEW, "Tech 00")["name"]  # still there at the far end
    assert p.evaluate(NO_SIDEWAYS_SCROLL)
    p.screenshot(path=str(OUTPUT / "phone-day-board-evening.png"), full_page=True)
    phone.assert_clean()


def _swipe(p: Page, y: float, dx: float) -> None:
    """A finger moved ``dx`` px sideways across the screen's middle at ``y``."""
    cdp = p.context.new_cdp_session(p)
    x0 = 195 - dx / 2
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]},
    )
    for k in range(1, 11):
        point = {"x": x0 + dx * k / 10, "y": y}
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]}
        )
        p.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    p.wait_for_timeout(400)
    cdp.detach()


def test_a_technician_on_a_site_the_list_and_an_alert_each_lead_to_what_they_name(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    login(p, stack.url, stack.dispatcher)
    _wait_for(p, RENDERED_CIRCLES, "#live-map", drawn(FLEET, 1))
    # a technician standing on the late job's site: a click there picks them
    device = stack.fleet[3]
    stack.publish_fix(device, LATE_SITE[0], LATE_SITE[1], datetime.now(UTC))
    _wait_for(p, TECH_POSITION, ["#live-map", device], list(LATE_SITE))
    p.wait_for_timeout(500)
    x, y = p.evaluate(SCREEN_POINT, ["#live-map", LATE_SITE[0], LATE_SITE[1]])
    p.mouse.move(x - 3, y - 3)
    p.mouse.move(x, y)
    p.wait_for_timeout(300)
    p.mouse.click(x, y)
    expect(p.locator("#details-title")).to_have_text("Tech 03")
    expect(p.locator("#details")).to_contain_text("Travelling")
    # the list: a row picks its technician (and pans the map to them)
    p.locator("#tech-search").fill("Tech 07")
    p.locator("#tech-search").press("Enter")
    expect(p.locator("#tech-list tr.tech-row")).to_have_count(1)
    p.locator("#tech-list tr.tech-row").click()
    expect(p.locator("#details-title")).to_have_text("Tech 07")
    seven = p.evaluate(TECH_POSITION, ["#live-map", stack.fleet[7]])
    _wait_for(p, MAP_CENTRE, "#live-map", [round(c, 4) for c in seven])
    # an alert leads to its job: the details and the map's centre
    p.locator("#alerts li.alert-late").get_by_text("Show job").click()
    expect(p.locator("#details-title")).to_have_text("Job J-000043")
    expect(p.locator("#details")).to_contain_text("3 Quai de Bourbon")
    _wait_for(p, MAP_CENTRE, "#live-map", [round(c, 4) for c in LATE_SITE])
    p.screenshot(path=str(OUTPUT / "live-map-focused.png"), full_page=True)
    # Tech 03 presses SOS: red, above every other alert, naming them and their job
    client = _sos(stack, device, "J-000043")
    sos = p.locator("#alerts li.alert").first
    expect(sos).to_have_class("alert alert-sos")
    expect(sos).to_contain_text("SOS: Tech 03")
    expect(sos).to_contain_text(f"on J-000043 · {client}")
    expect(sos).to_contain_text(f"at {LATE_SITE[0]:.5f}, {LATE_SITE[1]:.5f}")
    p.screenshot(path=str(OUTPUT / "live-map-sos.png"), full_page=True)
    sos.get_by_text("Show technician").click()  # where they are
    expect(p).to_have_url(f"{stack.url}/?tech={device}")
    expect(p.locator("#details-title")).to_have_text("Tech 03")
    sos.get_by_role("button", name="Acknowledge").click()
    expect(p.locator("#alerts li.alert-sos")).to_have_count(0)
    # a fleet bigger than the list's page (30): Next reaches the rest
    extra = [f"pager-{i:02}" for i in range(25)]
    now_ms = int(time.time() * 1000)
    with redis.Redis.from_url(stack.settings.redis_url) as r:
        live.write_updates_sync(
            r,
            [
                live.fix_update(
                    Fix(d, now_ms, SITE[0] - 0.01, SITE[1] + i * 1e-4), now_ms
                )
                for i, d in enumerate(extra)
            ],
        )
        try:
            total = FLEET + len(extra)
            p.reload()  # a search box fresh on the page, never left yet
            search = p.locator("#tech-search")
            listed = p.locator("#tech-list")
            search.fill("pager")
            search.press("Enter")
            expect(listed.locator("tr.tech-row")).to_have_count(len(extra))
            search.fill("")
            search.press("Enter")
            expect(listed).to_contain_text(f"1–30 of {total}")
            # Next without moving the focus: the search box is then left
            asked: list[str] = []  # what asked each callback from here on
            p.on("request", lambda r: asked.extend(_changed(r.post_data)))
            p.locator("#tech-next").dispatch_event("click")
            expect(listed).to_contain_text(f"31–{total} of {total}")
            expect(listed.locator("tr.tech-row")).to_have_count(total - 30)
            expect(p.locator("#tech-next")).to_be_disabled()
            # leaving the box with its query unchanged asks nothing: the list
            # stays on its page (the box re-sent its value, and page 1 came)
            search.blur()
            p.wait_for_timeout(1500)
            search.focus()
            search.blur()
            p.wait_for_timeout(1500)
            expect(listed).to_contain_text(f"31–{total} of {total}")
            assert not [a for a in asked if a.startswith(("tech-query", "tech-search"))]
            # a redrawn list or alerts panel (Next, the 5 s tick) asks nothing
            # for its rows' and buttons' clicks: nobody clicked
            p.wait_for_timeout(3000)  # with the 3 s above: past a slow tick
            assert [a for a in asked if a.startswith("slow-tick")]
            assert not [a for a in asked if "tech-row" in a or "alert-ack" in a]
        finally:  # the fleet the other tests count
            r.delete(*(live.key(d) for d in extra))
            r.zrem(live.GEO_KEY, *extra)
    page.assert_clean()


def _changed(body: str | None) -> list[str]:
    """What changed to ask a Dash callback (its request's ``changedPropIds``)."""
    try:
        asked = json.loads(body or "")
    except ValueError:
        return []
    return list(asked.get("changedPropIds", [])) if isinstance(asked, dict) else []


def _sos(stack: Stack, device: str, number: str) -> str:
    """Tech 03's SOS from ``device`` while on job ``number``, appended to the
    alerts stream exactly as the API's relay appends it (the API path is
    tests/integration/api/test_alarm_alerts.py); the job's client."""
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT j.id::text, c.name, t.id::text, t.name FROM jobs j "
            "JOIN clients c ON c.id = j.client_id, technicians t "
            "WHERE j.number = %s AND t.name = 'Tech 03'",
            (int(number[2:]),),
        ).fetchone()
    assert row is not None
    raised = AlarmRaised(
        device_id=device,
        event_id=f"osmand-alarm-sos-{uuid.uuid4().hex}",
        alarm="sos",
        technician_id=row[2],
        technician=row[3],
        job_id=row[0],
        lat=LATE_SITE[0],
        lon=LATE_SITE[1],
        accuracy=9.0,
        raised_at=datetime.now(UTC) - timedelta(minutes=30),  # older, still on top
    )
    with redis.Redis.from_url(stack.settings.redis_url) as r:
        r.xadd(stack.settings.alerts_stream, entry_fields(raised.to_json()))  # type: ignore[arg-type]
    return str(row[1])


def _job_43(stack: Stack) -> tuple[datetime, datetime]:
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT scheduled_start, scheduled_end FROM jobs WHERE number = 43"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def _drag_window(p: Page, label: str, to_row: str, later: timedelta) -> None:
    """Drag the booked window labelled ``label`` by ``later`` onto ``to_row``."""
    ends = p.evaluate(
        """([label, row, laterMs]) => {
          const gd = document.querySelector('#board-graph .js-plotly-plot');
          const L = gd._fullLayout, box = gd.getBoundingClientRect();
          const s = gd.layout.shapes.find((s) => s.label && s.label.text === label);
          const rows = L.yaxis.categoryarray, mid = (s.y0 + s.y1) / 2;
          const x = (t) => box.left + L.xaxis._offset + L.xaxis.l2p(t);
          const y = (v) => box.top + L.yaxis._offset + L.yaxis.l2p(v);
          const t0 = (L.xaxis.d2l(s.x0) + L.xaxis.d2l(s.x1)) / 2;
          const to = rows.indexOf(row) + (mid - Math.round(mid));
          return [x(t0), y(mid), x(t0 + laterMs), y(to)];
        }""",
        [label, to_row, later.total_seconds() * 1000],
    )
    x0, y0, x1, y1 = ends
    p.mouse.move(x0, y0)
    p.mouse.down()
    for k in range(1, 11):
        p.mouse.move(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10)
    p.mouse.up()


def test_the_day_board_shows_each_technicians_day_and_a_reschedule_changes_the_job(
    stack: Stack, page: Watched
) -> None:
    p = page.page
    zone = stack.settings.company_zone
    before = _job_43(stack)
    login(p, stack.url, stack.dispatcher)
    p.get_by_role("link", name="Day board").click()
    board = p.locator("#board-graph")
    expect(board).to_contain_text("Tech 00")
    expect(board).to_contain_text("J-000043")
    expect(board).to_contain_text(f"times in {zone.key}")
    # at a desktop's width the whole day fits: no scrolling, "now" in view
    _wait_for(p, BOARD_VIEW, "Tech 00", {"scrolls": False, "now": True, "name": True})
    # the empty day field says which day it stands for: today, in the company's zone
    today = datetime.now(UTC).astimezone(zone).date().isoformat()
    expect(p.locator("#board-day")).to_have_attribute("placeholder", today)
    # a click on the job's bar picks it for the form, with its window
    box = board.locator("text", has_text="J-000043").first.bounding_box()
    assert box is not None
    p.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(p.locator("#plan-start")).to_have_value(
        f"{before[0].astimezone(zone):%H:%M}"
    )
    expect(p.locator("#plan-result")).to_be_empty()
    p.locator("#plan-start").fill("15:00")
    p.locator("#plan-end").fill("16:30")
    p.locator("#plan-reason").fill("customer asked for the afternoon")
    p.locator("#plan-save").click()
    expect(p.locator("#plan-result")).to_contain_text("J-000043 rescheduled.")
    start, end = _job_43(stack)
    day = datetime.now(UTC).astimezone(zone).date()
    assert start.astimezone(zone).replace(tzinfo=None) == datetime(
        day.year, day.month, day.day, 15, 0
    )
    assert end - start == timedelta(minutes=90)
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        who = conn.execute(
            "SELECT h.actor_name, h.details->>'reason' FROM job_history h "
            "JOIN jobs j ON j.id = h.job_id WHERE j.number = 43 "
            "AND h.action = 'rescheduled' ORDER BY h.id DESC LIMIT 1"
        ).fetchone()
        assert who == ("Dana Dispatch", "customer asked for the afternoon")
        p.screenshot(path=str(OUTPUT / "day-board.png"), full_page=True)
        crew = conn.execute(
            "SELECT technician_ids FROM jobs WHERE number = 43"
        ).fetchone()
    assert crew is not None
    # drag the window an hour later and up onto Tech 00's row: moved and reassigned
    _drag_window(p, "J-000043", "Tech 00", timedelta(hours=1))
    expect(p.locator("#plan-result")).to_contain_text(
        "J-000043 rescheduled and reassigned."
    )
    expect(p.locator("#plan-start")).to_have_value("16:00")  # the form follows
    expect(p.locator("#plan-technician")).to_contain_text("Tech 00")
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT j.scheduled_start, j.scheduled_end, t.name FROM jobs j "
            "JOIN technicians t ON t.id = j.technician_ids[1] WHERE j.number = 43"
        ).fetchone()
        assert row is not None
        assert row[2] == "Tech 00"
        assert row[0].astimezone(zone).replace(tzinfo=None) == datetime(
            day.year, day.month, day.day, 16, 0
        )
        assert row[1] - row[0] == timedelta(minutes=90)
        p.screenshot(path=str(OUTPUT / "day-board-dragged.png"), full_page=True)
        # the job goes back where the other tests expect it (late, nobody there)
        conn.execute(
            "UPDATE jobs SET scheduled_start = %s, scheduled_end = %s, "
            "technician_ids = %s WHERE number = 43",
            (*before, crew[0]),
        )
    page.assert_clean()
