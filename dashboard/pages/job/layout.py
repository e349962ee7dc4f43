"""The Job page's layout: the header, the tab bar and one panel per tab.

Every panel is in the page from the start (the tab bar only shows one), so the
forms inside them keep their ids and what was typed; the load callback fills
the panels' contents from the job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import dcc, html

from dashboard import line_items
from dashboard.forms import error_slot, field, form_block, radio
from dashboard.pages.job.model import PATH, TAB_VALUES, TABS
from dashboard.shell import MAP_CONFIG

__all__ = ["PATH", "error_slot", "field", "page"]

JOB_REF = "job-ref"  # {"number": "J-000042"}: the job the URL names
JOB_SEEN = "job-seen"  # {"id", "version"}: what the page shows (edits send it)
JOB_REFRESH = "job-refresh"  # bumps after an edit: the page shows its change
TASK_STATE = "job-task-state"  # {task id: done} as shown
HEADER = "job-header"
TAB_BAR = "job-tabs"
TAB_BUTTON = "job-tab"  # pattern id type: {"type": TAB_BUTTON, "tab": <tab>}
TAB_STATE = "job-tab-state"  # the tab shown
LOAD_ERROR = "job-load-error"
SMALL_MAP_CONFIG: Any = {**MAP_CONFIG, "scrollZoom": False}  # the page scrolls


def panel_id(tab: str) -> str:
    return f"job-panel-{tab}"


def body_id(tab: str) -> str:
    return f"job-body-{tab}"


# -- Overview: status actions, schedule form, crew form
ACTIONS = "job-actions"  # the status buttons and their blockers
ACT_BUTTON = "job-act"  # pattern id type: {"type": ACT_BUTTON, "act": <Act.name>}
REASON = "job-reason"
REASON_FIELD = "job-reason-field"  # shown while Hold or Cancel is offered
SCHEDULE_FORM = "job-schedule-form"
SCHED_DAY = "job-sched-day"
SCHED_START = "job-sched-start"
SCHED_END = "job-sched-end"
SCHED_TECH = "job-sched-tech"
ACT_RESULT = "job-act-result"
CREW_FORM = "job-crew-form"
CREW_TECH = "job-crew-tech"
CREW_ROLE = "job-crew-role"
CREW_SAVE = "job-crew-save"
CREW_RESULT = "job-crew-result"
SITE_MAP = "job-site-map"
# -- Line items (the picker the Estimates page shares: dashboard.line_items)
LI = line_items.Ids("job-li")
LI_FORM = "job-li-form"
LI_FAMILY = LI.family
LI_ITEM = LI.item
LI_ADD = LI.add
LI_CADD = LI.cadd
LI_RESULT = LI.result
# -- Tasks
TASK_BOX = "job-task"  # pattern id type: {"type": TASK_BOX, "task": <task id>}
TASK_FORM = "job-task-form"
TASK_TITLE = "job-task-title"
TASK_REQUIRED = "job-task-required"
TASK_ADD = "job-task-add"
TASK_RESULT = "job-task-result"
# -- Notes
NOTE_FORM = "job-note-form"
NOTE_TEXT = "job-note-text"
NOTE_VIS = "job-note-visibility"
NOTE_ADD = "job-note-add"
NOTE_RESULT = "job-note-result"

# -- Invoice
INV_FORM = "job-inv-form"  # Generate Invoice and the credit note's reason
INV_GENERATE = "job-inv-generate"
INV_ACT = "job-inv-act"  # pattern id type: {"type", "act", "invoice", "version"}
PART_FORMS = "job-part-forms"  # shown when the role and the job allow parts
PART_ITEM = "job-part-item"
PART_QTY = "job-part-qty"
PART_SERIALS = "job-part-serials"
PART_DEPOT = "job-part-depot"
TB_SERIAL = "job-tb-serial"
TB_CONDITION = "job-tb-condition"
TB_ITEM = "job-tb-item"
TB_DEPOT = "job-tb-depot"


@dataclass(frozen=True)
class PartsForm:
    """One of the Parts tab's forms: its inputs in the order of its body's
    arguments, the problem pointer of each, its button and answer line."""

    name: str
    pointers: Mapping[str, str]  # the API body's pointer → input id
    clear: str  # emptied once saved

    @property
    def inputs(self) -> list[str]:
        return list(self.pointers.values())

    @property
    def button(self) -> str:
        return f"job-{self.name}-add"

    @property
    def result(self) -> str:
        return f"job-{self.name}-result"


PART_FORM = PartsForm(
    "part",
    {
        "/item_id": PART_ITEM,
        "/quantity": PART_QTY,
        "/serials": PART_SERIALS,
        "/depot_id": PART_DEPOT,
    },
    PART_SERIALS,
)
TB_FORM = PartsForm(
    "tb",
    {
        "/serial": TB_SERIAL,
        "/condition": TB_CONDITION,
        "/item_id": TB_ITEM,
        "/depot_id": TB_DEPOT,
    },
    TB_SERIAL,
)
INV_REASON = "job-inv-reason"
INV_AMOUNT = "job-inv-amount"  # a credit of an amount, before tax
INV_TAX = "job-inv-tax"  # its tax rate (the invoice has several)
INV_CREDIT_QTY = "job-inv-credit-qty"  # pattern id type: {"type", "invoice", "line"}
INV_RESULT = "job-inv-result"

#: Where a problem's pointer is shown, per form (pointer → field id).
SCHEDULE_FIELDS: Mapping[str, str] = {
    "/start": SCHED_START,
    "/end": SCHED_END,
    "/scheduled_end": SCHED_END,
    "/technician_id": SCHED_TECH,
    "/reason": REASON,
}
CREW_FIELDS: Mapping[str, str] = {"/path/technician_id": CREW_TECH}
TASK_FIELDS: Mapping[str, str] = {"/title": TASK_TITLE}
NOTE_FIELDS: Mapping[str, str] = {"/text": NOTE_TEXT}


def _overview() -> list[Any]:
    return [
        html.Div(
            [
                html.Div(id=body_id("overview"), className="job-facts"),
                dcc.Graph(
                    id=SITE_MAP,
                    config=SMALL_MAP_CONFIG,
                    className="job-map",
                    style={"height": "240px"},
                ),
            ],
            className="job-overview",
        ),
        html.H4("Status"),
        html.Div(id=ACTIONS, className="job-actions"),
        html.Div(
            [
                field(
                    "Day", SCHED_DAY, dcc.Input(id=SCHED_DAY, placeholder="YYYY-MM-DD")
                ),
                field(
                    "From", SCHED_START, dcc.Input(id=SCHED_START, placeholder="HH:MM")
                ),
                field("To", SCHED_END, dcc.Input(id=SCHED_END, placeholder="HH:MM")),
                field(
                    "Job Manager",
                    SCHED_TECH,
                    dcc.Dropdown(id=SCHED_TECH, placeholder="Keep the crew's"),
                ),
            ],
            id=SCHEDULE_FORM,
            className="office-form",
            hidden=True,
        ),
        html.Div(
            field(
                "Reason (Hold, Cancel)",
                REASON,
                dcc.Input(id=REASON, className="office-wide", placeholder="Why"),
            ),
            id=REASON_FIELD,
            hidden=True,
        ),
        html.Div(id=ACT_RESULT),
        form_block(
            [
                field("Technician", CREW_TECH, dcc.Dropdown(id=CREW_TECH)),
                field(
                    "As",
                    CREW_ROLE,
                    radio(
                        CREW_ROLE,
                        [("job_manager", "Job Manager"), ("auxiliary", "Auxiliary")],
                        "auxiliary",
                    ),
                ),
            ],
            [html.Button("Assign", id=CREW_SAVE)],
            result=CREW_RESULT,
            block_id=CREW_FORM,
            heading="Crew",
        ),
    ]


def _line_items() -> list[Any]:
    return [
        html.Div(id=body_id("line-items"), className="table-scroll"),
        html.Div(line_items.picker(LI), id=LI_FORM, hidden=True),
    ]


def _tasks() -> list[Any]:
    return [
        html.Div(id=body_id("tasks")),
        form_block(
            [
                field("New task", TASK_TITLE, dcc.Input(id=TASK_TITLE)),
                dcc.Checklist(
                    id=TASK_REQUIRED,
                    options=[{"label": " Required before Complete", "value": "yes"}],
                    value=[],
                ),
            ],
            [html.Button("Add task", id=TASK_ADD)],
            block_id=TASK_FORM,
        ),
        html.Div(id=TASK_RESULT),
    ]


def _notes() -> list[Any]:
    return [
        html.Div(
            [
                field(
                    "Note",
                    NOTE_TEXT,
                    dcc.Textarea(id=NOTE_TEXT, className="office-text"),
                ),
                radio(
                    NOTE_VIS,
                    [
                        ("internal", "Internal (staff only)"),
                        ("public", "Public (on the invoice)"),
                    ],
                    "internal",
                ),
                html.Button("Add note", id=NOTE_ADD),
                html.Div(id=NOTE_RESULT),
            ],
            id=NOTE_FORM,
            hidden=True,
        ),
        html.Div(id=body_id("notes")),
    ]


def _invoice() -> list[Any]:
    return [
        form_block(
            [
                field(
                    "Credit note reason",
                    INV_REASON,
                    dcc.Input(id=INV_REASON, className="office-wide"),
                ),
                field(
                    "Credit an amount (before tax)",
                    INV_AMOUNT,
                    dcc.Input(id=INV_AMOUNT, className="num"),
                ),
                field(
                    "Its tax rate %",
                    INV_TAX,
                    dcc.Input(
                        id=INV_TAX,
                        placeholder="the invoice's",
                        className="num",
                    ),
                ),
            ],
            [
                html.P(
                    "A credit note credits the quantities typed in an invoice's "
                    "“Credit” column and the amount; nothing typed: all that is "
                    "left of the invoice. Never more than is left.",
                    className="muted",
                ),
                html.Button("Generate Invoice", id=INV_GENERATE, className="primary"),
            ],
            block_id=INV_FORM,
        ),
        html.Div(id=INV_RESULT),
        html.Div(id=body_id("invoice")),
    ]


def _parts_block(
    form: PartsForm, heading: str, button: str, fields: Sequence[Any]
) -> html.Div:
    return form_block(
        fields,
        [html.Button(button, id=form.button)],
        result=form.result,
        heading=heading,
    )


def _parts() -> list[Any]:
    conditions = [
        ("ok", "OK"),
        ("needs_repair", "Needs Repair"),
        ("obsolete", "Obsolete"),
    ]
    used = [
        field("Part or service", PART_ITEM, dcc.Dropdown(id=PART_ITEM)),
        field("Quantity", PART_QTY, dcc.Input(id=PART_QTY, value="1", className="num")),
        field(
            "Serial numbers",
            PART_SERIALS,
            dcc.Input(id=PART_SERIALS, placeholder="one a unit, comma-separated"),
        ),
        field("From depot", PART_DEPOT, dcc.Dropdown(id=PART_DEPOT)),
    ]
    back = [
        field("Serial number", TB_SERIAL, dcc.Input(id=TB_SERIAL)),
        field("Condition", TB_CONDITION, radio(TB_CONDITION, conditions, "ok")),
        field(
            "Part (a serial not on record)",
            TB_ITEM,
            dcc.Dropdown(id=TB_ITEM, placeholder="found from the serial"),
        ),
        field("Into depot", TB_DEPOT, dcc.Dropdown(id=TB_DEPOT)),
    ]
    return [
        html.Div(id=body_id("parts"), className="table-scroll"),
        html.Div(
            [
                _parts_block(PART_FORM, "Add a part used", "Add part used", used),
                _parts_block(TB_FORM, "Record a take back", "Record take back", back),
            ],
            id=PART_FORMS,
            hidden=True,
        ),
    ]


_PANELS: Mapping[str, Any] = {
    "overview": _overview,
    "line-items": _line_items,
    "tasks": _tasks,
    "notes": _notes,
    "invoice": _invoice,
    "parts": _parts,
}


def page(query: Mapping[str, list[str]]) -> html.Div:
    """The page at ``PATH``: ``?number=J-000042`` names the job, ``&tab=notes``
    opens a tab."""
    number = (query.get("number") or [""])[0]
    tab = (query.get("tab") or ["overview"])[0]
    tab = tab if tab in TAB_VALUES else "overview"
    panels: list[Any] = []
    for value, label in TABS:
        build = _PANELS.get(value)
        children: Sequence[Any] = (
            build() if build is not None else [html.Div(id=body_id(value))]
        )
        panels.append(
            html.Section(
                [html.H4(label, className="panel-title"), *children],
                id=panel_id(value),
                className="panel job-panel",
                hidden=value != tab,
            )
        )
    return html.Div(
        [
            dcc.Store(id=JOB_REF, data={"number": number}),
            dcc.Store(id=JOB_SEEN),
            dcc.Store(id=JOB_REFRESH, data=0),
            dcc.Store(id=TASK_STATE),
            html.Div(id=HEADER, className="job-header"),
            html.Div(id=LOAD_ERROR, className="field-error"),
            dcc.Store(id=TAB_STATE, data=tab),
            html.Nav(
                [
                    html.Button(
                        label,
                        id={"type": TAB_BUTTON, "tab": value},
                        className="job-tab" + (" active" if value == tab else ""),
                        n_clicks=0,
                    )
                    for value, label in TABS
                ],
                id=TAB_BAR,
                className="job-tabs",
            ),
            *panels,
        ],
        className="office",
    )
