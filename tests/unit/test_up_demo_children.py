"""What `crewtrack up` starts for the demo: the living day, or the anonymous phones."""

from __future__ import annotations

from pathlib import Path

from crewtrack.runner import _children
from crewtrack.settings import Settings


def names(settings: Settings) -> list[str]:
    return [c.name for c in _children(settings, {}, Path("logs"))]


def test_up_runs_the_living_day_instead_of_random_phones_by_default() -> None:
    started = names(Settings())
    assert "demo" in started
    assert "simulate" not in started
    assert "derive" in started  # the demo's visits are derived by the worker


def test_turning_the_demo_off_brings_back_the_anonymous_fleet() -> None:
    started = names(Settings(demo=False))
    assert "demo" not in started
    assert "simulate" in started
    assert "demo" not in names(Settings(demo=False, simulate_devices=0))
    assert "simulate" not in names(Settings(demo=False, simulate_devices=0))


def test_the_demo_child_runs_the_demo_day_command() -> None:
    (child,) = [c for c in _children(Settings(), {}, Path("logs")) if c.name == "demo"]
    assert child.argv[-1] == "demo-day"
