"""Evidence for the customer: the fixes as CSV and a PDF evidence report.

The PDF is drawn with fpdf2 and an embedded DejaVu Sans (core PDF fonts are
Latin-1 only: "±", "–" or a client's accented name would fail). It leads with
the plain-words answer (:mod:`core.answer`) against the booked window, then a
map zoomed to the site (:mod:`dashboard.pages.audit.pdf_map`: street basemap
when the tiles can be fetched, a plain background when not), the visits, the
clock comparison, and an appendix with the fixes behind each edge. Tables wrap
long cells to the page's width.

The CSV (format ``crewtrack-fixes/2``, times UTC) starts with ``# key: value``
lines: ``format``, ``session`` (or ``presence``: the asked interval of an ad-hoc
presence answer), ``answer`` (the sentence worded in UTC),
``summary`` (the answer's figures as one line of JSON), ``booked_window``
(``start/end`` ISO 8601 UTC, or ``none``) and ``provenance`` lines; then one
header row and one row per fix. ``pandas.read_csv(f, comment="#")`` reads the
rows; the ``#`` lines split at the first ``": "``. docs/evidence.md documents it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF, FontFace

from dashboard.clock import localize_text
from dashboard.pages.audit.model import (
    UTC_ZONE,
    Audit,
    coverage_lines,
    flag_lines,
    fmt_time,
    hms,
    provisional,
)
from dashboard.pages.audit.pdf_map import draw_map

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
CSV_FORMAT = "crewtrack-fixes/2"
CSV_COLUMNS = ("time", "lat", "lon", "accuracy", "speed", "heading", "battery")
#: Fix rows printed in the PDF's appendix (the CSV has all).
PDF_MAX_FIXES = 400
#: The map's box on the first page, millimetres (A4 less the margins is 190 wide).
MAP_W, MAP_H = 190.0, 100.0
#: Room the integrity section needs (heading and three digest lines), mm.
INTEGRITY_MM = 28.0


def _utc(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


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


def csv_header(audit: Audit) -> list[tuple[str, str]]:
    """The CSV's ``# key: value`` lines (times UTC), in order."""
    lines = [("format", CSV_FORMAT)]
    if audit.session is not None:
        lines.append(("session", audit.session.session_id))
    if audit.presence_utc is not None:
        lines.append(("presence", f"{_utc(audit.start)}/{_utc(audit.end)}"))
        lines.append(("answer", audit.presence_utc + " (times UTC)"))
    answer = audit.answer_in(UTC_ZONE)
    if answer is not None:
        lines.append(("answer", answer.sentence + " (times UTC)"))
        lines.append(("summary", json.dumps(answer.to_dict(), sort_keys=True)))
    if audit.booked is not None:
        start, end = audit.booked
        window = (
            "none" if start is None or end is None else f"{_utc(start)}/{_utc(end)}"
        )
        lines.append(("booked_window", window))
    lines += [("provenance", line) for line in provenance(audit)]
    return lines


def fixes_csv(audit: Audit) -> str:
    """Every fix in the audited range: UTC ISO time, degrees, metres, m/s, %,
    and its ``fix_flags`` as stored (empty: as the device sent it)."""
    out = io.StringIO()
    for key, text in csv_header(audit):
        out.write(f"# {key}: {text}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "distance_to_fence_m", "inside_fence", "fix_flags"])
    frame = audit.fixes
    for rec in frame.to_dict("records"):
        row: list[object] = [_utc(rec["time"])]
        for col in CSV_COLUMNS[1:]:
            value = rec.get(col)
            row.append("" if value is None or value != value else value)
        dist = rec.get("distance_m")
        row.append("" if dist is None or dist != dist else round(float(dist), 2))
        row.append("yes" if rec.get("inside") else "no")
        flags = rec.get("fix_flags")
        row.append(flags if isinstance(flags, str) else "")
        writer.writerow(row)
    return out.getvalue()


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=8)
        self.cell(0, 8, f"crewtrack evidence report · page {self.page_no()}", align="C")


def _table(
    pdf: FPDF,
    header: list[str],
    rows: list[list[str]],
    widths: list[float],
    size: float = 8,
    styles: list[FontFace | None] | None = None,
) -> None:
    """A bordered table as wide as the page; long cells wrap, headings repeat.

    ``styles`` gives a row its own face (fill, colour), e.g. a fix in the window.
    """
    pdf.set_font("DejaVu", size=size)
    with pdf.table(
        col_widths=widths,
        width=pdf.epw,
        line_height=size * 0.5,
        text_align="LEFT",
        headings_style=FontFace(emphasis="BOLD", fill_color=(237, 242, 247)),
        padding=0.8,
    ) as table:
        faces = [None, *(styles or [None] * len(rows))]
        for cells, face in zip([header, *rows], faces, strict=True):
            line = table.row(style=face)
            for text in cells:
                line.cell(text)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")


def _para(pdf: FPDF, text: str, size: float = 8, bold: bool = False) -> None:
    pdf.set_font("DejaVu", "B" if bold else "", size)
    pdf.multi_cell(0, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")


def _span(
    a: datetime | None, b: datetime | None, audit: Audit, at: datetime | None = None
) -> str:
    """``10:04:30 – 10:04:50``: the date only where it is not the edge's (``at``)."""
    day = None if at is None else f"{fmt_time(at, audit.zone)[:10]} "

    def one(t: datetime | None) -> str:
        text = fmt_time(t, audit.zone)
        return text[11:] if day and text.startswith(day) else text

    return f"{one(a)} – {one(b)}"


#: The appendix's rows: a fix inside the edge's window, a less certain fix.
IN_WINDOW = FontFace(fill_color=(254, 252, 191))
LESS_CERTAIN = FontFace(color=(192, 86, 33), emphasis="ITALICS")
BOTH = FontFace(color=(192, 86, 33), emphasis="ITALICS", fill_color=(254, 252, 191))


def evidence_pdf(
    audit: Audit, title: str, tiles: str = "", now: datetime | None = None
) -> bytes:
    """The evidence report: the answer, the site map, visits, clock vs GPS,
    integrity, and an appendix with the fixes behind each edge.

    ``tiles`` is the street basemap's tile URL (``settings.dashboard_tile_url``);
    without tiles the map is drawn on a plain background.
    """
    pdf = _Report(orientation="P", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVu", "I", str(FONT_DIR / "DejaVuSans-Oblique.ttf"))
    pdf.set_margins(10, 12, 10)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 8, "Arrival and departure evidence", new_x="LMARGIN", new_y="NEXT")
    _para(pdf, title, 9)
    pdf.ln(1)
    if audit.answer is not None:
        _para(pdf, audit.answer.sentence + ".", 11, bold=True)
    elif audit.session is not None:
        _para(pdf, "Not derived yet: no visit record is stored for this session.", 11)
    if audit.booked is not None:
        _para(pdf, f"Booked window: {audit.booked_text()}", 9)
    pdf.ln(1)
    for line in [
        f"All times in {audit.zone.key} (the CSV export holds UTC). Device "
        f"{audit.device_id}, fixes from {fmt_time(audit.start, audit.zone)} to "
        f"{fmt_time(audit.end, audit.zone)}. Report generated "
        f"{fmt_time(now or datetime.now(UTC), audit.zone)}.",
        *("Coverage: " + line for line in coverage_lines(audit.coverage, audit.zone)),
        *("Less certain: " + line for line in flag_lines(audit.fixes)),
        *provenance(audit),
    ]:
        _para(pdf, line, 8)
    pdf.ln(2)
    top = pdf.get_y()
    if top + MAP_H + 6 > pdf.h - pdf.b_margin:
        pdf.add_page()
        top = pdf.get_y()
    legend = draw_map(pdf, audit, tiles, pdf.l_margin, top, MAP_W, MAP_H)
    pdf.set_y(top + MAP_H + 1)
    _para(pdf, legend, 7)
    _heading(
        pdf,
        f"Visits (visit record v{audit.record.version})"
        if audit.record is not None
        else "Visits derived from GPS",
    )
    visit_rows = []
    for n, v in enumerate(audit.visits, start=1):
        dw = v.departure_window
        visit_rows.append(
            [
                str(n),
                fmt_time(v.arrival, audit.zone),
                _span(
                    v.arrival_window.earliest, v.arrival_window.latest, audit, v.arrival
                ),
                fmt_time(v.departure, audit.zone) + provisional(v),
                "—"
                if dw is None
                else _span(dw.earliest, dw.latest, audit, v.departure),
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
        [6, 34, 46, 58, 46],
    )
    if audit.recon:
        _heading(pdf, "Clock vs GPS")
        _table(
            pdf,
            ["check", "clock", "GPS", "delta"],
            [[r.label, r.clock, r.gps, hms(r.delta_s)] for r in audit.recon],
            [40, 36, 94, 20],
        )
        pdf.ln(1)
        if audit.flags:
            for f in audit.flags:
                _para(
                    pdf,
                    f"{f.severity} · {f.code}: {localize_text(f.message, audit.zone)}",
                )
        else:
            _para(pdf, "No flags.")
    # the digests on a page of their own would leave it nearly empty: they
    # then open the appendix's page instead
    moved = pdf.get_y() + INTEGRITY_MM > pdf.h - pdf.b_margin
    if moved:
        pdf.add_page()
    _heading(pdf, "Integrity")
    text = f"sha256 of the {len(audit.fixes)} fixes in this report (canonical form): "
    text += audit.digest
    if audit.record is not None:
        text += (
            f"\nInput digest recorded with visit record v{audit.record.version}: "
            f"{audit.record.input_digest}"
        )
    if audit.fence is not None:
        text += f"\nFence digest: {audit.fence.digest}"
    _para(pdf, text)
    _appendix(pdf, audit, new_page=not moved)
    return bytes(pdf.output())


def _row_face(in_window: bool, less_certain: bool) -> FontFace | None:
    if in_window and less_certain:
        return BOTH
    return IN_WINDOW if in_window else LESS_CERTAIN if less_certain else None


def _appendix(pdf: FPDF, audit: Audit, new_page: bool) -> None:
    """The fixes behind each edge, one table per edge (window widened by 3 min)."""
    if new_page:
        pdf.add_page()
    else:
        pdf.ln(4)
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(
        0, 7, "Appendix: the fixes behind each edge", new_x="LMARGIN", new_y="NEXT"
    )
    _para(
        pdf,
        "Every fix in each edge's window widened by 3 minutes; highlighted rows lie "
        'in the window. "cited as" names the fixes the derivation used (before or '
        'after the crossing, the clear fixes bounding the window); "certainty" '
        "names what is less certain about a fix (its fix flags, in orange italics).",
    )
    rows = audit.edge_rows[:PDF_MAX_FIXES]
    if not rows:
        _para(pdf, "No edges: no visit to the site.")
    for edge in dict.fromkeys(r["edge"] for r in rows):
        _heading(pdf, edge.capitalize())
        _table(
            pdf,
            [
                "time",
                "lat",
                "lon",
                "±m",
                "to fence m",
                "side",
                "in window",
                "cited as",
                "certainty",
            ],
            [
                [
                    r["time"],
                    f"{r['lat']:.6f}",
                    f"{r['lon']:.6f}",
                    "?" if r["accuracy_m"] is None else f"{r['accuracy_m']:.0f}",
                    "?" if r["distance_m"] is None else f"{r['distance_m']:.1f}",
                    r["side"],
                    r["in_window"],
                    r["evidence"],
                    r["fix_flags"] or "as sent",
                ]
                for r in rows
                if r["edge"] == edge
            ],
            [31, 20, 20, 9, 15, 14, 14, 30, 37],
            size=7,
            styles=[
                _row_face(r["in_window"] == "yes", bool(r["fix_flags"]))
                for r in rows
                if r["edge"] == edge
            ],
        )
    if len(audit.edge_rows) > PDF_MAX_FIXES:
        _para(pdf, f"… {len(audit.edge_rows) - PDF_MAX_FIXES} more in the CSV export.")


def download(a: Audit, title: str, as_csv: bool, tiles: str = "") -> dict[str, Any]:
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
    pdf = evidence_pdf(a, title, tiles)
    return {
        "content": base64.b64encode(pdf).decode(),
        "filename": f"{name}.pdf",
        "type": "application/pdf",
        "base64": True,
    }
