"""Seat holds in the domain: taking, refusing, expiring, cancelling, sweeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import connections

from domain import holds
from domain.accounts import SessionClaim
from domain.enums import ReservationStatus
from domain.errors import (
    HoldLimitReached,
    ReservationNotFound,
    SeatsUnavailable,
    SignedOut,
    TripDeparted,
    ValidationFailed,
)
from domain.holds import HoldPolicy, HoldRequest
from domain.models import ActivityLog, Reservation, ScheduleSeat, SeatAllocation
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
POLICY = HoldPolicy(hold_minutes=15, max_seats=6, max_holds_per_trip=2, max_active_holds=3)


@pytest.fixture
async def trip():
    schedule = await factories.make_trip(NOW + timedelta(days=1), rows=3)  # 12 seats
    return schedule, await factories.schedule_seats(schedule)


def request(schedule, seats, from_seq=0, to_seq=2, **extra):
    return HoldRequest(schedule.id, from_seq, to_seq, tuple(s.id for s in seats), **extra)


async def snapshot():
    """Everything a refused hold must leave untouched."""
    return (
        await Reservation.all().count(),
        await SeatAllocation.all().count(),
        await ActivityLog.filter(action__startswith="reservation.").count(),
    )


async def test_hold_takes_the_seats_for_the_segment(trip):
    schedule, seats = trip
    user = await factories.make_user()
    reservation = await holds.hold_seats(user, request(schedule, seats[:2]), now=NOW, policy=POLICY)
    assert reservation.status == ReservationStatus.ACTIVE
    assert reservation.expires_at == NOW + timedelta(minutes=15)
    assert reservation.total_amount == 683 + 650  # a window and an aisle seat
    allocations = await SeatAllocation.filter(reservation=reservation, active=True)
    assert sorted(a.schedule_seat_id for a in allocations) == sorted(s.id for s in seats[:2])
    log = await ActivityLog.get(action="reservation.created")
    assert (log.actor_id, log.subject_type, log.subject_id) == (
        user.id,
        "Reservation",
        str(reservation.id),
    )
    assert log.data == {
        "reservation_id": reservation.id,
        "schedule_id": schedule.id,
        "seat_ids": sorted(s.id for s in seats[:2]),
        "seats": ["1", "2"],
        "from_seq": 0,
        "to_seq": 2,
        "total": str(reservation.total_amount),
        "expires_at": (NOW + timedelta(minutes=15)).isoformat(),
    }
    assert log.created_at == NOW


async def test_overlapping_hold_is_refused_naming_the_seats(trip):
    schedule, seats = trip
    first, second = await factories.make_user(), await factories.make_user()
    await holds.hold_seats(first, request(schedule, seats[:2], 0, 2), now=NOW, policy=POLICY)
    before = await snapshot()
    with pytest.raises(SeatsUnavailable) as caught:
        await holds.hold_seats(second, request(schedule, seats[1:4], 1, 2), now=NOW, policy=POLICY)
    assert caught.value.status == 409
    assert "Seat 2 is no longer free" in caught.value.message
    assert await snapshot() == before


async def test_adjacent_segments_can_hold_the_same_seat(trip):
    schedule, seats = trip
    first, second = await factories.make_user(), await factories.make_user()
    await holds.hold_seats(first, request(schedule, seats[:1], 0, 1), now=NOW, policy=POLICY)
    await holds.hold_seats(second, request(schedule, seats[:1], 1, 2), now=NOW, policy=POLICY)
    assert await SeatAllocation.filter(active=True).count() == 2


async def test_an_expired_hold_is_free_at_that_instant_without_the_sweeper(trip):
    schedule, seats = trip
    first, second = await factories.make_user(), await factories.make_user()
    old = await holds.hold_seats(first, request(schedule, seats[:2]), now=NOW, policy=POLICY)
    at_expiry = old.expires_at
    with pytest.raises(SeatsUnavailable):
        await holds.hold_seats(
            second,
            request(schedule, seats[:1]),
            now=at_expiry - timedelta(microseconds=1),
            policy=POLICY,
        )
    new = await holds.hold_seats(second, request(schedule, seats[:1]), now=at_expiry, policy=POLICY)
    assert new.status == ReservationStatus.ACTIVE
    await old.refresh_from_db()
    assert old.status == ReservationStatus.EXPIRED  # released inline, audited
    assert await ActivityLog.filter(action="reservation.expired").count() == 1
    # Seat 2 of the old hold is free too (its allocation ended with the hold).
    assert await SeatAllocation.filter(reservation=old, active=True).count() == 0


async def test_the_same_form_sent_twice_makes_one_hold(trip):
    schedule, seats = trip
    user = await factories.make_user()
    form = request(schedule, seats[:2])
    first, second = await asyncio.gather(
        holds.hold_seats(user, form, now=NOW, policy=POLICY),
        holds.hold_seats(user, form, now=NOW, policy=POLICY),
    )
    assert first.id == second.id
    assert await Reservation.all().count() == 1


async def test_hoarding_limits(trip):
    schedule, seats = trip
    user = await factories.make_user()
    for i in range(2):
        await holds.hold_seats(user, request(schedule, [seats[i]]), now=NOW, policy=POLICY)
    with pytest.raises(HoldLimitReached, match="2 holds on this trip"):
        await holds.hold_seats(user, request(schedule, [seats[5]]), now=NOW, policy=POLICY)
    other = await factories.make_trip(NOW + timedelta(days=2), rows=1)
    other_seats = await factories.schedule_seats(other)
    await holds.hold_seats(user, request(other, [other_seats[0]]), now=NOW, policy=POLICY)
    with pytest.raises(HoldLimitReached, match="3 active holds"):
        await holds.hold_seats(user, request(other, [other_seats[1]]), now=NOW, policy=POLICY)
    # Expired holds do not count.
    later = NOW + timedelta(minutes=15)
    await holds.hold_seats(user, request(schedule, [seats[5]]), now=later, policy=POLICY)


async def test_bad_requests_change_nothing(trip):
    schedule, seats = trip
    user = await factories.make_user()
    other_bus_trip = await factories.make_trip(NOW + timedelta(days=1), rows=1)
    foreign = (await factories.schedule_seats(other_bus_trip))[0]
    await ScheduleSeat.filter(id=seats[3].id).update(is_blocked=True)
    before = await snapshot()
    cases = [
        (request(schedule, []), ValidationFailed, "at least one seat"),
        (request(schedule, seats[:7]), ValidationFailed, "at most 6 seats"),
        (request(schedule, [seats[0], seats[0]]), ValidationFailed, "only once"),
        (request(schedule, [seats[0], foreign]), ValidationFailed, "not on this bus"),
        (request(schedule, [seats[3]]), SeatsUnavailable, "not for sale"),
        (request(schedule, seats[:1], 0, 5), ValidationFailed, "not on this route"),
        (request(schedule, seats[:1], 2, 1), ValidationFailed, "must come after"),
        (
            request(schedule, seats[:1], boarding_point_id=999999),
            ValidationFailed,
            "boarding point",
        ),
    ]
    for bad, error, text in cases:
        with pytest.raises(error, match=text):
            await holds.hold_seats(user, bad, now=NOW, policy=POLICY)
    departed = schedule.departure_at + timedelta(minutes=1)
    with pytest.raises(TripDeparted):
        await holds.hold_seats(user, request(schedule, seats[:1]), now=departed, policy=POLICY)
    assert await snapshot() == before


async def test_cancel_frees_the_seats_and_is_idempotent(trip):
    schedule, seats = trip
    user, stranger = await factories.make_user(), await factories.make_user()
    reservation = await holds.hold_seats(user, request(schedule, seats[:2]), now=NOW, policy=POLICY)
    with pytest.raises(ReservationNotFound):
        await holds.cancel_hold(stranger, reservation.public_id, now=NOW)
    await holds.cancel_hold(user, reservation.public_id, now=NOW)
    await holds.cancel_hold(user, reservation.public_id, now=NOW)
    await reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CANCELLED
    assert await SeatAllocation.filter(active=True).count() == 0
    assert await ActivityLog.filter(action="reservation.cancelled").count() == 1
    await holds.hold_seats(stranger, request(schedule, seats[:2]), now=NOW, policy=POLICY)


async def test_sweeper_expires_due_holds_once(trip):
    schedule, seats = trip
    user = await factories.make_user()
    due = await holds.hold_seats(user, request(schedule, seats[:2]), now=NOW, policy=POLICY)
    later = await holds.hold_seats(
        user, request(schedule, seats[2:3]), now=NOW + timedelta(minutes=5), policy=POLICY
    )
    at = NOW + timedelta(minutes=15)
    assert await holds.expire_holds(at) == 1
    assert await holds.expire_holds(at) == 0  # idempotent
    await due.refresh_from_db()
    await later.refresh_from_db()
    assert (due.status, later.status) == (ReservationStatus.EXPIRED, ReservationStatus.ACTIVE)
    assert await ActivityLog.filter(action="reservation.expired").count() == 1


async def test_two_sweepers_at_once_expire_each_hold_exactly_once(trip):
    schedule, seats = trip
    users = [await factories.make_user() for _ in range(6)]
    for user, seat in zip(users, seats, strict=False):
        await holds.hold_seats(user, request(schedule, [seat]), now=NOW, policy=POLICY)
    at = NOW + timedelta(hours=1)
    counts = await asyncio.gather(*(holds.expire_holds(at, batch=2) for _ in range(3)))
    assert sum(counts) == 6
    assert await ActivityLog.filter(action="reservation.expired").count() == 6
    assert await Reservation.filter(status=ReservationStatus.EXPIRED).count() == 6
    rows = await connections.get("default").execute_query_dict(
        "SELECT count(*) AS n FROM seat_allocations WHERE active"
    )
    assert rows[0]["n"] == 0


async def test_a_hold_checks_the_login_it_is_made_with(trip):
    """A cookie's claim (user id and session version) is checked by the hold's first
    statement: a stale version or a closed account holds nothing and changes nothing."""
    schedule, seats = trip
    user = await factories.make_user()
    stale = SessionClaim(user.id, user.session_version - 1)
    before = await snapshot()
    with pytest.raises(SignedOut):
        await holds.hold_seats(stale, request(schedule, seats[:2]), now=NOW, policy=POLICY)
    assert await snapshot() == before
    user.is_active = False
    await user.save(update_fields=["is_active"])
    with pytest.raises(SignedOut):
        await holds.hold_seats(
            SessionClaim.of(user), request(schedule, seats[:2]), now=NOW, policy=POLICY
        )
    assert await snapshot() == before
    user.is_active = True
    await user.save(update_fields=["is_active"])
    held = await holds.hold_seats(
        SessionClaim.of(user), request(schedule, seats[:2]), now=NOW, policy=POLICY
    )
    assert held.user_id == user.id


def _seat_facts(held):
    seat = held.schedule_seat.seat
    return (
        held.schedule_seat.id,
        held.schedule_seat.schedule_id,
        held.schedule_seat.seat_id,
        held.schedule_seat.is_blocked,
        seat.id,
        seat.bus_id,
        seat.number,
        seat.deck,
        seat.row,
        seat.column,
        seat.seat_type,
        seat.position,
        seat.price_factor,
        held.fare,
    )


async def test_a_hold_just_taken_answers_with_the_seats_it_locked(trip):
    """take_hold's seats (from the locked rows, no second read) are what reading the hold's
    seats back gives, and its quote is the hold's quote; the same form again too."""
    from domain import checkout

    schedule, seats = trip
    user = await factories.make_user()
    hold = await holds.take_hold(user, request(schedule, seats[:3]), now=NOW, policy=POLICY)
    read_back = await holds.reservation_seats(hold.reservation)
    assert sorted(map(_seat_facts, hold.seats)) == sorted(map(_seat_facts, read_back))
    assert checkout.hold_quote(hold) == await checkout.quote(hold.reservation)
    again = await holds.take_hold(user, request(schedule, seats[:3]), now=NOW, policy=POLICY)
    assert again.reservation.id == hold.reservation.id
    assert sorted(map(_seat_facts, again.seats)) == sorted(map(_seat_facts, read_back))
