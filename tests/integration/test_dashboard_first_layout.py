"""A full page load gets its page in the first layout, not after a router round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from crewtrack.settings import Settings
from tests.integration.dashboard_login import log_in
from tests.integration.security.test_web import dashboard  # noqa: F401  (fixture)

HOST = "http://localhost"  # the Flask test client's origin


def _layout(client: FlaskClient, referer: str | None) -> Any:
    headers = {} if referer is None else {"Referer": referer}
    answer = client.get("/_dash-layout", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def _find(node: Any, ident: str) -> Any:
    """The component with id ``ident`` in a layout's JSON (None if absent)."""
    if isinstance(node, dict) and node.get("props", {}).get("id") == ident:
        return node
    if not isinstance(node, dict | list):
        return None
    inside = node.values() if isinstance(node, dict) else node
    return next((f for f in (_find(v, ident) for v in inside) if f is not None), None)


@pytest.fixture
def client(dashboard: Any, settings: Settings) -> FlaskClient:  # noqa: F811
    """A dispatcher logged in to a dashboard on the test's servers."""
    logged_in: FlaskClient = dashboard(settings)
    log_in(logged_in, settings.database_url)
    return logged_in


def test_the_first_layout_holds_the_page_the_browser_is_loading(
    client: FlaskClient,
) -> None:
    jobs = _layout(client, f"{HOST}/jobs?status=scheduled")
    assert _find(jobs, "routed")["props"]["data"] == "/jobs?status=scheduled"
    page = _find(jobs, "page")["props"]["children"]
    assert "Jobs" in json.dumps(page)

    at_map = _layout(client, f"{HOST}/")
    assert _find(at_map, "live-map") is not None
    assert _find(at_map, "routed")["props"]["data"] == "/"

    missing = _layout(client, f"{HOST}/nowhere")
    assert "No page at /nowhere." in json.dumps(missing)


def test_without_a_referer_of_this_origin_the_router_renders_the_page(
    client: FlaskClient,
) -> None:
    for referer in (None, "http://elsewhere.example/jobs", "https://localhost/jobs"):
        layout = _layout(client, referer)
        assert _find(layout, "routed")["props"].get("data") is None, referer
        assert _find(layout, "page")["props"].get("children") is None, referer
