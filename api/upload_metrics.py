"""The ingest metrics of the API's HTTP uploads (Traccar Client, the technician app).

Devices that upload over HTTP are counted with the ingest's own
:class:`ingest.metrics.IngestMetrics` - the same names
(``crewtrack_ingest_messages_total{protocol}``, ``…_rejected_total{reason}``,
``…_rejected_by_protocol_total{protocol}``, ``…_odd_inputs_total{reason}``,
``…_odd_inputs_by_protocol_total{protocol}``, ``…_fixes_stored_total``), so one
dashboard sums both scrape targets. Served like the ingest's: plain-text
``/metrics`` on its own port (``CREWTRACK_API_METRICS_PORT``, 0 = off), never
on the public API port, so it needs no user and shows nobody's data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from api.http.context import SETTINGS
from core.messages import Processed
from ingest.metrics import IngestMetrics

METRICS = web.AppKey("upload_metrics", IngestMetrics)


def count(app: web.Application, p: Processed) -> None:
    """Count one committed HTTP upload as the ingest counts a committed message."""
    m = app[METRICS]
    m.messages.inc(1, p.protocol)
    m.fixes_stored.inc(len(p.fixes))
    m.count_outcome(p)


async def _serve(app: web.Application) -> AsyncIterator[None]:
    port = app[SETTINGS].api_metrics_port
    if not port:
        yield
        return

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            text=app[METRICS].render(), content_type="text/plain", charset="utf-8"
        )

    server = web.Application()
    server.router.add_get("/metrics", metrics)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, app[SETTINGS].api_host, port).start()
    try:
        yield
    finally:
        await runner.cleanup()


def setup(api: object) -> None:
    """Hook for ``api.app.ROUTE_MODULES``: the counters and their server."""
    app: web.Application = api.app  # type: ignore[attr-defined]
    app[METRICS] = IngestMetrics()
    app.cleanup_ctx.append(_serve)
