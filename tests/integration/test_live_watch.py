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


async def test_a_watch_that_falls_behind_reloads_or_with_snapshots_reads_every_seat(broker, trip):
    """More changes than a watcher's queue holds: the page's watch ends with `reload`; a
    watch that keeps snapshots (the WebSocket) reads the whole map again and goes on."""
    from domain import events

    schedule, seats = trip
    user = await factories.make_user()
    page = await live.watch_seats(broker, schedule.id, None, None, viewer_id=None, since=None)
    socket = await live.watch_seats(
        broker, schedule.id, None, None, viewer_id=user.id, since=None, snapshots=True
    )
    # A hold commits and is heard, then a flood the watchers do not read in time.
    await holds.hold_seats(user, hold_request(schedule, seats[:1]), now=datetime.now(UTC))
    for _ in range(200):
        if broker.subscriber_count(schedule.id) and all(
            not s.queue.empty() for s in broker._subscribers[schedule.id]
        ):
            break
        await asyncio.sleep(0.01)
    for _ in range(70):
        broker._broadcast(events.SeatChange(schedule.id, {}))
    assert (await asyncio.wait_for(page.next(heartbeat=5), 3)).reload
    snapshot = await asyncio.wait_for(socket.next(heartbeat=5), 3)
    assert snapshot.snapshot and not snapshot.reload
    assert [s.schedule_seat_id for s in snapshot.seats] == [s.id for s in seats]
    assert snapshot.seats[0].status is SeatStatus.MINE and snapshot.available == 7
    # It is still subscribed: the next change arrives as usual.
    await holds.hold_seats(user, hold_request(schedule, seats[1:2]), now=datetime.now(UTC))
    update = await asyncio.wait_for(socket.next(heartbeat=5), 3)
    assert [(s.schedule_seat_id, s.status) for s in update.seats] == [
        (seats[1].id, SeatStatus.MINE)
    ]
    assert not update.snapshot
    page.close()
    socket.close()


async def test_a_resync_gives_a_snapshot_to_a_watch_that_keeps_them(broker, trip):
    from domain import events

    schedule, seats = trip
    page = await live.watch_seats(broker, schedule.id, None, None, viewer_id=None, since=None)
    socket = await live.watch_seats(
        broker, schedule.id, 0, 1, viewer_id=None, since=None, snapshots=True
    )
    broker._broadcast(events.RESYNC)  # what a reconnect of the LISTEN connection sends
    snapshot = await asyncio.wait_for(socket.next(heartbeat=5), 3)
    assert snapshot.snapshot and len(snapshot.seats) == len(seats) and snapshot.available == 8
    # The page's watch reports only what changed: nothing, so the heartbeat comes.
    quiet = await asyncio.wait_for(page.next(heartbeat=0.5), 3)
    assert (quiet.seats, quiet.snapshot, quiet.reload) == ((), False, False)
    page.close()
    socket.close()
