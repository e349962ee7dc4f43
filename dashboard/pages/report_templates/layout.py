"""The Report templates page's layout: the list, the open template (its families
with mandatory fields in red), Add a field, Name & signatures, the JSON body,
and New template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from dashboard.forms import error_slot, field, form_block
from dashboard.pages.report_templates.model import SIGNATURES, TYPES

PATH = "/report-templates"

REFRESH = "rt-refresh"  # bumps after a save: the list and the open one show it
LIST = "rt-list"
PICK = "rt-pick"
VERSION = "rt-version"
VIEW = "rt-view"

# the open template's forms (one wiring: the button says which)
F_FAMILY = "rt-field-family"
F_FAMILIES = "rt-family-names"
F_LABEL = "rt-field-label"
F_KEY = "rt-field-key"
F_TYPE = "rt-field-type"
F_MANDATORY = "rt-field-mandatory"
ADD_FIELD = "rt-add-field"
NAME = "rt-name"
SIGNATURES_PICK = "rt-signatures"
SAVE_NAME = "rt-save-name"
BODY = "rt-body"
SAVE_BODY = "rt-save-body"
EDIT_RESULT = "rt-edit-result"
FIELD_POINTERS: Mapping[str, str] = {
    "/family": F_FAMILY,
    "/key": F_KEY,
    "/label": F_LABEL,
    "/type": F_TYPE,
    "/path/template_id": PICK,
}
NAME_POINTERS: Mapping[str, str] = {
    "/name": NAME,
    "/required_signatures": SIGNATURES_PICK,
    "/path/template_id": PICK,
}
BODY_POINTERS: Mapping[str, str] = {"/body": BODY, "/path/template_id": PICK}

# New template: its name, signatures and first field
N_NAME = "rt-new-name"
N_SIGNATURES = "rt-new-signatures"
N_FAMILY = "rt-new-family"
N_LABEL = "rt-new-label"
N_KEY = "rt-new-key"
N_TYPE = "rt-new-type"
N_MANDATORY = "rt-new-mandatory"
N_SAVE = "rt-new-save"
N_RESULT = "rt-new-result"
NEW_POINTERS: Mapping[str, str] = {
    "/name": N_NAME,
    "/required_signatures": N_SIGNATURES,
    "/family": N_FAMILY,
    "/key": N_KEY,
    "/label": N_LABEL,
    "/type": N_TYPE,
}

EDIT_BUTTONS = (ADD_FIELD, SAVE_NAME, SAVE_BODY)


def _signatures(control_id: str) -> dcc.Checklist:
    return dcc.Checklist(
        id=control_id,
        options=[{"label": f" {label}", "value": v} for v, label in SIGNATURES],
        value=[v for v, _label in SIGNATURES],
        inline=True,
    )


def _field_inputs(
    family: str, label: str, key: str, type_: str, mandatory: str
) -> list[Any]:
    return [
        field(
            "Family",
            family,
            dcc.Input(id=family, list=F_FAMILIES, placeholder="existing or new"),
        ),
        field("Field label", label, dcc.Input(id=label)),
        field("Key (empty: from the label)", key, dcc.Input(id=key)),
        field(
            "Type",
            type_,
            dcc.Dropdown(
                id=type_,
                options=[{"label": lab, "value": v} for v, lab in TYPES],
                value="text",
                clearable=False,
            ),
        ),
        field(
            "Mandatory",
            mandatory,
            dcc.Checklist(
                id=mandatory,
                options=[{"label": " yes (shown in red)", "value": "yes"}],
                value=[],
            ),
        ),
    ]


def _editor() -> html.Div:
    return html.Div(
        [
            html.H4("Open a template"),
            field("Template", PICK, dcc.Dropdown(id=PICK, className="office-wide")),
            html.Div(id=VIEW),
            html.Datalist(id=F_FAMILIES),
            form_block(
                _field_inputs(F_FAMILY, F_LABEL, F_KEY, F_TYPE, F_MANDATORY),
                [html.Button("Add field", id=ADD_FIELD, className="primary")],
                heading="Add a field",
            ),
            form_block(
                [
                    field("Name", NAME, dcc.Input(id=NAME, className="office-wide")),
                    field(
                        "Signatures the report needs",
                        SIGNATURES_PICK,
                        _signatures(SIGNATURES_PICK),
                    ),
                ],
                [html.Button("Save name & signatures", id=SAVE_NAME)],
                heading="Name and signatures",
            ),
            html.Details(
                [
                    html.Summary(
                        "The whole template as the API's body (rename, reorder, "
                        "remove fields)"
                    ),
                    html.Label("Body (JSON)", htmlFor=BODY),
                    dcc.Textarea(id=BODY, className="office-text rt-body"),
                    html.Div(id=error_slot(BODY), className="field-error"),
                    html.Button("Save body", id=SAVE_BODY),
                ]
            ),
            html.Div(id=EDIT_RESULT),
        ],
        className="panel rt-editor",
    )


def _new_form() -> html.Div:
    return html.Div(
        form_block(
            [
                field("Name", N_NAME, dcc.Input(id=N_NAME)),
                field(
                    "Signatures the report needs",
                    N_SIGNATURES,
                    _signatures(N_SIGNATURES),
                ),
                *_field_inputs(N_FAMILY, N_LABEL, N_KEY, N_TYPE, N_MANDATORY),
            ],
            [html.Button("Create template", id=N_SAVE, className="primary")],
            result=N_RESULT,
            heading="New template (its first field; add more once created)",
        ),
        className="panel",
    )


def page(_query: Mapping[str, list[str]]) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=REFRESH, data=0),
            dcc.Store(id=VERSION),
            html.Div([html.H3("Report templates")], className="office-title"),
            html.P(
                "A job's report starts from a copy of its template: a change here "
                "applies to reports started from now on, never to those begun. Any "
                "field may carry a reserve on the phone.",
                className="muted",
            ),
            html.Div(id=LIST, className="panel table-scroll"),
            _editor(),
            _new_form(),
        ],
        className="office",
    )
