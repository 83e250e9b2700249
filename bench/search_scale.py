"""Search as the timetable grows (issue 13, first step): the search statement, as it was
(day window written on `departure_at + offset`) and as it is (on `departure_at` itself), on
the demo grown to 1x, 10x and 100x its trips with a departed history (bench/growth.py),
back to back in one run: the rows of `schedules` each plan reads (EXPLAIN ANALYZE) and the
median and p99 time of each over repeated searches for tomorrow, Mumbai to Pune.

    uv run python bench/search_scale.py [--factors 1 10 100] [--rounds 200]

Statement level, in one process: the HTTP benchmark of search, trip page, hold and the
admin lists that issue 13 asks for (bench/scale.py) is not written yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
import asyncpg
import growth

from domain import catalogue, database
from domain.demo import seed_demo

IST = ZoneInfo("Asia/Kolkata")
# The statement before issue 13, for the A/B.
OLD_SEARCH_SQL = (
    catalogue.SEARCH_SQL.replace(
        "s.departure_at >= $3::timestamptz - make_interval(mins => o.minutes_from_origin)",
        "s.departure_at + make_interval(mins => o.minutes_from_origin) >= $3",
    )
    .replace(
        "s.departure_at < $4::timestamptz - make_interval(mins => o.minutes_from_origin)",
        "s.departure_at + make_interval(mins => o.minutes_from_origin) < $4",
    )
    .replace(
        "s.departure_at > $5::timestamptz - make_interval(mins => o.minutes_from_origin)",
        "s.departure_at + make_interval(mins => o.minutes_from_origin) > $5",
    )
)


def schedule_rows(plan: dict[str, Any]) -> int:
    """Rows of `schedules` the plan read (before its filters), over all its loops."""
    own = 0
    if plan.get("Relation Name") == "schedules":
        read = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
        own = int(read * plan.get("Actual Loops", 1))
    return own + sum(schedule_rows(child) for child in plan.get("Plans", []))


async def measure(
    conn: asyncpg.Connection, sql: str, params: list[Any], rounds: int
) -> dict[str, float]:
    raw = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *params)
    plan = json.loads(raw)[0]["Plan"]
    found = len(await conn.fetch(sql, *params))
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await conn.fetch(sql, *params)
        times.append(time.perf_counter() - started)
    return {
        "found": found,
        "rows": schedule_rows(plan),
        "p50": common.percentile(times, 50) * 1000,
        "p99": common.percentile(times, 99) * 1000,
    }


async def one_size(factor: int, rounds: int) -> dict[str, Any]:
    async with common.fresh_database(f"bench_search_{factor}x") as url:
        await database.migrate(url)
        await database.init(url)
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            await seed_demo(now, IST, currency="INR")
        finally:
            await database.close()
        conn = await asyncpg.connect(common.asyncpg_dsn(url))
        try:
            started = time.perf_counter()
            rows = await growth.grow(conn, factor, now=now)
            common.log(f"{factor}x grown in {time.perf_counter() - started:.1f} s: {rows}")
            mumbai = await conn.fetchval("SELECT id FROM cities WHERE name = 'Mumbai'")
            pune = await conn.fetchval("SELECT id FROM cities WHERE name = 'Pune'")
            day = (now.astimezone(IST) + timedelta(days=1)).date()
            start = datetime.combine(day, clock_time(0), IST)
            params = [mumbai, pune, start, start + timedelta(days=1), now]
            old = await measure(conn, OLD_SEARCH_SQL, params, rounds)
            new = await measure(conn, catalogue.SEARCH_SQL, params, rounds)
            return {"factor": factor, "rows": rows, "old": old, "new": new}
        finally:
            await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    results = [await one_size(f, args.rounds) for f in args.factors]
    base = results[0]
    print(
        "| size | schedules / schedule_seats / allocations | old: schedules rows read, "
        "p50 / p99 | new: rows read, p50 / p99 | new p50 vs its 1x |"
    )
    print("|---|---|---|---|---|")
    for r in results:
        n, o = r["new"], r["old"]
        print(
            f"| {r['factor']}x | {r['rows']['schedules']:,} / {r['rows']['schedule_seats']:,} / "
            f"{r['rows']['seat_allocations']:,} "
            f"| {o['rows']:,}, {o['p50']:.2f} / {o['p99']:.2f} ms "
            f"| {n['rows']:,}, {n['p50']:.2f} / {n['p99']:.2f} ms "
            f"| {n['p50'] / base['new']['p50']:.2f}x |"
        )
        assert n["found"] == o["found"], "the two statements must find the same trips"


if __name__ == "__main__":
    asyncio.run(main())
