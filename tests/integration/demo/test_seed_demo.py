"""`crewtrack seed-demo`: a believable company, created once, through the services.

Runs against the test's own migrated database (real PostgreSQL + TimescaleDB).
"""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from crewtrack.cli import main as cli
from crewtrack.demo.seed import fleet_path, logins_path, seed_demo
from crewtrack.settings import Settings
from storage.users import ROLES

COUNTED = {
    "users": "SELECT count(*) FROM users",
    "technicians": "SELECT count(*) FROM technicians",
    "devices": "SELECT count(*) FROM devices",
    "clients": "SELECT count(*) FROM clients",
    "properties": "SELECT count(*) FROM properties",
    "families": "SELECT count(*) FROM price_book_families",
    "items": "SELECT count(*) FROM price_book_items",
    "templates": "SELECT count(*) FROM report_templates",
    "depots": "SELECT count(*) FROM depots",
    "serial_units": "SELECT count(*) FROM serial_units",
    "jobs": "SELECT count(*) FROM jobs",
    "sessions": "SELECT count(*) FROM job_sessions",
    "job_parts": "SELECT count(*) FROM job_parts",
    "reserves": "SELECT count(*) FROM report_alerts",
}
# a Monday morning in Munich: 10:40 local
MORNING = datetime(2026, 12, 7, 9, 40, tzinfo=UTC)


def counts(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        return {
            kind: int(conn.execute(query).fetchone()[0])  # type: ignore[index]
            for kind, query in COUNTED.items()
        }


def rows(db_url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(query, args).fetchall()


def test_seeding_twice_creates_nothing_the_second_time(settings: Settings) -> None:
    first = seed_demo(settings, now=MORNING)
    after_one = counts(settings.database_url)
    second = seed_demo(settings, now=MORNING + timedelta(minutes=5))
    assert counts(settings.database_url) == after_one
    assert second.created == {}
    assert second.new_logins == []
    assert first.new_logins
    assert len(first.days_planned) == 2


def test_the_company_has_every_kind_of_thing_with_its_rules(settings: Settings) -> None:
    seed_demo(settings, now=MORNING)
    n = counts(settings.database_url)
    assert n["clients"] >= 12
    assert n["technicians"] == 8
    assert n["devices"] == 8
    assert n["families"] >= 4
    assert n["depots"] >= 2
    assert n["templates"] >= 2
    db = settings.database_url

    polygons = rows(db, "SELECT count(*) FROM properties WHERE geofence ? 'polygon'")
    circles = rows(db, "SELECT count(*) FROM properties WHERE geofence ? 'radius_m'")
    assert polygons[0][0] >= 4
    assert circles[0][0] > polygons[0][0]
    # spread over the town: the sites span several kilometres each way
    ((lat_span, lon_span),) = rows(
        db, "SELECT max(lat) - min(lat), max(lon) - min(lon) FROM properties"
    )
    assert lat_span * 111 > 5
    assert lon_span * 74 > 5

    roles = {r[0] for r in rows(db, "SELECT DISTINCT role FROM users")}
    assert roles == set(ROLES)
    mandatory = rows(
        db,
        "SELECT t.name, count(*) FROM report_templates t, "
        "jsonb_path_query(t.body, '$.families[*].fields[*] ? (@.mandatory == true)') f "
        "GROUP BY t.name",
    )
    assert len(mandatory) >= 2
    assert all(count >= 2 for _, count in mandatory)
    serial_depots = rows(
        db,
        "SELECT count(DISTINCT depot_id) FROM serial_units WHERE location_kind = 'depot'",
    )
    assert serial_depots[0][0] >= 2
    teams = rows(db, "SELECT count(DISTINCT team) FROM technicians WHERE team <> ''")
    assert 2 <= teams[0][0] <= 3
    phones = rows(
        db,
        "SELECT count(*) FROM devices d JOIN technicians t ON t.user_id = d.user_id",
    )
    assert phones[0][0] == 8


def test_today_is_under_way_and_tomorrow_is_booked(settings: Settings) -> None:
    seed_demo(settings, now=MORNING)
    db = settings.database_url
    status = dict(rows(db, "SELECT status, count(*) FROM jobs GROUP BY status"))
    assert status["completed"] >= 4  # history: done earlier today
    assert status["in_progress"] >= 1
    assert status["on_hold"] == 1
    assert status["pending"] >= 2  # unassigned
    assert status["scheduled"] >= 16
    per_tech_day = rows(
        db,
        "SELECT t, (scheduled_start AT TIME ZONE 'Europe/Berlin')::date, count(*) "
        "FROM jobs, unnest(technician_ids) t GROUP BY 1, 2",
    )
    assert len(per_tech_day) == 16  # 8 technicians, today and tomorrow
    assert all(3 <= count <= 5 for _, _, count in per_tech_day)
    # completed history jobs: report filled, a part used, a session with a phone
    done = rows(
        db,
        "SELECT j.id, (SELECT count(*) FROM job_parts p WHERE p.job_id = j.id), "
        "(SELECT count(*) FROM job_sessions s WHERE s.job_id = j.id "
        " AND s.device_id IS NOT NULL AND s.clocked_out_at < %s) "
        "FROM jobs j WHERE j.status = 'completed'",
        MORNING,
    )
    assert done
    assert all(p >= 1 and s == 1 for _, p, s in done)
    assert counts(db)["reserves"] >= 1


def test_a_new_day_extends_the_schedule_and_catches_up(settings: Settings) -> None:
    seed_demo(settings, now=MORNING)
    before = counts(settings.database_url)
    later = seed_demo(settings, now=MORNING + timedelta(days=1, hours=5))
    after = counts(settings.database_url)
    assert later.days_planned == ["2026-12-09"]
    assert after["jobs"] > before["jobs"]
    assert after["users"] == before["users"]
    assert later.lived_as_history > 0  # the morning of the 8th went by


def test_logins_are_printed_once_and_kept_owner_only(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    assert cli(["seed-demo"]) == 0
    first = capsys.readouterr().out
    logins = json.loads(logins_path(settings).read_text())
    assert {v["role"] for v in logins.values()} == {
        "admin",
        "dispatcher",
        "billing",
        "technician",
    }
    for email, login in logins.items():
        assert f"{email} / {login['password']}" in first
    for path in (logins_path(settings), fleet_path(settings)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cli(["seed-demo"]) == 0
    again = capsys.readouterr().out
    assert not any(login["password"] in again for login in logins.values())
