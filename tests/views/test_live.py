"""Live seat maps over SSE: events after commit only, to every subscriber, across apps."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from app import create_app
from domain import events, holds
from domain.errors import SeatsUnavailable
from domain.holds import HoldPolicy, HoldRequest
from tests import factories
from tests.conftest import make_settings

EVENT_RE = re.compile(r"event: (\S+)\n((?:data: .*\n)*)\n")


class Stream:
    """An SSE response read through Quart's test client, event by event."""

    def __init__(self, connection):
        self.connection = connection
        self.buffer = ""

    async def next_event(self, within: float = 2.0) -> tuple[str, str]:
        async def read() -> tuple[str, str]:
            while True:
                match = EVENT_RE.search(self.buffer)
                if match:
                    self.buffer = self.buffer[match.end() :]
                    data = "\n".join(line[6:] for line in match.group(2).splitlines())
                    return match.group(1), data
                self.buffer += (await self.connection.receive()).decode()

        return await asyncio.wait_for(read(), within)

    async def events_until(self, name: str, within: float = 2.0) -> str:
        while True:
            event, data = await self.next_event(within)
            if event == name:
                return data


async def open_stream(client, trip, from_seq=0, to_seq=2, **query):
    path = f"/schedules/{trip.id}/stream?from={from_seq}&to={to_seq}"
    path += "".join(f"&{k}={v}" for k, v in query.items())
    connection = client.request(path)
    await connection.__aenter__()
    await connection.send_complete()
    stream = Stream(connection)
    while "retry:" not in stream.buffer:  # the stream is subscribed once it has spoken
        stream.buffer += (await asyncio.wait_for(connection.receive(), 5)).decode()
    return stream


async def close(stream):
    await stream.connection.disconnect()
    await stream.connection.__aexit__(None, None, None)


@pytest.fixture
async def trip(settings):
    departure = datetime.now(settings.tz) + timedelta(days=1)
    return await factories.make_trip(departure, rows=2)


def hold_request(trip, seats, from_seq=0, to_seq=2):
    return HoldRequest(trip.id, from_seq, to_seq, tuple(s.id for s in seats))


async def test_two_subscribers_see_a_hold_after_commit(app, client, trip):
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    first, second = await open_stream(client, trip), await open_stream(app.test_client(), trip)
    await holds.hold_seats(user, hold_request(trip, seats[:2]), now=datetime.now().astimezone())
    for stream in (first, second):
        html = await stream.events_until(f"seat-{seats[0].id}")
        assert 'data-status="held"' in html and f'id="seat-{seats[0].id}"' in html
        assert 'sse-swap="seat-' in html  # the swapped element keeps listening
        await stream.events_until(f"seat-{seats[1].id}")
        assert await stream.events_until("seat-count") == "6"
    for stream in (first, second):
        await close(stream)


async def test_the_holder_sees_mine_and_others_see_held(app, auth, trip):
    seats = await factories.schedule_seats(trip)
    await auth.register()
    mine = await open_stream(auth.client, trip)
    from domain.models import User

    me = await User.get(email="priya@example.com")
    await holds.hold_seats(me, hold_request(trip, seats[:1]), now=datetime.now().astimezone())
    assert 'data-status="mine"' in await mine.events_until(f"seat-{seats[0].id}")
    await close(mine)


async def test_rolled_back_changes_send_nothing(client, trip):
    seats = await factories.schedule_seats(trip)
    user, other = await factories.make_user(), await factories.make_user()
    now = datetime.now().astimezone()
    await holds.hold_seats(user, hold_request(trip, seats[:1]), now=now)
    stream = await open_stream(client, trip)
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await events.announce(conn, trip.id, [seats[2].id], "held")
            raise RuntimeError("changed my mind")
    with pytest.raises(SeatsUnavailable):  # a refused hold rolls back: no event either
        await holds.hold_seats(other, hold_request(trip, seats[:2]), now=now)
    with pytest.raises(TimeoutError):
        await stream.next_event(within=0.8)
    # The stream is alive: a real change still arrives.
    await holds.hold_seats(other, hold_request(trip, seats[3:4]), now=now)
    assert (await stream.next_event())[0] == f"seat-{seats[3].id}"
    await close(stream)


async def test_a_change_on_another_segment_sends_nothing_for_this_one(client, trip):
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    stream = await open_stream(client, trip, 1, 2)  # Lonavala -> Pune
    now = datetime.now().astimezone()
    await holds.hold_seats(user, hold_request(trip, seats[:1], 0, 1), now=now)  # before it
    with pytest.raises(TimeoutError):
        await stream.next_event(within=0.8)
    await close(stream)


async def test_expiry_frees_the_seat_on_time_without_the_sweeper(client, trip):
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    stream = await open_stream(client, trip)
    policy = HoldPolicy(hold_minutes=1.5 / 60)  # 1.5 seconds
    reservation = await holds.hold_seats(
        user, hold_request(trip, seats[:1]), now=datetime.now().astimezone(), policy=policy
    )
    assert 'data-status="held"' in await stream.events_until(f"seat-{seats[0].id}")
    freed = await stream.events_until(f"seat-{seats[0].id}", within=3)
    assert 'data-status="available"' in freed
    await reservation.refresh_from_db()
    assert reservation.status == "active"  # nobody swept: the stream knew the expiry time
    await close(stream)


async def test_a_stream_opened_after_a_change_catches_up(client, trip):
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    rendered = datetime.now().astimezone()
    await holds.hold_seats(user, hold_request(trip, seats[:1]), now=rendered)
    since = int((rendered - timedelta(seconds=1)).timestamp() * 1000)
    stream = await open_stream(client, trip, since=since)
    assert 'data-status="held"' in await stream.events_until(f"seat-{seats[0].id}")
    await close(stream)


async def test_a_second_app_on_the_same_database_receives_the_event(settings, auth, trip):
    """Two app instances, two LISTEN connections: a hold made through the first app's HTTP
    interface reaches a watcher of the second."""
    seats = await factories.schedule_seats(trip)
    other_app = create_app(
        make_settings(settings.database_url), manage_database=False, background_tasks=False
    )
    async with other_app.test_app() as second:
        watcher = await open_stream(second.test_client(), trip)
        await auth.register()
        token = await auth.csrf(f"/schedules/{trip.id}")
        response = await auth.client.post(
            "/reservations",
            form={
                "csrf_token": token,
                "schedule_id": str(trip.id),
                "from_stop": "0",
                "to_stop": "2",
                "seat_ids": str(seats[5].id),
            },
        )
        assert response.status_code == 303
        assert 'data-status="held"' in await watcher.events_until(f"seat-{seats[5].id}")
        await close(watcher)


async def test_unknown_trip_or_bad_segment_is_refused_before_streaming(client, trip):
    assert (await client.get("/schedules/999999/stream?from=0&to=1")).status_code == 404
    assert (await client.get(f"/schedules/{trip.id}/stream?from=2&to=0")).status_code == 422


async def test_the_broker_reconnects_after_its_database_connection_drops(app, client, trip):
    from tortoise import connections

    from views.services import services_of

    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    broker = services_of(app.app).broker
    broker.reconnect_delay = 0.1
    stream = await open_stream(client, trip)
    pid = broker._connection.get_server_pid()
    await connections.get("default").execute_query("SELECT pg_terminate_backend($1)", [pid])
    for _ in range(100):  # wait until it listens on a new connection
        await asyncio.sleep(0.05)
        if broker.listening and broker._connection.get_server_pid() != pid:
            break
    assert broker._connection.get_server_pid() != pid
    await holds.hold_seats(user, hold_request(trip, seats[:1]), now=datetime.now().astimezone())
    assert 'data-status="held"' in await stream.events_until(f"seat-{seats[0].id}", within=3)
    await close(stream)


async def test_a_change_the_broker_could_not_read_still_reaches_the_watcher(app, client, trip):
    """The broker reads each changed seat once for all its watchers; when that read fails,
    the watchers read the whole trip again instead of missing the change."""
    from tortoise import connections

    from domain import inventory
    from views.services import services_of

    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    broker = services_of(app.app).broker
    failed: list[int] = []

    async def fails_once(schedule_id: int, seat_ids: list[int]):
        if not failed:
            failed.append(schedule_id)
            await connections.get("default").execute_query("SELECT 1 / 0")  # a real error
        return await inventory.seat_states(schedule_id, seat_ids)

    broker.load_states = fails_once
    stream = await open_stream(client, trip)
    await holds.hold_seats(user, hold_request(trip, seats[:1]), now=datetime.now().astimezone())
    assert 'data-status="held"' in await stream.events_until(f"seat-{seats[0].id}")
    assert failed == [trip.id]
    await close(stream)
