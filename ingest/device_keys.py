"""The devices' OwnTracks payload keys, cached in the worker for the decoder.

The decoder runs on the event loop for every message and must not wait on the
database, so it reads this cache (:meth:`DeviceKeys.get`). The cache is read
at start and every ``REFRESH_S``; and a message that an encrypted payload's key
decides (no key, or the cached key does not open it) is held until a read
*begun after it arrived* has finished - so a key set a moment ago opens the
next message instead of rejecting it - and only then decoded for good. Reads
are shared (one at a time, at most one every ``MIN_INTERVAL_S``), so a phone
that keeps sending with a wrong key costs one query a second, not one a
message. A read that fails is retried with the same spacing; the held message
waits meanwhile and, like any unacked message, is redelivered if the worker
stops first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import psycopg

from core.messages import DECRYPT_FAILED, ENCRYPTED_WITHOUT_KEY, Processed
from ingest.protocols.owntracks import key_from_passphrase
from storage.devices import ensure_key_sealer, set_owntracks_key

log = logging.getLogger(__name__)

REFRESH_S = 30.0  # a cleared or changed key is seen within this
MIN_INTERVAL_S = 1.0  # at most one read a second, whatever the phones send
KEY_REASONS = frozenset({ENCRYPTED_WITHOUT_KEY, DECRYPT_FAILED})

Loader = Callable[[], Awaitable[Mapping[str, bytes]]]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def decided_by_keys(p: Processed) -> bool:
    """Whether the outcome of ``p`` depends on which keys the worker has."""
    return any(r.reason in KEY_REASONS for r in p.rejections)


class DeviceKeys:
    """Device id -> 32-byte payload key, read through ``load``."""

    def __init__(self, load: Loader, min_interval_s: float = MIN_INTERVAL_S) -> None:
        self._load = load
        self._min_interval_s = min_interval_s
        self._keys: Mapping[str, bytes] = {}
        self.read_from_ms = 0  # when the read behind the cached keys began
        self._last_attempt = -float("inf")  # monotonic
        self._read: asyncio.Task[None] | None = None

    def get(self, device_id: str) -> bytes | None:
        return self._keys.get(device_id)

    async def fresh_since(self, t_ms: int) -> None:
        """Return once the cached keys come from a read begun at or after ``t_ms``."""
        while self.read_from_ms < t_ms:
            if self._read is None or self._read.done():
                self._read = asyncio.get_running_loop().create_task(self._read_once())
            await asyncio.shield(self._read)

    async def refresh_forever(self, every_s: float = REFRESH_S) -> None:
        """Re-read the keys every ``every_s`` (cancel to stop)."""
        while True:
            await self.fresh_since(now_ms())
            await asyncio.sleep(every_s)

    async def _read_once(self) -> None:
        wait = self._last_attempt + self._min_interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_attempt = time.monotonic()
        started = now_ms()
        try:
            keys = await self._load()
        except Exception as exc:  # the database down: keep the old keys, retry
            log.warning("could not read the devices' OwnTracks keys: %s", exc)
            return
        self._keys = keys
        self.read_from_ms = started


async def set_passphrase(
    conn: psycopg.AsyncConnection, home: Path, device_id: str, passphrase: str
) -> bool:
    """Give a device the key of the passphrase typed into its OwnTracks app.

    The one way to set a key (``crewtrack admin set-owntracks-key`` and
    ``PUT /devices/{id}/owntracks-key``): derived as the app derives it, sealed
    with the home's secret (made on first use). False: no such active device.
    ``ValueError`` for an empty passphrase.
    """
    key = key_from_passphrase(passphrase)
    return await set_owntracks_key(conn, device_id, key, ensure_key_sealer(home))
