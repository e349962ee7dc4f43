"""The evidence report's map: the site, zoomed to its fence, on the street basemap.

The map is framed on the job site (the fence and the fixes the edges cite), not
on the whole trail: at the ±2 h span of a session the trail covers kilometres
and the fence would be a dot. Fixes further out are clipped at the frame.

The basemap comes from ``settings.dashboard_tile_url`` (Web-Mercator raster
tiles, ``{z}/{x}/{y}``), fetched with a short timeout and pasted into one image;
when any tile cannot be fetched (offline, tile server down, ``none``), the map
is drawn on a plain background instead: fence, trail, fixes and edges are ours
and always drawn, in the same projection.
"""

from __future__ import annotations

import io
import itertools
import math
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from fpdf import FPDF
from PIL import Image

from dashboard.maps import fence_points, has_basemap
from dashboard.pages.audit.model import Audit

TILE_PX = 256
#: One tile's fetch may take this long before the report does without tiles:
#: a report is made while someone waits for it.
TILE_TIMEOUT_S = 3.0
#: The most tiles one map fetches (the frame at ~4 px/mm needs 6-12).
MAX_TILES = 24
#: Resolution the basemap is fetched for, pixels per millimetre of the page.
PX_PER_MM = 4.0
#: The frame shows at least this many metres across (a small fence gets context).
MIN_SPAN_M = 250.0
#: The frame is the site's extent (fence, cited fixes) widened by this factor.
FRAME_PAD = 1.6
MAX_ZOOM = 19
EARTH_M = 40_075_016.686  # equator circumference, Web-Mercator metres
USER_AGENT = "crewtrack-evidence-report/1"
BACKGROUND = (244, 246, 248)
FIX_FLAGGED = (221, 107, 32)  # a less certain fix (fix_flags): orange ring


def world(lat: float, lon: float) -> tuple[float, float]:
    """Web-Mercator world pixel coordinates at zoom 0 (0-256)."""
    lat = max(min(lat, 85.0511), -85.0511)
    x = (lon + 180.0) / 360.0 * TILE_PX
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * TILE_PX
    return x, y


@dataclass(frozen=True)
class Frame:
    """The part of the world shown: zoom-0 world pixels, and the tile zoom."""

    x0: float
    y0: float
    x1: float
    y1: float
    zoom: int
    lat: float

    @property
    def metres_across(self) -> float:
        return (
            (self.x1 - self.x0) / TILE_PX * EARTH_M * math.cos(math.radians(self.lat))
        )


def frame(audit: Audit, w_mm: float, h_mm: float) -> Frame | None:
    """The frame around the site (fence and the fixes the edges cite).

    Without a fence, the frame holds every fix. None when there is nothing to
    draw.
    """
    lats: list[float] = []
    lons: list[float] = []
    if audit.fence is not None:
        lats, lons = fence_points(audit.fence.to_geojson())
        for v in audit.visits:
            for ev in (v.arrival_evidence, v.departure_evidence):
                for ref in () if ev is None else (ev.before, ev.after):
                    if ref is not None:
                        lats.append(ref.lat)
                        lons.append(ref.lon)
    else:
        lats, lons = audit.fixes["lat"].tolist(), audit.fixes["lon"].tolist()
    if not lats:
        return None
    pts = [world(a, b) for a, b in zip(lats, lons, strict=True)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    lat0 = (min(lats) + max(lats)) / 2
    metre = TILE_PX / (EARTH_M * math.cos(math.radians(lat0)))  # world px per m
    span_x = max((max(xs) - min(xs)) * FRAME_PAD, MIN_SPAN_M * metre)
    span_y = max((max(ys) - min(ys)) * FRAME_PAD, MIN_SPAN_M * metre)
    aspect = w_mm / h_mm
    if span_x / span_y < aspect:
        span_x = span_y * aspect
    else:
        span_y = span_x / aspect
    zoom = round(math.log2(w_mm * PX_PER_MM / span_x))
    return Frame(
        cx - span_x / 2,
        cy - span_y / 2,
        cx + span_x / 2,
        cy + span_y / 2,
        max(0, min(MAX_ZOOM, zoom)),
        lat0,
    )


def tile_url(template: str, z: int, x: int, y: int) -> str:
    return template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))


def basemap(template: str, f: Frame) -> Image.Image | None:
    """The frame's basemap as one image, or None if any tile cannot be fetched."""
    if not has_basemap(template) or urlsplit(template).scheme not in ("http", "https"):
        return None
    scale = 2**f.zoom
    px0, py0, px1, py1 = (v * scale for v in (f.x0, f.y0, f.x1, f.y1))
    tx = range(math.floor(px0 / TILE_PX), math.floor(px1 / TILE_PX) + 1)
    ty = range(math.floor(py0 / TILE_PX), math.floor(py1 / TILE_PX) + 1)
    if len(tx) * len(ty) > MAX_TILES:
        return None
    canvas = Image.new("RGB", (len(tx) * TILE_PX, len(ty) * TILE_PX), BACKGROUND)
    for i, j in itertools.product(range(len(tx)), range(len(ty))):
        x, y = tx[i] % scale, ty[j]
        if not 0 <= y < scale:
            continue
        # http(s) only (checked above): the configured tile server
        url = tile_url(template, f.zoom, x, y)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TILE_TIMEOUT_S) as resp:  # noqa: S310
                tile = Image.open(io.BytesIO(resp.read())).convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError):
            return None  # one missing tile: no basemap rather than a patchwork
        canvas.paste(tile.resize((TILE_PX, TILE_PX)), (i * TILE_PX, j * TILE_PX))
    left, top = px0 - tx[0] * TILE_PX, py0 - ty[0] * TILE_PX
    return canvas.crop(
        (round(left), round(top), round(left + px1 - px0), round(top + py1 - py0))
    )


def attribution(template: str) -> str:
    host = urlsplit(template).hostname or "the tile server"
    if "openstreetmap" in host:
        return "Basemap © OpenStreetMap contributors"
    return f"Basemap: {host}"


def draw_map(
    pdf: FPDF,
    audit: Audit,
    tiles: str,
    x: float,
    y: float,
    w: float,
    h: float,
) -> str:
    """Draw the site map in the box; returns the legend line (basemap or not)."""
    f = frame(audit, w, h)
    pdf.set_draw_color(160, 174, 192)
    pdf.set_fill_color(*BACKGROUND)
    pdf.rect(x, y, w, h, style="DF")
    if f is None:
        return "No fixes and no fence to draw."
    image = basemap(tiles, f)
    if image is not None:
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        pdf.image(buf, x=x, y=y, w=w, h=h)

    def px(lat: float, lon: float) -> tuple[float, float]:
        u, v = world(lat, lon)
        return x + (u - f.x0) / (f.x1 - f.x0) * w, y + (v - f.y0) / (f.y1 - f.y0) * h

    with pdf.rect_clip(x, y, w, h):
        if audit.fence is not None:
            f_lats, f_lons = fence_points(audit.fence.to_geojson())
            _polyline(
                pdf,
                [px(a, b) for a, b in zip(f_lats, f_lons, strict=True)],
                (107, 70, 193),
                0.7,
            )
        trail = zip(audit.trail["lat"], audit.trail["lon"], strict=True)
        _polyline(pdf, [px(a, b) for a, b in trail], (43, 108, 176), 0.4)
        flags = (
            audit.fixes["fix_flags"].fillna("").astype(bool).tolist()
            if "fix_flags" in audit.fixes
            else [False] * len(audit.fixes)
        )
        for a, b, flagged in zip(
            audit.fixes["lat"], audit.fixes["lon"], flags, strict=True
        ):
            u, v = px(a, b)
            if flagged:
                pdf.set_draw_color(*FIX_FLAGGED)
                pdf.set_line_width(0.35)
                pdf.circle(x=u, y=v, radius=1.1, style="D")
            pdf.set_fill_color(26, 54, 93)
            pdf.circle(x=u, y=v, radius=0.55, style="F")
        for n, visit in enumerate(audit.visits, start=1):
            dep = visit.departure_evidence
            for ref, colour, label in (
                (visit.arrival_evidence.after, (26, 152, 80), f"A{n}"),
                (
                    dep.before if dep and visit.departure else None,
                    (197, 48, 48),
                    f"D{n}",
                ),
            ):
                if ref is None:
                    continue
                u, v = px(ref.lat, ref.lon)
                pdf.set_fill_color(*colour)
                pdf.circle(x=u, y=v, radius=1.6, style="F")
                pdf.set_font("DejaVu", "B", 7)
                pdf.set_text_color(*colour)
                pdf.text(u + 2, v - 1, label)
        pdf.set_text_color(0, 0, 0)
    _scale_bar(pdf, f, x, y, w, h)
    legend = (
        "Purple: geofence · blue: trail and fixes · orange ring: a less certain fix "
        "(fix flags) · A = arrival, D = departure"
    )
    if image is not None:
        return f"{legend} · {attribution(tiles)}"
    return f"{legend} · no street basemap (tiles not available)"


def _polyline(
    pdf: FPDF,
    pts: Sequence[tuple[float, float]],
    colour: tuple[int, int, int],
    width: float,
) -> None:
    pdf.set_draw_color(*colour)
    pdf.set_line_width(width)
    for p, q in itertools.pairwise(pts):
        pdf.line(p[0], p[1], q[0], q[1])


def nice_metres(limit: float) -> float:
    """The longest 1-2-5 length (metres) not over ``limit``."""
    step = 10.0 ** math.floor(math.log10(max(limit, 1.0)))
    return max(float(m * step) for m in (1, 2, 5) if m * step <= max(limit, 1.0))


def _scale_bar(pdf: FPDF, f: Frame, x: float, y: float, w: float, h: float) -> None:
    metres = nice_metres(f.metres_across * 0.25)
    length = metres / f.metres_across * w
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x + 2, y + h - 8, length + 4, 6, style="F")
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.4)
    pdf.line(x + 4, y + h - 3.5, x + 4 + length, y + h - 3.5)
    pdf.set_font("DejaVu", size=7)
    pdf.text(x + 4, y + h - 4.5, f"{metres:.0f} m")
