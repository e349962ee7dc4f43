"""The technician app (``techapp/``, built into ``techapp/dist``) served at ``/app/``.

The shell is what the service worker caches for offline use, so the caching
headers matter: ``index.html``, ``sw.js`` and the manifest are ``no-cache`` (a
new release is seen on the next start), the build's content-hashed
``assets/*`` are ``immutable`` for a year. The app's pages get their own
Content-Security-Policy (the API's ``default-src 'none'`` would stop them):
everything from this origin only, images also as ``data:``/``blob:`` (photos
and signatures before they sync), no inline script, never framed.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

from api.http.problems import problem_response

DIST = Path(__file__).resolve().parents[1] / "techapp" / "dist"
BASE = "/app/"
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
APP_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; worker-src 'self'; "
    "manifest-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
TYPES = {
    ".webmanifest": "application/manifest+json",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".html": "text/html",
}


def _file(dist: Path, name: str) -> Path | None:
    """The built file ``name`` under ``dist``, never outside it."""
    path = (dist / name).resolve()
    if not path.is_relative_to(dist.resolve()) or not path.is_file():
        return None
    return path


def _serve(path: Path, cache: str) -> web.StreamResponse:
    content_type = TYPES.get(path.suffix) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    headers = {
        "Cache-Control": cache,
        "Content-Type": content_type,
        "Content-Security-Policy": APP_CSP,
    }
    if path.name == "sw.js":
        headers["Service-Worker-Allowed"] = BASE
    return web.FileResponse(path, headers=headers)


def _not_built() -> web.Response:
    return problem_response(
        503,
        "Service unavailable",
        "the technician app is not built: run scripts/provision.sh",
    )


async def redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(BASE)


async def shell(request: web.Request) -> web.StreamResponse:
    """``/app/`` and the app's other root files (index, sw.js, manifest, icons)."""
    name = request.match_info.get("name") or "index.html"
    path = _file(DIST, name)
    if path is None:
        if not (DIST / "index.html").is_file():
            return _not_built()
        return problem_response(404, "Not found", f"no file {name!r} in the app")
    return _serve(path, NO_CACHE)


async def asset(request: web.Request) -> web.StreamResponse:
    """A content-hashed build asset: the same name never changes, cache it forever."""
    path = _file(DIST / "assets", request.match_info["name"])
    if path is None:
        return problem_response(404, "Not found", "no such asset")
    return _serve(path, IMMUTABLE)


def setup(api: object) -> None:
    """Hook for ``api.app.ROUTE_MODULES``: public static files, outside /api/v1."""
    app: web.Application = api.app  # type: ignore[attr-defined]
    app.router.add_get("/app", redirect)
    app.router.add_get(BASE, shell)
    app.router.add_get(BASE + "assets/{name}", asset)
    app.router.add_get(BASE + "{name}", shell)
