"""Pickers given their options for what was typed, a page at a time.

A ``dcc.Dropdown`` indexes every option it is given: 2,000 technicians cost
~1 s of the browser's main thread on every first load (docs/performance.md,
"Dashboard weight"). So a picker over the fleet, the sites or the sessions is
given only the chosen values (they keep their labels) and the first
:data:`PICKER_OPTIONS` matches of what was typed, searched on the server:
:func:`register` wires that for one picker (the jobs map's technician filter,
the audit's five pickers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any

import dash
from dash import Input, Output, State

#: How many options a picker is given at a time (typing narrows them).
PICKER_OPTIONS = 50

#: (value, label) pairs a picker chooses among, in the order it offers them.
Choices = Sequence[tuple[str, str]]


def chosen_values(value: str | Sequence[str] | None) -> list[str]:
    """A picker's value as a list: a single choice's, a multiple one's, none."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def picker_options(
    choices: Choices,
    search: str | None,
    chosen: Iterable[str] | None,
    limit: int = PICKER_OPTIONS,
) -> list[dict[str, str]]:
    """A picker's options for what was typed: the chosen ones (they keep their
    labels), then the first ``limit`` of ``choices`` (value, label) whose
    label contains ``search``, in their order. A chosen value not among the
    choices is not offered (the dropdown then drops it)."""
    picked = set(chosen or ())
    needle = (search or "").strip().lower()
    options = [{"label": label, "value": v} for v, label in choices if v in picked]
    matching = (
        (v, label)
        for v, label in choices
        if v not in picked and (not needle or needle in label.lower())
    )
    return options + [
        {"label": label, "value": v} for v, label in islice(matching, limit)
    ]


def register(
    app: dash.Dash, picker_id: str, choices: Callable[[list[str]], Choices]
) -> None:
    """Give the dropdown ``picker_id`` its options for what is typed in it.

    ``choices(chosen)`` lists every (value, label) it may offer; it is given
    the chosen values so that one linked from elsewhere (``?session=``) can be
    labelled even if it is not among the usual choices. Asked when the picker
    appears (nothing typed) and on every change of what is typed.
    """

    @app.callback(
        Output(picker_id, "options"),
        Input(picker_id, "search_value"),
        State(picker_id, "value"),
    )
    def _options(search: str | None, value: Any) -> list[dict[str, str]]:
        chosen = chosen_values(value)
        return picker_options(choices(chosen), search, chosen)
