"""The audit page's lead, its less certain fixes, a provisional departure, and
who is offered the evidence bundle (pure: components from a shaped audit)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from plotly.utils import PlotlyJSONEncoder

from core.visits import Window
from dashboard.pages.audit import figures, panels
from dashboard.pages.audit import model as audit_mod
from tests.unit.test_audit_report import _audit


def _text(component: object) -> str:
    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)


def _session(a: audit_mod.Audit) -> audit_mod.Audit:
    a.session = audit_mod.SessionInfo(
        session_id="0b7e1c8e-3f7c-4d55-9d1a-2f0f1b6d3c11",
        job_id="j1",
        job_number="J-000001",
        device_id="dev-7",
        technician="Tess Meyer",
        clocked_in_at=a.start,
        clocked_out_at=a.end,
        events=(),
    )
    return a


def test_the_page_leads_with_the_answer_the_booked_window_and_the_less_certain_fixes() -> (
    None
):
    a = _audit()
    assert a.answer is not None
    lead = _text(panels.lead(a, "Job J-1"))
    assert a.answer.sentence in lead
    assert '"id": "audit-answer"' in lead
    assert "Booked window: 2024-05-06 10:00 – 10:50 (Europe/Berlin)" in lead
    assert "Less certain: 1 fixes speed dropped (implausible); 2 fixes timed on " in (
        lead
    )
    flagged = [r for r in a.edge_rows if r["fix_flags"]]
    assert [r["fix_flags"] for r in flagged] == [
        "timed on receipt (the phone sent no time); speed dropped (implausible)"
    ]


def test_less_certain_fixes_are_drawn_orange_and_named_on_the_map() -> None:
    a = _audit()
    fig = figures.audit_map(a.trail, a.fixes, None, [], [], [], False, "none")
    fixes = fig.data[figures.AUDIT_FIXES]
    colours = list(fixes.marker.color)
    assert colours[5] == colours[30] == figures.FLAGGED_COLOUR
    assert colours.count(figures.FLAGGED_COLOUR) == 2
    assert "timed on receipt" in fixes.hovertext[5]


def test_a_provisional_departure_shows_as_provisional_with_its_window() -> None:
    a = _audit()
    v = a.visits[0]
    assert v.departure is not None
    unsettled = replace(
        v,
        departure_provisional=True,
        departure_window=Window(v.departure, v.departure + timedelta(minutes=8)),
    )
    a.visits = [unsettled]
    summary = _text(panels.summary(a))
    assert "Departure 1 (provisional): 2024-05-06 10:45:17 (window 2024-05-06 " in (
        summary
    )
    assert "10:53:17" in summary
    (label,) = [e["label"] for e in audit_mod.edges_for_map(a.visits, a.zone)][1:]
    assert label.startswith("Departure 1 (provisional): ")
    timeline = figures.audit_timeline(
        list(a.fixes["time"]),
        [0.0] * len(a.fixes),
        audit_mod.edge_windows(a.visits),
        [],
        a.zone,
        a.booked,
    )
    dashes = [s.line.dash for s in timeline.layout.shapes if s.type == "line"]
    assert "dot" in dashes  # the provisional departure's line
    assert any(ann.text == "booked" for ann in timeline.layout.annotations)


def test_the_evidence_bundle_is_offered_to_billing_and_admin_only() -> None:
    a = _session(_audit())
    for role in ("billing", "admin"):
        link = panels.evidence_link(a, role)
        assert link is not None
        assert link.href == f"/audit/evidence/{a.session.session_id}.zip"  # type: ignore[union-attr]
    for role in ("dispatcher", "technician", None):
        assert panels.evidence_link(a, role) is None
    a.session = None  # a technician's range: no session, no bundle
    assert panels.evidence_link(a, "billing") is None
