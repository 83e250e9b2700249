"""The hot statements are served by indexes at any size (issue 13): on the demo grown to 10x
its trips with a departed history (bench/growth.py), PostgreSQL's plan for each reads no
large table from end to end. Checked with EXPLAIN, not a timing: a sequential scan that is
fast on a small table is the one that grows with every trip ever run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bench import growth
from domain import catalogue, demo, inventory
from domain.models import City, Schedule

IST = ZoneInfo("Asia/Kolkata")
LARGE = frozenset(
    {"schedules", "schedule_seats", "seat_allocations", "reservations", "bookings", "activity_logs"}
)
FACTOR = 10


@pytest.fixture
async def grown(database_url: str) -> AsyncIterator[tuple[asyncpg.Connection, datetime]]:
    now = datetime.now(UTC).replace(microsecond=0)
    await demo.seed_demo(now, IST, currency="INR")
    conn = await asyncpg.connect(database_url)
    try:
        rows = await growth.grow(conn, FACTOR, now=now)
        assert rows["schedules"] >= 9 * 238 and rows["seat_allocations"] > 30_000, rows
        yield conn, now
    finally:
        await conn.close()


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


async def full_scans(conn: asyncpg.Connection, sql: str, *params: object) -> list[str]:
    """The large tables the plan of `sql` reads from end to end."""
    raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params)
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return sorted(
        n["Relation Name"]
        for n in nodes(plan)
        if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in LARGE
    )


async def schedule_index_conditions(
    conn: asyncpg.Connection, sql: str, *params: object
) -> list[str]:
    """The index conditions under which the plan of `sql` reads `schedules`."""
    raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params)
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return [
        n.get("Index Cond", "")
        for n in nodes(plan)
        if n.get("Index Name", "").startswith(("schedules_", "idx_schedules_"))
    ]


async def test_search_reads_only_the_trips_leaving_in_the_window(grown):
    conn, now = grown
    mumbai, pune = await City.get(name="Mumbai"), await City.get(name="Pune")
    day = (now.astimezone(IST) + timedelta(days=1)).date()
    start = datetime.combine(day, time(0), IST)
    search = (catalogue.SEARCH_SQL, mumbai.id, pune.id, start, start + timedelta(days=1), now)
    assert await full_scans(conn, *search) == []
    # ... and reads the trips by departure, not every trip of the route then a filter
    conditions = await schedule_index_conditions(conn, *search)
    assert conditions and all("departure_at" in c for c in conditions), conditions
    assert await conn.fetch(*search)  # the plan is for a search that finds trips
    # When nothing matches: the sales horizon and the nearest days, future trips only.
    sales = (catalogue.SALES_SQL, mumbai.id, pune.id, now, IST.key, day, None, None, None)
    assert await full_scans(conn, *sales) == []
    conditions = await schedule_index_conditions(conn, *sales)
    assert conditions and all("departure_at" in c for c in conditions), conditions


async def test_a_trip_page_reads_only_its_own_seats_and_live_allocations(grown):
    conn, now = grown
    trip = await Schedule.filter(departure_at__gt=now).order_by("departure_at").first()
    assert trip is not None
    assert await full_scans(conn, inventory.SEAT_STATE_SQL, trip.id) == []
    past = await Schedule.filter(departure_at__lt=now).order_by("-departure_at").first()
    assert past is not None
    assert await full_scans(conn, inventory.SEAT_STATE_SQL, past.id) == []
