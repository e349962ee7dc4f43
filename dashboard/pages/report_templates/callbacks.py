"""The Report templates page's callbacks: the list, the open template, its forms.

Reads are ``services.reports``'; a save is ``create_template`` or
``update_template`` (the API's ``POST /report-templates`` and ``PUT
/report-templates/{id}``) through :meth:`dashboard.actions.Office.edit_record`:
the role matrix's ``EDIT_REPORT_TEMPLATES``, the version the page showed as
If-Match, the domain's ``parse_template`` at its fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
from dash import Input, Output, State, html
from dash import ctx as triggered

from dashboard import forms
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.job.panels import empty, family_heading, field_label, table
from dashboard.pages.report_templates import layout, model
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import InvalidInput
from jobs_domain.permissions import Act, allowed
from jobs_domain.report_template import ReportTemplate
from services import reports
from services.versions import Check

HEAD = ["Template", "Families", "Fields", "Mandatory", "Signatures"]
KEYS = ["name", "families", "fields", "mandatory", "signatures"]


async def _save_with_field(
    conn: Conn,
    body: dict[str, Any],
    new: model.NewField,
    save: Any,
) -> Any:
    """Add ``new`` to ``body`` and ``save`` it; the domain's problems of the new
    field are answered at the form's fields."""
    body, family = model.with_field(body, new)
    field = len(body["families"][family]["fields"]) - 1
    try:
        return await save(body)
    except InvalidInput as exc:
        raise InvalidInput(
            exc.message, model.form_problems(exc.problems, family, field)
        ) from exc


def create_template(
    office: Office,
    user: OfficeUser,
    name: str | None,
    signatures: Sequence[str] | None,
    family: str | None,
    label: str | None,
    key: str | None,
    type_: str | None,
    mandatory: Sequence[str] | None,
) -> Done:
    """A new template with its name, signatures and first field."""
    new = model.NewField.typed(family, label, key, type_, mandatory)

    async def create(conn: Conn, _check: Any) -> Any:
        return await _save_with_field(
            conn,
            model.new_body(name, signatures),
            new,
            lambda body: reports.create_template(conn, body),
        )

    saved = f"Template {(name or '').strip()} created."
    return office.edit_record(user, Act.EDIT_REPORT_TEMPLATES, None, create, saved)


def edit_template(
    office: Office,
    user: OfficeUser,
    button: str,
    template_id: str | None,
    version: int | None,
    family: str | None,
    label: str | None,
    key: str | None,
    type_: str | None,
    mandatory: Sequence[str] | None,
    name: str | None,
    signatures: Sequence[str] | None,
    body_text: str | None,
) -> Done:
    """Add a field, save the name and signatures, or save the whole body (the
    button says which) if the template is still the version the page showed."""
    if not template_id:
        return forms.refused("no template", "/path/template_id", "open a template")
    new = model.NewField.typed(family, label, key, type_, mandatory)

    async def change(conn: Conn, check: Check) -> Any:
        def save(body: object) -> Any:
            return reports.update_template(conn, template_id, body, check=check)

        current = model.body_of(await reports.get_template(conn, template_id))
        if button == layout.ADD_FIELD:
            return await _save_with_field(conn, current, new, save)
        if button == layout.SAVE_NAME:
            named = {**current, "name": name or "", "required_signatures": signatures}
            return await save(named)
        return await save(model.parse_body(body_text))

    saved = {
        layout.ADD_FIELD: f"Field {new.label} added to {new.family}.",
        layout.SAVE_NAME: "Name and signatures saved.",
        layout.SAVE_BODY: "Template saved.",
    }[button]
    return office.edit_record(user, Act.EDIT_REPORT_TEMPLATES, version, change, saved)


def families_panel(families: list[dict[str, Any]]) -> list[Any]:
    """The open template's families: red when one has a mandatory field, as the
    Report tab shows them (its own helpers)."""
    parts: list[Any] = []
    for fam in families:
        rows = [
            [
                field_label(f["label"], f["mandatory"], missing=f["mandatory"]),
                f["key"],
                f["type"],
                "mandatory" if f["mandatory"] else "optional",
            ]
            for f in fam["fields"]
        ]
        parts.append(
            html.Div(
                [
                    family_heading(fam["name"], red=fam["red"]),
                    table(["Field", "Key", "Type", "Mandatory"], rows, "rt-fields"),
                ]
            )
        )
    return parts


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Report templates page's callbacks to ``app``."""
    buttons = [*layout.EDIT_BUTTONS, layout.N_SAVE]

    @app.callback(
        Output(layout.LIST, "children"),
        Output(layout.PICK, "options"),
        *[Output(b, "disabled") for b in buttons],
        Input(layout.REFRESH, "data"),
    )
    def _list(_refresh: Any) -> Any:
        user, office = current_user(ctx)

        async def read(conn: Conn, _actor: Actor) -> list[ReportTemplate]:
            return await reports.list_templates(conn)

        templates = office.read(user, read)
        rows = [model.template_row(t) for t in templates]
        listed = (
            table(HEAD, [[r[k] for k in KEYS] for r in rows], "rt-templates")
            if rows
            else empty("No template yet: create one below.")
        )
        may = allowed(Role(user.role), Act.EDIT_REPORT_TEMPLATES)
        return (
            listed,
            [{"label": t.name, "value": t.id} for t in templates],
            *[not may for _b in buttons],
        )

    @app.callback(
        Output(layout.VIEW, "children"),
        Output(layout.VERSION, "data"),
        Output(layout.NAME, "value"),
        Output(layout.SIGNATURES_PICK, "value"),
        Output(layout.BODY, "value"),
        Output(layout.F_FAMILIES, "children"),
        Input(layout.PICK, "value"),
        Input(layout.REFRESH, "data"),
    )
    def _open(template_id: str | None, _refresh: Any) -> Any:
        if not template_id:
            return empty("Open a template to see and edit it."), None, "", [], "", []
        user, office = current_user(ctx)

        async def read(conn: Conn, _actor: Actor) -> tuple[ReportTemplate, int]:
            template = await reports.get_template(conn, template_id)
            return template, await reports.template_version(conn, template_id)

        template, version = office.read(user, read)
        signatures = sorted(r.value for r in template.required_signatures)
        return (
            [
                html.P(
                    f"Signatures: {model.signatures_text(template.required_signatures)}"
                    f" · version {version}",
                    className="muted",
                ),
                *families_panel(model.template_view(template)),
            ],
            version,
            template.name,
            signatures,
            model.body_text(template),
            [html.Option(value=f.name) for f in template.families],
        )

    def _edit(office: Office, user: OfficeUser, *values: Any) -> Done:
        return edit_template(office, user, str(triggered.triggered_id), *values)

    pointers = {
        layout.ADD_FIELD: layout.FIELD_POINTERS,
        layout.SAVE_NAME: layout.NAME_POINTERS,
        layout.SAVE_BODY: layout.BODY_POINTERS,
    }
    forms.wire(
        app,
        ctx,
        submit=forms.Submit(tuple(pointers.items())),
        result=layout.EDIT_RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.PICK, "value"),
            State(layout.VERSION, "data"),
            State(layout.F_FAMILY, "value"),
            State(layout.F_LABEL, "value"),
            State(layout.F_KEY, "value"),
            State(layout.F_TYPE, "value"),
            State(layout.F_MANDATORY, "value"),
            State(layout.NAME, "value"),
            State(layout.SIGNATURES_PICK, "value"),
            State(layout.BODY, "value"),
        ],
        run=_edit,
        clear=[layout.F_LABEL, layout.F_KEY],
    )
    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.N_SAVE, layout.NEW_POINTERS),
        result=layout.N_RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.N_NAME, "value"),
            State(layout.N_SIGNATURES, "value"),
            State(layout.N_FAMILY, "value"),
            State(layout.N_LABEL, "value"),
            State(layout.N_KEY, "value"),
            State(layout.N_TYPE, "value"),
            State(layout.N_MANDATORY, "value"),
        ],
        run=create_template,
        clear=[layout.N_NAME, layout.N_FAMILY, layout.N_LABEL, layout.N_KEY],
    )
