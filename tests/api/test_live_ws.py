"""Live seats over the API's WebSocket: a snapshot on connect and after a gap, an event per
committed change (hold, cancel, release, sweep, payment), "mine" with a ticket, refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart.testing import WebsocketResponseError
from quart.testing.connections import WebsocketDisconnectError
from tortoise import connections

from domain import checkout, holds, live_tickets, payment_outcomes
from domain.checkout import CheckoutInput, PassengerInput
from domain.enums import Gender, PaymentMethod
from domain.holds import HoldPolicy, HoldRequest
from domain.models import User
from tests import factories
from tests.api.conftest import problem_of, token_for
from views.api import live as api_live
from views.services import services_of

# The authorization matrix's table (tests/api/test_authorization_matrix.py); the socket
# itself (/api/v1/schedules/{id}/ws) is a WebSocket route, outside the matrix.
ACCESS = [
    ("POST", "/api/v1/schedules/{id}/ws-ticket", "user"),
]


@pytest.fixture
async def trip(settings):
    departure = datetime.now(settings.tz) + timedelta(days=1)
    schedule = await factories.make_trip(departure, rows=2)  # 8 seats, stops 0..2
    return schedule, await factories.schedule_seats(schedule)


def now() -> datetime:
    return datetime.now(UTC)


class Socket:
    """One WebSocket through Quart's test client, read message by message."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def receive(self, within: float = 2.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.connection.receive(), within))

    async def next(self, kind: str, within: float = 2.0) -> dict[str, Any]:
        """The next message of that type (pings skipped)."""
        while True:
            message = await self.receive(within)
            if message["type"] == kind:
                return message
            assert message["type"] == "ping", message

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def close(self) -> None:
        await self.connection.__aexit__(None, None, None)


async def connect(client, schedule, headers=None, **query) -> tuple[Socket, dict[str, Any]]:
    """Open the socket and read its first message (the snapshot)."""
    path = f"/api/v1/schedules/{schedule.id}/ws"
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    connection = client.websocket(path, headers=headers)
    await connection.__aenter__()
    socket = Socket(connection)
    return socket, await socket.receive(5)


async def refused(client, path, headers=None) -> tuple[dict[str, Any], int]:
    """The error event and the close code of a socket that is accepted only to be closed."""
    async with client.websocket(path, headers=headers) as connection:
        message = json.loads(await asyncio.wait_for(connection.receive(), 5))
        with pytest.raises(WebsocketDisconnectError) as closed:
            await asyncio.wait_for(connection.receive(), 5)
    return message, closed.value.args[0]


def hold_request(schedule, seats, from_seq=0, to_seq=2):
    return HoldRequest(schedule.id, from_seq, to_seq, tuple(s.id for s in seats))


def statuses(snapshot: dict[str, Any]) -> dict[int, str]:
    return {seat["seat_id"]: seat["status"] for seat in snapshot["seats"]}


async def test_a_snapshot_on_connect_names_every_seat_with_its_status_for_the_segment(
    app, client, trip
):
    schedule, seats = trip
    user = await factories.make_user()
    await holds.hold_seats(user, hold_request(schedule, seats[:1], 0, 1), now=now())
    await holds.hold_seats(user, hold_request(schedule, seats[1:2], 1, 2), now=now())
    socket, snapshot = await connect(client, schedule, from_stop=0, to_stop=1)
    assert snapshot == {
        "type": "snapshot",
        "schedule_id": schedule.id,
        "from_stop": 0,
        "to_stop": 1,
        "available_seats": 7,
        "seats": [
            {
                "seat_id": seat.id,
                "seat_number": seat.seat.number,
                "status": "held" if seat is seats[0] else "free",  # seats[1]: another segment
            }
            for seat in seats
        ],
    }
    whole, whole_snapshot = await connect(app.test_client(), schedule)  # no stops: the route
    assert (whole_snapshot["from_stop"], whole_snapshot["to_stop"]) == (0, 2)
    assert [statuses(whole_snapshot)[s.id] for s in seats[:3]] == ["held", "held", "free"]
    broker = services_of(app.app).broker
    assert broker.subscriber_count(schedule.id) == 2
    for s in (socket, whole):
        await s.close()
    for _ in range(50):  # the server side notices the disconnect and unsubscribes
        if broker.subscriber_count(schedule.id) == 0:
            break
        await asyncio.sleep(0.02)
    assert broker.subscriber_count(schedule.id) == 0


async def test_a_hold_then_its_cancellation_reach_every_socket(app, client, trip):
    schedule, seats = trip
    user = await factories.make_user()
    first, _ = await connect(client, schedule, from_stop=0, to_stop=2)
    second, _ = await connect(app.test_client(), schedule, from_stop=1, to_stop=2)
    reservation = await holds.hold_seats(user, hold_request(schedule, seats[:2]), now=now())
    for socket in (first, second):
        got = [await socket.next("seat"), await socket.next("seat")]
        assert sorted((m["seat_id"], m["status"]) for m in got) == [
            (seats[0].id, "held"),
            (seats[1].id, "held"),
        ]
        assert got[-1]["available_seats"] == 6
        assert got[0]["seat_number"] in {seats[0].seat.number, seats[1].seat.number}
    await holds.cancel_hold(user, reservation.public_id, now=now())
    for socket in (first, second):
        got = [await socket.next("seat"), await socket.next("seat")]
        assert {(m["seat_id"], m["status"]) for m in got} == {
            (seats[0].id, "free"),
            (seats[1].id, "free"),
        }
        assert got[-1]["available_seats"] == 8
        await socket.close()


async def test_an_operator_release_frees_the_seat(client, trip):
    schedule, seats = trip
    user, admin = await factories.make_user(), await factories.make_user()
    reservation = await holds.hold_seats(user, hold_request(schedule, seats[3:4]), now=now())
    socket, snapshot = await connect(client, schedule)
    assert statuses(snapshot)[seats[3].id] == "held"
    await holds.release_hold(admin, reservation.public_id, "stuck at the counter", now=now())
    message = await socket.next("seat")
    assert (message["seat_id"], message["status"]) == (seats[3].id, "free")
    await socket.close()


async def test_the_sweeper_expiring_a_hold_frees_the_seat(client, trip):
    schedule, seats = trip
    user = await factories.make_user()
    await holds.hold_seats(
        user, hold_request(schedule, seats[2:3]), now=now(), policy=HoldPolicy(hold_minutes=15)
    )
    socket, snapshot = await connect(client, schedule)
    assert statuses(snapshot)[seats[2].id] == "held"
    # The sweeper runs with a clock past the hold's end: the hold ends in the database
    # (the socket's own clock has not reached it yet), and the change is announced.
    assert await holds.expire_holds(now() + timedelta(minutes=16)) == 1
    message = await socket.next("seat")
    assert (message["seat_id"], message["status"], message["available_seats"]) == (
        seats[2].id,
        "free",
        8,
    )
    await socket.close()


async def test_a_hold_that_runs_out_is_free_on_time_without_the_sweeper(client, trip):
    schedule, seats = trip
    user = await factories.make_user()
    socket, _ = await connect(client, schedule)
    policy = HoldPolicy(hold_minutes=1.2 / 60)  # 1.2 seconds
    await holds.hold_seats(user, hold_request(schedule, seats[:1]), now=now(), policy=policy)
    assert (await socket.next("seat"))["status"] == "held"
    assert (await socket.next("seat", within=3))["status"] == "free"
    await socket.close()


async def test_a_paid_hold_becomes_booked(app, client, trip):
    schedule, seats = trip
    svc = services_of(app.app)
    user = await factories.make_user()
    socket, _ = await connect(client, schedule)
    reservation = await holds.hold_seats(user, hold_request(schedule, seats[4:5]), now=now())
    assert (await socket.next("seat"))["status"] == "held"
    quote = await checkout.quote(reservation)
    form = CheckoutInput(
        passengers=[PassengerInput(seats[4].id, "Asha Rao", 34, Gender.FEMALE)],
        contact_email="asha@example.com",
        contact_phone="+919876543210",
        method=PaymentMethod.UPI,
        quoted_total=quote.total,
        idempotency_key="ws-test-payment-key-0001",
    )
    payment = await checkout.start_checkout(
        user, reservation.public_id, form, gateways=svc.gateways, config=svc.checkout, now=now()
    )
    simulator = svc.gateways.get("simulator")
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=True)
    await payment_outcomes.receive_webhook(
        "simulator", headers, body, gateways=svc.gateways, config=svc.checkout, now=now()
    )
    message = await socket.next("seat")
    assert (message["seat_id"], message["status"], message["available_seats"]) == (
        seats[4].id,
        "booked",
        7,
    )
    await socket.close()


async def test_a_ticket_shows_the_clients_own_holds_as_mine(app, client, settings, trip):
    schedule, seats = trip
    me, other = await factories.make_user(), await factories.make_user()
    await holds.hold_seats(me, hold_request(schedule, seats[:1]), now=now())
    issued = await live_tickets.issue_ticket(me, schedule.id, secret=settings.secret_key, now=now())
    assert issued.expires_at - now() <= timedelta(seconds=60)
    mine, snapshot = await connect(client, schedule, ticket=issued.ticket)
    assert statuses(snapshot)[seats[0].id] == "mine"
    guest, guest_snapshot = await connect(app.test_client(), schedule)
    assert statuses(guest_snapshot)[seats[0].id] == "held"
    await holds.hold_seats(me, hold_request(schedule, seats[1:2]), now=now())
    await holds.hold_seats(other, hold_request(schedule, seats[2:3]), now=now())
    assert [
        (m["seat_id"], m["status"]) for m in [await mine.next("seat"), await mine.next("seat")]
    ] == [
        (seats[1].id, "mine"),
        (seats[2].id, "held"),
    ]
    assert (await guest.next("seat"))["status"] == "held"
    for socket in (mine, guest):
        await socket.close()


async def test_a_ticket_comes_from_the_access_token_and_shows_mine(app, client, trip):
    schedule, seats = trip
    me = await factories.make_user()
    await holds.hold_seats(me, hold_request(schedule, seats[5:6]), now=now())
    path = f"/api/v1/schedules/{schedule.id}/ws-ticket"
    response = await client.post(path, headers={"Authorization": f"Bearer {token_for(app, me)}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    issued = await response.get_json()
    assert issued["expires_in"] == 60
    assert datetime.fromisoformat(issued["expires_at"]) > now()
    socket, snapshot = await connect(client, schedule, ticket=issued["ticket"])
    assert statuses(snapshot)[seats[5].id] == "mine"
    await socket.close()
    # The access token itself is no ticket.
    message, code = await refused(
        client, f"/api/v1/schedules/{schedule.id}/ws?ticket={token_for(app, me)}"
    )
    assert (message["error"]["code"], code) == ("live_ticket_invalid", 1008)


async def test_a_ticket_needs_an_access_token_and_a_trip(app, client, trip):
    schedule, _ = trip
    me = await factories.make_user()
    guest = await client.post(f"/api/v1/schedules/{schedule.id}/ws-ticket")
    assert guest.status_code == 401
    assert (await problem_of(guest))["code"] == "authentication_required"
    bad = await client.post(
        f"/api/v1/schedules/{schedule.id}/ws-ticket", headers={"Authorization": "Bearer nope"}
    )
    assert (await problem_of(bad))["code"] == "invalid_token"
    unknown = await client.post(
        "/api/v1/schedules/999999/ws-ticket",
        headers={"Authorization": f"Bearer {token_for(app, me)}"},
    )
    assert unknown.status_code == 404
    assert (await problem_of(unknown))["code"] == "schedule_not_found"


async def test_a_bad_expired_or_foreign_ticket_is_refused(client, settings, trip):
    schedule, _seats = trip
    other_trip = await factories.make_trip(datetime.now(UTC) + timedelta(days=2), rows=1)
    me = await factories.make_user()
    path = f"/api/v1/schedules/{schedule.id}/ws?ticket="

    async def ticket(schedule_id=schedule.id, at=None, secret=settings.secret_key):
        issued = await live_tickets.issue_ticket(me, schedule_id, secret=secret, now=at or now())
        return issued.ticket

    cases = [
        ("not-a-ticket", "live_ticket_invalid"),
        (await ticket(secret="another-secret-" + "y" * 32), "live_ticket_invalid"),
        (await ticket(schedule_id=other_trip.id), "live_ticket_invalid"),  # another trip
        (await ticket(at=now() - timedelta(seconds=61)), "live_ticket_expired"),
    ]
    for value, code in cases:
        message, close_code = await refused(client, path + value)
        assert message["type"] == "error"
        assert (message["error"]["code"], message["error"]["status"]) == (code, 401)
        assert message["error"]["type"] == f"urn:busbook:problem:{code}"
        assert close_code == 1008
    # A ticket issued before a logout is refused after it (the session version moved on).
    valid = await ticket()
    await User.filter(id=me.id).update(session_version=me.session_version + 1)
    message, close_code = await refused(client, path + valid)
    assert (message["error"]["code"], close_code) == ("live_ticket_invalid", 1008)


async def test_an_access_token_shaped_jwt_is_not_a_ticket(client, settings, trip):
    """Signed with the application secret itself (as an access token might be), not with
    the ticket's own key: refused."""
    import jwt

    schedule, _ = trip
    me = await factories.make_user()
    stamp = int(now().timestamp())
    forged = jwt.encode(
        {
            "sub": str(me.id),
            "sv": me.session_version,
            "sch": schedule.id,
            "aud": "ws",
            "iat": stamp,
            "exp": stamp + 60,
            "jti": "x",
        },
        settings.secret_key,
        algorithm="HS256",
    )
    message, _ = await refused(client, f"/api/v1/schedules/{schedule.id}/ws?ticket={forged}")
    assert message["error"]["code"] == "live_ticket_invalid"


async def test_an_origin_of_another_site_is_refused_before_the_handshake(app, client, trip):
    schedule, _ = trip
    path = f"/api/v1/schedules/{schedule.id}/ws"
    with pytest.raises(WebsocketResponseError) as refusal:
        async with client.websocket(path, headers={"Origin": "https://evil.example"}) as ws:
            await asyncio.wait_for(ws.receive(), 5)
    assert refusal.value.response.status_code == 403
    assert (await problem_of(refusal.value.response))["code"] == "origin_not_allowed"
    assert services_of(app.app).broker.subscriber_count(schedule.id) == 0
    # The site's own origin and a non-browser client (no Origin) are served.
    origin = next(iter(services_of(app.app).settings.allowed_origins))
    for headers in ({"Origin": origin}, None):
        socket, snapshot = await connect(client, schedule, headers=headers)
        assert snapshot["type"] == "snapshot"
        await socket.close()


async def test_an_unknown_trip_or_a_bad_segment_is_closed_with_the_reason(client, trip):
    schedule, _ = trip
    message, code = await refused(client, "/api/v1/schedules/999999/ws")
    assert (message["error"]["code"], message["error"]["status"], code) == (
        "schedule_not_found",
        404,
        1008,
    )
    message, code = await refused(
        client, f"/api/v1/schedules/{schedule.id}/ws?from_stop=2&to_stop=0"
    )
    assert (message["error"]["code"], code) == ("validation_failed", 1008)
    assert [e["field"] for e in message["error"]["errors"]] == ["to_stop"]
    message, code = await refused(client, f"/api/v1/schedules/{schedule.id}/ws?from_stop=x")
    assert [e["field"] for e in message["error"]["errors"]] == ["from_stop"]


async def test_a_gap_in_the_events_gives_a_fresh_snapshot(app, client, trip):
    """The broker's LISTEN connection drops; a hold committed while nobody listened is not
    heard, and once the broker is back the socket gets a snapshot that has it."""
    schedule, seats = trip
    user = await factories.make_user()
    broker = services_of(app.app).broker
    broker.reconnect_delay = 1.0
    socket, first = await connect(client, schedule)
    assert statuses(first)[seats[6].id] == "free"
    pid = broker._connection.get_server_pid()
    await connections.get("default").execute_query("SELECT pg_terminate_backend($1)", [pid])
    for _ in range(100):
        if not broker.listening:
            break
        await asyncio.sleep(0.01)
    assert not broker.listening
    await holds.hold_seats(user, hold_request(schedule, seats[6:7]), now=now())  # unheard
    snapshot = await socket.next("snapshot", within=5)
    assert statuses(snapshot)[seats[6].id] == "held"
    assert snapshot["available_seats"] == 7 and len(snapshot["seats"]) == 8
    # Events flow again after the gap.
    await holds.hold_seats(user, hold_request(schedule, seats[7:8]), now=now())
    message = await socket.next("seat", within=3)
    assert (message["seat_id"], message["status"]) == (seats[7].id, "held")
    await socket.close()


async def test_the_server_pings_when_quiet_and_answers_a_ping(client, trip, monkeypatch):
    monkeypatch.setattr(api_live, "PING_SECONDS", 0.3)
    schedule, _ = trip
    socket, _ = await connect(client, schedule)
    assert await socket.receive(within=2) == {"type": "ping"}
    await socket.send({"type": "pong"})  # answering a ping is allowed and ignored
    await socket.send({"type": "ping"})
    while (message := await socket.receive(within=2)) == {"type": "ping"}:
        pass
    assert message == {"type": "pong"}
    await socket.close()
