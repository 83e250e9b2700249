"""Test harness: one fresh PostgreSQL database per test session, emptied before each test.

The database is the embedded PostgreSQL under var/ unless TEST_DATABASE_URL names another
server (CI also runs the suite against the machine's own PostgreSQL that way).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient
from tortoise import connections

from app import create_app
from domain import database, inventory
from domain.settings import PROJECT_ROOT, Settings

VAR = PROJECT_ROOT / "var"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return database.start_embedded(VAR, name="test-postgres")


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    url = database.fresh_database_url(server_url)
    await database.create_database(url, if_missing=False)
    await database.migrate(url)
    await database.init(url, pool_size=20)
    yield url
    await database.close()
    await database.drop_database(url)


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> None:
    """Empty every table before each test (not a rollback: concurrency tests need real
    commits on separate connections)."""
    if "database_url" not in request.fixturenames:
        return
    request.getfixturevalue("database_url")
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'tortoise_migrations'"
    )
    tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
    await conn.execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    inventory.forget_routes()  # ids start again at 1: cached routes would be someone else's


@pytest.fixture(autouse=True)
async def integrity_after_each_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """After every test that touched the database: no overlapping seats, no captured money
    without a booking or a refund, no hold with two bookings (tests/integrity.py). A test
    that breaks an invariant on purpose says so with `@pytest.mark.breaks_integrity`."""
    yield
    if "database_url" not in request.fixturenames:
        return
    if request.node.get_closest_marker("breaks_integrity"):
        return
    from tests.integrity import integrity_violations

    violations = await integrity_violations()
    assert not violations, f"integrity broken after the test: {violations}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    env = {"DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-" + "x" * 32}
    return Settings.from_env(env, var_dir=VAR / "test", **overrides)


@pytest.fixture
def db(database_url: str) -> str:
    """Request this in tests that touch the database without an app."""
    return database_url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    application = create_app(settings, manage_database=False, background_tasks=False)
    async with application.test_app() as test_app:
        yield test_app  # type: ignore[misc]


@pytest.fixture
def client(app: Quart) -> QuartClient:
    return app.test_client()


@dataclass
class AuthActions:
    """Drive the account pages the way a browser does (forms with the CSRF token)."""

    client: QuartClient

    async def csrf(self, path: str = "/users/login") -> str:
        response = await self.client.get(path)
        match = CSRF_RE.search(await response.get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    async def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> Any:
        token = await self.csrf()
        return await self.client.post(path, form={**data, "csrf_token": token}, **kwargs)

    async def register(
        self, email: str = "priya@example.com", password: str = "secret-pass-1", **fields: str
    ) -> Any:
        data = {
            "email": email,
            "password": password,
            "first_name": "Priya",
            "last_name": "Sharma",
            "phone_number": "+919876543210",
        } | fields
        return await self.post("/users/register", data)

    async def login(self, email: str = "priya@example.com", password: str = "secret-pass-1") -> Any:
        return await self.post("/users/login", {"email": email, "password": password})

    async def logout(self) -> Any:
        return await self.post("/users/logout", {})


@pytest.fixture
def auth(client: QuartClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture(scope="session")
def artifacts() -> Iterator[Path]:
    path = VAR / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    yield path
