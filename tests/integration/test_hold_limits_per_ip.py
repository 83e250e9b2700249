"""Hoarding with throwaway accounts: holds are limited per address as well as per account
(three fresh accounts from one place held every seat of a 36-seat trip in 4 s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import holds
from domain.errors import HoldLimitReached
from domain.holds import HoldPolicy, HoldRequest
from domain.models import Reservation
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
POLICY = HoldPolicy(
    max_seats=6,
    max_holds_per_trip=2,
    max_active_holds=5,
    max_active_holds_per_ip=10,
    max_seats_per_ip_per_trip=12,
)
HOME = "198.51.100.20"


@pytest.fixture
async def bus():
    schedule = await factories.make_trip(NOW + timedelta(days=1), rows=9)  # 36 seats
    return schedule, await factories.schedule_seats(schedule)


def picked(schedule, seats):
    return HoldRequest(schedule.id, 0, 2, tuple(s.id for s in seats))


async def test_three_fresh_accounts_cannot_take_the_whole_bus(bus):
    schedule, seats = bus
    accounts = [await factories.make_user() for _ in range(3)]
    taken = 0
    refused = 0
    chunks = [seats[i : i + 6] for i in range(0, 36, 6)]
    for n, chunk in enumerate(chunks):
        try:
            await holds.hold_seats(
                accounts[n // 2], picked(schedule, chunk), now=NOW, policy=POLICY, ip=HOME
            )
            taken += len(chunk)
        except HoldLimitReached as exc:
            assert "held from your network" in exc.message
            refused += 1
    assert taken == 12
    assert refused == 4
    assert await Reservation.filter(ip=HOME).count() == 2
    # a passenger elsewhere still finds seats
    other = await factories.make_user()
    await holds.hold_seats(
        other, picked(schedule, seats[12:14]), now=NOW, policy=POLICY, ip="203.0.113.4"
    )


async def test_seats_per_address_count_the_seats_asked_for(bus):
    schedule, seats = bus
    first, second = await factories.make_user(), await factories.make_user()
    await holds.hold_seats(first, picked(schedule, seats[:6]), now=NOW, policy=POLICY, ip=HOME)
    await holds.hold_seats(second, picked(schedule, seats[6:11]), now=NOW, policy=POLICY, ip=HOME)
    with pytest.raises(HoldLimitReached):  # 11 held + 2 > 12
        await holds.hold_seats(
            second, picked(schedule, seats[11:13]), now=NOW, policy=POLICY, ip=HOME
        )
    await holds.hold_seats(second, picked(schedule, seats[11:12]), now=NOW, policy=POLICY, ip=HOME)


async def test_active_holds_per_address_across_trips_and_expiry():
    policy = HoldPolicy(max_active_holds_per_ip=2, hold_minutes=15)
    trips = [await factories.make_trip(NOW + timedelta(days=1, hours=h), rows=1) for h in range(3)]
    users = [await factories.make_user() for _ in range(3)]
    for user, trip in zip(users[:2], trips[:2], strict=True):
        seat = (await factories.schedule_seats(trip))[0]
        await holds.hold_seats(user, picked(trip, [seat]), now=NOW, policy=policy, ip=HOME)
    seat = (await factories.schedule_seats(trips[2]))[0]
    with pytest.raises(HoldLimitReached):
        await holds.hold_seats(users[2], picked(trips[2], [seat]), now=NOW, policy=policy, ip=HOME)
    # expired holds no longer count
    later = NOW + timedelta(minutes=15)
    await holds.hold_seats(users[2], picked(trips[2], [seat]), now=later, policy=policy, ip=HOME)


async def test_one_ipv6_subscriber_is_one_address(bus):
    schedule, seats = bus
    policy = HoldPolicy(max_seats_per_ip_per_trip=2)
    first, second = await factories.make_user(), await factories.make_user()
    await holds.hold_seats(
        first, picked(schedule, seats[:2]), now=NOW, policy=policy, ip="2001:db8:5:6::1"
    )
    with pytest.raises(HoldLimitReached):  # the same /64
        await holds.hold_seats(
            second, picked(schedule, seats[2:3]), now=NOW, policy=policy, ip="2001:db8:5:6:ffff::9"
        )
    await holds.hold_seats(
        second, picked(schedule, seats[2:3]), now=NOW, policy=policy, ip="2001:db8:5:7::1"
    )


async def test_holds_without_an_address_are_not_counted_together(bus):
    schedule, seats = bus
    policy = HoldPolicy(max_seats_per_ip_per_trip=2)
    for n in range(3):
        user = await factories.make_user()
        await holds.hold_seats(
            user, picked(schedule, seats[2 * n : 2 * n + 2]), now=NOW, policy=policy
        )
    assert await Reservation.filter(seat_count=2).count() == 3


async def test_fresh_accounts_sending_at_the_same_instant_still_get_twelve_seats(bus):
    """Found from outside: seven accounts from one address, one 6-seat hold each, all at
    once, held 36 of 40 seats. Holds from one address now take turns (an advisory lock)."""
    import asyncio

    schedule, seats = bus
    accounts = [await factories.make_user() for _ in range(6)]
    chunks = [seats[i : i + 6] for i in range(0, 36, 6)]
    results = await asyncio.gather(
        *(
            holds.hold_seats(account, picked(schedule, chunk), now=NOW, policy=POLICY, ip=HOME)
            for account, chunk in zip(accounts, chunks, strict=True)
        ),
        return_exceptions=True,
    )
    held = [r for r in results if isinstance(r, Reservation)]
    assert sum(r.seat_count for r in held) == 12
    assert all(isinstance(r, Reservation | HoldLimitReached) for r in results), results


async def test_no_per_address_limits_when_they_are_switched_off(bus):
    schedule, seats = bus
    off = HoldPolicy(max_active_holds_per_ip=0, max_seats_per_ip_per_trip=0)
    accounts = [await factories.make_user() for _ in range(3)]
    for n, account in enumerate(accounts):
        await holds.hold_seats(
            account, picked(schedule, seats[n * 6 : n * 6 + 6]), now=NOW, policy=off, ip=HOME
        )
    assert await Reservation.filter(ip=HOME).count() == 3
