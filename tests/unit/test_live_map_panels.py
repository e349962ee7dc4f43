"""The panels beside the jobs map, as Dash components (no browser)."""

from __future__ import annotations

import json
from typing import Any

import plotly.utils

from dashboard.pages.live_map import panels
from dashboard.pages.live_map.model import TechRow


def _rows(n: int) -> list[TechRow]:
    return [
        TechRow(
            f"dev-{i:04}",
            f"Tech {i:04}",
            "North",
            "travelling",
            "",
            "",
            "now",
            None,
            48.1,
            11.5,
        )
        for i in range(n)
    ]


def _components(tree: Any) -> int:
    """How many Dash components the browser's renderer keeps for ``tree``."""
    data = json.loads(json.dumps(tree, cls=plotly.utils.PlotlyJSONEncoder))

    def count(node: Any) -> int:
        if isinstance(node, list):
            return sum(count(n) for n in node)
        if isinstance(node, dict) and "namespace" in node and "props" in node:
            return 1 + count(node["props"].get("children"))
        return 0

    return count(data)


def test_the_technician_list_draws_a_screenful_and_says_how_many_more_to_search() -> (
    None
):
    tree = panels.tech_list(_rows(2000))
    text = json.dumps(tree, cls=plotly.utils.PlotlyJSONEncoder)
    assert text.count('"className": "tech-row"') == panels.MAX_TECH_ROWS
    assert f"and {2000 - panels.MAX_TECH_ROWS} more: search to narrow down" in text
    # Dash's renderer pays per component on every update: a few hundred, not thousands
    assert _components(tree) < 400


def test_a_short_list_shows_everyone_and_no_more_line() -> None:
    text = json.dumps(panels.tech_list(_rows(8)), cls=plotly.utils.PlotlyJSONEncoder)
    assert text.count('"className": "tech-row"') == 8
    assert "more: search" not in text
