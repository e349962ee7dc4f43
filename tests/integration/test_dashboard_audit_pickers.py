"""The audit page's pickers are given a page of options for what was typed.

Against the harness's PostgreSQL and Redis: the app is built with
``create_app`` and asked for each picker's options through Dash's own
endpoint, as the browser asks when the picker appears and as the dispatcher
types in it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg.types.json import Jsonb

from crewtrack.settings import Settings
from dashboard.pages.audit import layout
from dashboard.pickers import PICKER_OPTIONS
from jobs_domain.job import format_job_number
from tests.integration.dashboard_login import log_in
from tests.integration.test_dashboard_alerts import build_app  # noqa: F401

#: More of everything than a picker is given at a time.
MANY = PICKER_OPTIONS + 20


def _options(client: FlaskClient, picker: str, search: str | None, value: Any) -> Any:
    """What the browser is answered for ``picker``'s options."""
    response = client.post(
        "/_dash-update-component",
        json={
            "output": f"{picker}.options",
            "outputs": {"id": picker, "property": "options"},
            "inputs": [{"id": picker, "property": "search_value", "value": search}],
            "changedPropIds": [f"{picker}.search_value"],
            "state": [{"id": picker, "property": "value", "value": value}],
        },
    )
    assert response.status_code == 200, response.text
    options: list[dict[str, str]] = response.get_json()["response"][picker]["options"]
    return options


def _seed(dsn: str, tag: str) -> dict[str, list[tuple[str, str]]]:
    """``MANY`` technicians (each with a phone, a fenced job site and a closed
    session there), all named with ``tag``: each picker's (value, label)."""
    now = datetime.now(UTC)
    out: dict[str, list[tuple[str, str]]] = {
        k: [] for k in ("device", "tech", "site", "property", "session")
    }
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO clients (name) VALUES (%s) RETURNING id", (f"{tag} client",)
        ).fetchone()
        assert row is not None
        client = row[0]
        for i in range(MANY):
            name = f"{tag} {i:03d}"
            device = f"{tag}-{i:03d}"
            user = conn.execute(
                "INSERT INTO users (name, role) VALUES (%s, 'technician') RETURNING id",
                (name,),
            ).fetchone()
            assert user is not None
            tech = conn.execute(
                "INSERT INTO technicians (user_id, name) VALUES (%s, %s) RETURNING id",
                (user[0], name),
            ).fetchone()
            assert tech is not None
            conn.execute(
                "INSERT INTO devices (id, user_id, label, mqtt_password_hash) "
                "VALUES (%s, %s, %s, 'x')",
                (device, user[0], name),
            )
            prop = conn.execute(
                "INSERT INTO properties (client_id, address, lat, lon, geofence) "
                "VALUES (%s, %s, 48.1, 11.5, %s) RETURNING id",
                (client, Jsonb([f"{name} Street"]), Jsonb({"radius_m": 80})),
            ).fetchone()
            assert prop is not None
            job = conn.execute(
                "INSERT INTO jobs (id, number, status, client_id, property_id, doc, "
                "created_at, updated_at) VALUES (gen_random_uuid(), "
                "(SELECT coalesce(max(number), 0) + 1 FROM jobs), 'scheduled', %s, %s, "
                "'{}', now(), now()) RETURNING id::text, number",
                (client, prop[0]),
            ).fetchone()
            assert job is not None
            session = str(uuid.uuid4())
            clocked_in = now - timedelta(minutes=MANY - i)
            conn.execute(
                "INSERT INTO job_sessions (id, job_id, technician_id, device_id, "
                "state, clocked_in_at, clocked_out_at, intervals, evidence) VALUES "
                "(%s, %s, %s, %s, 'closed', %s, %s, '[]', '{}')",
                (session, job[0], tech[0], device, clocked_in, clocked_in),
            )
            number = format_job_number(job[1])
            out["device"].append((device, f"{name} ({device})"))
            out["tech"].append((str(tech[0]), name))
            out["site"].append((job[0], f"{number} · {name} Street"))
            out["property"].append((str(prop[0]), f"{tag} client · {name} Street"))
            out["session"].append((session, f"{number} · {name}"))
    return out


PICKERS = {
    "device": layout.AUDIT_DEVICE,
    "tech": layout.AUDIT_P_TECH,
    "site": layout.AUDIT_SITE,
    "property": layout.AUDIT_P_PROPERTY,
    "session": layout.AUDIT_SESSION,
}


@pytest.fixture
def seeded(settings: Settings, build_app: Any) -> tuple[FlaskClient, str, Any]:  # noqa: F811
    tag = f"Pick{uuid.uuid4().hex[:6]}"
    seeded = _seed(settings.database_url, tag)
    client = build_app(settings).server.test_client()
    log_in(client, settings.database_url)
    return client, tag, seeded


@pytest.mark.parametrize("kind", list(PICKERS))
def test_an_audit_picker_is_given_a_page_of_options_searched_on_the_server(
    seeded: tuple[FlaskClient, str, Any], kind: str
) -> None:
    client, tag, choices = seeded
    picker = PICKERS[kind]
    # when the page appears, nothing typed: a page of options, not every one
    assert 0 < len(_options(client, picker, None, None)) <= PICKER_OPTIONS
    # what is typed is searched among all of them, in any case
    typed = _options(client, picker, f"{tag.upper()} 0", None)
    theirs = [v for v, _ in choices[kind]]
    assert len(typed) == PICKER_OPTIONS
    assert {o["value"] for o in typed} <= set(theirs)
    assert [o["value"] for o in _options(client, picker, f"{tag} 067", None)] == [
        theirs[67]
    ]


@pytest.mark.parametrize("kind", list(PICKERS))
def test_the_chosen_value_keeps_its_label_whatever_is_typed(
    seeded: tuple[FlaskClient, str, Any], kind: str
) -> None:
    client, _tag, choices = seeded
    value, label = choices[kind][42]
    options = _options(client, PICKERS[kind], "nothing like it", value)
    assert [o["value"] for o in options] == [value]
    assert options[0]["label"].startswith(label)


def test_a_session_linked_from_the_map_stays_chosen_with_its_label(
    seeded: tuple[FlaskClient, str, Any],
) -> None:
    client, _tag, choices = seeded
    session, label = choices["session"][3]
    # ?session=<id>: the layout offers only the id; the picker's first answer
    # names it as people do, and keeps it chosen
    assert layout.audit_page(session, None) is not None
    (first, *_rest) = _options(client, layout.AUDIT_SESSION, None, session)
    assert first["value"] == session
    assert first["label"].startswith(label)
    assert json.dumps(first, ensure_ascii=False).count(session) == 1  # not its label
