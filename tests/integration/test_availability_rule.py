"""The availability rule is written once in SQL and once in Python (domain/availability.py):
on random allocations both must give the same answer, every time.

Hypothesis draws a trip's allocations (random segments, kinds, active flags, hold expiries
around `now`, to the microsecond, bookings with and without the hold they came from, some
seats blocked), they are written to the real database, and then every question is asked
both ways: each allocation on each segment (and anywhere on the trip) with the SQL rule
against the Python predicate, and the statements that compose the SQL rule (search's free
seat counts, the hold check's overlapping allocations, the dashboard's counts) against
what the Python rule says of the same rows, as seat states also judge them.

The example is synchronous (hypothesis), so it runs in a worker thread and hands its
coroutines to the test's event loop, as test_holds_stateful.py does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import connections

from domain import availability, catalogue, holds, inventory, operations
from domain.availability import AllocationFacts, Segment
from domain.enums import AllocationKind, SeatStatus
from domain.models import Booking, Schedule, ScheduleSeat, User
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

T = TypeVar("T")
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
ROUTE = [("Mumbai", 0, 0), ("Lonavala", 120, 83), ("Pune", 210, 148), ("Satara", 330, 260)]
LAST = len(ROUTE) - 1
SEGMENTS = [Segment(a, b) for a in range(LAST) for b in range(a + 1, LAST + 1)]
SEATS = 8

spans = st.sampled_from(SEGMENTS)
# Around now, down to the microsecond: exactly now (expired: the rule says `> now`), a
# microsecond either side, seconds and an hour either side.
offsets = st.one_of(
    st.just(timedelta(0)),
    st.sampled_from([timedelta(microseconds=-1), timedelta(microseconds=1)]),
    st.integers(-5, 5).map(lambda s: timedelta(seconds=s)),
    st.sampled_from([timedelta(hours=-1), timedelta(hours=1)]),
)


@dataclass(frozen=True)
class Drawn:
    seat: int  # index into the trip's seats
    span: Segment
    kind: AllocationKind
    active: bool
    expiry: timedelta | None  # the hold's expires_at - now; None: a booking without a hold


@st.composite
def allocations(draw: st.DrawFn) -> list[Drawn]:
    drawn: list[Drawn] = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(AllocationKind))
        # A booking converted from a hold keeps its reservation (any expiry); one
        # re-secured after a late payment has none.
        expiry = draw(offsets if kind is AllocationKind.HOLD else st.none() | offsets)
        candidate = Drawn(
            draw(st.integers(0, SEATS - 1)), draw(spans), kind, draw(st.booleans()), expiry
        )
        # The exclusion constraint allows one active allocation per seat and stop: an
        # overlapping one is kept, inactive.
        clash = any(
            d.active
            and d.seat == candidate.seat
            and d.span.from_seq < candidate.span.to_seq
            and candidate.span.from_seq < d.span.to_seq
            for d in drawn
        )
        drawn.append(
            Drawn(candidate.seat, candidate.span, kind, candidate.active and not clash, expiry)
        )
    return drawn


@dataclass
class Trip:
    loop: asyncio.AbstractEventLoop
    schedule: Schedule
    seats: list[ScheduleSeat]
    user: User
    booking: Booking

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


async def write(trip: Trip, drawn: list[Drawn], blocked: set[int]) -> list[int]:
    """Replace the trip's allocations with the drawn ones; their ids in drawn order."""
    conn = connections.get("default")
    schedule_id = trip.schedule.id
    await conn.execute_query("DELETE FROM seat_allocations WHERE schedule_id = $1", [schedule_id])
    await conn.execute_query("DELETE FROM reservations WHERE schedule_id = $1", [schedule_id])
    await conn.execute_query(
        "UPDATE schedule_seats SET is_blocked = (id = ANY($2::int[])) WHERE schedule_id = $1",
        [schedule_id, [trip.seats[i].id for i in blocked]],
    )
    ids = []
    for d in drawn:
        reservation_id = None
        if d.expiry is not None:
            rows = await conn.execute_query_dict(
                """
                INSERT INTO reservations (user_id, schedule_id, from_seq, to_seq, status,
                    total_amount, currency, expires_at, grace_applied, created_at)
                VALUES ($1, $2, $3, $4, $5, 100, 'INR', $6, false, $7) RETURNING id
                """,
                [
                    trip.user.id,
                    schedule_id,
                    d.span.from_seq,
                    d.span.to_seq,
                    "active" if d.kind is AllocationKind.HOLD else "converted",
                    NOW + d.expiry,
                    NOW - timedelta(minutes=15),
                ],
            )
            reservation_id = rows[0]["id"]
        rows = await conn.execute_query_dict(
            """
            INSERT INTO seat_allocations (schedule_id, schedule_seat_id, from_seq, to_seq,
                kind, reservation_id, booking_id, active, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
            """,
            [
                schedule_id,
                trip.seats[d.seat].id,
                d.span.from_seq,
                d.span.to_seq,
                d.kind.value,
                reservation_id,
                trip.booking.id if d.kind is AllocationKind.BOOKING else None,
                d.active,
                NOW - timedelta(minutes=15),
            ],
        )
        ids.append(rows[0]["id"])
    return ids


def facts(d: Drawn) -> AllocationFacts:
    expires_at = None if d.expiry is None else NOW + d.expiry
    return AllocationFacts(d.span.from_seq, d.span.to_seq, d.kind, d.active, expires_at)


async def sql_taken(schedule_id: int) -> dict[tuple[int, Segment | None], bool]:
    """The SQL rule's answer for every allocation of the trip on every segment and on the
    whole trip."""
    conn = connections.get("default")
    answers: dict[tuple[int, Segment | None], bool] = {}
    for segment in [*SEGMENTS, None]:
        bounds = {} if segment is None else {"from_seq": "$3", "to_seq": "$4"}
        sql = f"""
            SELECT a.id, {availability.taken_sql("a", "r", now="$2", **bounds)} AS taken
            FROM seat_allocations a LEFT JOIN reservations r ON r.id = a.reservation_id
            WHERE a.schedule_id = $1
        """
        params: list[object] = [schedule_id, NOW]
        if segment is not None:
            params += [segment.from_seq, segment.to_seq]
        for row in await conn.execute_query_dict(sql, params):
            answers[(row["id"], segment)] = row["taken"]
    return answers


async def free_counts(schedule_id: int) -> dict[Segment, int]:
    conn = connections.get("default")
    sql = catalogue.free_seats_sql(schedule="$1", from_seq="$2", to_seq="$3", now="$4")
    counts = {}
    for segment in SEGMENTS:
        rows = await conn.execute_query(sql, [schedule_id, segment.from_seq, segment.to_seq, NOW])
        counts[segment] = rows[1][0]["count"]
    return counts


async def hold_check_live(trip: Trip, segment: Segment) -> set[int]:
    """The inventory rows the hold check finds taken (overlapping, live) on `segment`."""
    async with connections.get("default").acquire_connection() as raw:
        rows = await raw.fetch(
            holds.CHECK_SQL,
            trip.schedule.id,
            [s.id for s in trip.seats],
            segment.from_seq,
            segment.to_seq,
            trip.user.id,
            NOW,
            None,
        )
    return {r["schedule_seat_id"] for r in rows if r["schedule_seat_id"] is not None and r["live"]}


async def dashboard_counts(schedule_id: int) -> tuple[int, int]:
    rows = await connections.get("default").execute_query_dict(
        operations.OCCUPANCY_SQL, [NOW, NOW + timedelta(days=7)]
    )
    (row,) = [r for r in rows if r["id"] == schedule_id]
    return row["booked"], row["held"]


async def test_sql_and_python_rules_agree() -> None:
    route = await factories.make_route(ROUTE)
    schedule = await factories.make_trip(NOW + timedelta(days=1), route=route, rows=2)
    seats = await factories.schedule_seats(schedule)
    assert len(seats) == SEATS
    user = await factories.make_user(now=NOW)
    booking = await Booking.create(
        reference="BKRULE",
        user=user,
        schedule=schedule,
        from_seq=0,
        to_seq=LAST,
        total_amount=Decimal("100"),
        contact_email=user.email,
        contact_phone=user.phone_number,
        created_at=NOW,
    )
    trip = Trip(asyncio.get_running_loop(), schedule, seats, user, booking)

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(drawn=allocations(), blocked=st.sets(st.integers(0, SEATS - 1), max_size=2))
    def agree(drawn: list[Drawn], blocked: set[int]) -> None:
        ids = trip.run(write(trip, drawn, blocked))
        by_id = dict(zip(ids, drawn, strict=True))

        # Each allocation, each segment and the whole trip: the SQL rule is the Python one.
        answers = trip.run(sql_taken(schedule.id))
        assert len(answers) == len(ids) * (len(SEGMENTS) + 1)
        for (allocation_id, segment), taken in answers.items():
            d = by_id[allocation_id]
            assert taken is availability.takes(facts(d), segment, NOW), (d, segment, taken)

        # The composed statements agree with the Python rule over the same rows.
        states = trip.run(inventory.seat_states(schedule.id))
        free = trip.run(free_counts(schedule.id))
        for segment in SEGMENTS:
            taken_seats = {
                trip.seats[d.seat].id for d in drawn if availability.takes(facts(d), segment, NOW)
            }
            unblocked = {s.id for i, s in enumerate(trip.seats) if i not in blocked}
            assert free[segment] == len(unblocked - taken_seats), segment
            assert trip.run(hold_check_live(trip, segment)) == taken_seats, segment
            # Seat states (read once, judged in Python) say the same of every seat.
            for seat in trip.seats:
                status = states[seat.id].status_for(segment, None, NOW)
                if seat.id not in unblocked:
                    assert status is SeatStatus.BLOCKED
                else:
                    assert (status is not SeatStatus.AVAILABLE) == (seat.id in taken_seats)
        booked = {
            d.seat for d in drawn if d.kind is AllocationKind.BOOKING and d.active
        }  # a booking is live whatever its old hold's expiry
        held = {
            d.seat
            for d in drawn
            if d.kind is AllocationKind.HOLD and availability.takes(facts(d), None, NOW)
        }
        assert trip.run(dashboard_counts(schedule.id)) == (len(booked), len(held))

    await asyncio.to_thread(agree)
    await write(trip, [], set())


def test_the_python_rule_on_its_edges() -> None:
    """The cases the property test must find, spelled out."""
    hold = AllocationFacts(1, 2, AllocationKind.HOLD, True, NOW + timedelta(microseconds=1))
    assert availability.takes(hold, Segment(0, 3), NOW)
    assert availability.takes(hold, None, NOW)
    assert not availability.takes(hold, Segment(0, 1), NOW)  # touching is not overlapping
    assert not availability.takes(hold, Segment(2, 3), NOW)
    expired = AllocationFacts(1, 2, AllocationKind.HOLD, True, NOW)
    assert not availability.takes(expired, Segment(0, 3), NOW)  # expires_at <= now: free
    booking = AllocationFacts(0, 3, AllocationKind.BOOKING, True, NOW - timedelta(hours=1))
    assert availability.takes(booking, Segment(1, 2), NOW)  # its old hold's expiry is moot
    released = AllocationFacts(0, 3, AllocationKind.BOOKING, False, None)
    assert not availability.takes(released, Segment(1, 2), NOW)
