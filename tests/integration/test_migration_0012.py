"""Migration 0012 makes the refresh token and API key tables, and its way back removes them
(then forwards again works). Each step runs in its own process: migrating initialises and
closes Tortoise, which would take the test session's own connections with it."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import pytest

from domain import database

BEFORE = "busbook.0011_idempotency_keys"
TABLES = {"refresh_tokens", "api_keys"}


def migrate(url: str, target: str | None = None) -> subprocess.CompletedProcess[str]:
    code = (
        "import asyncio, sys\n"
        "from domain import database\n"
        "asyncio.run(database.migrate(sys.argv[1], target=sys.argv[2] or None))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, url, target or ""],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
async def blank_database(server_url: str):
    url = database.fresh_database_url(server_url, "busbook_migration")
    await database.create_database(url, if_missing=False)
    try:
        yield url
    finally:
        await database.drop_database(url)


async def tables_and_indexes(url: str) -> tuple[set[str], set[str]]:
    conn = await asyncpg.connect(database.asyncpg_dsn(url))
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        indexes = {
            r["indexname"]
            for r in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            )
        }
        return tables, indexes
    finally:
        await conn.close()


async def test_the_tables_come_and_go(blank_database: str) -> None:
    url = blank_database
    done = await asyncio.to_thread(migrate, url)
    assert done.returncode == 0, done.stderr
    tables, indexes = await tables_and_indexes(url)
    assert tables >= TABLES
    assert {"refresh_tokens_family", "refresh_tokens_open_by_user"} <= indexes

    back = await asyncio.to_thread(migrate, url, BEFORE)
    assert back.returncode == 0, back.stderr
    tables, indexes = await tables_and_indexes(url)
    assert not tables & TABLES and "refresh_tokens_family" not in indexes
    assert "users" in tables

    again = await asyncio.to_thread(migrate, url)
    assert again.returncode == 0, again.stderr
    assert (await tables_and_indexes(url))[0] >= TABLES
