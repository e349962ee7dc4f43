"""The rules of a public online booking: the reference, the contact, the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs_domain.bookings import (
    REFERENCE_ALPHABET,
    booking_reference,
    check_preferred_window,
    online_address,
    online_contact,
)
from jobs_domain.errors import InvalidInput

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def pointers(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [p.pointer for p in exc.value.problems]


def test_a_reference_is_bk_and_eight_unambiguous_characters_from_40_random_bits() -> (
    None
):
    assert booking_reference(bytes(5)) == "BK-0000-0000"
    assert booking_reference(b"\xff" * 5) == "BK-ZZZZ-ZZZZ"
    reference = booking_reference(b"\x12\x34\x56\x78\x9a")
    assert set(reference[3:].replace("-", "")) <= set(REFERENCE_ALPHABET)
    assert not set("ILOU") & set(REFERENCE_ALPHABET)
    with pytest.raises(ValueError, match="5 random bytes"):
        booking_reference(b"\x00" * 4)


def test_a_contact_is_a_name_with_an_e_mail_or_a_phone() -> None:
    both = online_contact(
        {"name": " Ana ", "email": "a@b.example", "phone": "+33 6 12"}
    )
    assert (both.name, both.email, both.phone) == ("Ana", "a@b.example", "+33 6 12")
    assert online_contact({"name": "Ana", "phone": "0612345678"}).email is None
    with pytest.raises(InvalidInput) as neither:
        online_contact({"name": "Ana", "email": " ", "phone": ""})
    assert pointers(neither) == ["/contact"]
    with pytest.raises(InvalidInput) as bad:
        online_contact({"name": "", "email": "ana@example", "phone": "call me"})
    assert pointers(bad) == ["/contact/name", "/contact/email", "/contact/phone"]


def test_a_contact_becomes_the_jobs_site_contact() -> None:
    contact = online_contact({"name": "Ana", "email": "a@b.example"})
    site = contact.site_contact()
    assert (site.name, site.email, site.phone) == ("Ana", "a@b.example", "")


def test_an_address_is_stored_trimmed_without_empty_lines() -> None:
    address = online_address({"line1": " 3 rue Lepic ", "line2": " ", "city": "Paris"})
    assert address == {"line1": "3 rue Lepic", "city": "Paris"}
    with pytest.raises(InvalidInput) as blank:
        online_address({"line1": "  "})
    assert pointers(blank) == ["/address/line1"]


def test_a_preferred_window_lies_ahead_ends_after_it_starts_and_lasts_31_days_at_most() -> (
    None
):
    check_preferred_window(NOW + timedelta(hours=1), NOW + timedelta(hours=3), NOW)
    for start, end, pointer in [
        (NOW - timedelta(hours=1), NOW + timedelta(hours=1), "/preferred_start"),
        (NOW + timedelta(hours=2), NOW + timedelta(hours=1), "/preferred_end"),
        (NOW + timedelta(hours=1), NOW + timedelta(days=40), "/preferred_end"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            check_preferred_window(start, end, NOW)
        assert pointers(refused) == [pointer]
