"""docker-compose.yml: every variable is a real setting, ports and volumes line up.

There is no Docker engine on the build machines, so the file is checked here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    assert env["CREWTRACK_REDIS_URL"].startswith("redis://redis:6379")


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
