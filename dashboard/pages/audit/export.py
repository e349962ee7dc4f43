"""Evidence for the customer: the fixes as CSV and a PDF evidence report.

The PDF is drawn with fpdf2 and an embedded DejaVu Sans (core PDF fonts are
Latin-1 only: "±", "–" or a client's accented name would fail). The map in the
report is vector-drawn from the same data as the dashboard's map — fence, trail,
fixes, edges — so it needs no tile server or browser to render.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

from dashboard.clock import localize_text
from dashboard.maps import fence_points
from dashboard.pages.audit.model import Audit, coverage_lines, fmt_time, hms

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
CSV_COLUMNS = ("time", "lat", "lon", "accuracy", "speed", "heading", "battery")
#: Fix rows printed in the PDF beyond those behind the edges (the CSV has all).
PDF_MAX_FIXES = 400


def provenance(audit: Audit) -> list[str]:
    """Where the times come from: the stored visit record, or a derivation now."""
    rec = audit.record
    if rec is not None:
        lines = [
            f"Visit record version {rec.version} of {rec.of}, derived "
            f"{fmt_time(rec.derived_at, audit.zone)}, session {rec.session_state}",
            f"Input digest (from the visit record): {rec.input_digest} "
            f"({rec.fix_count} fixes)",
            f"Parameters digest: {rec.params_digest} · fence digest: "
            f"{rec.fence_digest}",
        ]
        if audit.digest_matches:
            lines.append("The fixes in this export are that input: digests match.")
        else:
            lines.append(
                f"The stored fixes have changed since this version: digest now "
                f"{audit.digest}."
            )
        return lines
    if audit.session is not None:
        return ["Not derived yet: no visit record is stored for this session."]
    if audit.derived_now:
        return [
            "Visits derived at export time from these fixes (no job session, "
            "not a stored visit record).",
            f"Digest of these fixes: {audit.digest}",
        ]
    return [f"Digest of these fixes: {audit.digest}"]


def fixes_csv(audit: Audit) -> str:
    """Every fix in the audited range: UTC ISO time, degrees, metres, m/s, %.

    ``#`` lines first name the visit record version and its input digest
    (``pandas.read_csv(..., comment="#")`` skips them).
    """
    out = io.StringIO()
    for line in provenance(audit):
        out.write(f"# {line}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "distance_to_fence_m", "inside_fence"])
    frame = audit.fixes
    for rec in frame.to_dict("records"):
        row: list[object] = [rec["time"].isoformat().replace("+00:00", "Z")]
        for col in CSV_COLUMNS[1:]:
            value = rec.get(col)
            row.append("" if value is None or value != value else value)
        dist = rec.get("distance_m")
        row.append("" if dist is None or dist != dist else round(float(dist), 2))
        row.append("yes" if rec.get("inside") else "no")
        writer.writerow(row)
    return out.getvalue()


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=8)
        self.cell(0, 8, f"crewtrack evidence report · page {self.page_no()}", align="C")


def _draw_map(pdf: FPDF, audit: Audit, x: float, y: float, w: float, h: float) -> None:
    """Fence, trail, fixes and edges in a local equirectangular projection."""
    lats = audit.fixes["lat"].tolist()
    lons = audit.fixes["lon"].tolist()
    fence_geo = audit.fence.to_geojson() if audit.fence is not None else None
    if fence_geo is not None:
        f_lats, f_lons = fence_points(fence_geo)
        lats, lons = lats + f_lats, lons + f_lons
    pdf.set_draw_color(160, 174, 192)
    pdf.rect(x, y, w, h)
    if not lats:
        return
    lat0 = (min(lats) + max(lats)) / 2
    kx = math.cos(math.radians(lat0))
    xs = [lon * kx for lon in lons]
    span = max(max(xs) - min(xs), max(lats) - min(lats), 1e-6)
    scale = min(w, h) * 0.9 / span
    cx, cy = (max(xs) + min(xs)) / 2, (max(lats) + min(lats)) / 2

    def px(lat: float, lon: float) -> tuple[float, float]:
        return x + w / 2 + (lon * kx - cx) * scale, y + h / 2 - (lat - cy) * scale

    if fence_geo is not None:
        pdf.set_draw_color(107, 70, 193)
        pdf.set_line_width(0.6)
        f_lats, f_lons = fence_points(fence_geo)
        pts = [px(a, b) for a, b in zip(f_lats, f_lons, strict=True)]
        for p, q in itertools.pairwise(pts):
            pdf.line(p[0], p[1], q[0], q[1])
    trail = [
        px(a, b) for a, b in zip(audit.trail["lat"], audit.trail["lon"], strict=True)
    ]
    pdf.set_draw_color(43, 108, 176)
    pdf.set_line_width(0.4)
    for p, q in itertools.pairwise(trail):
        pdf.line(p[0], p[1], q[0], q[1])
    pdf.set_fill_color(26, 54, 93)
    for a, b in zip(audit.fixes["lat"], audit.fixes["lon"], strict=True):
        u, v = px(a, b)
        pdf.circle(x=u, y=v, radius=0.5, style="F")
    for n, visit in enumerate(audit.visits, start=1):
        for ref, colour, label in (
            (visit.arrival_evidence.after, (26, 152, 80), f"A{n}"),
            (
                visit.departure_evidence.before if visit.departure_evidence else None,
                (197, 48, 48),
                f"D{n}",
            ),
        ):
            if ref is None:
                continue
            u, v = px(ref.lat, ref.lon)
            pdf.set_fill_color(*colour)
            pdf.circle(x=u, y=v, radius=1.6, style="F")
            pdf.set_font("DejaVu", size=7)
            pdf.text(u + 2, v - 1, label)
    pdf.set_line_width(0.2)
    # scale bar: 10 % of the width, in metres
    metres = (w * 0.1) / scale * 111_320
    pdf.set_draw_color(0, 0, 0)
    pdf.line(x + 4, y + h - 4, x + 4 + w * 0.1, y + h - 4)
    pdf.set_font("DejaVu", size=7)
    pdf.text(x + 4, y + h - 5.5, f"{metres:.0f} m")


def _table(
    pdf: FPDF, header: list[str], rows: list[list[str]], widths: list[float]
) -> None:
    pdf.set_font("DejaVu", "B", 8)
    for text, width in zip(header, widths, strict=True):
        pdf.cell(width, 5, text, border=1)
    pdf.ln()
    pdf.set_font("DejaVu", size=8)
    for row in rows:
        for text, width in zip(row, widths, strict=True):
            pdf.cell(width, 5, text, border=1)
        pdf.ln()


def evidence_pdf(audit: Audit, title: str, now: datetime | None = None) -> bytes:
    """The evidence report: record version and digest, map, times, reconciliation."""
    pdf = _Report(orientation="P", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 8, "Arrival and departure evidence", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    lines = [
        title,
        f"Device {audit.device_id} · fixes from {fmt_time(audit.start, audit.zone)} to {fmt_time(audit.end, audit.zone)}",
        f"Report generated {fmt_time(now or datetime.now(UTC), audit.zone)}",
        f"All times in {audit.zone.key} (the CSV export holds UTC).",
        *("Coverage: " + line for line in coverage_lines(audit.coverage, audit.zone)),
    ]
    for line in lines:
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=8)
    for line in provenance(audit):
        pdf.multi_cell(0, 4, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _draw_map(pdf, audit, pdf.l_margin, pdf.get_y(), 180, 95)
    pdf.set_y(pdf.get_y() + 98)
    pdf.set_font("DejaVu", size=7)
    pdf.cell(
        0,
        4,
        "Purple: geofence · blue: trail and fixes · A = arrival, D = departure",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 11)
    heading = (
        f"Visits (visit record v{audit.record.version})"
        if audit.record is not None
        else "Visits derived from GPS"
    )
    pdf.cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
    visit_rows = []
    for n, v in enumerate(audit.visits, start=1):
        dw = v.departure_window
        visit_rows.append(
            [
                str(n),
                fmt_time(v.arrival, audit.zone),
                f"{fmt_time(v.arrival_window.earliest, audit.zone)} – {fmt_time(v.arrival_window.latest, audit.zone)}",
                fmt_time(v.departure, audit.zone),
                "—"
                if dw is None
                else f"{fmt_time(dw.earliest, audit.zone)} – {fmt_time(dw.latest, audit.zone)}",
            ]
        )
    if not visit_rows:
        empty = (
            "not derived yet"
            if audit.session is not None and audit.record is None
            else "no visit to the site in this range"
        )
        visit_rows.append(["—", empty, "", "", ""])
    _table(
        pdf,
        ["#", "arrival", "arrival window", "departure", "departure window"],
        visit_rows,
        [8, 34, 64, 34, 50],
    )
    if audit.recon:
        pdf.ln(3)
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(0, 6, "Clock vs GPS", new_x="LMARGIN", new_y="NEXT")
        _table(
            pdf,
            ["check", "clock", "GPS", "delta"],
            [[r.label, r.clock[:19], r.gps[:19], hms(r.delta_s)] for r in audit.recon],
            [60, 45, 45, 30],
        )
        pdf.ln(1)
        pdf.set_font("DejaVu", size=8)
        if audit.flags:
            for f in audit.flags:
                pdf.multi_cell(
                    0,
                    4,
                    f"{f.severity} · {f.code}: {localize_text(f.message, audit.zone)}",
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
        else:
            pdf.cell(0, 4, "No flags.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 6, "Fixes behind each edge", new_x="LMARGIN", new_y="NEXT")
    _table(
        pdf,
        ["edge", "time", "lat", "lon", "±m", "to edge m", "side", "cited as"],
        [
            [
                r["edge"],
                r["time"],
                f"{r['lat']:.6f}",
                f"{r['lon']:.6f}",
                "?" if r["accuracy_m"] is None else f"{r['accuracy_m']:.0f}",
                "?" if r["distance_m"] is None else f"{r['distance_m']:.1f}",
                r["side"],
                r["evidence"],
            ]
            for r in audit.edge_rows[:PDF_MAX_FIXES]
        ],
        [20, 33, 22, 22, 10, 17, 15, 41],
    )
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 6, "Integrity", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=8)
    text = f"sha256 of the {len(audit.fixes)} fixes in this report (canonical form): "
    text += audit.digest
    if audit.record is not None:
        text += (
            f"\nInput digest recorded with visit record v{audit.record.version}: "
            f"{audit.record.input_digest}"
        )
    if audit.fence is not None:
        text += f"\nFence digest: {audit.fence.digest}"
    pdf.multi_cell(0, 4, text)
    return bytes(pdf.output())


def download(a: Audit, title: str, as_csv: bool) -> dict[str, Any]:
    """The CSV or PDF download of an audit, named after the record version."""
    stamp = a.start.strftime("%Y%m%d-%H%M")
    name = f"crewtrack-{a.device_id}-{stamp}"
    if a.record is not None:
        name += f"-v{a.record.version}"
    if as_csv:
        return {
            "content": fixes_csv(a),
            "filename": f"{name}.csv",
            "type": "text/csv",
        }
    pdf = evidence_pdf(a, title)
    return {
        "content": base64.b64encode(pdf).decode(),
        "filename": f"{name}.pdf",
        "type": "application/pdf",
        "base64": True,
    }
