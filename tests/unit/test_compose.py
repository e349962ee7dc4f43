"""docker-compose.yml: every variable is a real setting, ports and volumes line up.

There is no Docker engine on the build machines, so the file is checked here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import pytest
import yaml

from crewtrack.cli import build_parser
from crewtrack.settings import Settings, setting_names

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _crewtrack_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if svc.get("image") == "crewtrack:latest"
    }


def test_every_crewtrack_variable_names_a_real_setting(compose: dict[str, Any]) -> None:
    known = setting_names()
    for name, svc in compose["services"].items():
        for key in svc.get("environment") or {}:
            if key.startswith("CREWTRACK_"):
                assert key in known, f"{name}: {key} is not a setting"


def test_every_crewtrack_service_runs_a_real_command(compose: dict[str, Any]) -> None:
    parser = build_parser()
    for name, svc in _crewtrack_services(compose).items():
        argv = list(svc.get("entrypoint", ["crewtrack"])[1:]) + list(
            svc.get("command", [])
        )
        if name == "admin":
            argv += ["list-devices"]
        args, unknown = parser.parse_known_args(argv)
        assert callable(args.handler), name
        assert unknown == [] or getattr(args, "passes_unknown", False), name


def test_published_ports_match_the_configured_ports(compose: dict[str, Any]) -> None:
    svc = compose["services"]
    for name, setting in (
        ("api", "CREWTRACK_API_PORT"),
        ("dashboard", "CREWTRACK_DASHBOARD_PORT"),
    ):
        configured = svc[name]["environment"][setting]
        container_ports = [p.split(":")[1] for p in svc[name]["ports"]]
        assert configured in container_ports, name
    env = svc["ingest"]["environment"]
    mqtt_port = env["CREWTRACK_MQTT_PORT"]
    assert any(p.endswith(f":{mqtt_port}") for p in svc["mosquitto"]["ports"])
    assert env["CREWTRACK_MQTT_HOST"] == "mosquitto"
    assert "timescaledb:5432" in env["CREWTRACK_DATABASE_URL"]
    redis_url = _split(env["CREWTRACK_REDIS_URL"])
    assert (redis_url.scheme, redis_url.hostname, redis_url.port) == (
        "redis",
        "redis",
        6379,
    )


def test_published_host_ports_are_the_same_as_make_run(compose: dict[str, Any]) -> None:
    defaults = Settings()
    svc = compose["services"]
    assert svc["timescaledb"]["ports"] == [
        f"{defaults.database_url.split(':')[-1].split('/')[0]}:5432"
    ]
    assert svc["redis"]["ports"] == [
        f"{defaults.redis_url.split(':')[-1].split('/')[0]}:6379"
    ]
    assert svc["mosquitto"]["ports"] == [f"{defaults.mqtt_port}:1883"]
    assert svc["api"]["ports"] == [f"{defaults.api_port}:8080"]


def test_named_volumes_are_declared_and_bind_mounts_exist(
    compose: dict[str, Any],
) -> None:
    declared = set(compose["volumes"])
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} missing"
            else:
                assert source in declared, f"{name}: volume {source} not declared"
            assert target.startswith("/")


def test_the_broker_reads_the_files_that_broker_files_writes(
    compose: dict[str, Any],
) -> None:
    svc = compose["services"]
    out_dir = svc["broker-files"]["command"][-1]
    volume = next(
        v for v in svc["broker-files"]["volumes"] if v.endswith(f":{out_dir}")
    )
    mount = next(
        v.split(":")[1]
        for v in svc["mosquitto"]["volumes"]
        if v.startswith(volume.split(":")[0] + ":")
    )
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    assert f"password_file {mount}/passwd" in conf
    assert f"acl_file {mount}/acl" in conf
    assert "max_queued_messages 1000000" in conf


REFERENCE = r"\$\{([A-Z_]+):\?[^}]+\}"


def _split(url: str) -> SplitResult:
    """``urlsplit`` of a URL holding ``${VAR:?why}`` references (kept as ``$VAR``:
    the ``?`` of the reference would start the URL's query)."""
    return urlsplit(re.sub(REFERENCE, r"$\1", url))


def _required_variable(value: str) -> str:
    """The variable a value requires from .env (``${VAR:?why}``), else fail."""
    match = re.fullmatch(REFERENCE, value) or re.fullmatch(r"\$([A-Z_]+)", value)
    assert match is not None, f"{value!r} is not a required ${{VAR:?…}} reference"
    return match.group(1)


def test_no_password_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    svc = compose["services"]
    env = compose["x-crewtrack-env"]
    db = _split(env["CREWTRACK_DATABASE_URL"])
    redis_url = _split(env["CREWTRACK_REDIS_URL"])
    db_var = _required_variable(db.password or "")
    redis_var = _required_variable(redis_url.password or "")
    assert db_var == _required_variable(
        svc["timescaledb"]["environment"]["POSTGRES_PASSWORD"]
    )
    assert redis_var == _required_variable(
        svc["redis"]["environment"]["REDIS_PASSWORD"]
    )
    _required_variable(env["CREWTRACK_MQTT_PASSWORD"])
    _required_variable(svc["dashboard"]["environment"]["CREWTRACK_DASHBOARD_SECRET"])
    # Redis reads the password from a config file, not from its argv (`ps`).
    command = " ".join(svc["redis"]["command"])
    assert "--requirepass" not in command
    assert "requirepass" in command
    assert "redis-server /tmp/redis.conf" in command
    # Every variable the file requires is made by the documented one-liner.
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    one_liner = text.split("for v in", 1)[1].split("; do", 1)[0]
    assert required == set(one_liner.replace("#", " ").replace("\\", " ").split())
