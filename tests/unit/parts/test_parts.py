"""Parts on jobs: serials from the technician's depot, take back, repair, history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from jobs_domain.errors import Conflict, InvalidInput
from jobs_domain.parts import (
    Condition,
    Depot,
    DepotKind,
    ItemKind,
    JobSite,
    Location,
    LocationKind,
    MovementKind,
    PriceBookItem,
    SerialUnit,
    add_part_to_job,
    cancel_take_back,
    check_new_depot,
    check_take_back,
    parse_price_book_item,
    receive_unit,
    remove_part_from_job,
    repair_unit,
    search_price_book,
    stock_after,
    take_back,
)

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
VAN = Depot("van-1", "Van of Tom", DepotKind.MOBILE, "tech-1")
JOB = JobSite("job-1", "client-1", "site-1")
PUMP = PriceBookItem(
    "pump",
    "Pumps",
    "Circulator pump",
    ItemKind.PART,
    Decimal("120.00"),
    Decimal("20"),
    serialized=True,
)
VALVE = PriceBookItem(
    "valve", "Valves", "Ball valve", ItemKind.PART, Decimal("9.99"), Decimal("20")
)
SERVICE = PriceBookItem(
    "svc", "Services", "Annual service", ItemKind.SERVICE, Decimal("80"), Decimal("10")
)


def unit(
    serial: str, depot: str = "van-1", cond: Condition = Condition.OK
) -> SerialUnit:
    return SerialUnit(serial, "pump", Location.depot(depot), cond)


def install(serials: list[str], units: dict[str, SerialUnit | None]):  # type: ignore[no-untyped-def]
    return add_part_to_job(
        "p1", PUMP, len(serials), serials, JOB, VAN, units, "tech-1", NOW
    )


def test_serialized_parts_are_installed_from_the_technicians_depot_at_the_clients_site() -> (
    None
):
    part, moved = install(["A1", "A2"], {"A1": unit("A1"), "A2": unit("A2")})
    assert part.serials == ("A1", "A2")
    assert part.net == Decimal("240.00")
    for new_unit, movement in moved:
        assert new_unit.location == Location.site("client-1", "site-1")
        assert not new_unit.usable
        assert movement.kind is MovementKind.INSTALLED
        assert movement.from_location == Location.depot("van-1")
        assert movement.job_id == "job-1"


def test_a_serial_cannot_be_installed_twice() -> None:
    [(installed, _)] = install(["A1"], {"A1": unit("A1")})[1]
    with pytest.raises(InvalidInput) as err:
        install(["A1"], {"A1": installed})
    assert "already installed" in err.value.problems[0].message


def test_the_same_serial_listed_twice_in_one_line_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        add_part_to_job(
            "p1", PUMP, 2, ["A1", "A1"], JOB, VAN, {"A1": unit("A1")}, "t", NOW
        )
    assert err.value.problems[0].pointer == "/serials/1"


def test_a_serial_from_another_depot_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        install(["B1"], {"B1": unit("B1", depot="van-2")})
    assert err.value.problems == [
        err.value.problems[0].__class__(
            "/serials/0", "serial B1 is in another depot (van-2)"
        )
    ]


def test_an_unknown_serial_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot be used"):
        install(["ZZ"], {"ZZ": None})


def test_serialized_parts_need_one_serial_per_whole_unit() -> None:
    with pytest.raises(InvalidInput):
        add_part_to_job("p1", PUMP, 2, ["A1"], JOB, VAN, {"A1": unit("A1")}, "t", NOW)
    with pytest.raises(InvalidInput):
        add_part_to_job(
            "p1", PUMP, "1.5", ["A1"], JOB, VAN, {"A1": unit("A1")}, "t", NOW
        )
    with pytest.raises(InvalidInput):
        add_part_to_job("p1", VALVE, 1, ["A1"], JOB, VAN, {}, "t", NOW)


def test_plain_parts_take_stock_from_the_depot_and_refuse_more_than_it_holds() -> None:
    part, moved = add_part_to_job("p2", VALVE, "3", None, JOB, VAN, {}, "t", NOW)
    assert moved == []
    assert stock_after(Decimal("5"), part) == Decimal("2")
    assert stock_after(Decimal("2"), part, removing=True) == Decimal("5")
    with pytest.raises(InvalidInput):
        stock_after(Decimal("2"), part)


def test_services_do_not_touch_stock() -> None:
    part, _ = add_part_to_job("p3", SERVICE, 1, None, JOB, VAN, {}, "t", NOW)
    assert part.depot_id is None
    assert stock_after(Decimal("0"), part) == Decimal("0")


def test_removing_a_line_puts_its_serials_back_in_the_depot() -> None:
    part, moved = install(["A1"], {"A1": unit("A1")})
    [(back, movement)] = remove_part_from_job(part, {"A1": moved[0][0]}, "t", NOW)
    assert back.usable
    assert back.location == Location.depot("van-1")
    assert movement.kind is MovementKind.UNINSTALLED


def installed_at_client(serial: str) -> SerialUnit:
    return SerialUnit(serial, "pump", Location.site("client-1", "site-1"), Condition.OK)


def test_a_serial_installed_at_the_client_is_found_with_its_part() -> None:
    lookup = check_take_back("A1", installed_at_client("A1"), "client-1")
    assert (lookup.found, lookup.item_id) == (True, "pump")


def test_an_unknown_serial_is_not_found_and_needs_a_chosen_part() -> None:
    assert not check_take_back("NEW-9", None, "client-1").found
    with pytest.raises(InvalidInput):
        take_back("tb", "NEW-9", None, None, "ok", JOB, VAN, "t", NOW)
    with pytest.raises(InvalidInput):
        take_back("tb", "NEW-9", None, VALVE, "ok", JOB, VAN, "t", NOW)
    record, new_unit, movement = take_back(
        "tb", "NEW-9", None, PUMP, "ok", JOB, VAN, "t", NOW
    )
    assert not record.found_at_client
    assert new_unit.item_id == "pump"
    assert new_unit.usable
    assert movement.note == "serial was not on record at this client"


def test_a_serial_recorded_elsewhere_cannot_be_taken_back_from_this_client() -> None:
    with pytest.raises(Conflict):
        check_take_back("A1", unit("A1"), "client-1")
    other_client = SerialUnit(
        "A1", "pump", Location.site("client-2", None), Condition.OK
    )
    with pytest.raises(Conflict):
        check_take_back("A1", other_client, "client-1")


def test_taken_back_ok_goes_to_the_technicians_depot_usable() -> None:
    _, new_unit, movement = take_back(
        "tb", "A1", installed_at_client("A1"), None, "ok", JOB, VAN, "t", NOW
    )
    assert new_unit.location == Location.depot("van-1")
    assert new_unit.usable
    assert movement.kind is MovementKind.TAKEN_BACK


def test_needs_repair_is_not_usable_until_repaired() -> None:
    _, broken, _ = take_back(
        "tb", "A1", installed_at_client("A1"), None, "needs_repair", JOB, VAN, "t", NOW
    )
    assert broken.location == Location.depot("van-1")
    assert not broken.usable
    with pytest.raises(InvalidInput, match="cannot be used"):
        install(["A1"], {"A1": broken})
    repaired, movement = repair_unit(broken, "manager", NOW)
    assert repaired.usable
    assert movement.kind is MovementKind.REPAIRED
    part, _ = install(["A1"], {"A1": repaired})
    assert part.serials == ("A1",)


def test_obsolete_is_retired_and_can_never_be_used_again() -> None:
    _, retired, movement = take_back(
        "tb", "A1", installed_at_client("A1"), None, "obsolete", JOB, VAN, "t", NOW
    )
    assert retired.location.kind is LocationKind.RETIRED
    assert movement.to_location == Location.retired()
    with pytest.raises(InvalidInput, match="cannot be used"):
        install(["A1"], {"A1": retired})
    with pytest.raises(Conflict, match="obsolete"):
        repair_unit(retired, "manager", NOW)
    with pytest.raises(Conflict):
        receive_unit("A1", PUMP, VAN, retired, "manager", NOW)


def test_a_take_back_with_an_unknown_condition_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        take_back(
            "tb", "A1", installed_at_client("A1"), None, "broken", JOB, VAN, "t", NOW
        )
    assert err.value.problems[0].pointer == "/condition"


def test_cancelling_a_take_back_returns_the_unit_to_the_client() -> None:
    record, new_unit, _ = take_back(
        "tb", "A1", installed_at_client("A1"), None, "needs_repair", JOB, VAN, "t", NOW
    )
    restored, movement = cancel_take_back(record, new_unit, "t", NOW)
    assert restored == installed_at_client("A1")
    assert movement.kind is MovementKind.TAKE_BACK_CANCELLED
    repaired, _ = repair_unit(new_unit, "m", NOW)
    with pytest.raises(Conflict):
        cancel_take_back(record, repaired, "t", NOW)


def test_cancelling_the_take_back_of_an_unknown_serial_forgets_the_unit() -> None:
    record, new_unit, taken = take_back(
        "tb", "NEW-9", None, PUMP, "ok", JOB, VAN, "t", NOW
    )
    restored, movement = cancel_take_back(record, new_unit, "t", NOW, latest=taken)
    assert restored is None
    assert movement.kind is MovementKind.TAKE_BACK_CANCELLED
    assert check_take_back("NEW-9", restored, "client-2").found is False
    later = replace(taken, kind=MovementKind.UNINSTALLED, job_id="job-2")
    with pytest.raises(Conflict):
        cancel_take_back(record, new_unit, "t", NOW, latest=later)


def test_a_technician_has_only_one_mobile_depot() -> None:
    check_new_depot(Depot("wh", "Warehouse", DepotKind.STATIONARY), [VAN])
    with pytest.raises(Conflict):
        check_new_depot(Depot("van-3", "Second van", DepotKind.MOBILE, "tech-1"), [VAN])
    with pytest.raises(InvalidInput):
        check_new_depot(Depot("van-4", "Nobody's van", DepotKind.MOBILE), [])


def test_the_price_book_is_searched_by_text_family_and_filters() -> None:
    book = [PUMP, VALVE, SERVICE]
    assert search_price_book(book, query="pump") == [PUMP]
    assert search_price_book(book, family="Valves") == [VALVE]
    assert search_price_book(book, kind=ItemKind.PART, serialized=False) == [VALVE]


def test_the_price_book_family_filter_takes_the_family_id_too() -> None:
    valve = replace(VALVE, family_id="0b5e6f0c-0000-4000-8000-00000000000a")
    book = [PUMP, valve, SERVICE]
    assert search_price_book(book, family=valve.family_id) == [valve]
    assert search_price_book(book, family=(valve.family_id or "").upper()) == [valve]
    assert search_price_book(book, family="0b5e6f0c-0000-4000-8000-00000000000b") == []


def test_labour_billed_from_sessions_is_found_as_a_service_and_as_labour() -> None:
    labour = replace(
        SERVICE,
        id="lab",
        name="Hourly rate",
        kind=ItemKind.LABOUR,
        bill_from_sessions=True,
    )
    book = [PUMP, labour, SERVICE]
    assert search_price_book(book, kind=ItemKind.SERVICE) == [SERVICE, labour]
    assert search_price_book(book, kind=ItemKind.LABOUR) == [labour]
    assert search_price_book(book, kind=ItemKind.PART) == [PUMP]


def test_price_book_items_are_validated_with_pointers() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_price_book_item(
            "x",
            {
                "family": "F",
                "name": "N",
                "kind": "service",
                "unit_price": "-1",
                "tax_rate": 120,
                "serialized": True,
            },
        )
    assert {p.pointer for p in err.value.problems} == {
        "/unit_price",
        "/tax_rate",
        "/serialized",
    }
