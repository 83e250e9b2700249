"""Migration 0009 on a database that holds allocations of the old shape (naming the bus seat):
each gets its trip's inventory row, the exclusion constraint moves onto it, unpaid checkouts
keep their passengers' bus seats under `bus_seat_id`, and the way back restores the old
shape. An allocation without an inventory row stops the migration and changes nothing.

Each step runs in its own process: migrating initialises and closes Tortoise, which would
take the test session's own connections with it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from domain import database, public_ids
from domain.enums import PaymentMethod, ReservationStatus
from tests import factories

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
BEFORE = "busbook.0008_safety_limits"
ROUTE = [("Mumbai", 0, 0), ("Lonavala", 120, 83), ("Pune", 210, 148)]


async def make_old_rows(url: str, orphan: bool) -> None:
    """At 0008: two trips of one bus and allocations naming bus seats, as the code wrote
    them then (a hold, a booking, an ended hold; the same bus seat on both trips)."""
    from domain.models import Booking, Schedule, ScheduleSeat

    await database.migrate(url, target=BEFORE)
    await database.init(url, pool_size=2)
    try:
        route = await factories.make_route(ROUTE)
        first = await factories.make_trip(NOW + timedelta(days=1), route=route, rows=2)
        bus = await first.bus
        second = await factories.make_trip(NOW + timedelta(days=2), route=route, bus=bus)
        user = await factories.make_user(now=NOW)
        # Raw SQL: the model has moved on since 0008 (0013 adds `checkout_draft`).
        conn = await asyncpg.connect(database.asyncpg_dsn(url))
        try:
            hold_id = await conn.fetchval(
                "INSERT INTO reservations (public_id, user_id, schedule_id, from_seq, to_seq,"
                " status, total_amount, currency, expires_at, grace_applied, created_at,"
                " seat_count) VALUES ($1, $2, $3, 0, 2, $4, 100, 'INR', $5, false, $6, 0)"
                " RETURNING id",
                public_ids.maker(public_ids.RESERVATION)(),
                user.id,
                first.id,
                ReservationStatus.ACTIVE.value,
                NOW + timedelta(minutes=15),
                NOW,
            )
        finally:
            await conn.close()
        booking = await Booking.create(
            reference="BKOLD1",
            user=user,
            schedule=second,
            from_seq=0,
            to_seq=1,
            total_amount=Decimal("100"),
            contact_email=user.email,
            contact_phone=user.phone_number,
            created_at=NOW,
        )
        seat_of = {
            (s.schedule_id, s.seat_id): s.id
            for s in await ScheduleSeat.filter(schedule_id__in=[first.id, second.id])
        }
        bus_seats = sorted({seat for _, seat in seat_of})
        rows: list[tuple[Schedule, int, int, int, str, int | None, int | None, bool]] = [
            (first, bus_seats[0], 0, 2, "hold", hold_id, None, True),
            (first, bus_seats[1], 0, 2, "hold", hold_id, None, True),
            (first, bus_seats[0], 0, 2, "hold", hold_id, None, False),  # an ended hold
            (second, bus_seats[0], 0, 1, "booking", None, booking.id, True),
        ]
        conn = await asyncpg.connect(database.asyncpg_dsn(url))
        try:
            for schedule, seat, lo, hi, kind, reservation_id, booking_id, active in rows:
                await conn.execute(
                    "INSERT INTO seat_allocations (schedule_id, seat_id, from_seq, to_seq, kind,"
                    " reservation_id, booking_id, active, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    schedule.id,
                    seat,
                    lo,
                    hi,
                    kind,
                    reservation_id,
                    booking_id,
                    active,
                    NOW,
                )
            if orphan:  # the inventory row of an allocated bus seat is gone
                await conn.execute(
                    "DELETE FROM schedule_seats WHERE id = $1", seat_of[(second.id, bus_seats[0])]
                )
        finally:
            await conn.close()
        passengers = [
            {
                "schedule_seat_id": seat_of[(first.id, seat)],
                "seat_id": seat,
                "seat": "L1",
                "name": "Asha Rao",
                "age": 34,
                "gender": "female",
                "fare": "50.00",
            }
            for seat in bus_seats[:2]
        ]
        # Raw SQL: the model has moved on since 0008 (later migrations drop columns of it).
        conn = await asyncpg.connect(database.asyncpg_dsn(url))
        try:
            await conn.execute(
                "INSERT INTO payments (user_id, reservation_id, gateway, method, amount, "
                "currency, status, idempotency_key, refunded_amount, refund_attempts, "
                "failure_reason, checkout_data, created_at, updated_at) VALUES "
                "($1, $2, 'simulator', $3, 100, 'INR', 'created', 'old-checkout', 0, 0, '', "
                "$4::jsonb, $5, $5)",
                user.id,
                hold_id,
                PaymentMethod.UPI.value,
                json.dumps({"passengers": passengers, "contact_email": user.email}),
                NOW,
            )
        finally:
            await conn.close()
    finally:
        await database.close()


def run(step: str, url: str, *args: Any) -> subprocess.CompletedProcess[str]:
    code = (
        "import asyncio, sys\n"
        "from domain import database\n"
        "from tests.integration import test_migration_0009 as m\n"
        f"asyncio.run({step})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, url, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


MAKE_OLD = "m.make_old_rows(sys.argv[1], sys.argv[2] == 'True')"
MIGRATE = "database.migrate(sys.argv[1])"
MIGRATE_BACK = f"database.migrate(sys.argv[1], target={BEFORE!r})"


@pytest.fixture
async def old_database(server_url: str):
    url = database.fresh_database_url(server_url, "busbook_migration")
    await database.create_database(url, if_missing=False)
    try:
        yield url
    finally:
        await database.drop_database(url)


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database.asyncpg_dsn(url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def test_old_allocations_get_their_inventory_rows(old_database: str) -> None:
    url = old_database
    made = await asyncio.to_thread(run, MAKE_OLD, url, False)
    assert made.returncode == 0, made.stderr
    old = await fetch(
        url,
        "SELECT a.id, ss.id AS inventory_id FROM seat_allocations a"
        " JOIN schedule_seats ss ON ss.schedule_id = a.schedule_id AND ss.seat_id = a.seat_id"
        " ORDER BY a.id",
    )
    assert len(old) == 4

    migrated = await asyncio.to_thread(run, MIGRATE, url)
    assert migrated.returncode == 0, migrated.stderr
    new = await fetch(url, "SELECT id, schedule_seat_id FROM seat_allocations ORDER BY id")
    assert [(r["id"], r["schedule_seat_id"]) for r in new] == [
        (r["id"], r["inventory_id"]) for r in old
    ]
    # The exclusion constraint is on the inventory row now: the live hold's seat is refused
    # on an overlapping segment, an adjacent one is not.
    conn = await asyncpg.connect(database.asyncpg_dsn(url))
    try:
        hold = await conn.fetchrow(
            "SELECT * FROM seat_allocations WHERE active ORDER BY id LIMIT 1"
        )
        insert = (
            "INSERT INTO seat_allocations (schedule_id, schedule_seat_id, from_seq, to_seq,"
            " kind, reservation_id, active, created_at) VALUES ($1, $2, $3, $4, 'hold', $5,"
            " true, now())"
        )
        with pytest.raises(asyncpg.ExclusionViolationError):
            await conn.execute(
                insert, hold["schedule_id"], hold["schedule_seat_id"], 1, 2, hold["reservation_id"]
            )
        # Another trip's inventory row is refused too (the two-column foreign key).
        other = await conn.fetchval(
            "SELECT id FROM schedule_seats WHERE schedule_id <> $1 LIMIT 1", hold["schedule_id"]
        )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(insert, hold["schedule_id"], other, 1, 2, hold["reservation_id"])
    finally:
        await conn.close()
    (payment,) = await fetch(url, "SELECT checkout_data FROM payments")
    passengers = json.loads(payment["checkout_data"])["passengers"]
    assert all("seat_id" not in p and "bus_seat_id" in p for p in passengers)
    assert [p["name"] for p in passengers] == ["Asha Rao", "Asha Rao"]

    # And back: the bus seat ids return, the same as before.
    back = await asyncio.to_thread(run, MIGRATE_BACK, url)
    assert back.returncode == 0, back.stderr
    again = await fetch(
        url,
        "SELECT a.id, ss.id AS inventory_id FROM seat_allocations a"
        " JOIN schedule_seats ss ON ss.schedule_id = a.schedule_id AND ss.seat_id = a.seat_id"
        " ORDER BY a.id",
    )
    assert [tuple(r) for r in again] == [tuple(r) for r in old]
    (payment,) = await fetch(url, "SELECT checkout_data FROM payments")
    passengers = json.loads(payment["checkout_data"])["passengers"]
    assert all("seat_id" in p and "bus_seat_id" not in p for p in passengers)


async def test_an_allocation_without_inventory_row_stops_the_migration(old_database: str) -> None:
    url = old_database
    made = await asyncio.to_thread(run, MAKE_OLD, url, True)
    assert made.returncode == 0, made.stderr
    migrated = await asyncio.to_thread(run, MIGRATE, url)
    assert migrated.returncode != 0
    assert "1 seat allocation(s) name a bus seat without an inventory row" in migrated.stderr
    # Nothing changed: the old column and its values are all there.
    columns = await fetch(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'seat_allocations'",
    )
    names = {c["column_name"] for c in columns}
    assert "seat_id" in names and "schedule_seat_id" not in names
    rows = await fetch(url, "SELECT count(*) AS n FROM seat_allocations WHERE seat_id IS NOT NULL")
    assert rows[0]["n"] == 4
