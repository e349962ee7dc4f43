"""The technician picker's options on demand: a few at a time, by what was typed."""

from __future__ import annotations

from dashboard.pickers import PICKER_OPTIONS, picker_options

FLEET = [(f"dev{i:04d}", f"Technician {i:04d} (dev{i:04d})") for i in range(2000)]


def test_before_anything_is_typed_the_picker_offers_the_first_few_not_all_2000() -> (
    None
):
    options = picker_options(FLEET, None, None)
    assert len(options) == PICKER_OPTIONS
    assert options[0] == {"label": "Technician 0000 (dev0000)", "value": "dev0000"}
    assert [o["value"] for o in options] == [d for d, _ in FLEET[:PICKER_OPTIONS]]


def test_what_is_typed_narrows_the_options_by_name_or_device_in_any_case() -> None:
    assert [o["value"] for o in picker_options(FLEET, "technician 1234", [])] == [
        "dev1234"
    ]
    assert [o["value"] for o in picker_options(FLEET, " DEV001", [])] == [
        f"dev{i:04d}" for i in range(10, 20)
    ]


def test_the_chosen_technicians_keep_their_labels_whatever_is_typed() -> None:
    options = picker_options(FLEET, "technician 00", ["dev1999", "dev0500", "dev0003"])
    values = [o["value"] for o in options]
    # the chosen first (in the fleet's order), each once, then the first matches
    assert values[:3] == ["dev0003", "dev0500", "dev1999"]
    assert values[3:] == [f"dev{i:04d}" for i in range(51) if i != 3]
    assert len(values) == 3 + PICKER_OPTIONS
    assert len(picker_options(FLEET, "nobody", ["dev0500"])) == 1


def test_a_chosen_technician_no_longer_in_the_fleet_is_not_offered() -> None:
    assert picker_options(FLEET[:3], "", ["gone"]) == [
        {"label": label, "value": d} for d, label in FLEET[:3]
    ]
