"""schemathesis against the served OpenAPI document: no 5xx, responses match it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from api.app import init_app
from crewtrack.servers import PortAllocator
from crewtrack.settings import Settings
from tests.integration.api.conftest import People

MAX_EXAMPLES = 4  # per operation: enough to hit every status branch, under 2 min
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The real app on a real port, in a thread with its own event loop."""
    port = PortAllocator().free_port()
    loop = asyncio.new_event_loop()
    # schemathesis books online far more often than a person: a limit it never
    # reaches keeps its answers deterministic (test_online_booking proves 429)
    generous = settings.replace(
        online_booking_limit_per_ip=1_000_000, online_booking_limit_total=1_000_000
    )
    runner = web.AppRunner(init_app(generous))
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.mark.timeout(240)
def test_every_operation_conforms_to_the_served_openapi_document(
    served: str, people: People
) -> None:
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(cli),
            "run",
            f"{served}/api/v1/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            str(MAX_EXAMPLES),
            "--header",
            f"Authorization: Bearer {people.tokens['admin']}",
            # logging out would revoke the token every later call sends
            "--exclude-path",
            "/api/v1/auth/logout",
            "--workers",
            "1",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
