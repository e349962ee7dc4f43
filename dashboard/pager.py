"""A list's keyset pager: where each page seen starts, its Previous/Next row,
and the callbacks that move it (a new filter starts again at page 1).

The list's own callback reads :attr:`Pager.paging` (``Paging.of`` its data) and
writes :attr:`Pager.last` (the last id shown, None on the last page), the text
and the buttons' ``disabled``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from dash import ctx as triggered
from dash.exceptions import PreventUpdate


@dataclass(frozen=True)
class Paging:
    """Where each page seen starts (an id cursor; None: the first page)."""

    cursors: tuple[str | None, ...] = (None,)

    @classmethod
    def of(cls, data: Mapping[str, Any] | None) -> Paging:
        return cls(tuple((data or {}).get("cursors") or [None]))

    @property
    def current(self) -> str | None:
        return self.cursors[-1]

    @property
    def page(self) -> int:
        return len(self.cursors)

    def next(self, last_id: str) -> Paging:
        return Paging((*self.cursors, last_id))

    def previous(self) -> Paging:
        return Paging(self.cursors[:-1] or (None,))

    def data(self) -> dict[str, Any]:
        return {"cursors": list(self.cursors)}


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
            dcc.Store(id=self.paging, data=Paging().data()),
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
            return Paging().data()

        @app.callback(
            Output(self.paging, "data"),
            Input(self.prev, "n_clicks"),
            Input(self.next, "n_clicks"),
            State(self.paging, "data"),
            State(self.last, "data"),
            prevent_initial_call=True,
        )
        def _page(_prev: Any, _next: Any, data: Any, last: str | None) -> Any:
            paging = Paging.of(data)
            if triggered.triggered_id == self.next and last:
                return paging.next(last).data()
            if triggered.triggered_id == self.prev:
                return paging.previous().data()
            raise PreventUpdate

    def shown(self, paging: Paging, last: str | None) -> tuple[Any, ...]:
        """The list callback's outputs of the pager: last, text, prev/next disabled."""
        return last, f"Page {paging.page}", paging.page == 1, last is None

    def outputs(self) -> list[Output]:
        return [
            Output(self.last, "data"),
            Output(self.text, "children"),
            Output(self.prev, "disabled"),
            Output(self.next, "disabled"),
        ]
