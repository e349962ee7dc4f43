"""The Context every page's ``register(app, ctx)`` gets: one app instance's state.

Built once per app by ``create_app`` and closed over by the callbacks, never a
module global (each worker process builds its own).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.actions import Actions
from dashboard.queries import Sources


class ViewCache:
    """The technician markers each browser was last sent, by view signature.

    Owned by one app instance (built with its callback context, never a module
    global). A browser's ``dcc.Store`` holds only the signature of what it
    shows; a tick looks that view up here and sends the markers that changed.
    A browser whose view is not here (another dashboard process answered its
    last tick, or it was evicted) gets every marker array again: always
    correct, only larger.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._views: OrderedDict[str, Any] = OrderedDict()

    def get(self, sig: str) -> Any:
        with self._lock:
            view = self._views.get(sig)
            if view is not None:
                self._views.move_to_end(sig)
            return view

    def put(self, sig: str, view: Any) -> None:
        with self._lock:
            self._views[sig] = view
            self._views.move_to_end(sig)
            while len(self._views) > self.size:
                self._views.popitem(last=False)


@dataclass(frozen=True)
class Context:
    """What the callbacks of one app instance read from (and the live map's views)."""

    sources: Sources
    tile_url: str
    #: The company's time zone: every time a person reads on the pages.
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    views: ViewCache = field(default_factory=ViewCache)
    #: The jobs map's fence layers per job-sites signature: the sites until the
    #: browser asks for their layers, then the layers' JSON (rebuilt when a
    #: site, its status or its fence changes, not on every full figure).
    fences: ViewCache = field(default_factory=lambda: ViewCache(size=8))
    #: The jobs map's figures (JSON bytes) by key, until the browser fetches
    #: them (``live_map.callbacks.figure_ref``): ~2 MB each at 2,000 technicians.
    figures: ViewCache = field(default_factory=lambda: ViewCache(size=8))
    #: The dashboard's writes (the day board's planning); None = read-only.
    actions: Actions | None = None
    #: The stack's home (its secrets file holds the evidence signing key); None:
    #: this app offers no evidence bundles.
    home: Path | None = None
    #: How a phone's MQTT password is stored (the broker's format, which the
    #: composition root knows: ``ingest.broker_auth``); None: this app does
    #: not register phones.
    hash_device_password: Callable[[str], str] | None = None
