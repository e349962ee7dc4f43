"""Settings: read once from CREWTRACK_* variables, typed, documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from crewtrack.settings import Settings, SettingsError, env_name, settings_table


def test_unset_variables_keep_their_documented_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_variables_are_parsed_into_the_declared_types() -> None:
    s = Settings.from_env(
        {
            "CREWTRACK_API_PORT": "9090",
            "CREWTRACK_LOG_JSON": "false",
            "CREWTRACK_SIMULATE_RATE_HZ": "1.5",
            "CREWTRACK_HOME": "/srv/ct",
        }
    )
    assert (s.api_port, s.log_json, s.simulate_rate_hz, s.home) == (
        9090,
        False,
        1.5,
        Path("/srv/ct"),
    )


def test_a_malformed_number_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CREWTRACK_API_PORT='eighty'"):
        Settings.from_env({"CREWTRACK_API_PORT": "eighty"})


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().api_port = 1  # type: ignore[misc]


def test_every_setting_has_a_reason() -> None:
    for f in dataclasses.fields(Settings):
        assert len(f.metadata.get("doc", "")) > 15, f.name


def test_as_env_round_trips() -> None:
    s = Settings(api_port=1234, log_json=False, simulate_devices=3)
    assert Settings.from_env(s.as_env()) == s


def test_the_readme_lists_every_setting() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [
        env_name(f.name)
        for f in dataclasses.fields(Settings)
        if f"`{env_name(f.name)}`" not in readme
    ]
    assert missing == [], (
        "README's configuration table lacks these; paste settings_table()"
    )
    assert settings_table().splitlines()[0] in readme


def test_an_unknown_company_time_zone_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="CREWTRACK_COMPANY_TIMEZONE"):
        Settings.from_env({"CREWTRACK_COMPANY_TIMEZONE": "Mars/Olympus_Mons"})


def test_the_company_time_zone_setting_names_the_zone_people_read_times_in() -> None:
    settings = Settings.from_env({"CREWTRACK_COMPANY_TIMEZONE": "America/Chicago"})
    assert settings.company_zone.key == "America/Chicago"
