"""The evidence log's composition glue: the audit page's presentation of a
session for a bundle, and the notary loop ``crewtrack up`` runs.

The bundle itself (export, verify) is :mod:`services.evidence`, which the CLI,
the API and the dashboard call alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from crewtrack.settings import Settings
from services.evidence import Presentation, Presenter, notarize, signing_key


def presentation(settings: Settings, session_id: UUID) -> Presentation:
    """The audit page's PDF and fixes CSV of a session (dashboard/pages/audit),
    built with a pool of its own as the dashboard builds them."""
    import redis
    from psycopg_pool import ConnectionPool

    from dashboard.context import Context
    from dashboard.pages.audit.callbacks import session_presentation
    from dashboard.queries import Sources

    pool = ConnectionPool(settings.database_url, min_size=1, max_size=2, open=True)
    sources = Sources(pool=pool, redis=redis.Redis.from_url(settings.redis_url))
    try:
        ctx = Context(
            sources=sources,
            tile_url=settings.dashboard_tile_url,
            zone=settings.company_zone,
        )
        return session_presentation(ctx, session_id)
    finally:
        sources.close()


def run_notary(
    database_url: str, home: Path, interval_s: float, stop: Any = None
) -> None:
    """Notarize every ``interval_s`` seconds until ``stop`` (a threading.Event) is set."""
    import logging
    import threading

    key = signing_key(home)
    stop = stop or threading.Event()
    logger = logging.getLogger("crewtrack.notary")
    while not stop.is_set():
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                while not stop.is_set():
                    appended, cp = notarize(conn, key)
                    if cp is not None:
                        logger.info(
                            "evidence checkpoint",
                            extra={"appended": appended, "tree_size": cp.tree_size},
                        )
                    stop.wait(interval_s)
        except psycopg.OperationalError:
            logger.exception("evidence notary lost the database; retrying")
            stop.wait(interval_s)


def presenter(settings: Settings) -> Presenter:
    """The audit page's presentation of a session, for ``settings``' stack (what
    the API is given to build bundles with)."""

    def present(session_id: UUID) -> Presentation:
        return presentation(settings, session_id)

    return present
