"""The dashboard's page registry: the router and the header both follow PAGES."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dash
import pytest
import redis
from plotly.utils import PlotlyJSONEncoder
from psycopg_pool import ConnectionPool

from dashboard import pages, shell
from dashboard.app import _install_pages
from dashboard.context import Context
from dashboard.queries import Sources

SESSION = "5B6E2C1E-0000-4000-8000-000000000001"  # any spelling of a uuid


@pytest.fixture
def app() -> Iterator[dash.Dash]:
    """An app with the router and every page's callbacks, never connected."""
    pool = ConnectionPool("postgresql://nobody@127.0.0.1:1/none", open=False)
    sources = Sources(pool=pool, redis=redis.Redis(port=1))
    app = dash.Dash(__name__, suppress_callback_exceptions=True)
    app.layout = shell.shell("", "", pages.NAV)
    _install_pages(app, Context(sources, tile_url=""))
    yield app
    sources.close()


def _route(
    app: dash.Dash, pathname: str, search: str = "", routed: str | None = None
) -> dict[str, Any]:
    """The router's answer: what it sets of the page and of ``ROUTED``."""
    response = app.server.test_client().post(
        "/_dash-update-component",
        json={
            "output": "..page.children...routed.data..",
            "outputs": [
                {"id": "page", "property": "children"},
                {"id": "routed", "property": "data"},
            ],
            "inputs": [
                {"id": "url", "property": "pathname", "value": pathname},
                {"id": "url", "property": "search", "value": search},
            ],
            "changedPropIds": ["url.pathname"],
            "state": [{"id": "routed", "property": "data", "value": routed}],
        },
    )
    if response.status_code == 204:  # nothing to update
        return {}
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.get_json()["response"]
    return answer


def _routed(app: dash.Dash, pathname: str, search: str = "") -> Any:
    return _route(app, pathname, search)["page"]["children"]


def _ids(component: Any) -> set[str]:
    text = json.dumps(component)
    return {i for i in ("live-map", "audit-map", "audit-session") if f'"{i}"' in text}


def test_the_router_shows_each_page_at_its_path_and_not_found_elsewhere(
    app: dash.Dash,
) -> None:
    assert [p.path for p in pages.PAGES] == [
        "/",
        "/board",
        "/jobs",
        "/job",
        "/estimates",
        "/bookings",
        "/invoices",
        "/clients",
        "/technicians",
        "/price-book",
        "/report-templates",
        "/users",
        "/audit",
    ]
    assert _ids(_routed(app, "/")) == {"live-map"}
    audit = _routed(app, "/audit", f"?session={SESSION}&device=tech-07")
    assert _ids(audit) == {"audit-map", "audit-session"}
    text = json.dumps(audit)
    assert f'"value": "{SESSION.lower()}"' in text  # as PostgreSQL prints it
    assert '"value": "tech-07"' in text
    assert "No page at /nowhere." in json.dumps(_routed(app, "/nowhere"))


def test_the_header_links_every_page_in_order() -> None:
    header = json.dumps(
        shell.shell("Dana", "dispatcher", pages.NAV), cls=PlotlyJSONEncoder
    )
    links = list(pages.NAV)
    assert links == [  # the Job page is opened from the Jobs list, not the header
        ("Jobs map", "/"),
        ("Day board", "/board"),
        ("Jobs", "/jobs"),
        ("Estimates", "/estimates"),
        ("Bookings", "/bookings"),
        ("Invoices", "/invoices"),
        ("Clients", "/clients"),
        ("Technicians", "/technicians"),
        ("Price book", "/price-book"),
        ("Report templates", "/report-templates"),
        ("Users & devices", "/users"),
        ("Arrival audit", "/audit"),
    ]
    positions = [header.index(f'"href": "{path}"') for _, path in links]
    assert positions == sorted(positions)


def test_the_header_links_users_and_devices_for_admins_only() -> None:
    admin = pages.nav_for("admin")
    assert ("Users & devices", "/users") in admin
    for role in ("dispatcher", "billing"):
        links = pages.nav_for(role)
        assert ("Users & devices", "/users") not in links
        assert [label for label, _ in links] == [
            label for label, _ in admin if label != "Users & devices"
        ]


def test_the_router_keeps_the_page_the_first_layout_holds_and_renders_it_on_a_later_visit(
    app: dash.Dash,
) -> None:
    search = f"?session={SESSION}"
    first = _route(app, "/audit", search, routed=shell.url_key("/audit", search))
    assert first == {"routed": {"data": None}}  # the page stays, the mark goes
    # the dispatcher left and came back: routed is cleared, the page is rendered
    again = _route(app, "/audit", search, routed=None)
    assert _ids(again["page"]["children"]) == {"audit-map", "audit-session"}
    assert "routed" not in again
    # the first layout held another page than the URL's (a stale Referer)
    other = _route(app, "/", "", routed="/audit")
    assert _ids(other["page"]["children"]) == {"live-map"}
    assert other["routed"] == {"data": None}


def test_a_url_names_its_page_by_path_and_query() -> None:
    assert shell.url_key(None, None) == "/"
    assert shell.url_key("/jobs", "") == "/jobs"
    assert shell.url_key("/jobs", "?status=open") == "/jobs?status=open"
    assert shell.url_key("/jobs", "status=open") == "/jobs?status=open"
