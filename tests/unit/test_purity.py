"""The pure middle (jobs_domain, core) imports no adapter library."""

from __future__ import annotations

import json
import subprocess
import sys

ADAPTER_LIBRARIES = ("psycopg", "redis", "paho", "aiohttp", "dash", "flask", "stripe")


def test_importing_the_domain_and_core_loads_no_adapter_library() -> None:
    import_all = (
        "import importlib, pkgutil, json, sys\n"
        "import jobs_domain, core\n"
        "for pkg in (jobs_domain, core):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", import_all], capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout)
    offenders = [m for m in loaded if m.split(".")[0] in ADAPTER_LIBRARIES]
    assert offenders == []
