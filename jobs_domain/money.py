"""Exact decimal money: amounts, tax rates and per-rate totals, and how they are written.

Money is never a float. Amounts are ``Decimal`` rounded half-up to the
currency's minor unit (2 places) only at the edges that a customer sees: line
totals and invoice totals; quantities and unit prices keep their own precision.

Two text formats, whatever scale a value was stored with: money
(:func:`format_money`, ``"60.00"``, ``"0.125"``) and a plain decimal for
quantities, hours and tax rates (:func:`format_decimal`, ``"1"``, ``"5.5"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from jobs_domain.errors import FieldProblem, InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal("0")
MAX_AMOUNT = Decimal("1000000000")  # one billion: anything above is a typo


def to_decimal(value: object, pointer: str, *, minimum: Decimal = ZERO) -> Decimal:
    """Parse a JSON number or numeric string into a finite ``Decimal``.

    Floats are accepted through their shortest ``repr`` so that ``0.1`` means
    exactly one tenth.
    """
    if isinstance(value, bool):
        raise InvalidInput("not a number", [FieldProblem(pointer, "must be a number")])
    try:
        if isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, int | str | Decimal):
            result = Decimal(value)
        else:
            raise InvalidOperation
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(
            "not a number", [FieldProblem(pointer, "must be a decimal number")]
        ) from exc
    if not result.is_finite():
        raise InvalidInput("not finite", [FieldProblem(pointer, "must be finite")])
    if result < minimum:
        raise InvalidInput(
            "too small", [FieldProblem(pointer, f"must be at least {minimum}")]
        )
    if abs(result) > MAX_AMOUNT:
        raise InvalidInput(
            "too large", [FieldProblem(pointer, f"must be at most {MAX_AMOUNT}")]
        )
    return result


def _plain(value: Decimal, min_places: int) -> str:
    """``value`` exactly, without exponent or trailing zeros, but with at least
    ``min_places`` decimals. Integer arithmetic: no context, so no rounding."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    coefficient = int("".join(map(str, digits)) or "0")
    while exponent < 0 and coefficient % 10 == 0:
        coefficient //= 10
        exponent += 1
    if exponent > 0:
        coefficient *= 10**exponent
        exponent = 0
    if -exponent < min_places:
        coefficient *= 10 ** (min_places + exponent)
        exponent = -min_places
    text = str(coefficient)
    places = -exponent
    if places:
        text = text.rjust(places + 1, "0")
        text = f"{text[:-places]}.{text[-places:]}"
    return f"-{text}" if sign and coefficient else text


def format_money(amount: Decimal) -> str:
    """Money as the API writes it: two decimals (``"60.00"``), more only when they
    are significant (a unit price of ``"0.125"``); never rounded, never an exponent."""
    return _plain(amount, 2)


def format_decimal(value: Decimal) -> str:
    """A quantity, a number of hours or a tax rate: its shortest exact decimal
    (``"1"``, ``"5.5"``, ``"20"``), never an exponent (``1E+1`` is ``"10"``)."""
    return _plain(value, 0)


def round_money(amount: Decimal) -> Decimal:
    """Round to cents, half-up (the rule invoices and tax authorities use)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxLine:
    """Net amount and tax for one tax rate (rate in percent, e.g. ``Decimal('20')``)."""

    rate: Decimal
    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


@dataclass(frozen=True)
class Totals:
    """Totals of a set of priced lines: without tax, per tax rate, and with tax."""

    net: Decimal
    tax_lines: tuple[TaxLine, ...]

    @property
    def tax(self) -> Decimal:
        return sum((t.tax for t in self.tax_lines), ZERO)

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def line_net(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Net amount of one line, rounded to cents."""
    return round_money(quantity * unit_price)


def totals(lines: Iterable[tuple[Decimal, Decimal]]) -> Totals:
    """Total ``(net, tax_rate_percent)`` pairs; tax is computed per rate, then rounded.

    Computing tax once per rate (not per line) is what invoices show and avoids
    the cent drift of rounding every line's tax.
    """
    by_rate: dict[Decimal, Decimal] = {}
    for net, rate in lines:
        by_rate[rate] = by_rate.get(rate, ZERO) + net
    tax_lines = tuple(
        TaxLine(rate=rate, net=net, tax=round_money(net * rate / Decimal(100)))
        for rate, net in sorted(by_rate.items())
    )
    return Totals(net=sum((t.net for t in tax_lines), ZERO), tax_lines=tax_lines)
