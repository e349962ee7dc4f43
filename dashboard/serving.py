"""How the dashboard's files and answers travel: compression and caching.

``install(server)`` adds one ``after_request`` hook to the Flask server:

- **Caching.** Dash fingerprints the URLs of its component suites
  (``dash_renderer.v4_4_1m….min.js``) and our assets (``?m=<mtime>``): those
  may be kept a year without asking again (``immutable``). Every other file
  (the non-fingerprinted plotly bundle, glyphs, assets fetched by scripts) is
  revalidated with its ETag (``no-cache``: a 304 costs one round trip, no
  body). Pages and callback answers are per user: ``private, no-cache``.
- **Compression.** Text answers (JS, CSS, JSON, HTML, SVG) of at least
  ``MIN_SIZE`` bytes are gzipped when the browser accepts it. Files are
  compressed once per process at ``FILE_LEVEL`` and kept (keyed by path and
  ETag); callback answers are compressed as they go at ``DYNAMIC_LEVEL``
  (docs/performance.md, "Dashboard weight", has the measurements).

``/glyphs/<font stack>/<range>.pbf`` serves the map's text glyphs (built by
scripts/build-glyphs.js into ``dashboard/assets/glyphs/<font>/``): the first
font of the stack that was built, else :data:`dashboard.maps.LABEL_FONT`; a
range the font does not cover is an empty (valid) PBF, so MapLibre draws the
rest of the label without an error.

A compressed answer carries a weak ETag (the same bytes, another encoding)
and ``Vary: Accept-Encoding``; a conditional request matching it is answered
304 here, whichever encoding it was first sent in.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections import OrderedDict
from pathlib import Path

import flask
from dash.fingerprint import check_fingerprint

from dashboard.maps import LABEL_FONT, STYLE_PATH, map_style

#: Smaller answers gain less than the gzip header and a round of CPU cost.
MIN_SIZE = 1024
#: Files are compressed once per process: spend the CPU for the last bytes.
FILE_LEVEL = 9
#: Callback answers are compressed on every request: zlib's default trade-off
#: (the 2,000-technician figure: level 6 is within 2 % of level 9 in size).
DYNAMIC_LEVEL = 6
#: Compressed files kept per process (Dash's suites, the plotly bundle, assets).
FILE_CACHE_ENTRIES = 64
#: A year: the longest lifetime caches honour (RFC 9111 recommends no more).
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
PER_USER = "private, no-cache"
COMPRESSIBLE = frozenset(
    {
        "application/javascript",
        "text/javascript",
        "text/css",
        "application/json",
        "text/html",
        "text/plain",
        "image/svg+xml",
        "application/x-protobuf",
    }
)
SUITES = "/_dash-component-suites/"
ASSETS = "/assets/"
GLYPHS = "/glyphs/"
PBF = "application/x-protobuf"
_RANGE = re.compile(r"\d{1,5}-\d{1,5}")


class _FileCache:
    """Gzipped bodies of files, by (path, ETag), least recently used dropped."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], body: bytes) -> bytes:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        packed = gzip.compress(body, compresslevel=FILE_LEVEL, mtime=0)
        with self._lock:
            self._items[key] = packed
            while len(self._items) > self._entries:
                self._items.popitem(last=False)
        return packed


def cache_control(path: str, query: str) -> str:
    """The ``Cache-Control`` of an answer to ``path`` (``query``: its query string)."""
    if path.startswith(SUITES):
        _, fingerprinted = check_fingerprint(path[len(SUITES) :])  # type: ignore[no-untyped-call]
        return IMMUTABLE if fingerprinted else REVALIDATE
    if path.startswith(ASSETS):
        return IMMUTABLE if query.startswith("m=") else REVALIDATE
    if path.startswith(GLYPHS):
        return REVALIDATE
    return PER_USER


def _is_file(path: str) -> bool:
    return path.startswith((SUITES, ASSETS, GLYPHS))


def _not_modified(response: flask.Response) -> bool:
    """Whether the request's If-None-Match names this answer's ETag (weakly)."""
    etag, _ = response.get_etag()
    if etag is None or flask.request.method not in ("GET", "HEAD"):
        return False
    return flask.request.if_none_match.contains_weak(etag)


def _materialise(response: flask.Response) -> bytes:
    """The body in memory, and the file behind a ``send_file`` answer closed."""
    source = response.response
    response.direct_passthrough = False
    body = response.get_data()
    close = getattr(source, "close", None)
    if close is not None:
        close()
    return body


def glyph_file(glyphs: Path, fontstack: str, range_name: str) -> Path | None:
    """The PBF answering MapLibre's request for ``fontstack``/``range_name``."""
    if not _RANGE.fullmatch(range_name) or not glyphs.is_dir():
        return None
    built = {p.name for p in glyphs.iterdir() if p.is_dir()}
    for font in [f.strip() for f in fontstack.split(",")] + [LABEL_FONT]:
        if font in built:  # a name we built, never a path from the URL
            candidate = glyphs / font / f"{range_name}.pbf"
            return candidate if candidate.is_file() else None
    return None


def install(server: flask.Flask, glyphs: Path, tile_url: str) -> None:
    """Compress and set caching headers on every answer of ``server``; serve
    the glyphs built into ``glyphs`` and the map style for ``tile_url``."""
    files = _FileCache(FILE_CACHE_ENTRIES)
    style = json.dumps(map_style(tile_url))

    @server.route(STYLE_PATH)
    def _style() -> flask.Response:
        return flask.Response(style, mimetype="application/json")

    @server.route(GLYPHS + "<fontstack>/<range_name>.pbf")
    def _glyphs(fontstack: str, range_name: str) -> flask.Response:
        found = glyph_file(glyphs, fontstack, range_name)
        if found is None:
            if not _RANGE.fullmatch(range_name):
                flask.abort(404)
            return flask.Response(b"", mimetype=PBF)  # no glyphs in this range
        return flask.send_file(found, mimetype=PBF, conditional=True, etag=True)

    @server.after_request
    def _weigh(response: flask.Response) -> flask.Response:
        request = flask.request
        path = request.path
        if "Cache-Control" not in response.headers or _is_file(path):
            response.headers["Cache-Control"] = cache_control(
                path, request.query_string.decode("latin-1")
            )
        if response.status_code != 200:
            return response
        if _is_file(path) and response.get_etag()[0] is None:
            response.set_data(_materialise(response))
            response.add_etag()
        if _not_modified(response):
            _materialise(response)
            return flask.Response(
                status=304,
                headers={
                    "ETag": response.headers["ETag"],
                    "Cache-Control": response.headers["Cache-Control"],
                    "Vary": "Accept-Encoding",
                },
            )
        if (
            response.mimetype not in COMPRESSIBLE
            or "Content-Encoding" in response.headers
            or request.accept_encodings["gzip"] <= 0
        ):
            return response
        body = _materialise(response)
        if len(body) < MIN_SIZE:
            return response
        etag, _ = response.get_etag()
        if _is_file(path) and etag is not None:
            packed = files.get((path, etag), body)
        else:
            packed = gzip.compress(body, compresslevel=DYNAMIC_LEVEL, mtime=0)
        response.set_data(packed)
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        if etag is not None:
            response.set_etag(etag, weak=True)
        return response
