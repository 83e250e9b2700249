"""Hold throughput: N customers holding seats over HTTP against `busbook serve --workers 2`,
first through the website's form (POST /reservations), then through the JSON API (POST
/api/v1/reservations/create with a bearer token), and, in the same run and on the same
database, the same hold transaction issued straight through asyncpg (the raw ceiling: no
web layer, no ORM).

    uv run python bench/holds.py [--clients 32] [--seconds 20] [--trips 0]

Each client loops: pick a random trip of the demo timetable, a random segment of it and 1-2
random seats, POST /reservations on its own keep-alive connection (a lean asyncio client,
so that the load generator leaves the cores to the server; redirects not followed: 303 =
held, 409 = conflict, any other answer or a transport error = error). The API phase sends
the same picks as JSON (201 = held, 409 = conflict), each customer with its own access
token, no cookie and no Origin, as a mobile app or a script does. Seats are kept
available by a janitor that ends every hold but the newest --keep ones once per 0.2 s with
one SQL statement, in both phases alike; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
import asyncpg
import httpx

from domain import api_tokens, attempts, database, holds
from domain.accounts import SessionClaim
from domain.inventory import Segment

TARGET_RATIO = 0.5
TARGET_API_RATIO = 0.6  # API >= 0.6 x raw, and >= the website's form
API_HOLDS = "/api/v1/reservations/create"
# Every bench client is one account doing hundreds of holds a minute: the per-account hold
# limit is lifted but still counted (its statement is part of every hold, in the raw
# phase too); the per-address one is off, as all clients are 127.0.0.1.
HOLDS_PER_ACCOUNT = 1_000_000
TARGET_P99 = 0.100
PRETIX_REFERENCE = 55.0
GOAL_HOLDS = 550.0
JANITOR_INTERVAL = 0.2


@dataclass
class Stats:
    held: int = 0
    conflicts: int = 0
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    latency: list[float] = field(default_factory=list)
    latency_held: list[float] = field(default_factory=list)
    latency_conflict: list[float] = field(default_factory=list)
    seats_held: int = 0
    elapsed: float = 0.0
    recycled: int = 0

    def add(self, other: Stats) -> None:
        self.held += other.held
        self.conflicts += other.conflicts
        self.errors += other.errors
        self.error_kinds.update(other.error_kinds)
        self.latency += other.latency
        self.latency_held += other.latency_held
        self.latency_conflict += other.latency_conflict
        self.seats_held += other.seats_held

    def rate(self, count: int) -> float:
        return count / self.elapsed if self.elapsed else math.nan

    def report(self, name: str) -> dict[str, object]:
        return {
            "phase": name,
            "seconds": round(self.elapsed, 2),
            "requests": len(self.latency),
            "holds": self.held,
            "holds_per_s": round(self.rate(self.held), 1),
            "seats_per_s": round(self.rate(self.seats_held), 1),
            "conflicts": self.conflicts,
            "conflicts_per_s": round(self.rate(self.conflicts), 1),
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "p50_ms": round(common.percentile(self.latency, 50) * 1000, 1),
            "p90_ms": round(common.percentile(self.latency, 90) * 1000, 1),
            "p99_ms": round(common.percentile(self.latency, 99) * 1000, 1),
            "max_ms": round(max(self.latency, default=math.nan) * 1000, 1),
            "held_p50_ms": round(common.percentile(self.latency_held, 50) * 1000, 1),
            "held_p99_ms": round(common.percentile(self.latency_held, 99) * 1000, 1),
            "conflict_p50_ms": round(common.percentile(self.latency_conflict, 50) * 1000, 1),
            "conflict_p99_ms": round(common.percentile(self.latency_conflict, 99) * 1000, 1),
            "recycled_holds": self.recycled,
        }


@dataclass(frozen=True)
class Pick:
    trip: common.Trip
    from_seq: int
    to_seq: int
    seat_ids: list[int]


def pick(rng: random.Random, trips: list[common.Trip]) -> Pick:
    trip = rng.choice(trips)
    from_seq = rng.randrange(trip.last_seq)
    to_seq = rng.randrange(from_seq + 1, trip.last_seq + 1)
    seats = rng.sample(trip.seat_ids, rng.choice((1, 2)))
    return Pick(trip, from_seq, to_seq, seats)


# ---------------------------------------------------------------------------- janitor

# Ends every active hold but the newest `keep` (by id): the seats go back to the pool, so
# the share of taken seats stays the same whatever the throughput. Plain SQL, not the app's
# cancel: no audit row and no seat event, and the same for both phases.
JANITOR_SQL = """
WITH cutoff AS (SELECT max(id) - $1 AS id FROM reservations),
ended AS (
    UPDATE reservations r SET status = 'cancelled', ended_at = now()
    FROM cutoff
    WHERE r.status = 'active' AND r.id <= cutoff.id
    RETURNING r.id
), released AS (
    UPDATE seat_allocations a SET active = false, released_at = now()
    FROM ended
    WHERE a.reservation_id = ended.id AND a.active
    RETURNING a.id
)
SELECT (SELECT count(*) FROM ended) AS holds, (SELECT count(*) FROM released) AS seats
"""


async def janitor(dsn: str, keep: int, stop: asyncio.Event, counter: list[int]) -> None:
    if keep <= 0:
        return
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            row = await conn.fetchrow(JANITOR_SQL, keep)
            counter[0] += row["holds"]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), JANITOR_INTERVAL)
    finally:
        await conn.close()


async def reset_holds(dsn: str) -> None:
    """End every hold and tidy the hot tables up, so that both phases start alike: fresh
    planner statistics (a just-seeded database has none until autovacuum gets to it) and
    no dead rows."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.fetchrow(JANITOR_SQL, 0)
        await conn.execute(
            "VACUUM ANALYZE reservations, seat_allocations, activity_logs, users, schedules,"
            " schedule_seats, seats"
        )
    finally:
        await conn.close()


async def session_versions(dsn: str, user_ids: list[int]) -> list[tuple[int, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT id, session_version FROM users WHERE id = ANY($1::int[])", user_ids
        )
    finally:
        await conn.close()
    versions = {row["id"]: row["session_version"] for row in rows}
    return [(user_id, versions[user_id]) for user_id in user_ids]


# -------------------------------------------------------------------------- app phase


async def http_client_loop(
    http: common.LeanHttp,
    customer: common.Customer,
    trips: list[common.Trip],
    rng: random.Random,
    start: float,
    deadline: float,
) -> Stats:
    stats = Stats()
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    while time.perf_counter() < deadline:
        choice = pick(rng, trips)
        body = urlencode(
            [
                ("csrf_token", customer.csrf),
                ("schedule_id", choice.trip.schedule_id),
                ("from_stop", choice.from_seq),
                ("to_stop", choice.to_seq),
                *(("seat_ids", s) for s in choice.seat_ids),
            ]
        ).encode()
        began = time.perf_counter()
        try:
            status, headers = await asyncio.wait_for(http.post("/reservations", body), 10)
            location = headers.get("location", "")
        except (OSError, TimeoutError, asyncio.IncompleteReadError, RuntimeError) as exc:
            await http.close()
            status, location = 0, type(exc).__name__
        took = time.perf_counter() - began
        stats.latency.append(took)
        if status == 303 and "/reservations/" in location:
            stats.held += 1
            stats.seats_held += len(choice.seat_ids)
            stats.latency_held.append(took)
        elif status == 409:
            stats.conflicts += 1
            stats.latency_conflict.append(took)
        else:
            stats.errors += 1
            stats.error_kinds[f"HTTP {status}" if status else location] += 1
    return stats


async def run_http(
    base: str,
    customers: list[common.Customer],
    trips: list[common.Trip],
    seconds: float,
    seed: int,
) -> Stats:
    connections = [common.LeanHttp.signed_in_as(c, base) for c in customers]
    start = time.perf_counter() + 0.05
    deadline = start + seconds
    try:
        results = await asyncio.gather(
            *(
                http_client_loop(http, c, trips, random.Random(seed * 1000 + i), start, deadline)
                for i, (http, c) in enumerate(zip(connections, customers, strict=True))
            )
        )
    finally:
        await asyncio.gather(*(http.close() for http in connections))
    total = Stats()
    for result in results:
        total.add(result)
    total.elapsed = time.perf_counter() - start
    return total


# -------------------------------------------------------------------------- API phase


def access_tokens(user_versions: list[tuple[int, int]], minutes: int) -> list[str]:
    """One access token per customer, issued by the domain with the server's secret, as
    POST /api/v1/users/login issues it (the login itself is not what is measured)."""
    now = datetime.now(UTC)
    return [
        api_tokens.issue_access_token(
            SimpleNamespace(id=user_id, session_version=version),  # type: ignore[arg-type]
            secret=common.SECRET_KEY,
            now=now,
            minutes=minutes,
        ).token
        for user_id, version in user_versions
    ]


async def api_client_loop(
    http: common.LeanHttp,
    trips: list[common.Trip],
    rng: random.Random,
    start: float,
    deadline: float,
) -> Stats:
    stats = Stats()
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    while time.perf_counter() < deadline:
        choice = pick(rng, trips)
        body = json.dumps(
            {
                "schedule_id": choice.trip.schedule_id,
                "from_stop": choice.from_seq,
                "to_stop": choice.to_seq,
                "seat_ids": choice.seat_ids,
            }
        ).encode()
        began = time.perf_counter()
        try:
            status, _ = await asyncio.wait_for(http.post(API_HOLDS, body), 10)
            failure = ""
        except (OSError, TimeoutError, asyncio.IncompleteReadError, RuntimeError) as exc:
            await http.close()
            status, failure = 0, type(exc).__name__
        took = time.perf_counter() - began
        stats.latency.append(took)
        if status == 201 and b'"rsv_' in http.body:
            stats.held += 1
            stats.seats_held += len(choice.seat_ids)
            stats.latency_held.append(took)
        elif status == 409:
            stats.conflicts += 1
            stats.latency_conflict.append(took)
        else:
            stats.errors += 1
            kind = f"HTTP {status}" if status else failure
            if status and len(stats.error_kinds) < 5 and kind not in stats.error_kinds:
                kind += f" {http.body[:160]!r}"  # the first answer of each kind, to tell why
            stats.error_kinds[kind] += 1
    return stats


async def run_api(
    base: str, tokens: list[str], trips: list[common.Trip], seconds: float, seed: int
) -> Stats:
    connections = [common.LeanHttp.with_token(base, token) for token in tokens]
    start = time.perf_counter() + 0.05
    deadline = start + seconds
    try:
        results = await asyncio.gather(
            *(
                api_client_loop(http, trips, random.Random(seed * 1000 + i), start, deadline)
                for i, http in enumerate(connections)
            )
        )
    finally:
        await asyncio.gather(*(http.close() for http in connections))
    total = Stats()
    for result in results:
        total.add(result)
    total.elapsed = time.perf_counter() - start
    return total


# -------------------------------------------------------------------------- raw phase


class RawConflict(Exception):
    pass


async def raw_hold(
    conn: asyncpg.Connection, claim: SessionClaim, choice: Pick, hold_minutes: float
) -> None:
    """The app's hold transaction, statement for statement (the SQL is domain.holds'),
    minus the ORM, the route cache and the web layer. Like the app, its first statement
    checks the customer's session version."""
    now = datetime.now(UTC)
    user_id = claim.user_id
    wanted = sorted(choice.seat_ids)
    schedule_id = choice.trip.schedule_id
    segment = Segment(choice.from_seq, choice.to_seq)
    # The per-account hold count, as holds.hold_seats takes it (attempts.reserve): its own
    # statement, before the transaction.
    (limit,) = holds.HoldPolicy(
        holds_per_account_per_hour=HOLDS_PER_ACCOUNT, holds_per_ip_per_hour=0
    ).rate_limits.limits("hold", user_id, None)
    await conn.fetch(
        attempts.RESERVE_SQL,
        [limit.stored_key],
        [math.ceil(limit.window.total_seconds())],
        now,
    )
    async with conn.transaction():
        rows = await conn.fetch(
            holds.LOCK_SQL, user_id, schedule_id, wanted, "2000ms", claim.session_version, None
        )
        if not rows:
            raise RawConflict("trip")
        schedule, seats = holds.split_lock_rows([dict(row) for row in rows])
        if schedule["status"] != "scheduled":
            raise RawConflict("trip")
        if len(seats) != len(wanted) or any(s["is_blocked"] for s in seats):
            raise RawConflict("blocked")
        checked = await conn.fetch(
            holds.CHECK_SQL,
            schedule_id,
            wanted,
            segment.from_seq,
            segment.to_seq,
            user_id,
            now,
            None,  # per-address limits off, as in the app phase
        )
        if checked[0]["schedule_seat_id"] is not None:
            raise RawConflict("taken")
        total = sum((Decimal(500) * s["price_factor"] for s in seats), Decimal(0))
        await conn.fetchrow(
            holds.INSERT_HOLD_SQL,
            *holds.hold_parameters(
                user_id=user_id,
                schedule_id=schedule_id,
                segment=segment,
                boarding_point_id=None,
                dropping_point_id=None,
                total=total.quantize(Decimal("0.01")),
                currency=schedule["currency"],
                expires_at=now + timedelta(minutes=hold_minutes),
                now=now,
                schedule_seat_ids=wanted,
                numbers=[s["number"] for s in seats],
                ip="127.0.0.1",
            ),
        )


async def raw_client_loop(
    dsn: str,
    user_id: int,
    trips: list[common.Trip],
    rng: random.Random,
    hold_minutes: float,
    ready: asyncio.Barrier,
    clock: asyncio.Future[tuple[float, float]],
) -> Stats:
    stats = Stats()
    conn = await asyncpg.connect(dsn, server_settings=dict(database.SERVER_SETTINGS))
    try:
        version = await conn.fetchval("SELECT session_version FROM users WHERE id = $1", user_id)
        claim = SessionClaim(user_id, version)
        await ready.wait()
        start, deadline = await clock
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        while time.perf_counter() < deadline:
            choice = pick(rng, trips)
            began = time.perf_counter()
            outcome = "held"
            try:
                await raw_hold(conn, claim, choice, hold_minutes)
            except RawConflict:
                outcome = "conflict"
            except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
                outcome = "conflict"  # the app answers these with 409 too (Busy)
            except asyncpg.ExclusionViolationError:
                outcome = "conflict"
            except (asyncpg.PostgresError, OSError) as exc:
                outcome = "error"
                stats.error_kinds[type(exc).__name__] += 1
            took = time.perf_counter() - began
            stats.latency.append(took)
            if outcome == "held":
                stats.held += 1
                stats.seats_held += len(choice.seat_ids)
                stats.latency_held.append(took)
            elif outcome == "conflict":
                stats.conflicts += 1
                stats.latency_conflict.append(took)
            else:
                stats.errors += 1
    finally:
        await conn.close()
    return stats


async def run_raw(
    dsn: str,
    user_ids: list[int],
    trips: list[common.Trip],
    seconds: float,
    seed: int,
    hold_minutes: float,
) -> Stats:
    ready = asyncio.Barrier(len(user_ids) + 1)
    clock: asyncio.Future[tuple[float, float]] = asyncio.get_running_loop().create_future()
    tasks = [
        asyncio.create_task(
            raw_client_loop(
                dsn, uid, trips, random.Random(seed * 1000 + i), hold_minutes, ready, clock
            )
        )
        for i, uid in enumerate(user_ids)
    ]
    await ready.wait()  # every connection is open: start the clock
    start = time.perf_counter() + 0.05
    clock.set_result((start, start + seconds))
    results = await asyncio.gather(*tasks)
    total = Stats()
    for result in results:
        total.add(result)
    total.elapsed = time.perf_counter() - start
    return total


# ---------------------------------------------------------------------------- driving


async def with_janitor(dsn: str, keep: int, coro):  # type: ignore[no-untyped-def]
    stop, counter = asyncio.Event(), [0]
    task = asyncio.create_task(janitor(dsn, keep, stop, counter))
    try:
        result: Stats = await coro
    finally:
        stop.set()
        await task
    result.recycled = counter[0]
    return result


def print_phase(name: str, stats: Stats, meter: common.CpuMeter) -> None:
    r = stats.report(name)
    print(
        f"\n== {name}: {r['seconds']} s, {r['requests']} hold requests\n"
        f"  holds/s        {r['holds_per_s']}  ({r['holds']} holds, {r['seats_per_s']} seats/s)\n"
        f"  409s/s         {r['conflicts_per_s']}  ({r['conflicts']})\n"
        f"  errors         {r['errors']}  {r['error_kinds'] or ''}\n"
        f"  latency all    p50 {r['p50_ms']} ms  p90 {r['p90_ms']} ms  p99 {r['p99_ms']} ms"
        f"  max {r['max_ms']} ms\n"
        f"  latency held   p50 {r['held_p50_ms']} ms  p99 {r['held_p99_ms']} ms\n"
        f"  latency 409    p50 {r['conflict_p50_ms']} ms  p99 {r['conflict_p99_ms']} ms\n"
        f"  holds recycled by the janitor: {r['recycled_holds']}\n"
        f"  {meter.summary()}\n"
        f"  CPU per hold request: {meter.per(len(stats.latency))}\n"
        f"{meter.warning()}",
        end="",
        flush=True,
    )


async def main(args: argparse.Namespace) -> int:
    common.raise_nofile(4096)
    env = {
        "MAX_HOLDS_PER_TRIP": "1000000",
        # all bench clients are 127.0.0.1: per-address limits off, login ones lifted
        "REGISTRATIONS_PER_IP_PER_HOUR": "1000000",
        "MAX_ACTIVE_HOLDS_PER_IP": "0",
        "MAX_HELD_SEATS_PER_IP_PER_TRIP": "0",
        "LOGIN_MAX_FAILURES_PER_IP": "1000000",
        "MAX_ACTIVE_HOLDS": "1000000",
        "HOLDS_PER_ACCOUNT_PER_HOUR": str(HOLDS_PER_ACCOUNT),
        "HOLDS_PER_IP_PER_HOUR": "0",
        "HOLD_MINUTES": str(args.hold_minutes),
        "DB_POOL_SIZE": str(args.pool_size),
    }
    print(
        f"holds benchmark: {args.clients} clients, {args.seconds:g} s per phase "
        f"(+{args.warmup:g} s warm-up), keep {args.keep} holds active, "
        f"load average before: {common.load_average()}",
        flush=True,
    )
    async with common.fresh_database("busbook_bench_holds") as url:
        dsn = common.asyncpg_dsn(url)
        pg_pid = await common.postmaster_pid(url)
        async with common.busbook_server(url, env, workers=args.workers, name="holds") as server:
            trips = await common.load_trips(url)
            if args.trips:
                trips = random.Random(args.seed).sample(trips, min(args.trips, len(trips)))
            seats = sum(len(t.seat_ids) for t in trips)
            print(f"trips: {len(trips)} ({seats} seats)", flush=True)
            customers = await common.register_customers(
                server.base,
                url,
                args.clients,
                prefix="holds",
                timeout=10,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            common.log(f"{len(customers)} customers registered and signed in")
            await reset_holds(dsn)
            try:
                if args.warmup:
                    warmup = run_http(server.base, customers, trips, args.warmup, args.seed + 7)
                    await with_janitor(dsn, args.keep, warmup)
                with common.CpuMeter(server.pid, pg_pid) as app_meter:
                    measured = run_http(server.base, customers, trips, args.seconds, args.seed)
                    app = await with_janitor(dsn, args.keep, measured)
            finally:
                await asyncio.gather(*(c.client.aclose() for c in customers))
            print_phase(f"app (HTML form, {args.workers} Granian workers)", app, app_meter)

            # The JSON API: same server, same customers (each with an access token), same
            # trips and picks, on a database reset like before the form phase.
            tokens = access_tokens(
                await session_versions(dsn, [c.user_id for c in customers]),
                minutes=int(args.seconds * 10 + 60),
            )
            await reset_holds(dsn)
            if args.warmup:
                warmup = run_api(server.base, tokens, trips, args.warmup, args.seed + 7)
                await with_janitor(dsn, args.keep, warmup)
            with common.CpuMeter(server.pid, pg_pid) as api_meter:
                measured = run_api(server.base, tokens, trips, args.seconds, args.seed)
                api = await with_janitor(dsn, args.keep, measured)
            print_phase(f"API (JSON + bearer, {args.workers} Granian workers)", api, api_meter)

        # The raw ceiling: same database, same users and trips, the web server stopped.
        await reset_holds(dsn)
        user_ids = [c.user_id for c in customers]
        if args.warmup:
            await with_janitor(
                dsn,
                args.keep,
                run_raw(dsn, user_ids, trips, args.warmup, args.seed + 7, args.hold_minutes),
            )
        with common.CpuMeter(None, pg_pid) as raw_meter:
            raw = await with_janitor(
                dsn,
                args.keep,
                run_raw(dsn, user_ids, trips, args.seconds, args.seed, args.hold_minutes),
            )
        print_phase("raw ceiling (asyncpg, no web layer)", raw, raw_meter)

    ratio = app.rate(app.held) / raw.rate(raw.held) if raw.held else math.nan
    api_ratio = api.rate(api.held) / raw.rate(raw.held) if raw.held else math.nan
    api_vs_app = api.rate(api.held) / app.rate(app.held) if app.held else math.nan
    app_p99 = common.percentile(app.latency, 99)
    api_p99 = common.percentile(api.latency, 99)
    api_met = api_ratio >= TARGET_API_RATIO and api_vs_app >= 1
    print(
        "\n== summary\n"
        f"  app {app.rate(app.held):.1f} holds/s, raw {raw.rate(raw.held):.1f} holds/s: "
        f"app/raw = {ratio:.2f}\n"
        f"  API {api.rate(api.held):.1f} holds/s (p99 {api_p99 * 1000:.1f} ms): "
        f"API/raw = {api_ratio:.2f}, API/app = {api_vs_app:.2f}\n"
        f"  target: API >= app and >= {TARGET_API_RATIO} x raw -> "
        f"{'MET' if api_met else 'NOT MET'}\n"
        f"  target: {args.clients} clients, app >= {TARGET_RATIO} x raw ceiling "
        f"-> {'MET' if ratio >= TARGET_RATIO else 'NOT MET'}\n"
        f"  target: p99 < {TARGET_P99 * 1000:.0f} ms -> app p99 {app_p99 * 1000:.1f} ms "
        f"{'MET' if app_p99 < TARGET_P99 else 'NOT MET'}\n"
        f"  pretix reference {PRETIX_REFERENCE:g} holds/s; our goal >= {GOAL_HOLDS:g} holds/s "
        f"-> {'MET' if app.rate(app.held) >= GOAL_HOLDS else 'NOT MET'} "
        f"({app.rate(app.held) / PRETIX_REFERENCE:.1f} x pretix)\n"
        f"  load average after: {common.load_average()}",
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(  # noqa: ASYNC240 (after the measurement)
            json.dumps(
                {
                    "clients": args.clients,
                    "seconds": args.seconds,
                    "trips": len(trips),
                    "keep": args.keep,
                    "app": app.report("app") | {"cpu_seconds": app_meter.used},
                    "api": api.report("api") | {"cpu_seconds": api_meter.used},
                    "raw": raw.report("raw") | {"cpu_seconds": raw_meter.used},
                    "ratio": round(ratio, 3),
                    "api_ratio": round(api_ratio, 3),
                    "api_vs_app": round(api_vs_app, 3),
                },
                indent=2,
            )
        )
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase (20)")
    parser.add_argument(
        "--trips", type=int, default=0, help="trips to spread holds over (0: every demo trip)"
    )
    parser.add_argument(
        "--keep",
        type=int,
        default=500,
        help="holds left active by the janitor; older ones are ended (500; 0: no janitor)",
    )
    parser.add_argument("--warmup", type=float, default=2, help="untimed warm-up per phase (2)")
    parser.add_argument("--workers", type=int, default=2, help="Granian workers (2)")
    parser.add_argument("--pool-size", type=int, default=20, help="DB_POOL_SIZE per worker (20)")
    parser.add_argument("--hold-minutes", type=float, default=600, help="HOLD_MINUTES (600)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
