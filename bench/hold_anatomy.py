"""Where one hold's time goes: the SQL statements a POST /reservations (the website's
form) and a POST /api/v1/reservations/create (JSON, bearer token) run through the app
(in-process, Quart's test client, no network, one request at a time) next to the raw
transaction of bench/holds.py, with the time spent waiting on PostgreSQL and the time
spent in Python.

    uv run python bench/hold_anatomy.py [--holds 200]

Statements are counted by wrapping asyncpg's Connection.execute/_execute/executemany, so
they include what Tortoise and asyncpg's pool add (connection resets on release) but not
protocol-level prepares. A diagnostic to explain bench/holds.py, not a throughput test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import pstats
import random
import re
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
import asyncpg
from asyncpg.connection import Connection
from holds import Pick, RawConflict, pick, raw_hold

from domain import api_tokens, clock, database
from domain.accounts import SessionClaim
from domain.models import User


@dataclass
class Tally:
    statements: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    db_seconds: float = 0.0
    active: bool = False


TALLY = Tally()


def _shape(query: str) -> str:
    """A statement's kind and table, to group them: 'SELECT reservations'."""
    text = " ".join(query.split())
    if text.startswith("SELECT pg_advisory_unlock_all"):
        return "pool reset (pg_advisory_unlock_all; CLOSE ALL; UNLISTEN *; RESET ALL)"
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', text, re.IGNORECASE)
    if table is None:  # BEGIN, COMMIT, SET LOCAL, SELECT pg_notify(...)
        return text[:50]
    lock = " FOR UPDATE" if "FOR UPDATE" in text.upper() else ""
    return f"{text.split(' ', 1)[0].upper()} {table.group(1)}{lock}"


def instrument() -> None:
    """Count and time every statement any asyncpg connection of this process runs."""
    original_execute = Connection.execute
    original_inner = Connection._execute
    original_many = Connection.executemany

    async def execute(self: Connection, query: str, *args: Any, **kw: Any) -> Any:
        if args:  # goes through _execute, counted there
            return await original_execute(self, query, *args, **kw)
        return await _timed(query, original_execute(self, query, *args, **kw))

    async def inner(self: Connection, query: str, *args: Any, **kw: Any) -> Any:
        return await _timed(query, original_inner(self, query, *args, **kw))

    async def many(self: Connection, command: str, *args: Any, **kw: Any) -> Any:
        return await _timed(command, original_many(self, command, *args, **kw))

    Connection.execute = execute  # type: ignore[method-assign]
    Connection._execute = inner  # type: ignore[method-assign]
    Connection.executemany = many  # type: ignore[method-assign]


async def _timed(query: str, awaitable: Any) -> Any:
    began = time.perf_counter()
    try:
        return await awaitable
    finally:
        if TALLY.active:
            TALLY.calls += 1
            TALLY.db_seconds += time.perf_counter() - began
            TALLY.statements[_shape(query)] += 1


@contextmanager
def counting() -> Any:
    TALLY.statements.clear()
    TALLY.calls, TALLY.db_seconds, TALLY.active = 0, 0.0, True
    try:
        yield TALLY
    finally:
        TALLY.active = False


def show(title: str, holds: int, wall: float, tally: Tally) -> None:
    print(
        f"\n== {title}: {holds} holds, one at a time\n"
        f"  per hold: {tally.calls / holds:.1f} statements, {wall / holds * 1000:.2f} ms wall, "
        f"of which {tally.db_seconds / holds * 1000:.2f} ms awaiting asyncpg "
        f"and {(wall - tally.db_seconds) / holds * 1000:.2f} ms elsewhere (Python: web layer, "
        "ORM, templates)"
    )
    for shape, count in tally.statements.most_common():
        print(f"  {count / holds:6.2f} x  {shape}")


async def main(args: argparse.Namespace) -> int:
    from app import create_app
    from domain.demo import seed_demo
    from domain.settings import Settings

    instrument()
    async with common.fresh_database("busbook_bench_anatomy") as url:
        await database.migrate(url)
        settings = Settings.from_env(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": "bench-secret-" + "z" * 40,
                "MAX_HOLDS_PER_TRIP": "1000000",
                # all bench clients are 127.0.0.1: per-address limits off, login ones lifted
                "REGISTRATIONS_PER_IP_PER_HOUR": "1000000",
                "MAX_ACTIVE_HOLDS_PER_IP": "0",
                "MAX_HELD_SEATS_PER_IP_PER_TRIP": "0",
                "LOGIN_MAX_FAILURES_PER_IP": "1000000",
                "MAX_ACTIVE_HOLDS": "1000000",
                "HOLDS_PER_ACCOUNT_PER_HOUR": "1000000",
                "HOLDS_PER_IP_PER_HOUR": "0",
                "HOLD_MINUTES": "600",
            },
            var_dir=common.VAR / "app",
        )
        await database.init(url, pool_size=10)
        try:
            await seed_demo(clock.now(), settings.tz, currency=settings.currency)
            trips = await common.load_trips(url)
            # No background work in this process (the keyword changed name over time).
            quiet = {
                name: False
                for name in ("sweeper", "background_tasks")
                if name in inspect.signature(create_app).parameters
            }
            app = create_app(settings, manage_database=False, **quiet)
            async with app.test_app() as test_app:
                client = test_app.test_client()
                page = await client.get("/users/register")
                response = await client.post(
                    "/users/register",
                    form={
                        "csrf_token": common.csrf_from(await page.get_data(as_text=True)),
                        "email": "anatomy@bench.busbook.local",
                        "password": common.PASSWORD,
                        "first_name": "Bench",
                        "last_name": "Anatomy",
                        "phone_number": "+919876543210",
                    },
                )
                assert response.status_code == 303, response.status_code
                home = await client.get("/")
                csrf = common.csrf_from(await home.get_data(as_text=True))
                rng = random.Random(args.seed)

                async def app_hold(choice: Pick) -> int:
                    fields = [
                        ("csrf_token", csrf),
                        ("schedule_id", str(choice.trip.schedule_id)),
                        ("from_stop", str(choice.from_seq)),
                        ("to_stop", str(choice.to_seq)),
                    ] + [("seat_ids", str(s)) for s in choice.seat_ids]
                    response = await client.post(
                        "/reservations",
                        data=urlencode(fields).encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                    return response.status_code

                async def app_run(count: int) -> tuple[int, float, Counter[int]]:
                    statuses: Counter[int] = Counter()
                    began = time.perf_counter()
                    for _ in range(count):
                        statuses[await app_hold(pick(rng, trips))] += 1
                    return count, time.perf_counter() - began, statuses

                await app_run(20)  # warm-up: templates, prepared statements, pool
                cpu = time.process_time()
                with counting() as tally:
                    count, wall, statuses = await app_run(args.holds)
                cpu = time.process_time() - cpu
                show(f"app (POST /reservations, statuses {dict(statuses)})", count, wall, tally)
                print(
                    f"  CPU of this process (app + asyncpg + test client) per hold: "
                    f"{cpu / count * 1000:.2f} ms"
                )

                user = await User.get(email="anatomy@bench.busbook.local")
                bearer = {
                    "Authorization": "Bearer "
                    + api_tokens.issue_access_token(
                        user, secret=settings.secret_key, now=clock.now(), minutes=600
                    ).token
                }

                async def api_run(count: int) -> tuple[int, float, Counter[int]]:
                    statuses: Counter[int] = Counter()
                    began = time.perf_counter()
                    for _ in range(count):
                        choice = pick(rng, trips)
                        response = await client.post(
                            "/api/v1/reservations/create",
                            json={
                                "schedule_id": choice.trip.schedule_id,
                                "from_stop": choice.from_seq,
                                "to_stop": choice.to_seq,
                                "seat_ids": choice.seat_ids,
                            },
                            headers=bearer,
                        )
                        statuses[response.status_code] += 1
                    return count, time.perf_counter() - began, statuses

                await api_run(20)
                cpu = time.process_time()
                with counting() as tally:
                    count, wall, statuses = await api_run(args.holds)
                cpu = time.process_time() - cpu
                show(f"API (reservations/create, statuses {dict(statuses)})", count, wall, tally)
                print(
                    f"  CPU of this process (app + asyncpg + test client) per hold: "
                    f"{cpu / count * 1000:.2f} ms"
                )
                if args.profile:
                    profiler = cProfile.Profile(time.process_time)
                    profiler.enable()
                    await api_run(args.holds)
                    profiler.disable()
                    print(f"\n== cProfile (CPU time) of {args.holds} more API holds, top 25")
                    stats = pstats.Stats(profiler)
                    stats.sort_stats("tottime").print_stats(25)
                    print("== cumulative, top 45")
                    stats.sort_stats("cumulative").print_stats(45)
                if args.profile:
                    profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
                    profiler.enable()
                    await app_run(args.holds)
                    profiler.disable()
                    print(f"\n== cProfile (CPU time) of {args.holds} more app holds, top 25")
                    stats = pstats.Stats(profiler)
                    stats.sort_stats("tottime").print_stats(25)
                    print("== cumulative, top 45")
                    stats.sort_stats("cumulative").print_stats(45)
        finally:
            await database.close()

        conn = await asyncpg.connect(
            common.asyncpg_dsn(url), server_settings=dict(database.SERVER_SETTINGS)
        )
        try:
            row = await conn.fetchrow(
                "SELECT id, session_version FROM users WHERE email = 'anatomy@bench.busbook.local'"
            )
            claim = SessionClaim(row["id"], row["session_version"])

            async def raw_run(count: int) -> tuple[int, float, int]:
                conflicts = 0
                began = time.perf_counter()
                for _ in range(count):
                    try:
                        await raw_hold(conn, claim, pick(rng, trips), 600)
                    except RawConflict:
                        conflicts += 1
                return count, time.perf_counter() - began, conflicts

            await raw_run(20)
            with counting() as tally:
                count, wall, conflicts = await raw_run(args.holds)
            show(f"raw transaction ({conflicts} conflicts)", count, wall, tally)
        finally:
            await conn.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--holds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also cProfile the app holds")
    sys.exit(asyncio.run(main(parser.parse_args())))
