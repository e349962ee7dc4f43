"""Editing a take back in place moves units exactly as undo + take back again would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs_domain.errors import Conflict, InvalidInput
from jobs_domain.parts import (
    Condition,
    Location,
    Movement,
    MovementKind,
    PriceBookItem,
    SerialUnit,
    TakeBack,
    TakeBackEdit,
    cancel_take_back,
    check_take_back,
    edit_take_back,
    repair_unit,
    take_back,
)
from tests.unit.parts.test_parts import JOB, PUMP, VALVE, VAN, installed_at_client

LATER = datetime(2025, 3, 4, 11, 0, tzinfo=UTC)
EARLIER = LATER - timedelta(hours=1)


def taken(
    serial: str, unit: SerialUnit | None, condition: str = "ok"
) -> tuple[TakeBack, Movement]:
    """A take back (earlier) and its movement, the serial's newest."""
    record, _, movement = take_back(
        "tb", serial, unit, None if unit else PUMP, condition, JOB, VAN, "t", EARLIER
    )
    return record, movement


def edit(
    taken_back: tuple[TakeBack, Movement],
    units: dict[str, SerialUnit | None],
    *,
    serial: str | None = None,
    condition: str | None = None,
    chosen_item: PriceBookItem | None = None,
) -> TakeBackEdit:
    record, latest = taken_back
    return edit_take_back(
        record,
        units,
        serial=serial,
        condition=condition,
        chosen_item=chosen_item,
        recorded_item=PUMP,
        job=JOB,
        depot=VAN,
        latest=latest,
        actor="t",
        at=LATER,
    )


def in_van(serial: str, condition: Condition) -> SerialUnit:
    return SerialUnit(serial, "pump", Location.depot("van-1"), condition)


def test_correcting_the_condition_of_a_found_serial_keeps_what_it_was_at_the_client() -> (
    None
):
    result = edit(
        taken("A1", installed_at_client("A1"), "ok"),
        {"A1": in_van("A1", Condition.OK)},
        condition="needs_repair",
    )
    [(back, undo), (again, redo)] = result.steps
    assert back == installed_at_client("A1")
    assert (undo.kind, redo.kind) == (
        MovementKind.TAKE_BACK_CANCELLED,
        MovementKind.TAKEN_BACK,
    )
    assert again == in_van("A1", Condition.NEEDS_REPAIR)
    assert result.record.previous_condition is Condition.OK
    assert result.record.found_at_client is True
    assert result.record.at == LATER
    assert result.changes == {"condition": ("ok", "needs_repair")}
    # the corrected take back can still be undone: the pump goes back to the client
    restored, _ = cancel_take_back(result.record, again, "t", LATER)
    assert restored == installed_at_client("A1")


def test_correcting_an_unknown_serial_forgets_the_mistyped_one() -> None:
    result = edit(
        taken("X-77", None),
        {"X-77": in_van("X-77", Condition.OK), "X-78": None},
        serial="X-78",
    )
    [(forgotten, undo), (again, redo)] = result.steps
    assert forgotten is None
    assert undo.serial == "X-77"
    assert again == in_van("X-78", Condition.OK)
    assert redo.serial == "X-78"
    assert redo.note == "serial was not on record at this client"
    assert result.record.found_at_client is False
    assert result.record.item_id == "pump"  # the part chosen for it stays
    assert check_take_back("X-77", forgotten, "client-2").found is False
    assert result.changes == {"serial": ("X-77", "X-78")}


def test_an_unknown_serial_corrected_in_place_can_still_be_undone_to_unknown() -> None:
    result = edit(
        taken("X-77", None),
        {"X-77": in_van("X-77", Condition.OK)},
        condition="obsolete",
    )
    [(forgotten, _), (again, redo)] = result.steps
    assert forgotten is None
    assert again is not None
    assert again.location == Location.retired()
    restored, _ = cancel_take_back(result.record, again, "t", LATER, latest=redo)
    assert restored is None


def test_correcting_to_a_serial_installed_at_this_client_finds_its_part() -> None:
    result = edit(
        taken("X-77", None),
        {"X-77": in_van("X-77", Condition.OK), "A1": installed_at_client("A1")},
        serial="A1",
    )
    assert result.record.found_at_client is True
    assert result.record.from_location == installed_at_client("A1").location


def test_correcting_to_a_serial_recorded_elsewhere_is_refused() -> None:
    earlier = taken("A1", installed_at_client("A1"))
    elsewhere = SerialUnit("B2", "pump", Location.site("client-9", None), Condition.OK)
    with pytest.raises(Conflict, match="not at this client"):
        edit(earlier, {"A1": in_van("A1", Condition.OK), "B2": elsewhere}, serial="B2")


def test_a_take_back_whose_unit_moved_since_cannot_be_corrected() -> None:
    earlier = taken("A1", installed_at_client("A1"), "needs_repair")
    repaired, _ = repair_unit(in_van("A1", Condition.NEEDS_REPAIR), "m", LATER)
    with pytest.raises(Conflict, match="moved or changed"):
        edit(earlier, {"A1": repaired}, condition="obsolete")


def test_a_correction_that_changes_nothing_moves_nothing() -> None:
    earlier = taken("A1", installed_at_client("A1"))
    result = edit(earlier, {"A1": in_van("A1", Condition.OK)}, condition="ok")
    assert result == TakeBackEdit(earlier[0], (), {})


def test_a_corrected_unknown_serial_may_name_another_serialized_part_only() -> None:
    with pytest.raises(InvalidInput, match="not a serialized part"):
        edit(
            taken("X-77", None),
            {"X-77": in_van("X-77", Condition.OK)},
            chosen_item=VALVE,
        )
