"""JSON responses: exact decimals as strings, ISO times, enum values.

Decimals have two formats (:mod:`jobs_domain.money`): money, written by
:func:`amounts` and :func:`priced` (and ``format_money``), and the plain decimal of
quantities, hours and tax rates, which is also what a bare ``Decimal`` becomes.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID

from aiohttp import web

from jobs_domain.money import format_decimal, format_money


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(data: object) -> bytes:
    """JSON with exact decimals (as strings), ISO times and enum values."""
    return json.dumps(data, default=_default, ensure_ascii=False).encode()


def amounts(**money: Decimal) -> dict[str, str]:
    """Money fields (``net=…, tax=…, gross=…``), each as money: ``"60.00"``."""
    return {name: format_money(amount) for name, amount in money.items()}


def priced(
    quantity: Decimal, unit_price: Decimal, tax_rate: Decimal, net: Decimal
) -> dict[str, str]:
    """The priced fields of any line (line item, part, invoice line): quantity and
    tax rate as plain decimals, unit price and net as money."""
    return {
        "quantity": format_decimal(quantity),
        "unit_price": format_money(unit_price),
        "tax_rate": format_decimal(tax_rate),
        "net": format_money(net),
    }


def json_ok(
    data: object,
    status: int = 200,
    *,
    etag: str | None = None,
    location: str | None = None,
) -> web.Response:
    headers: dict[str, str] = {}
    if etag:
        headers["ETag"] = etag
    if location:
        headers["Location"] = location
    return web.Response(
        status=status,
        body=dumps(data),
        content_type="application/json",
        headers=headers,
    )


def no_content() -> web.Response:
    return web.Response(status=204)
