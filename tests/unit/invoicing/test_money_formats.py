"""The two ways a decimal leaves the API: money, and a plain decimal (quantities,
hours, tax rates). Each is exact; neither depends on how the value was stored."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jobs_domain.money import format_decimal, format_money


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("60.0000", "60.00"),
        ("60", "60.00"),
        ("5.5", "5.50"),
        ("45.00", "45.00"),
        ("0", "0.00"),
        ("0.0000", "0.00"),
        ("-0.00", "0.00"),
        ("-12.5", "-12.50"),
        ("1E+1", "10.00"),
        ("1E+3", "1000.00"),
        ("1000000000", "1000000000.00"),
    ],
)
def test_money_has_exactly_two_decimals_whatever_its_stored_scale(
    stored: str, shown: str
) -> None:
    assert format_money(Decimal(stored)) == shown


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("0.125", "0.125"),
        ("0.1250", "0.125"),
        ("12.3456", "12.3456"),
        ("-0.0050", "-0.005"),
    ],
)
def test_a_unit_price_with_more_significant_decimals_keeps_them_and_no_more(
    stored: str, shown: str
) -> None:
    assert format_money(Decimal(stored)) == shown


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("1", "1"),
        ("1.000", "1"),
        ("5.5", "5.5"),
        ("5.5000", "5.5"),
        ("20", "20"),
        ("20.000", "20"),
        ("10.000", "10"),
        ("1E+1", "10"),
        ("2.5E+2", "250"),
        ("1E-7", "0.0000001"),
        ("0.000", "0"),
        ("-0", "0"),
        ("1.75", "1.75"),
        ("-3.50", "-3.5"),
    ],
)
def test_a_quantity_hours_or_rate_is_its_shortest_exact_decimal_without_exponent(
    stored: str, shown: str
) -> None:
    assert format_decimal(Decimal(stored)) == shown


def test_formats_are_exact_beyond_the_default_decimal_precision() -> None:
    # 40 significant digits: a context-rounding implementation would lose them
    long = Decimal("123456789012345678901234567890.1234567890")
    assert format_decimal(long) == "123456789012345678901234567890.123456789"
    assert format_money(long) == "123456789012345678901234567890.123456789"
    assert format_money(Decimal("1E+40")) == "1" + "0" * 40 + ".00"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_value_that_is_not_a_finite_number_is_never_formatted(value: str) -> None:
    with pytest.raises(ValueError, match="finite"):
        format_money(Decimal(value))
    with pytest.raises(ValueError, match="finite"):
        format_decimal(Decimal(value))


def test_a_bare_decimal_in_a_response_is_written_as_a_plain_decimal() -> None:
    from api.http.responses import dumps

    assert (
        dumps({"x": Decimal("1E+1"), "y": Decimal("1.000")}) == b'{"x": "10", "y": "1"}'
    )


def test_the_pdf_prints_a_fine_unit_price_exactly_in_its_own_style() -> None:
    from delivery.pdf import money

    assert money(Decimal("0.1250"), "EUR") == "0.125 €"
    assert money(Decimal("1234.5"), "EUR") == "1,234.50 €"
    assert money(Decimal("60.0000"), "EUR") == "60.00 €"
