"""The office pages' forms: a labelled field with its problem slot, and the wiring
of a submit to one :class:`dashboard.actions.Office` call.

Every office form works the same way: a click reads the form's values, runs one
office call as the logged-in user, and shows its :class:`~dashboard.actions.Done`
— the sentence, blockers and warnings under the form, each problem+json pointer's
message next to the field it points at — and bumps the page's refresh store, so
the page shows its own change (or, after a stale refusal, the new state).
:func:`wire` is that one wiring; the pages only say which ids and which call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dash
import flask
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.actions import Done, Office, OfficeUser
from dashboard.context import Context

#: problem pointer → id of the field that shows it
Pointers = Mapping[str, str]
#: (office, user, *the States' values) -> what the call did
Run = Callable[..., Done]


def error_slot(field_id: str) -> str:
    return f"{field_id}-error"


def field(label: str, field_id: str, control: Any) -> html.Div:
    """A labelled form control with the slot its problem is shown in."""
    return html.Div(
        [
            html.Label(label, htmlFor=field_id),
            control,
            html.Div(id=error_slot(field_id), className="field-error"),
        ],
        className="office-field",
    )


def radio(
    control_id: str, choices: Sequence[tuple[str, str]], value: str
) -> dcc.RadioItems:
    """One choice of a few, in a row (``choices``: value, label)."""
    return dcc.RadioItems(
        id=control_id,
        options=[{"label": label, "value": v} for v, label in choices],
        value=value,
        inline=True,
    )


def day_range_inputs(from_id: str, to_id: str) -> list[dcc.Input]:
    """A list filter's From/To days (whole days in the company's zone)."""
    return [
        dcc.Input(
            id=control_id,
            placeholder=f"{word} YYYY-MM-DD",
            debounce=True,
            className="office-day",
        )
        for control_id, word in ((from_id, "From"), (to_id, "To"))
    ]


def form_block(
    fields: Sequence[Any],
    buttons: Sequence[Any],
    *,
    result: str | None = None,
    block_id: str | None = None,
    heading: str | None = None,
) -> html.Div:
    """A form's fields in a row, its buttons, and the line its answer goes in
    (hidden until the page says the user may use it, when ``block_id`` is given)."""
    children: list[Any] = [html.H4(heading)] if heading else []
    children += [html.Div(list(fields), className="office-form"), *buttons]
    if result is not None:
        children.append(html.Div(id=result))
    if block_id is None:
        return html.Div(children)
    return html.Div(children, id=block_id, hidden=True)


def current_user(ctx: Context) -> tuple[OfficeUser, Office]:
    """The logged-in user and the app's office actions (else no update)."""
    user = flask.g.get("user")
    if user is None or ctx.actions is None:
        raise PreventUpdate
    return OfficeUser(str(user.user_id), user.name, user.role), ctx.actions.office


def field_ids(pointers: Pointers) -> list[str]:
    """The fields a form shows problems next to, each once, in order."""
    return list(dict.fromkeys(pointers.values()))


def field_messages(
    done: Done, pointers: Pointers, fields: Sequence[str]
) -> tuple[list[str], list[str | None]]:
    """Each field's message (None clears its slot), in the order of ``fields``,
    from the problems' pointers (``pointers``: pointer → field id); and the
    problems no field shows, for the form's own message line."""
    by_field: dict[str, str | None] = dict.fromkeys(fields)
    rest = []
    for pointer, message in done.problems.items():
        field_id = pointers.get(pointer)
        if field_id in by_field:
            by_field[field_id] = message
        else:
            rest.append(f"{pointer.strip('/') or 'value'}: {message}")
    return rest, list(by_field.values())


def result_view(done: Done, extra: Sequence[Any] = ()) -> html.Div:
    """The sentence an edit answered, its blockers, warnings and field problems
    that have no field of their own."""
    lines: list[Any] = [
        html.P(done.message, className="ok" if done.ok else "refused", role="status")
    ]
    if done.blockers:
        lines.append(html.Ul([html.Li(b) for b in done.blockers], className="blockers"))
    lines += [html.P(f"⚠ {w}", className="warning") for w in done.warnings]
    lines += list(extra)
    return html.Div(lines)


def done_view(
    done: Done, pointers: Pointers, fields: Sequence[str], extra: Sequence[Any] = ()
) -> tuple[Any, list[str | None]]:
    """The result line and each field's message, for one form."""
    rest, messages = field_messages(done, pointers, fields)
    shown = [html.P(r, className="refused") for r in rest]
    return result_view(done, [*shown, *extra]), messages


def refused(message: str, pointer: str, problem: str) -> Done:
    """A form's own refusal before any call (a required choice left empty)."""
    return Done(False, f"Not saved: {message}", problems={pointer: problem})


def reload_after(done: Done) -> bool:
    """Reload after a change, and after a stale refusal (to show the new state)."""
    return done.ok or done.stale


@dataclass(frozen=True)
class Submit:
    """What starts a form: its button(s) (``n_clicks``) and the pointers of the
    problems each one's call answers (pointer → field id)."""

    buttons: Sequence[tuple[Any, Pointers]]  # (button id or pattern id, pointers)

    @property
    def fields(self) -> list[str]:
        return list(dict.fromkeys(f for _b, p in self.buttons for f in p.values()))

    @staticmethod
    def one(button: Any, pointers: Pointers) -> Submit:
        return Submit(((button, pointers),))


def wire(
    app: dash.Dash,
    ctx: Context,
    *,
    submit: Submit,
    result: str,
    refresh: str,
    states: Sequence[State],
    run: Run,
    clear: Sequence[str] = (),
    extra: Callable[[Done], Sequence[Any]] = lambda _done: (),
    reload: Callable[[Done], bool] = reload_after,
    duplicate_result: bool = False,
    go: tuple[str, Callable[[Done], str | None]] | None = None,
) -> None:
    """On a click of one of ``submit``'s buttons, ``run(office, user, *values of
    states)`` and show its answer: ``result`` gets the sentence (and ``extra``),
    each field its problem, ``refresh`` a bump when ``reload`` says so, and the
    ``clear`` fields are emptied once saved. ``run`` may ask ``dash.ctx`` which
    button it was. ``go``: a ``dcc.Location``'s id and the page an answer opens
    (None: stay), e.g. the job an estimate was converted to."""
    fields = submit.fields
    outputs = [
        Output(result, "children", allow_duplicate=duplicate_result),
        Output(refresh, "data", allow_duplicate=True),
        *[Output(c, "value") for c in clear],
        *[Output(error_slot(f), "children") for f in fields],
        *([Output(go[0], "href")] if go else []),
    ]

    @app.callback(
        *outputs,
        *[Input(b, "n_clicks") for b, _p in submit.buttons],
        *states,
        State(refresh, "data"),
        prevent_initial_call=True,
    )
    def _submit(*args: Any) -> Any:
        clicks = args[: len(submit.buttons)]
        *values, bumps = args[len(submit.buttons) :]
        if not any(c if not isinstance(c, list) else any(c) for c in clicks):
            raise PreventUpdate
        user, office = current_user(ctx)
        done = run(office, user, *values)
        pointers = _pointers_of(submit, dash.ctx.triggered_id)
        shown, slots = done_view(done, pointers, fields, extra(done))
        cleared = ["" if done.ok else dash.no_update for _ in clear]
        bumped = (bumps or 0) + 1 if reload(done) else dash.no_update
        opened = [] if go is None else [go[1](done) or dash.no_update]
        return shown, bumped, *cleared, *slots, *opened


def _pointers_of(submit: Submit, trigger: Any) -> Pointers:
    for button, pointers in submit.buttons:
        if button == trigger or (
            isinstance(button, Mapping)
            and isinstance(trigger, Mapping)
            and button.get("type") == trigger.get("type")
        ):
            return pointers
    return submit.buttons[0][1]
