"""The packages depend one way: domain ← storage ← services ← adapters ← composition root.

Read top-down, ``jobs_domain`` and ``core`` are pure; ``storage`` persists them;
``services`` hold the use cases; ``ingest``, ``derive``, ``api`` and ``dashboard``
are the adapters that call them; ``crewtrack`` composes everything. This walks
every import statement of every module (also imports inside functions) and
names each one that runs back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DOMAIN = {"jobs_domain", "core"}
ADAPTERS = {"ingest", "derive", "api", "dashboard", "delivery"}
WEB = {"aiohttp", "dash", "flask"}

# package -> the project packages and libraries it must not import
FORBIDDEN: dict[str, set[str]] = {
    "jobs_domain": {"storage", "services", *ADAPTERS, "crewtrack"},
    "core": {"jobs_domain", "storage", "services", *ADAPTERS, "crewtrack"},
    "storage": {"services", *ADAPTERS, *WEB, "paho"},
    "services": {*ADAPTERS, *WEB, "paho"},
    "ingest": {"services", "derive", "api", "dashboard", "delivery", "dash", "flask"},
    "derive": {"services", "ingest", "api", "dashboard", *WEB, "paho"},
    "api": {"derive", "dashboard", "dash", "flask"},
    "dashboard": {"derive", "ingest", "api", "aiohttp", "paho"},
    # invoice delivery (PDF, SMTP, Stripe): the API and the dashboard both send with it
    "delivery": {"derive", "ingest", "api", "dashboard", *WEB, "paho"},
}
# The composition root is imported by nobody but itself, except its leaf
# settings module, which every adapter may read.
ROOT_PACKAGE = "crewtrack"
ROOT_LEAVES = {"crewtrack.settings"}


def imports_of(root: Path, path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports: (line, dotted name), relative imports resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base))
            if base == ROOT_PACKAGE:  # ``from crewtrack import runner``: the module
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return sorted(found)


def violations(root: Path = ROOT) -> list[str]:
    """Each import in ``root``'s packages that runs back up, as ``file:line imports …``."""
    found: list[str] = []
    for package in [*FORBIDDEN, ROOT_PACKAGE]:
        for path in sorted((root / package).rglob("*.py")):
            where = path.relative_to(root)
            for line, name in imports_of(root, path):
                top = name.split(".")[0]
                if top in FORBIDDEN.get(package, set()):
                    found.append(f"{where}:{line} imports {name}")
                elif (
                    top == ROOT_PACKAGE
                    and package != ROOT_PACKAGE
                    and name != ROOT_PACKAGE
                    and not any(
                        name == leaf or name.startswith(leaf + ".")
                        for leaf in ROOT_LEAVES
                    )
                ):
                    found.append(f"{where}:{line} imports the composition root: {name}")
    return found


def test_no_import_runs_back_up_the_layers() -> None:
    assert violations() == []


def test_the_walk_sees_imports_inside_functions_and_relative_ones(
    tmp_path: Path,
) -> None:
    # the checker itself must be able to fail: a tree with the imports it forbids
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "probe.py").write_text(
        "def f():\n    from ingest import pipeline\n    import aiohttp.web\n"
        "from . import jobs\nfrom crewtrack import runner, settings\n"
    )
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "dashboard" / "page.py").write_text(
        "from derive.worker import run\nfrom crewtrack.settings import Settings\n"
    )
    assert violations(tmp_path) == [
        "storage/probe.py:2 imports ingest",
        "storage/probe.py:3 imports aiohttp.web",
        "storage/probe.py:5 imports the composition root: crewtrack.runner",
        "dashboard/page.py:1 imports derive.worker",
    ]
