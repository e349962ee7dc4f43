"""The consumer's reconnect back-off: capped doubling with jitter."""

from __future__ import annotations

import asyncio

from crewtrack.settings import Settings
from ingest.mqtt import RECONNECT_FIRST_S, MqttConsumer


def _backoffs(cap_s: float, attempts: int, rounds: int = 200) -> list[list[float]]:
    async def run() -> list[list[float]]:
        consumer = MqttConsumer(
            Settings(ingest_reconnect_max_s=cap_s, ingest_mqtt_fast_path="off"),
            lambda _m: None,
        )
        return [[consumer.backoff_s(a) for _ in range(rounds)] for a in range(attempts)]

    return asyncio.run(run())


def test_reconnect_waits_double_from_50_ms_and_never_pass_the_cap() -> None:
    waits = _backoffs(cap_s=2.0, attempts=12)
    for attempt, samples in enumerate(waits):
        step = min(2.0, RECONNECT_FIRST_S * 2**attempt)
        assert all(step / 2 <= w <= step for w in samples), attempt
    assert max(waits[-1]) <= 2.0
    assert min(waits[-1]) >= 1.0  # a locked-out ingest does not hammer the broker


def test_reconnect_waits_are_jittered_so_replicas_do_not_knock_in_step() -> None:
    (samples,) = _backoffs(cap_s=10.0, attempts=1000)[-1:]
    assert len({round(w, 6) for w in samples}) > 150


def test_a_thousand_failures_later_the_consumer_still_retries_at_the_cap() -> None:
    waits = _backoffs(cap_s=10.0, attempts=1001, rounds=5)
    assert all(5.0 <= w <= 10.0 for w in waits[1000])
