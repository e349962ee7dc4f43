"""The line-item picker the Job page and the Estimates page share: the price book
searched by family (and text), or a custom item.

One component: :func:`picker` lays its two forms out under an id prefix,
:func:`register_search` fills its item drop-down from the price book
(``services.price_book.search_items``), and :func:`raw_item` reads what was
typed into the line item body the API takes (``services.jobs.new_line_item``
prices and checks it, the same for a job and for an estimate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dash
from dash import Input, Output, dcc

from dashboard.actions import Conn, Done
from dashboard.context import Context
from dashboard.forms import current_user, field, form_block, refused
from jobs_domain.actors import Actor
from jobs_domain.money import format_money
from services import price_book

CHOICES = 500  # price-book items the drop-down lists (it searches as you type)


@dataclass(frozen=True)
class Ids:
    """The picker's control ids, under one prefix (``job-li`` → ``job-li-item``)."""

    prefix: str

    def _id(self, part: str) -> str:
        return f"{self.prefix}-{part}"

    @property
    def family(self) -> str:
        return self._id("family")

    @property
    def search(self) -> str:
        return self._id("search")

    @property
    def item(self) -> str:
        return self._id("item")

    @property
    def qty(self) -> str:
        return self._id("qty")

    @property
    def add(self) -> str:
        return self._id("add")

    @property
    def desc(self) -> str:
        return self._id("desc")

    @property
    def cqty(self) -> str:
        return self._id("cqty")

    @property
    def price(self) -> str:
        return self._id("price")

    @property
    def tax(self) -> str:
        return self._id("tax")

    @property
    def cadd(self) -> str:
        return self._id("cadd")

    @property
    def result(self) -> str:
        return self._id("result")

    @property
    def slots(self) -> list[str]:
        """The typed values :func:`raw_item` reads, in its order."""
        return [self.item, self.qty, self.desc, self.cqty, self.price, self.tax]

    @property
    def book_fields(self) -> Mapping[str, str]:
        """Where a price-book item's problems are shown (pointer → field id)."""
        return {"/price_book_item_id": self.item, "/quantity": self.qty}

    @property
    def custom_fields(self) -> Mapping[str, str]:
        """Where a custom item's problems are shown (pointer → field id)."""
        return {
            "/description": self.desc,
            "/quantity": self.cqty,
            "/unit_price": self.price,
            "/tax_rate": self.tax,
        }


def picker(ids: Ids) -> list[Any]:
    """The two forms: from the price book (family, search, item, quantity) and a
    custom item (description, quantity, unit price, tax); the answer goes under."""
    book = form_block(
        [
            field("Family", ids.family, dcc.Dropdown(id=ids.family)),
            field(
                "Search",
                ids.search,
                dcc.Input(id=ids.search, type="search", debounce=True),
            ),
            field("Item", ids.item, dcc.Dropdown(id=ids.item)),
            field(
                "Quantity", ids.qty, dcc.Input(id=ids.qty, value="1", className="num")
            ),
        ],
        [dash.html.Button("Add from price book", id=ids.add)],
        heading="From the price book",
    )
    custom = form_block(
        [
            field("Description", ids.desc, dcc.Input(id=ids.desc)),
            field(
                "Quantity", ids.cqty, dcc.Input(id=ids.cqty, value="1", className="num")
            ),
            field("Unit price", ids.price, dcc.Input(id=ids.price, className="num")),
            field("Tax %", ids.tax, dcc.Input(id=ids.tax, value="0", className="num")),
        ],
        [dash.html.Button("Add custom item", id=ids.cadd)],
        result=ids.result,
        heading="Custom line item",
    )
    return [book, custom]


def family_options(families: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The family drop-down's choices (``services.price_book.list_families``)."""
    return [{"label": f["name"], "value": str(f["id"])} for f in families]


def register_search(app: dash.Dash, ctx: Context, ids: Ids) -> None:
    """The item drop-down lists the price book's items of the family (and text)."""

    @app.callback(
        Output(ids.item, "options"),
        Input(ids.family, "value"),
        Input(ids.search, "value"),
    )
    def _price_book(family: str | None, text: str | None) -> Any:
        user, office = current_user(ctx)

        async def read(conn: Conn, _actor: Actor) -> list[dict[str, Any]]:
            return await price_book.search_items(
                conn,
                q=(text or "").strip() or None,
                family_id=family or None,
                kind=None,
                after=None,
                limit=CHOICES,
            )

        items = office.read(user, read)
        return [
            {
                "label": f"{i['name']} · {format_money(i['unit_price'])} · {i['kind']}",
                "value": str(i["id"]),
            }
            for i in items
        ]


def raw_item(
    ids: Ids,
    trigger: Any,
    item: str | None,
    qty: str | None,
    desc: str | None,
    cqty: str | None,
    price: str | None,
    tax: str | None,
) -> dict[str, Any] | Done:
    """The line item the clicked form (``trigger``: its button's id) describes, as
    the API's body; or the form's own refusal (no price-book item picked)."""
    if trigger == ids.add:
        if not item:
            return refused(
                "pick an item of the price book", "/price_book_item_id", "pick an item"
            )
        return {"price_book_item_id": item, "quantity": (qty or "1").strip()}
    return {
        key: value.strip()
        for key, value in (
            ("description", desc),
            ("quantity", cqty or "1"),
            ("unit_price", price),
            ("tax_rate", tax or "0"),
        )
        if value and value.strip()
    }
