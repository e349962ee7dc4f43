"""The Users & devices page's layout: two sections, users then devices.

Each section lists its records and has its forms below (hidden unless the
logged-in user may manage accounts: admins, by the one matrix). What a save
makes secret (a generated password, a phone's set-up with its QR codes) is
shown in the form's answer only, so a reload does not show it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboard.forms import field, form_block
from dashboard.pages.clients.layout import cell_label
from dashboard.pages.users.model import ROLE_CHOICES, AppSetup

PATH = "/users"

REFRESH = "accounts-refresh"  # bumps after a save: the lists show it at once
NOT_ALLOWED = "accounts-not-allowed"
USERS = "accounts-users"
DEVICES = "accounts-devices"
# add a user
ADD_BLOCK = "user-add-block"
ADD_NAME = "user-add-name"
ADD_EMAIL = "user-add-email"
ADD_ROLE = "user-add-role"
ADD_PASSWORD = "user-add-password"  # noqa: S105 (a component id)
ADD = "user-add"
ADD_RESULT = "user-add-result"
ADD_FIELDS: Mapping[str, str] = {
    "/name": ADD_NAME,
    "/email": ADD_EMAIL,
    "/role": ADD_ROLE,
    "/password": ADD_PASSWORD,
}
# change a user
EDIT_BLOCK = "user-edit-block"
PICK = "user-pick"
VERSION = "user-version"
ROLE = "user-role"
SAVE_ROLE = "user-save-role"
DISABLE = "user-disable"
ENABLE = "user-enable"
RESET = "user-reset-password"
EDIT_RESULT = "user-edit-result"
EDIT_FIELDS: Mapping[str, str] = {"/user": PICK, "/role": ROLE, "/password": PICK}
# register a phone
PHONE_BLOCK = "phone-add-block"
PHONE_TECH = "phone-technician"
PHONE_ID = "phone-device-id"
PHONE_LABEL = "phone-label"
REGISTER = "phone-register"
PHONE_RESULT = "phone-result"
PHONE_FIELDS: Mapping[str, str] = {
    "/technician_id": PHONE_TECH,
    "/device_id": PHONE_ID,
    "/label": PHONE_LABEL,
}
# revoke a device
REVOKE_BLOCK = "device-revoke-block"
REVOKE_PICK = "device-revoke-pick"
REVOKE = "device-revoke"
REVOKE_RESULT = "device-revoke-result"

SHOWN_ONCE = (
    "Shown once: copy it now. It is not stored in clear and this page will not "
    "show it again."
)


def table(
    head: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[Mapping[str, str]],
    cls: str,
) -> Any:
    if not rows:
        return html.P("None yet.", className="muted")
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(r[k], **cell_label(h))
                            for h, k in zip(head, keys, strict=True)
                        ],
                        className=cls,
                    )
                    for r in rows
                ]
            ),
        ],
        className="office-table",
    )


def users_table(rows: Sequence[Mapping[str, str]]) -> Any:
    head = ["User", "E-mail", "Role", "State", "Technician", "Last login"]
    keys = ["name", "email", "role", "state", "technician", "last_login"]
    return table(head, keys, rows, "user-row")


def devices_table(rows: Sequence[Mapping[str, str]]) -> Any:
    head = ["Device", "Label", "Technician", "Sends with", "Last heard from", "State"]
    keys = ["device", "label", "owner", "kind", "last_seen", "state"]
    return table(head, keys, rows, "device-row")


def password_once(password: str) -> html.Div:
    return html.Div(
        [
            html.P(SHOWN_ONCE, className="warning"),
            html.P(["Password: ", html.Code(password, id="shown-password")]),
        ],
        className="shown-once",
    )


def setup_once(rows: Sequence[tuple[str, str]], apps: Sequence[AppSetup]) -> html.Div:
    """A phone's set-up: its login for typing, and each app's QR code."""
    return html.Div(
        [
            html.P(SHOWN_ONCE, className="warning"),
            html.Table(
                html.Tbody(
                    [html.Tr([html.Th(k), html.Td(html.Code(v))]) for k, v in rows]
                ),
                className="setup-details",
            ),
            html.Div(
                [
                    html.Figure(
                        [
                            html.Img(
                                src=a.qr,
                                alt=f"QR code: {a.app} set-up",
                                className="setup-qr",
                            ),
                            html.Figcaption(
                                [
                                    html.Strong(a.app),
                                    html.Br(),
                                    a.how,
                                    html.Br(),
                                    html.A("Open the link", href=a.link),
                                ]
                            ),
                        ],
                        className="setup-app",
                        id=f"setup-{a.app.lower().replace(' ', '-')}",
                    )
                    for a in apps
                ],
                className="setup-apps",
            ),
        ],
        className="shown-once",
        id="phone-setup",
    )


def _role_dropdown(control_id: str, value: str | None) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=control_id,
        options=[{"label": label, "value": v} for v, label in ROLE_CHOICES],
        value=value,
        clearable=False,
    )


def page(_query: Mapping[str, list[str]]) -> html.Div:
    add_user = form_block(
        [
            field("Name", ADD_NAME, dcc.Input(id=ADD_NAME)),
            field("E-mail", ADD_EMAIL, dcc.Input(id=ADD_EMAIL, type="email")),
            field("Role", ADD_ROLE, _role_dropdown(ADD_ROLE, "dispatcher")),
            field(
                "Password (empty: generate one)",
                ADD_PASSWORD,
                dcc.Input(
                    id=ADD_PASSWORD, type="password", autoComplete="new-password"
                ),
            ),
        ],
        [html.Button("Add user", id=ADD, className="primary")],
        result=ADD_RESULT,
        block_id=ADD_BLOCK,
        heading="Add a user",
    )
    edit_user = form_block(
        [
            field("User", PICK, dcc.Dropdown(id=PICK, className="office-wide")),
            field("Role", ROLE, _role_dropdown(ROLE, None)),
        ],
        [
            html.Div(
                [
                    html.Button("Save role", id=SAVE_ROLE, className="primary"),
                    html.Button("Disable", id=DISABLE),
                    html.Button("Enable", id=ENABLE),
                    html.Button("Reset password", id=RESET),
                ],
                className="office-buttons",
            )
        ],
        result=EDIT_RESULT,
        block_id=EDIT_BLOCK,
        heading="Change a user",
    )
    register = form_block(
        [
            field(
                "Technician",
                PHONE_TECH,
                dcc.Dropdown(id=PHONE_TECH, className="office-wide"),
            ),
            field(
                "Device id (empty: phone-xxxxxx)",
                PHONE_ID,
                dcc.Input(id=PHONE_ID),
            ),
            field("Label", PHONE_LABEL, dcc.Input(id=PHONE_LABEL)),
        ],
        [html.Button("Register phone", id=REGISTER, className="primary")],
        result=PHONE_RESULT,
        block_id=PHONE_BLOCK,
        heading="Register a phone",
    )
    revoke = form_block(
        [
            field(
                "Device",
                REVOKE_PICK,
                dcc.Dropdown(id=REVOKE_PICK, className="office-wide"),
            )
        ],
        [html.Button("Revoke", id=REVOKE)],
        result=REVOKE_RESULT,
        block_id=REVOKE_BLOCK,
        heading="Revoke a lost phone",
    )
    return html.Div(
        [
            dcc.Store(id=REFRESH, data=0),
            dcc.Store(id=VERSION),
            html.Div([html.H3("Users & devices")], className="office-title"),
            html.P(
                "Only an admin manages users and devices.",
                id=NOT_ALLOWED,
                className="muted",
                hidden=True,
            ),
            html.Section(
                [
                    html.H4("Users"),
                    html.Div(id=USERS, className="table-scroll"),
                    add_user,
                    edit_user,
                ],
                className="panel",
                id="accounts-users-section",
            ),
            html.Section(
                [
                    html.H4("Devices"),
                    html.Div(id=DEVICES, className="table-scroll"),
                    register,
                    revoke,
                ],
                className="panel",
                id="accounts-devices-section",
            ),
        ],
        className="office",
    )
