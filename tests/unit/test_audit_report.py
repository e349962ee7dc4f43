"""The audit's evidence PDF and CSV: the answer first, a map of the site on the
street basemap (or a plain background without tiles), tables that fit the page,
an appendix with the fixes behind each edge, and the fixes' certainty."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.answer import summarize
from dashboard.pages.audit import export, pdf_map
from dashboard.pages.audit.model import Audit, fix_flag_words, range_audit
from tests.integration.api.test_perform_a_job import pdf_text
from tests.unit.core.builders import START, Leg, make_track, site

BERLIN = ZoneInfo("Europe/Berlin")
MAGENTA = (255, 0, 255)  # the test tiles' colour: drawn nowhere else
FENCE_PURPLE = (107, 70, 193)
LONG_NAME = "Theodora Wilhelmina Auguste von Hohenzollern-Sigmaringen"


def _audit() -> Audit:
    """Drive in from 1 km east, 40 min on a 60 m site, drive 2 km west; some fixes
    timed on receipt or with a dropped speed (fix_flags)."""
    track = make_track(
        [Leg(0, 0, 300), Leg(0, 0, 2400), Leg(-2000, 0, 600)], 10, noise_m=3
    )
    track["speed"] = 1.0
    track["heading"] = float("nan")
    track["battery"] = 80.0
    flags: list[str | None] = [None] * len(track)
    flags[5] = "receive_time"
    flags[30] = "receive_time,dropped:speed"
    track["fix_flags"] = flags
    start, end = START.to_pydatetime(), (START + pd.Timedelta(hours=1)).to_pydatetime()
    audit = range_audit(track, site(60), "dev-7", start, end, BERLIN)
    audit.answer = summarize(
        technician=LONG_NAME,
        site="Marienplatz 8, Hinterhaus, 3. Stock links",
        visits=audit.visits,
        zone=BERLIN,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=50),
        clocked_s=41 * 60,
        billed_hours=Decimal("0.75"),
    )
    audit.booked = (start, start + timedelta(minutes=50))
    return audit


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A Web-Mercator tile server answering every tile in magenta; logs paths."""
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), MAGENTA).save(buf, format="PNG")
    tile, asked = buf.getvalue(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{{z}}/{{x}}/{{y}}.png", asked
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_port
    server.server_close()  # nothing listens there now: every fetch is refused
    return f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"


def _page_image(pdf: bytes, tmp_path: Path, page: int = 1) -> Image.Image:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "50",
            "-f",
            str(page),
            "-l",
            str(page),
            "-png",
            str(path),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    (png,) = tmp_path.glob("page-*.png")
    return Image.open(png).convert("RGB")


def _near(image: Image.Image, colour: tuple[int, int, int], tol: int = 30) -> int:
    diff = np.abs(np.asarray(image, dtype=int) - np.array(colour))
    return int((diff <= tol).all(axis=2).sum())


def test_the_pdf_map_is_drawn_on_street_tiles_fetched_from_the_tile_server(
    tile_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, asked = tile_server
    pdf = export.evidence_pdf(_audit(), "Job J-1", url)
    assert asked, "no tile was fetched"
    zooms = {int(path.split("/")[1]) for path in asked}
    assert len(zooms) == 1
    assert min(zooms) >= 16
    image = _page_image(pdf, tmp_path)
    # the map box (190 x 100 mm = ~374 x 197 px at 50 dpi) is mostly basemap
    assert _near(image, MAGENTA) > 0.5 * 374 * 197
    assert _near(image, FENCE_PURPLE, 40) > 50  # the fence drawn over it
    assert "Basemap: 127.0.0.1" in pdf_text(pdf, tmp_path)


def test_without_tiles_the_pdf_map_falls_back_to_the_fence_and_trail_on_plain_ground(
    tmp_path: Path,
) -> None:
    pdf = export.evidence_pdf(_audit(), "Job J-1", _closed_port_url())
    image = _page_image(pdf, tmp_path)
    assert _near(image, MAGENTA) == 0
    assert _near(image, FENCE_PURPLE, 40) > 50
    assert _near(image, pdf_map.BACKGROUND, 3) > 0.5 * 374 * 197
    assert "no street basemap (tiles not available)" in pdf_text(pdf, tmp_path)


def test_offline_mode_draws_the_map_without_asking_for_any_tile(
    tile_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    _, asked = tile_server
    pdf = export.evidence_pdf(_audit(), "Job J-1", "none")
    assert asked == []
    assert "no street basemap" in pdf_text(pdf, tmp_path)


def test_the_pdf_map_is_framed_on_the_site_not_on_the_whole_trail() -> None:
    audit = _audit()
    frame = pdf_map.frame(audit, export.MAP_W, export.MAP_H)
    assert frame is not None
    # the trail spans 3 km; the frame shows the 120 m fence with some context
    assert pdf_map.MIN_SPAN_M <= frame.metres_across <= 600
    fence_mm = 120 / frame.metres_across * export.MAP_W
    assert fence_mm >= 35  # was ~10 px on the whole ±2 h view


def test_the_pdf_leads_with_the_answer_and_the_booked_window(tmp_path: Path) -> None:
    audit = _audit()
    assert audit.answer is not None
    text = " ".join(
        pdf_text(export.evidence_pdf(audit, "Job J-1", "none"), tmp_path).split()
    )
    first = text.index("Arrival and departure evidence")
    assert text.index(" ".join(audit.answer.sentence.split())) > first
    assert text.index(audit.answer.sentence.split(";")[0]) < text.index("Coverage:")
    assert "Booked window: 2024-05-06 10:00 – 10:50" in text
    assert "Less certain: 1 fixes speed dropped (implausible)" in text
    assert "2 fixes timed on receipt (the phone sent no time)" in text


def test_every_word_of_the_pdf_lies_inside_the_page_margins(tmp_path: Path) -> None:
    pdf = export.evidence_pdf(_audit(), f"Job J-1 · {LONG_NAME} · " * 3, "none")
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    html = subprocess.check_output(["pdftotext", "-bbox", str(path), "-"], text=True)
    width = float(re.search(r'<page width="([\d.]+)"', html).group(1))  # type: ignore[union-attr]
    right = [float(x) for x in re.findall(r'xMax="([\d.]+)"', html)]
    left = [float(x) for x in re.findall(r'xMin="([\d.]+)"', html)]
    assert len(right) > 200
    margin_pt = 10 / 25.4 * 72
    assert max(right) <= width - margin_pt + 1
    assert min(left) >= margin_pt - 1


def test_the_appendix_lists_the_fixes_behind_each_edge_with_their_certainty(
    tmp_path: Path,
) -> None:
    audit = _audit()
    pdf = export.evidence_pdf(audit, "Job J-1", "none")
    text = pdf_text(pdf, tmp_path)
    appendix = text[text.index("Appendix: the fixes behind each edge") :]
    assert "Arrival 1" in appendix
    assert "Departure 1" in appendix
    arrival_rows = [r for r in audit.edge_rows if r["edge"] == "arrival 1"]
    for row in arrival_rows:
        assert row["time"] in appendix
    flagged = [r for r in audit.edge_rows if r["fix_flags"]]
    assert flagged  # fix 30 lies in the arrival's window widened by 3 min
    assert "timed on receipt" in " ".join(appendix.split())


def test_the_csv_leads_with_the_answer_and_booked_window_in_utc_and_stays_parseable() -> (
    None
):
    audit = _audit()
    text = export.fixes_csv(audit)
    header = [line[2:].split(": ", 1) for line in text.splitlines() if line[0] == "#"]
    keys = [k for k, _ in header]
    assert keys[0] == "format"
    assert dict(header)["format"] == "crewtrack-fixes/2"
    assert dict(header)["booked_window"] == (
        "2024-05-06T08:00:00Z/2024-05-06T08:50:00Z"
    )
    frame = pd.read_csv(io.StringIO(text), comment="#")
    assert len(frame) == len(audit.fixes)
    assert list(frame.columns)[-1] == "fix_flags"
    assert frame["fix_flags"].fillna("").tolist()[30] == "receive_time,dropped:speed"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[len(header) + 1][0] == "2024-05-06T08:00:00Z"


def test_a_fix_its_phone_called_not_valid_reads_as_left_out_of_the_visits() -> None:
    assert fix_flag_words("receive_time,not_valid") == (
        "timed on receipt (the phone sent no time); "
        "not valid by its phone (no evidence for arrival or departure)"
    )
