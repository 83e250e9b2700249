"""The live seat watch in the domain: plain data per viewer and segment, on time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain import database, holds, live
from domain.enums import SeatStatus
from domain.events import SeatBroker
from domain.holds import HoldPolicy, HoldRequest
from tests import factories

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
async def broker(database_url):
    broker = SeatBroker(database.asyncpg_dsn(database_url))
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
async def trip():
    schedule = await factories.make_trip(datetime.now(UTC) + timedelta(days=1), rows=2)
    return schedule, await factories.schedule_seats(schedule)  # 8 seats


def hold_request(schedule, seats, from_seq=0, to_seq=2):
    return HoldRequest(schedule.id, from_seq, to_seq, tuple(s.id for s in seats))


async def test_each_viewer_gets_the_changed_seat_with_its_own_status(broker, trip):
    schedule, seats = trip
    holder, other = await factories.make_user(), await factories.make_user()
    mine = await live.watch_seats(broker, schedule.id, 0, 2, viewer_id=holder.id, since=None)
    theirs = await live.watch_seats(broker, schedule.id, None, None, viewer_id=other.id, since=None)
    hold = await holds.hold_seats(holder, hold_request(schedule, seats[:1]), now=datetime.now(UTC))
    for watch, status in ((mine, SeatStatus.MINE), (theirs, SeatStatus.HELD)):
        update = await asyncio.wait_for(watch.next(heartbeat=5), 3)
        assert [(s.schedule_seat_id, s.number, s.status) for s in update.seats] == [
            (seats[0].id, seats[0].seat.number, status)
        ]
        assert (update.available, update.next_expiry, update.reload) == (7, hold.expires_at, False)
        watch.close()
    assert broker.subscriber_count(schedule.id) == 0


async def test_a_hold_on_another_segment_changes_nothing_and_quiet_is_a_heartbeat(broker, trip):
    schedule, seats = trip
    user = await factories.make_user()
    watch = await live.watch_seats(broker, schedule.id, 1, 2, viewer_id=None, since=None)
    await holds.hold_seats(user, hold_request(schedule, seats[:1], 0, 1), now=datetime.now(UTC))
    update = await asyncio.wait_for(watch.next(heartbeat=0.8), 3)
    assert (update.seats, update.available, update.reload) == ((), 8, False)
    watch.close()


async def test_the_watch_wakes_when_a_hold_runs_out(broker, trip):
    schedule, seats = trip
    user = await factories.make_user()
    watch = await live.watch_seats(broker, schedule.id, None, None, viewer_id=None, since=None)
    policy = HoldPolicy(hold_minutes=1 / 60)  # one second
    await holds.hold_seats(
        user, hold_request(schedule, seats[:1]), now=datetime.now(UTC), policy=policy
    )
    held = await asyncio.wait_for(watch.next(heartbeat=5), 3)
    assert [s.status for s in held.seats] == [SeatStatus.HELD]
    freed = await asyncio.wait_for(watch.next(heartbeat=5), 3)
    assert [(s.schedule_seat_id, s.status) for s in freed.seats] == [
        (seats[0].id, SeatStatus.AVAILABLE)
    ]
    assert (freed.available, freed.next_expiry) == (8, None)
    watch.close()
