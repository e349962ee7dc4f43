"""The Price book page's layout: the families, the list (search, family, kind,
archived, pager), Add a family, Add an item, Edit an item."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from dash import dcc, html

from dashboard.forms import field, form_block, radio
from dashboard.pager import Pager
from dashboard.pages.price_book.model import KINDS, ItemForm

PATH = "/price-book"

REFRESH = "pb-refresh"  # bumps after a save: the list and the pickers show it
FAMILIES = "pb-families"
SEARCH = "pb-search"
F_FAMILY = "pb-filter-family"
F_KIND = "pb-filter-kind"
F_ARCHIVED = "pb-filter-archived"
LIST = "pb-list"
PAGER = Pager("pb")

FAM_NAME = "pb-family-name"
FAM_SAVE = "pb-family-save"
FAM_RESULT = "pb-family-result"
FAM_FIELDS: Mapping[str, str] = {"/name": FAM_NAME}

#: The Add and Edit forms have the same fields: "pb-new-…" and "pb-edit-…".
FORM_KEYS = tuple(f.name for f in fields(ItemForm))


def form_ids(prefix: str) -> dict[str, str]:
    return {k: f"pb-{prefix}-{k.replace('_', '-')}" for k in FORM_KEYS}


NEW = form_ids("new")
NEW_SAVE = "pb-new-save"
NEW_RESULT = "pb-new-result"
NEW_FIELDS: Mapping[str, str] = {f"/{k}": v for k, v in NEW.items()}

EDIT = form_ids("edit")
PICK = "pb-edit-pick"
VERSION = "pb-edit-version"
EDIT_SAVE = "pb-edit-save"
ARCHIVE = "pb-edit-archive"
RESTORE = "pb-edit-restore"
EDIT_RESULT = "pb-edit-result"
EDIT_FIELDS: Mapping[str, str] = {
    **{f"/{k}": v for k, v in EDIT.items() if k != "code"},
    "/path/item_id": PICK,
}


def _item_fields(ids: Mapping[str, str], *, code_editable: bool) -> list[Any]:
    return [
        field("Family", ids["family_id"], dcc.Dropdown(id=ids["family_id"])),
        field("Kind", ids["kind"], radio(ids["kind"], KINDS, "part")),
        field(
            "Code (SKU / barcode)",
            ids["code"],
            dcc.Input(id=ids["code"], disabled=not code_editable),
        ),
        field("Name", ids["name"], dcc.Input(id=ids["name"])),
        field("Unit price", ids["unit_price"], dcc.Input(id=ids["unit_price"])),
        field("Tax rate (%)", ids["tax_rate"], dcc.Input(id=ids["tax_rate"])),
        field(
            "Description",
            ids["description"],
            dcc.Textarea(id=ids["description"], className="office-text"),
        ),
    ]


def _list() -> list[Any]:
    return [
        *PAGER.stores(),
        html.Div(
            [
                dcc.Input(
                    id=SEARCH,
                    type="search",
                    placeholder="Name, code or description",
                    debounce=True,
                    className="office-search",
                ),
                dcc.Dropdown(
                    id=F_FAMILY, placeholder="Every family", className="office-filter"
                ),
                dcc.Dropdown(
                    id=F_KIND,
                    options=[{"label": label, "value": v} for v, label in KINDS],
                    placeholder="Parts and services",
                    className="office-filter",
                ),
                dcc.Checklist(
                    id=F_ARCHIVED,
                    options=[{"label": " archived too", "value": "archived"}],
                    value=[],
                ),
            ],
            className="office-filters panel",
        ),
        html.Div(id=LIST, className="panel table-scroll"),
        PAGER.row(),
    ]


def page(_query: Mapping[str, list[str]]) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=REFRESH, data=0),
            dcc.Store(id=VERSION),
            html.Div([html.H3("Price book")], className="office-title"),
            html.Div(id=FAMILIES, className="panel"),
            *_list(),
            html.Div(
                form_block(
                    [
                        field(
                            "Item",
                            PICK,
                            dcc.Dropdown(id=PICK, className="office-wide"),
                        ),
                        *_item_fields(EDIT, code_editable=False),
                    ],
                    [
                        html.Div(
                            [
                                html.Button("Save", id=EDIT_SAVE, className="primary"),
                                html.Button("Archive", id=ARCHIVE),
                                html.Button("Restore", id=RESTORE),
                            ],
                            className="office-buttons",
                        )
                    ],
                    result=EDIT_RESULT,
                    heading="Edit an item",
                ),
                className="panel",
            ),
            html.Div(
                form_block(
                    _item_fields(NEW, code_editable=True),
                    [html.Button("Add item", id=NEW_SAVE, className="primary")],
                    result=NEW_RESULT,
                    heading="Add an item",
                ),
                className="panel",
            ),
            html.Div(
                form_block(
                    [field("Name", FAM_NAME, dcc.Input(id=FAM_NAME))],
                    [html.Button("Add family", id=FAM_SAVE, className="primary")],
                    result=FAM_RESULT,
                    heading="Add a family",
                ),
                className="panel",
            ),
        ],
        className="office",
    )
