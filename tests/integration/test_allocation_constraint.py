"""Invariant 1: PostgreSQL itself refuses a seat allocated twice on overlapping stops.

An allocation names the trip's inventory row (`schedule_seat_id`); the exclusion constraint
is on it, and a foreign key keeps that row on the allocation's own trip, so one inventory
row is one bus seat of one trip.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from domain.enums import AllocationKind
from domain.models import SeatAllocation
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

ROUTE = [("Mumbai", 0, 0), ("Lonavala", 120, 83), ("Pune", 210, 148), ("Satara", 330, 260)]


@pytest.fixture
async def trip():
    route = await factories.make_route(ROUTE)
    schedule = await factories.make_trip(NOW + timedelta(days=1), route=route)
    user = await factories.make_user()
    seats = await factories.schedule_seats(schedule)
    return schedule, seats, user


@pytest.mark.parametrize(
    ("first", "second"),
    [((0, 3), (0, 3)), ((0, 2), (1, 3)), ((1, 2), (0, 3)), ((0, 3), (1, 2)), ((1, 3), (0, 2))],
)
async def test_overlapping_allocations_of_one_seat_are_refused(trip, first, second):
    schedule, seats, user = trip
    expires = NOW + timedelta(minutes=15)
    await factories.hold(schedule, seats[0], *first, user=user, expires_at=expires)
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await factories.book(schedule, seats[0], *second, user=user, now=NOW)
    assert await SeatAllocation.filter(active=True).count() == 1


async def test_adjacent_segments_share_a_seat(trip):
    schedule, seats, user = trip
    await factories.book(schedule, seats[0], 0, 1, user=user, now=NOW)
    await factories.book(schedule, seats[0], 1, 2, user=user, now=NOW)
    await factories.book(schedule, seats[0], 2, 3, user=user, now=NOW)
    assert await SeatAllocation.filter(schedule_seat_id=seats[0].id, active=True).count() == 3


async def test_other_seats_and_inactive_allocations_do_not_conflict(trip):
    schedule, seats, user = trip
    first = await factories.book(schedule, seats[0], 0, 3, user=user, now=NOW)
    await factories.book(schedule, seats[1], 0, 3, user=user, now=NOW)
    await SeatAllocation.filter(id=first.id).update(active=False, released_at=NOW)
    # The released seat can be allocated again on the same stops.
    await factories.book(schedule, seats[0], 0, 3, user=user, now=NOW)
    # ...but reactivating the old allocation would overlap: the database refuses.
    with pytest.raises(IntegrityError):
        await SeatAllocation.filter(id=first.id).update(active=True)


async def test_the_same_seat_on_another_trip_is_independent(trip):
    schedule, seats, user = trip
    other = await factories.make_trip(
        NOW + timedelta(days=2), route=await schedule.route, bus=await schedule.bus
    )
    other_seats = await factories.schedule_seats(other)
    await factories.book(schedule, seats[0], 0, 3, user=user, now=NOW)
    await factories.book(other, other_seats[0], 0, 3, user=user, now=NOW)


async def test_constraint_holds_in_plain_sql(trip):
    """The guard lives in the schema, not the ORM: raw SQL is refused the same way."""
    schedule, seats, user = trip
    await factories.book(schedule, seats[0], 0, 2, user=user, now=NOW)
    conn = connections.get("default")
    booking_id = (await SeatAllocation.first()).booking_id  # type: ignore[union-attr]
    insert = (
        "INSERT INTO seat_allocations (schedule_id, schedule_seat_id, from_seq, to_seq, kind,"
        " booking_id, active, created_at) VALUES ($1, $2, $3, $4, 'booking', $5, true, now())"
    )
    with pytest.raises(IntegrityError, match="seat_allocations_one_holder_per_segment"):
        await conn.execute_query(insert, [schedule.id, seats[0].id, 1, 3, booking_id])
    await conn.execute_query(insert, [schedule.id, seats[0].id, 2, 3, booking_id])
    rows = await conn.execute_query_dict(
        "SELECT lower(stops) AS lo, upper(stops) AS hi FROM seat_allocations ORDER BY id"
    )
    assert [(r["lo"], r["hi"]) for r in rows] == [(0, 2), (2, 3)]


async def test_empty_or_reversed_segments_are_refused(trip):
    schedule, seats, user = trip
    with pytest.raises(IntegrityError, match="segment_valid"):
        await factories.book(schedule, seats[0], 2, 2, user=user, now=NOW)
    # A reversed range cannot even be built (int4range refuses it): a data error.
    with pytest.raises(OperationalError, match="range lower bound"):
        await factories.book(schedule, seats[0], 2, 1, user=user, now=NOW)
    assert await SeatAllocation.all().count() == 0


async def test_an_allocation_needs_its_owner(trip):
    schedule, seats, _ = trip
    with pytest.raises(IntegrityError):
        await SeatAllocation.create(
            schedule=schedule,
            schedule_seat_id=seats[0].id,
            from_seq=0,
            to_seq=1,
            kind=AllocationKind.BOOKING,
            created_at=NOW,
        )


async def test_the_constraint_is_on_the_inventory_row(trip):
    """The exclusion constraint names schedule_seat_id (and no column names the bus seat)."""
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
        WHERE conname = 'seat_allocations_one_holder_per_segment'
        """
    )
    assert [r["definition"] for r in rows] == [
        "EXCLUDE USING gist (schedule_id WITH =, schedule_seat_id WITH =, stops WITH &&) "
        "WHERE (active)"
    ]
    columns = await connections.get("default").execute_query_dict(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'seat_allocations'"
    )
    assert "seat_id" not in {c["column_name"] for c in columns}


async def test_an_allocation_cannot_name_another_trips_inventory_row(trip):
    """A trip's allocation of another trip's inventory row of the same bus seat would slip
    past the exclusion constraint of both trips: the foreign key refuses it."""
    schedule, seats, user = trip
    other = await factories.make_trip(
        NOW + timedelta(days=2), route=await schedule.route, bus=await schedule.bus
    )
    other_seats = await factories.schedule_seats(other)
    booking = await factories.book(schedule, seats[0], 0, 3, user=user, now=NOW)
    with pytest.raises(IntegrityError, match="seat_allocations_schedule_seat_id_fkey"):
        await SeatAllocation.create(
            schedule=schedule,
            schedule_seat_id=other_seats[0].id,
            from_seq=0,
            to_seq=3,
            kind=AllocationKind.BOOKING,
            booking_id=booking.booking_id,
            created_at=NOW,
        )
    assert await SeatAllocation.all().count() == 1


async def test_concurrent_inserts_of_one_seat_keep_one(trip):
    """Many transactions allocating the same inventory row on overlapping segments at once,
    each on its own connection: those that commit never overlap."""
    schedule, seats, user = trip
    first = await factories.book(schedule, seats[1], 0, 1, user=user, now=NOW)
    segments = [(0, 3), (1, 2), (2, 3), (1, 3), (0, 2)] * 2

    async def insert(from_seq: int, to_seq: int) -> bool:
        try:
            async with in_transaction() as conn:
                await conn.execute_query(
                    "INSERT INTO seat_allocations (schedule_id, schedule_seat_id, from_seq,"
                    " to_seq, kind, booking_id, active, created_at)"
                    " VALUES ($1, $2, $3, $4, 'booking', $5, true, now())",
                    [schedule.id, seats[0].id, from_seq, to_seq, first.booking_id],
                )
                await asyncio.sleep(0.01)  # keep the transaction open while others try
        except IntegrityError:
            return False
        return True

    won = await asyncio.gather(*(insert(*segment) for segment in segments))
    kept = await SeatAllocation.filter(schedule_seat_id=seats[0].id, active=True)
    spans = sorted((a.from_seq, a.to_seq) for a in kept)
    assert sum(won) == len(kept) >= 1
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
