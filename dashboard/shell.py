"""The shell every page sits in: header with navigation, and the look pages share.

The layout is a function (``shell``) evaluated per page load, so it can show
who is logged in; the router fills ``PAGE`` with the page at the URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import dcc, html

URL = "url"
PAGE = "page"

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


def shell(user_name: str, role: str, nav: Sequence[tuple[str, str]]) -> html.Div:
    """Header with navigation (label, path of each page) and the logged-in user;
    the page goes below."""
    links = [
        dcc.Link(label, href=href, style={"marginRight": "14px"})
        for label, href in nav[:-1]
    ] + [dcc.Link(label, href=href) for label, href in nav[-1:]]
    return html.Div(
        [
            dcc.Location(id=URL),
            html.Header(
                [
                    html.Strong("crewtrack", style={"marginRight": "20px"}),
                    *links,
                    html.Span(
                        [
                            f"{user_name} · {role} · ",
                            html.A("Log out", href="/logout", id="logout"),
                        ],
                        style={"float": "right"},
                    ),
                ],
                style={
                    "padding": "10px 16px",
                    "background": "#1a365d",
                    "color": "#fff",
                },
                className="topbar",
            ),
            html.Div(id=PAGE, style={"padding": "10px 16px"}),
        ],
        style={"fontFamily": "system-ui, sans-serif", "background": "#f7fafc"},
    )


def not_found(path: str) -> html.Div:
    return html.Div([html.H3("Not found"), html.P(f"No page at {path}.")])
