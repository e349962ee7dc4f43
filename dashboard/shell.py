"""The shell every page sits in: header with navigation, and the look pages share.

The layout is a function (``shell``) evaluated per page load, so it can show
who is logged in. A full page load gets the page at its URL inside that first
layout (``page``, and ``ROUTED`` names the URL it is for), so the page's own
callbacks start without waiting for a router round trip; the router fills
``PAGE`` when the dispatcher follows a link.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import dcc, html

URL = "url"
PAGE = "page"
#: The URL (path and query) whose page the first layout holds; the router
#: clears it once it has seen that URL (None: the router renders the page).
ROUTED = "routed"
VIEWPORT = "viewport"  # the browser window's size, {w, h}: maps fit their points to it
#: Fills ``VIEWPORT`` when a page opens (app.py registers it).
VIEWPORT_JS = (
    "function (_path) { return {w: window.innerWidth, h: window.innerHeight}; }"
)

NAV_MARK = (
    "nav-mark"  # what NAV_JS marked (nothing reads it: a callback needs an output)
)
#: Marks the header's link of the page shown (``aria-current``), and on a phone,
#: where the links are one row that scrolls sideways, brings it into view.
NAV_JS = """function (path) {
  var current = null;
  document.querySelectorAll('.topbar .nav a').forEach(function (a) {
    var here = a.getAttribute('href') === (path || '/');
    if (here) { a.setAttribute('aria-current', 'page'); current = a; }
    else { a.removeAttribute('aria-current'); }
  });
  if (current) { current.scrollIntoView({block: 'nearest', inline: 'center'}); }
  return path;
}"""

# --- the look every page shares
PANEL = {
    "background": "#fff",
    "border": "1px solid #e2e8f0",
    "borderRadius": "6px",
    "padding": "10px",
    "marginBottom": "10px",
}
MAP_CONFIG: Any = {"scrollZoom": True, "displaylogo": False}
#: What a graph shows before its first data arrives (no empty axes).
BLANK: Any = {
    "layout": {
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
    }
}


def shell(
    user_name: str,
    role: str,
    nav: Sequence[tuple[str, str]],
    zone: str = "",
    page: Any = None,
    routed: str | None = None,
) -> html.Div:
    """Header with navigation (label, path of each page), the logged-in user and
    the time zone every time on the page is in; the page goes below (``page``,
    the one at ``routed``, or empty for the router). The look is
    dashboard/assets/board.css."""
    links = [dcc.Link(label, href=href) for label, href in nav]
    return html.Div(
        [
            dcc.Location(id=URL),
            dcc.Store(id=ROUTED, data=routed),
            dcc.Store(id=VIEWPORT),
            dcc.Store(id=NAV_MARK),
            html.Header(
                [
                    html.Strong("crewtrack"),
                    html.Nav(links, className="nav", title="Pages"),
                    html.Span(
                        [
                            f"{user_name} · {role}"
                            + (f" · times in {zone}" if zone else "")
                            + " · ",
                            html.A("Log out", href="/logout", id="logout"),
                        ],
                        className="who",
                    ),
                ],
                className="topbar",
            ),
            html.Div(page, id=PAGE, className="page"),
        ],
    )


def url_key(pathname: str | None, search: str | None) -> str:
    """One URL's page, as ``ROUTED`` names it: the path (``/`` if none) and query."""
    query = (search or "").lstrip("?")
    return (pathname or "/") + (f"?{query}" if query else "")


def not_found(path: str) -> html.Div:
    return html.Div([html.H3("Not found"), html.P(f"No page at {path}.")])
