"""The panels beside the jobs map, as Dash components (no browser)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.utils

from dashboard.pages.live_map import panels
from dashboard.pages.live_map.model import (
    Names,
    TechRow,
    build_alerts,
    discrepancy_alert,
    stream_alert,
)
from dashboard.queries import Discrepancy, JobBrief
from jobs_domain.alarms import AlarmRaised
from storage.alert_stream import StreamAlert, decode_entry, entry_fields


def _rows(n: int) -> list[TechRow]:
    return [
        TechRow(
            f"dev-{i:04}",
            f"Tech {i:04}",
            "North",
            "travelling",
            "",
            "",
            "now",
            None,
            48.1,
            11.5,
        )
        for i in range(n)
    ]


def _components(tree: Any) -> int:
    """How many Dash components the browser's renderer keeps for ``tree``."""
    data = json.loads(
        json.dumps(tree, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    )

    def count(node: Any) -> int:
        if isinstance(node, list):
            return sum(count(n) for n in node)
        if isinstance(node, dict) and "namespace" in node and "props" in node:
            return 1 + count(node["props"].get("children"))
        return 0

    return count(data)


def test_the_technician_list_draws_a_page_and_says_where_it_is_in_the_whole() -> None:
    tree = panels.tech_list(_rows(2000))
    text = json.dumps(tree, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    assert text.count('"className": "tech-row"') == panels.MAX_TECH_ROWS
    assert "1–30 of 2,000" in text
    # Dash's renderer pays per component on every update: a few hundred, not thousands
    assert _components(tree) < 400


def test_any_of_2000_technicians_is_reached_by_paging() -> None:
    rows = _rows(2000)
    pages = panels.page_count(len(rows))
    assert pages == 67
    seen: set[str] = set()
    for page in range(pages):
        text = json.dumps(
            panels.tech_list(rows, page),
            cls=plotly.utils.PlotlyJSONEncoder,
            ensure_ascii=False,
        )
        seen |= {r.name for r in rows if f'"{r.name}"' in text}
    assert len(seen) == 2000
    last = json.dumps(
        panels.tech_list(rows, 66),
        cls=plotly.utils.PlotlyJSONEncoder,
        ensure_ascii=False,
    )
    assert "1,981–2,000 of 2,000" in last
    assert last.count('"className": "tech-row"') == 20


def test_the_page_moves_with_prev_and_next_and_starts_over_on_a_new_search() -> None:
    assert panels.turn_page("tech-next", 0, 2000) == 1
    assert panels.turn_page("tech-prev", 0, 2000) == 0  # not before the first
    assert panels.turn_page("tech-next", 66, 2000) == 66  # not past the last
    assert panels.turn_page("tech-query", 12, 2000) == 0
    assert panels.turn_page("slow-tick", 12, 2000) == 12  # a tick keeps the page
    assert panels.turn_page("slow-tick", 12, 40) == 1  # the list got shorter


def test_a_short_list_shows_everyone_and_no_more_line() -> None:
    text = json.dumps(
        panels.tech_list(_rows(8)),
        cls=plotly.utils.PlotlyJSONEncoder,
        ensure_ascii=False,
    )
    assert text.count('"className": "tech-row"') == 8
    assert " of 8" not in text  # no pager line for one page


def test_a_clock_vs_arrival_alert_names_the_job_its_client_and_the_technician() -> None:
    flag = Discrepancy(
        "s-1",
        "J-000009",
        "Sophie Wagner",
        "demo-sophie",
        "on_site_without_clock",
        "12 min on site while not clocked in (visit from 2026-12-07T10:22:00+00:00)",
        datetime(2026, 12, 7, 11, 0, tzinfo=UTC),
        "Praxis Dr. Weber",
    )
    alert = discrepancy_alert(flag, ZoneInfo("Europe/Berlin"))
    assert (
        alert.title == "Clock vs arrival: J-000009 · Praxis Dr. Weber (Sophie Wagner)"
    )
    assert "11:22:00" in alert.detail  # the visit's time as the company reads it


ZONE = ZoneInfo("Europe/Berlin")
JOB_ID = "0b7a9a52-7d0e-4c1b-9a38-1d3c7e1f0a11"
SOS_AT = datetime(2026, 12, 7, 14, 3, 20, tzinfo=UTC)


def _sos(**payload: Any) -> StreamAlert:
    raised = AlarmRaised(
        device_id="dev-tess",
        event_id="osmand-alarm-sos-1",
        alarm="sos",
        technician_id="t-1",
        technician="Tess Meyer",
        job_id=JOB_ID,
        lat=48.85312,
        lon=2.34981,
        accuracy=12.0,
        raised_at=SOS_AT,
    )
    fields = entry_fields({**raised.to_json(), **payload})
    return decode_entry("1765116200000-0", fields)


def _names() -> Names:
    return Names({JOB_ID: JobBrief("J-000043", "Café Müller", "")}, {}, ZONE)


def test_an_sos_names_the_technician_their_job_and_client_and_where_they_are() -> None:
    alert = stream_alert(_sos(), _names())
    assert (alert.kind, alert.severity) == ("sos", "sos")
    assert alert.title == "SOS: Tess Meyer"
    assert alert.detail == "on J-000043 · Café Müller · at 48.85312, 2.34981 (±12 m)"
    assert alert.at == SOS_AT
    assert (alert.device_id, alert.job_id) == ("dev-tess", JOB_ID)
    text = json.dumps(
        panels.alerts_panel([alert], ZONE),
        cls=plotly.utils.PlotlyJSONEncoder,
        ensure_ascii=False,
    )
    assert '"className": "alert alert-sos"' in text
    assert "15:03:20 · on J-000043" in text  # the company's time
    # a click leads first to the technician on the map, then to the job
    assert text.index("tech=dev-tess") < text.index(f"job={JOB_ID}")
    assert "Acknowledge" in text


def test_an_sos_without_a_job_or_a_position_says_so_and_names_the_phone() -> None:
    bare = _sos(job_id=None, lat=None, lon=None, accuracy=None, technician="")
    alert = stream_alert(bare, _names())
    assert alert.title == "SOS: device dev-tess"
    assert alert.detail == (
        "not clocked into a job · no position sent: their last fix is on the map"
    )
    other = stream_alert(_sos(alarm="lowBattery"), _names())
    assert (other.kind, other.title) == ("alarm", "Alarm (lowBattery): Tess Meyer")


def test_an_sos_stays_above_newer_alerts_until_it_is_acknowledged() -> None:
    sos = _sos()
    reserve = decode_entry(
        "1765119800000-0",  # an hour after the SOS
        entry_fields({"type": "reserve.raised", "job_id": JOB_ID}),
    )
    shown = build_alerts([reserve, sos], [], [], set(), [], SOS_AT, _names())
    assert [a.kind for a in shown] == ["sos", "reserve"]
    acked = build_alerts(
        [reserve, sos], [], [], set(), [], SOS_AT, _names(), frozenset({shown[0].key})
    )
    assert [a.kind for a in acked] == ["reserve"]


def test_any_open_alarm_comes_before_newer_reserves_and_an_sos_before_it() -> None:
    fall = _sos(alarm="fallDown")
    newer_sos = decode_entry(
        "1765116300000-0", entry_fields({**_sos().payload, "raised_at": None})
    )
    reserves = [
        decode_entry(
            f"17651198{i:05d}-0",
            entry_fields({"type": "reserve.raised", "job_id": JOB_ID}),
        )
        for i in range(3)
    ]
    shown = build_alerts(
        [*reserves, newer_sos, fall], [], [], set(), [], SOS_AT, _names()
    )
    assert [a.kind for a in shown] == ["sos", "alarm", "reserve", "reserve", "reserve"]


def _panel_text(alerts: list[Any], older: int) -> str:
    return json.dumps(
        panels.alerts_panel(alerts, ZONE, older),
        cls=plotly.utils.PlotlyJSONEncoder,
        ensure_ascii=False,
    )


def test_the_alerts_panel_says_how_many_older_alerts_it_does_not_show() -> None:
    reserve = stream_alert(
        decode_entry(
            "1765119800000-0",
            entry_fields({"type": "reserve.raised", "job_id": JOB_ID}),
        ),
        _names(),
    )
    assert "not shown" not in _panel_text([reserve], 0)
    assert "1 older alert not shown" in _panel_text([reserve], 1)
    # past the panel's own length: those are counted too
    many = [reserve] * (panels.MAX_ALERTS + 5)
    text = _panel_text(many, 1_200)
    assert text.count("Acknowledge") == panels.MAX_ALERTS
    assert "1,205 older alerts not shown" in text
    assert "1,200 older alerts not shown" in _panel_text([], 1_200)
