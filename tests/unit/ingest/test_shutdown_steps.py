"""Each shutdown step is bounded: a step that hangs is logged and left behind."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ingest.service import _bounded


def test_a_hanging_step_is_abandoned_after_its_budget(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def hang() -> None:
        await asyncio.sleep(3600)

    async def main() -> tuple[bool, bool]:
        hung = await _bounded("stuck step", hang(), 0.05)
        done = await _bounded("quick step", asyncio.sleep(0), 1.0)
        return hung, done

    with caplog.at_level(logging.ERROR, logger="ingest.service"):
        assert asyncio.run(main()) == (False, True)
    assert "stuck step did not finish within 0.1 s" in caplog.text


def test_a_failing_step_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def boom() -> None:
        raise RuntimeError("broken")

    with caplog.at_level(logging.ERROR, logger="ingest.service"):
        assert asyncio.run(_bounded("broken step", boom(), 1.0)) is False
    assert "broken step failed" in caplog.text
