"""Completion blockers contributed by other modules (report, parts, invoicing).

The jobs module knows its own blockers (status, Job Manager, required tasks).
Other modules register a provider here, once, from their route module's
``setup``; ``GET /jobs/{id}/completion-check`` and ``POST /jobs/{id}/complete``
call every provider inside the same transaction and pass what they return to
``Job.completion_blockers(extra_blockers=...)``::

    from api.completion import register_blocker_provider

    async def report_blockers(conn, job):
        report = await load_report(conn, job.id)
        return report.blockers() if report else []

    def setup(api: Api) -> None:
        register_blocker_provider(api.app, report_blockers)

A provider must not write; it gets the job as loaded (status, crew, tasks…).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg
from aiohttp import web

from jobs_domain.errors import Blocker
from jobs_domain.job import Job

BlockerProvider = Callable[
    [psycopg.AsyncConnection[Any], Job], Awaitable[Sequence[Blocker]]
]
PROVIDERS = web.AppKey("completion_blocker_providers", list[BlockerProvider])


def register_blocker_provider(app: web.Application, provider: BlockerProvider) -> None:
    """Add a source of completion blockers (call from a route module's setup)."""
    app[PROVIDERS].append(provider)


async def extra_blockers(
    app: web.Application, conn: psycopg.AsyncConnection[Any], job: Job
) -> list[Blocker]:
    """Everything the registered providers say blocks ``job``'s completion."""
    found: list[Blocker] = []
    for provider in app[PROVIDERS]:
        found.extend(await provider(conn, job))
    return found
