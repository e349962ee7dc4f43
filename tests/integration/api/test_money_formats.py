"""One money format, one quantity format, across every resource.

Money is a string with two decimals, more only when significant ("9.50",
"0.125"); quantities, hours and tax rates are their shortest exact decimal
("2", "5.5", "20"). The same value looks the same wherever it is shown, however
it was typed and whatever scale the database column that keeps it has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.integration.api.conftest import World
from tests.integration.api.test_help_pages import window

MONEY = re.compile(r"^-?(0|[1-9][0-9]*)\.[0-9]{2}([0-9]*[1-9])?$")
PLAIN = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")
MONEY_KEYS = {
    "amount",
    "gross",
    "hourly_cost",
    "labour",
    "net",
    "profit",
    "revenue",
    "tax",
    "unit_price",
}
PLAIN_KEYS = {"quantity", "tax_rate", "rate", "labour_hours"}


def decimals(body: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """Every (path, key, value) of a string under a money or quantity key."""
    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, str) and key in MONEY_KEYS | PLAIN_KEYS:
                yield f"{path}/{key}", key, value
            else:
                yield from decimals(value, f"{path}/{key}")
    elif isinstance(body, list):
        for i, value in enumerate(body):
            yield from decimals(value, f"{path}/{i}")


def wrongly_formatted(body: Any) -> list[tuple[str, str]]:
    return [
        (path, value)
        for path, key, value in decimals(body)
        if not (MONEY if key in MONEY_KEYS else PLAIN).match(value)
    ]


async def price_book(w: World) -> dict[str, str]:
    family = await w.call("admin", "POST", "/price-book/families", 201, {"name": "F"})
    items: dict[str, str] = {}
    for key, price, rate in [
        ("valve", "9.5", "20.0"),
        ("screw", "0.1250", 5.5),
        ("service", 80, "10"),
    ]:
        created = await w.call(
            "admin",
            "POST",
            "/price-book/items",
            201,
            {
                "family_id": family["id"],
                "kind": "service" if key == "service" else "part",
                "code": key.upper(),
                "name": key.title(),
                "unit_price": price,
                "tax_rate": rate,
            },
        )
        items[key] = created["id"]
    return items


async def started_job(w: World) -> tuple[str, str]:
    """A job on Tess's crew, in progress, with line items typed loosely."""
    client = await w.call(
        "admin", "POST", "/clients", 201, {"name": "Ada", "email": "ada@x.example"}
    )
    job = await w.call(
        "dispatcher",
        "POST",
        "/jobs",
        201,
        {
            "client_id": client["id"],
            "description": "Leak",
            "line_items": [
                {
                    "description": "Diagnosis",
                    "quantity": "1.0",
                    "unit_price": "45",
                    "tax_rate": "20.000",
                },
                {
                    "description": "Travel",
                    "quantity": 1.5,
                    "unit_price": 10,
                    "tax_rate": 20,
                },
            ],
        },
    )
    start, end = window(2)
    tess = w.people.technician_ids["tess"]
    schedule = {"start": start, "end": end, "technician_id": tess}
    await w.call("dispatcher", "POST", f"/jobs/{job['id']}/schedule", 200, schedule)
    await w.call("tess", "POST", f"/jobs/{job['id']}/start", 200)
    return job["id"], client["id"]


async def test_the_same_amount_rate_and_quantity_read_the_same_in_every_resource(
    world: World,
) -> None:
    w = world
    items = await price_book(w)
    depot = await w.call(
        "admin",
        "POST",
        "/depots",
        201,
        {
            "name": "Van",
            "kind": "mobile",
            "technician_id": w.people.technician_ids["tess"],
        },
    )
    received = [("valve", 10), ("screw", "100.0")]
    used = [("valve", "2.0"), ("screw", 8), ("service", 1)]
    job_id, client_id = await started_job(w)
    j = f"/jobs/{job_id}"
    for who, path, lines in [
        ("admin", f"/depots/{depot['id']}/stock", received),
        ("tess", f"{j}/parts", used),
    ]:
        for item, quantity in lines:
            body = {"item_id": items[item], "quantity": quantity}
            await w.call(who, "POST", path, 201, body)
    await w.call(
        "tess", "POST", f"{j}/expenses", 201, {"description": "Parking", "amount": 12.4}
    )
    bodies: dict[str, Any] = {
        "job": await w.call("dispatcher", "GET", j, 200),
        "line_items": await w.call("dispatcher", "GET", f"{j}/line-items", 200),
        "parts": await w.call("dispatcher", "GET", f"{j}/parts", 200),
        "expenses": await w.call("dispatcher", "GET", f"{j}/expenses", 200),
        "profitability": await w.call("billing", "GET", f"{j}/profitability", 200),
        "price_book": await w.call("admin", "GET", "/price-book/items", 200),
        "price_book_item": await w.call(
            "admin", "GET", f"/price-book/items/{items['screw']}", 200
        ),
        "catalog": await w.call("tess", "GET", "/parts/catalog", 200),
        "stock": await w.call("admin", "GET", f"/depots/{depot['id']}/stock", 200),
        "technicians": await w.call("admin", "GET", "/technicians", 200),
        "changes": await w.call("tess", "GET", "/sync/changes", 200),
    }
    link = await w.call("tess", "POST", f"{j}/online-links", 201)
    online = await w.api.get(link["url"])
    assert online.status == 200
    bodies["online"] = await online.json()
    await w.call("tess", "POST", f"{j}/complete", 200)
    invoice = await w.call("billing", "POST", f"{j}/invoice", 201)
    bodies["invoice"] = invoice
    await w.call("billing", "POST", f"/invoices/{invoice['id']}/issue", 200)
    bodies["credit_note"] = await w.call(
        "billing", "POST", f"/invoices/{invoice['id']}/credit-notes", 201, {}
    )
    bodies["estimate"] = await w.call(
        "dispatcher",
        "POST",
        "/estimates",
        201,
        {
            "client_id": client_id,
            "description": "Quote",
            "line_items": [
                {"description": "Screws", "quantity": "8.000", "unit_price": "0.1250"},
                {"description": "Valve", "quantity": 2, "unit_price": "9.5000"},
            ],
        },
    )

    assert {name: wrongly_formatted(body) for name, body in bodies.items()} == {
        name: [] for name in bodies
    }
    # The same values, the same text: a line item typed "1.0" / "45" / "20.000" ...
    diagnosis = bodies["line_items"]["items"][0]
    assert (diagnosis["quantity"], diagnosis["unit_price"], diagnosis["tax_rate"]) == (
        "1",
        "45.00",
        "20",
    )
    travel = bodies["line_items"]["items"][1]
    assert (travel["quantity"], travel["unit_price"], travel["net"]) == (
        "1.5",
        "10.00",
        "15.00",
    )
    # ... a part (numeric(14,3) quantity, numeric(14,4) price, numeric(6,3) rate) ...
    parts = {p["name"]: p for p in bodies["parts"]["items"]}
    assert [
        (p["quantity"], p["unit_price"], p["tax_rate"], p["net"])
        for p in parts.values()
    ] == [
        ("2", "9.50", "20", "19.00"),
        ("8", "0.125", "5.5", "1.00"),
        ("1", "80.00", "10", "80.00"),
    ]
    assert [r["rate"] for r in bodies["parts"]["totals"]["by_rate"]] == [
        "5.5",
        "10",
        "20",
    ]
    # ... the price book and the catalogue show the prices the parts were added at ...
    book = {
        i["code"]: (i["unit_price"], i["tax_rate"])
        for i in bodies["price_book"]["items"]
    }
    assert book == {
        "VALVE": ("9.50", "20"),
        "SCREW": ("0.125", "5.5"),
        "SERVICE": ("80.00", "10"),
    }
    assert (
        bodies["price_book_item"]["unit_price"],
        bodies["price_book_item"]["tax_rate"],
    ) == ("0.125", "5.5")
    catalog = {
        i["name"]: (i["unit_price"], i["tax_rate"]) for i in bodies["catalog"]["items"]
    }
    assert catalog == {
        "Valve": ("9.50", "20"),
        "Screw": ("0.125", "5.5"),
        "Service": ("80.00", "10"),
    }
    # ... stock counts are quantities, whole units without decimals ...
    assert sorted(s["quantity"] for s in bodies["stock"]["stock"]) == ["8", "92"]
    # ... the invoice bills each line in the same text as where it came from ...
    lines = {x["description"]: x for x in bodies["invoice"]["lines"]}
    assert (lines["Diagnosis"]["quantity"], lines["Diagnosis"]["unit_price"]) == (
        "1",
        "45.00",
    )
    assert (lines["Travel"]["quantity"], lines["Travel"]["tax_rate"]) == ("1.5", "20")
    billed_parts = [
        (x["quantity"], x["unit_price"], x["tax_rate"])
        for x in bodies["invoice"]["lines"]
        if x["source"] != "line_item"
    ]
    assert billed_parts == [
        ("2", "9.50", "20"),
        ("8", "0.125", "5.5"),
        ("1", "80.00", "10"),
    ]
    # 45 + 15 + 19 + 1 + 80 = 160 net; 79 at 20 % = 15.80, 1 at 5.5 % = 0.06, 80 at 10 % = 8
    assert bodies["invoice"]["totals"]["net"] == "160.00"
    assert bodies["invoice"]["totals"]["gross"] == "183.86"
    # ... an expense, labour cost and hourly cost are money, labour hours plain ...
    assert bodies["expenses"]["items"][0]["amount"] == "12.40"
    assert bodies["profitability"]["expenses"] == "12.40"
    assert {t["hourly_cost"] for t in bodies["technicians"]["items"]} == {"40.00"}
    # ... and the online view and the change feed repeat the job's own lines.
    online_diagnosis = bodies["online"]["line_items"][0]
    assert {
        k: online_diagnosis[k] for k in ("quantity", "unit_price", "tax_rate", "net")
    } == {k: diagnosis[k] for k in ("quantity", "unit_price", "tax_rate", "net")}
    [changed] = [c for c in bodies["changes"]["items"] if c["id"] == job_id]
    assert changed["line_items"] == bodies["line_items"]["items"]
    assert changed["parts"]["items"] == bodies["parts"]["items"]
    assert [i["unit_price"] for i in bodies["estimate"]["line_items"]] == [
        "0.125",
        "9.50",
    ]


async def test_the_openapi_document_states_each_decimal_format(world: World) -> None:
    doc = await (await world.api.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    line = schemas["Invoice"]["properties"]["lines"]["items"]["properties"]
    item = schemas["PriceBookItem"]["properties"]
    assert [line[k]["pattern"] for k in ("unit_price", "net")] == [MONEY.pattern] * 2
    assert [line[k]["pattern"] for k in ("quantity", "tax_rate")] == [PLAIN.pattern] * 2
    assert (item["unit_price"]["pattern"], item["tax_rate"]["pattern"]) == (
        MONEY.pattern,
        PLAIN.pattern,
    )
