"""API test fixtures: the app on a real server over the test's own database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from api.app import init_app
from crewtrack.settings import Settings
from storage.users import create_user, issue_token


@dataclass
class People:
    """One user per role, plus two technicians with technician records."""

    tokens: dict[str, str]
    technician_ids: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def seed_people(db_url: str) -> People:
    tokens: dict[str, str] = {}
    technician_ids: dict[str, str] = {}
    with psycopg.connect(db_url) as conn:
        for who, role in [
            ("admin", "admin"),
            ("dispatcher", "dispatcher"),
            ("billing", "billing"),
            ("tess", "technician"),
            ("alex", "technician"),
            ("sam", "technician"),
        ]:
            user = create_user(conn, who.title(), role, email=f"{who}@example.test")
            tokens[who] = issue_token(conn, user.id, "test")
            if role == "technician":
                row = conn.execute(
                    "INSERT INTO technicians (user_id, name, hourly_cost) "
                    "VALUES (%s, %s, 40) RETURNING id",
                    (user.id, who.title()),
                ).fetchone()
                assert row is not None
                technician_ids[who] = str(row[0])
    return People(tokens, technician_ids)


@pytest.fixture
def people(db_url: str) -> People:
    return seed_people(db_url)


ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, settings: Settings
) -> TestClient[Any, Any]:
    return await aiohttp_client(init_app(settings))
