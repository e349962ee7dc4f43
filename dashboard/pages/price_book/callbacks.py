"""The Price book page's callbacks: the families, the list and its pager, the
forms.

Reads are ``services.price_book``'s; each form is one use case of it (the API's
``POST /price-book/families``, ``POST /price-book/items``, ``PATCH``/``DELETE
/price-book/items/{id}``, ``…/restore``) through
:meth:`dashboard.actions.Office.edit_record`: the role matrix's
``EDIT_PRICE_BOOK``, the version the page showed as If-Match, the service's
checks at their field.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, html
from dash import ctx as triggered

from dashboard import forms
from dashboard.actions import Conn, Done, Office, OfficeUser
from dashboard.context import Context
from dashboard.forms import current_user
from dashboard.pages.job.panels import empty, table
from dashboard.pages.price_book import layout, model
from dashboard.paging import Paging
from jobs_domain.actors import Actor, Role
from jobs_domain.errors import FieldProblem, InvalidInput
from jobs_domain.permissions import Act, allowed
from services import price_book
from services.versions import Check

HEAD = ["Item", "Code", "Kind", "Family", "Unit price", "Tax", "Serialized", "Status"]
KEYS = ["name", "code", "kind", "family", "price", "tax", "serialized", "status"]


# -- the forms' calls (one use case each; the integration tests call them too) -------


def add_family(office: Office, user: OfficeUser, name: str | None) -> Done:
    text = (name or "").strip()

    async def create(conn: Conn, _check: Any) -> Any:
        if not text:
            raise InvalidInput("no name", [FieldProblem("/name", "must not be empty")])
        return await price_book.create_family(conn, text)

    return office.edit_record(
        user, Act.EDIT_PRICE_BOOK, None, create, f"Family {text} added."
    )


def add_item(office: Office, user: OfficeUser, *values: str | None) -> Done:
    """Add the item the form describes (its values in ``layout.FORM_KEYS`` order)."""
    form = model.ItemForm.typed(**dict(zip(layout.FORM_KEYS, values, strict=True)))

    async def create(conn: Conn, _check: Any) -> Any:
        return await price_book.create_item(conn, form.body(new=True))

    return office.edit_record(
        user, Act.EDIT_PRICE_BOOK, None, create, f"{form.name} added."
    )


#: Each button of the edit form: what it does and what the page then says.
EDITS = {
    layout.EDIT_SAVE: "saved",
    layout.ARCHIVE: "archived",
    layout.RESTORE: "restored",
}


def edit_item(
    office: Office,
    user: OfficeUser,
    button: str,
    item_id: str | None,
    version: int | None,
    *values: str | None,
) -> Done:
    """Save the form's changes to the item, archive it or restore it, if it is
    still the version the page showed."""
    if not item_id:
        return forms.refused("no item", "/path/item_id", "choose an item")
    form = model.ItemForm.typed(**dict(zip(layout.FORM_KEYS, values, strict=True)))

    async def change(conn: Conn, check: Check) -> Any:
        if button == layout.ARCHIVE:
            return await price_book.archive_item(conn, item_id, check=check)
        if button == layout.RESTORE:
            return await price_book.restore_item(conn, item_id, check=check)
        return await price_book.update_item(
            conn, item_id, form.body(new=False), check=check
        )

    return office.edit_record(
        user, Act.EDIT_PRICE_BOOK, version, change, f"{form.name} {EDITS[button]}."
    )


# -- the page ----------------------------------------------------------------------


def _families_panel(families: list[dict[str, Any]]) -> Any:
    if not families:
        return empty("No family yet: add one below, then its items.")
    return html.P(
        [html.Strong("Families: ")]
        + [f"{f['name']} ({f['item_count']})  " for f in families],
        id="pb-family-summary",
    )


def register(app: dash.Dash, ctx: Context) -> None:
    """Attach the Price book page's callbacks to ``app``."""
    family_pickers = [
        layout.F_FAMILY,
        layout.NEW["family_id"],
        layout.EDIT["family_id"],
    ]
    buttons = [layout.FAM_SAVE, layout.NEW_SAVE, layout.EDIT_SAVE]

    @app.callback(
        Output(layout.FAMILIES, "children"),
        *[Output(p, "options") for p in family_pickers],
        *[Output(b, "disabled") for b in buttons],
        Input(layout.REFRESH, "data"),
    )
    def _families(_refresh: Any) -> Any:
        user, office = current_user(ctx)

        async def read(conn: Conn, _actor: Actor) -> list[dict[str, Any]]:
            return await price_book.list_families(conn)

        families = office.read(user, read)
        options = [{"label": f["name"], "value": str(f["id"])} for f in families]
        may = allowed(Role(user.role), Act.EDIT_PRICE_BOOK)
        return (
            _families_panel(families),
            *[options for _p in family_pickers],
            *[not may for _b in buttons],
        )

    layout.PAGER.register(
        app,
        [
            Input(layout.SEARCH, "value"),
            Input(layout.F_FAMILY, "value"),
            Input(layout.F_KIND, "value"),
            Input(layout.F_ARCHIVED, "value"),
        ],
    )

    @app.callback(
        Output(layout.LIST, "children"),
        *layout.PAGER.outputs(),
        Output(layout.PICK, "options"),
        Input(layout.PAGER.paging, "data"),
        Input(layout.REFRESH, "data"),
        State(layout.SEARCH, "value"),
        State(layout.F_FAMILY, "value"),
        State(layout.F_KIND, "value"),
        State(layout.F_ARCHIVED, "value"),
    )
    def _list(
        data: Any,
        _refresh: Any,
        text: str | None,
        family: str | None,
        kind: str | None,
        archived: list[str] | None,
    ) -> Any:
        user, office = current_user(ctx)
        paging = Paging[str].of(data)

        async def read(conn: Conn, _actor: Actor) -> Any:
            items = await price_book.search_items(
                conn,
                q=(text or "").strip() or None,
                family_id=family or None,
                kind=kind or None,
                after=paging.current,
                limit=paging.limit,
                include_archived=bool(archived),
            )
            return items, await price_book.list_families(conn)

        found, families = office.read(user, read)
        found, more = paging.cut(found)
        names = {str(f["id"]): f["name"] for f in families}
        rows = [model.item_row(i, names) for i in found]
        listed = (
            table(HEAD, [[r[k] for k in KEYS] for r in rows], "pb-items")
            if rows
            else empty("No item matches.")
        )
        return (
            listed,
            *layout.PAGER.shown(paging, str(found[-1]["id"]) if more else None),
            [{"label": model.item_label(i), "value": str(i["id"])} for i in found],
        )

    @app.callback(
        *[Output(layout.EDIT[k], "value") for k in layout.FORM_KEYS],
        Output(layout.VERSION, "data"),
        Output(layout.ARCHIVE, "disabled"),
        Output(layout.RESTORE, "disabled"),
        Input(layout.PICK, "value"),
        Input(layout.REFRESH, "data"),
    )
    def _pick(item_id: str | None, _refresh: Any) -> Any:
        """The picked item in the form; Archive offered while it is active,
        Restore while it is archived (to the roles that may edit)."""
        if not item_id:
            return (*model.ItemForm().values(), None, True, True)
        user, office = current_user(ctx)

        async def read(conn: Conn, _actor: Actor) -> dict[str, Any]:
            return await price_book.get_item(conn, item_id)

        item = office.read(user, read)
        may = allowed(Role(user.role), Act.EDIT_PRICE_BOOK)
        return (
            *model.ItemForm.of(item).values(),
            item["version"],
            not may or not item["active"],
            not may or item["active"],
        )

    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.FAM_SAVE, layout.FAM_FIELDS),
        result=layout.FAM_RESULT,
        refresh=layout.REFRESH,
        states=[State(layout.FAM_NAME, "value")],
        run=add_family,
        clear=[layout.FAM_NAME],
    )
    forms.wire(
        app,
        ctx,
        submit=forms.Submit.one(layout.NEW_SAVE, layout.NEW_FIELDS),
        result=layout.NEW_RESULT,
        refresh=layout.REFRESH,
        states=[State(layout.NEW[k], "value") for k in layout.FORM_KEYS],
        run=add_item,
        clear=[layout.NEW[k] for k in ("code", "name", "description", "unit_price")],
    )

    def _edit(office: Office, user: OfficeUser, *values: Any) -> Done:
        return edit_item(office, user, str(triggered.triggered_id), *values)

    forms.wire(
        app,
        ctx,
        submit=forms.Submit(tuple((b, layout.EDIT_FIELDS) for b in EDITS)),
        result=layout.EDIT_RESULT,
        refresh=layout.REFRESH,
        states=[
            State(layout.PICK, "value"),
            State(layout.VERSION, "data"),
            *[State(layout.EDIT[k], "value") for k in layout.FORM_KEYS],
        ],
        run=_edit,
    )
