"""The Users & devices page's callbacks: the two lists, and the forms.

Every read and save is a ``services.accounts`` use case (the API's ``/users``
and ``/devices``) through :meth:`dashboard.actions.Office.account_edit`: the
use case checks the role matrix, the page's version of a user is its If-Match.
A secret a save makes rides in the answer (``Done.shown_once``) and is drawn
in the form's result line only: a reload, or the next save, does not show it.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State

from dashboard import forms
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.users import layout, model
from jobs_domain.actors import Actor, Role
from jobs_domain.permissions import Act, allowed
from services import accounts, phone_setup

NO_PHONES = (
    "Not registered: this dashboard was started without the broker's password "
    "format; `crewtrack dashboard` (and `make run`) start it with it."
)


def _admin(user: OfficeUser) -> bool:
    role = Role(user.role)
    return allowed(role, Act.MANAGE_USERS) and allowed(role, Act.MANAGE_DEVICES)


def _shown_once(done: Done) -> list[Any]:
    secret = done.shown_once
    if isinstance(secret, phone_setup.PhoneSetup):
        return [layout.setup_once(model.setup_rows(secret), model.app_setups(secret))]
    if isinstance(secret, str):
        return [layout.password_once(secret)]
    return []


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Users & devices page's callbacks to ``app``."""
    blocks = (
        layout.ADD_BLOCK,
        layout.EDIT_BLOCK,
        layout.PHONE_BLOCK,
        layout.REVOKE_BLOCK,
    )

    @app.callback(
        Output(layout.USERS, "children"),
        Output(layout.DEVICES, "children"),
        Output(layout.PICK, "options"),
        Output(layout.PHONE_TECH, "options"),
        Output(layout.REVOKE_PICK, "options"),
        Output(layout.NOT_ALLOWED, "hidden"),
        *[Output(b, "hidden") for b in blocks],
        Input(layout.REFRESH, "data"),
    )
    def _lists(_refresh: Any) -> Any:
        user, office = current_user(ctx)
        if not _admin(user):
            return (None, None, [], [], [], False, *[True for _ in blocks])

        async def read(conn: Conn, actor: Actor) -> Any:
            return (
                await accounts.list_users(conn, actor),
                await accounts.list_devices(conn, actor),
            )

        users, devices = office.read(user, read)
        return (
            layout.users_table(model.user_rows(users, ctx.zone)),
            layout.devices_table(model.device_rows(devices, ctx.zone)),
            model.user_options(users),
            model.technician_options(users),
            model.device_options(devices),
            True,
            *[False for _ in blocks],
        )

    @app.callback(
        Output(layout.ROLE, "value"),
        Output(layout.VERSION, "data"),
        Input(layout.PICK, "value"),
        Input(layout.REFRESH, "data"),
    )
    def _pick(user_id: str | None, _refresh: Any) -> Any:
        if not user_id:
            return None, None
        user, office = current_user(ctx)

        async def read(conn: Conn, actor: Actor) -> Any:
            return await accounts.get_user(conn, actor, user_id)

        found = office.read(user, read)
        return found.role, found.version

    def add(
        office: Office,
        user: OfficeUser,
        name: str | None,
        email: str | None,
        role: str | None,
        password: str | None,
    ) -> Done:
        data = {
            "name": name or "",
            "email": email,
            "role": role or "",
            "password": password,
        }

        async def work(conn: Conn, actor: Actor, _check: Any) -> accounts.WithSecret:
            return await accounts.add_user(conn, actor, data)

        def answer(made: accounts.WithSecret) -> Done:
            a = made.account
            return Done(True, f"{a.name} added ({a.role}).", shown_once=made.password)

        return office.account_edit(user, None, work, answer)

    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.ADD, layout.ADD_FIELDS),
        result=layout.ADD_RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.ADD_NAME, "value"),
            State(layout.ADD_EMAIL, "value"),
            State(layout.ADD_ROLE, "value"),
            State(layout.ADD_PASSWORD, "value"),
        ],
        run=add,
        clear=[layout.ADD_NAME, layout.ADD_EMAIL, layout.ADD_PASSWORD],
        extra=_shown_once,
    )

    def edit(
        office: Office,
        user: OfficeUser,
        user_id: str | None,
        version: str | None,
        role: str | None,
    ) -> Done:
        if not user_id:
            return forms.refused("choose a user", "/user", "choose a user")
        button = dash.ctx.triggered_id

        async def work(conn: Conn, actor: Actor, check: Any) -> Any:
            if button == layout.SAVE_ROLE:
                return await accounts.change_role(
                    conn, actor, user_id, role or "", check=check
                )
            if button == layout.DISABLE:
                return await accounts.disable(conn, actor, user_id, check=check)
            if button == layout.ENABLE:
                return await accounts.enable(conn, actor, user_id, check=check)
            return await accounts.reset_password(conn, actor, user_id, check=check)

        def answer(result: Any) -> Done:
            if isinstance(result, accounts.WithSecret):
                name = result.account.name
                return Done(
                    True, f"{name}: new password set.", shown_once=result.password
                )
            state = "active" if result.disabled_at is None else "disabled"
            return Done(True, f"{result.name} saved: {result.role}, {state}.")

        return office.account_edit(user, version, work, answer)

    forms.wire(
        app,
        ctx,
        submit=forms.Submit(
            tuple(
                (button, layout.EDIT_FIELDS)
                for button in (
                    layout.SAVE_ROLE,
                    layout.DISABLE,
                    layout.ENABLE,
                    layout.RESET,
                )
            )
        ),
        result=layout.EDIT_RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.PICK, "value"),
            State(layout.VERSION, "data"),
            State(layout.ROLE, "value"),
        ],
        run=edit,
        extra=_shown_once,
    )

    def register_phone(
        office: Office,
        user: OfficeUser,
        technician_id: str | None,
        device_id: str | None,
        label: str | None,
    ) -> Done:
        data = {"technician_id": technician_id, "device_id": device_id, "label": label}
        s = office.settings
        hash_password = ctx.hash_device_password
        if hash_password is None:
            return Done(False, NO_PHONES)

        async def work(conn: Conn, actor: Actor, _check: Any) -> accounts.NewDevice:
            return await accounts.register_phone(
                conn,
                actor,
                data,
                hash_password=hash_password,
                service_users=[s.mqtt_username],
            )

        def answer(made: accounts.NewDevice) -> Done:
            owner = made.device.owner or ""
            setup = phone_setup.for_settings(s, made.credentials, owner)
            return Done(
                True,
                f"Phone {made.device.id} registered for {owner}.",
                shown_once=setup,
            )

        return office.account_edit(user, None, work, answer)

    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.REGISTER, layout.PHONE_FIELDS),
        result=layout.PHONE_RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.PHONE_TECH, "value"),
            State(layout.PHONE_ID, "value"),
            State(layout.PHONE_LABEL, "value"),
        ],
        run=register_phone,
        clear=[layout.PHONE_ID, layout.PHONE_LABEL],
        extra=_shown_once,
    )

    def revoke(office: Office, user: OfficeUser, device_id: str | None) -> Done:
        if not device_id:
            return forms.refused("choose a device", "/device_id", "choose a device")

        async def work(conn: Conn, actor: Actor, _check: Any) -> Any:
            return await accounts.revoke_device(conn, actor, device_id)

        def answer(result: Any) -> Done:
            return Done(
                True, f"{device_id} revoked: the broker refuses it from now on."
            )

        return office.account_edit(user, None, work, answer)

    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.REVOKE, {"/device_id": layout.REVOKE_PICK}),
        result=layout.REVOKE_RESULT,
        refresh=layout.REFRESH,
        states=[State(layout.REVOKE_PICK, "value")],
        run=revoke,
    )
