"""A list's pager on the page: its stores, its Previous/Next row, and the
callbacks that move it (a new filter starts again at page 1). The model of
where each page starts is :mod:`dashboard.paging`.

The list's own callback reads :attr:`Pager.paging` (``Paging.of`` its data) and
writes :attr:`Pager.last` (where the next page starts: the last number or id
shown, or the next offset; None on the last page), the text and the buttons'
``disabled`` (:meth:`Pager.shown`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from dash import ctx as triggered
from dash.exceptions import PreventUpdate

from dashboard.paging import Paging, first_page


@dataclass(frozen=True)
class Pager:
    """The ids of one list's pager, all starting with ``prefix``."""

    prefix: str

    @property
    def paging(self) -> str:
        return f"{self.prefix}-paging"  # {"cursors": [...]}

    @property
    def last(self) -> str:
        return f"{self.prefix}-last"  # the last id on the page shown

    @property
    def prev(self) -> str:
        return f"{self.prefix}-prev"

    @property
    def next(self) -> str:
        return f"{self.prefix}-next"

    @property
    def text(self) -> str:
        return f"{self.prefix}-page"

    def stores(self) -> list[Any]:
        return [
            dcc.Store(id=self.paging, data=first_page()),
            dcc.Store(id=self.last),
        ]

    def row(self) -> html.Div:
        return html.Div(
            [
                html.Button("← Previous", id=self.prev),
                html.Span(id=self.text, className="muted"),
                html.Button("Next →", id=self.next),
            ],
            className="office-pager",
        )

    def register(self, app: dash.Dash, filters: Sequence[Input]) -> None:
        """Previous/Next move the pager; a change of a filter starts it again."""

        @app.callback(
            Output(self.paging, "data", allow_duplicate=True),
            *filters,
            prevent_initial_call=True,
        )
        def _filtered(*_values: Any) -> Any:
            return first_page()  # a new filter starts at the first page

        @app.callback(
            Output(self.paging, "data"),
            Input(self.prev, "n_clicks"),
            Input(self.next, "n_clicks"),
            State(self.paging, "data"),
            State(self.last, "data"),
            prevent_initial_call=True,
        )
        def _page(_prev: Any, _next: Any, data: Any, last: Any) -> Any:
            paging = Paging[Any].of(data)
            if triggered.triggered_id == self.next and last is not None:
                return paging.next(last).data()
            if triggered.triggered_id == self.prev:
                return paging.previous().data()
            raise PreventUpdate

    def shown(self, paging: Paging[Any], last: Any) -> tuple[Any, ...]:
        """The list callback's outputs of the pager: last, text, prev/next disabled."""
        return last, *paging.pager(more=last is not None)

    def outputs(self) -> list[Output]:
        return [
            Output(self.last, "data"),
            Output(self.text, "children"),
            Output(self.prev, "disabled"),
            Output(self.next, "disabled"),
        ]
