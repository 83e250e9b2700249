"""Seat holds over the API: create, read, list (pages), cancel; bad input named by field;
Idempotency-Key replays; and the contention test: one seat, many clients, one hold."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from quart import Quart
from quart.testing import QuartClient

from domain import clock
from domain.enums import ReservationStatus
from domain.models import ActivityLog, Reservation, SeatAllocation, User
from tests.api.conftest import problem_of, token_for
from tests.factories import make_trip, make_users, schedule_seats

ACCESS = [
    ("POST", "/api/v1/reservations/create", "user"),
    ("GET", "/api/v1/reservations/{id}/details", "user"),
    ("GET", "/api/v1/reservations/active", "user"),
    ("DELETE", "/api/v1/reservations/{id}", "user"),
]
CREATE = "/api/v1/reservations/create"


async def _trip() -> Any:
    return await make_trip(clock.now().replace(microsecond=0) + timedelta(days=2))


async def _hold(client: QuartClient, caller: Any, body: dict[str, Any]) -> Any:
    return await client.post(CREATE, json=body, headers=caller.headers)


async def test_a_hold_for_the_whole_route(client: QuartClient, db: str, caller_for: Any) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    caller = await caller_for()
    response = await _hold(client, caller, {"schedule_id": trip.id, "seat_ids": [seats[1].id]})
    assert response.status_code == 201, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["id"].startswith("rsv_")
    assert response.headers["Location"] == f"/api/v1/reservations/{body['id']}/details"
    assert body["status"] == "active"
    assert (body["schedule_id"], body["from_stop"], body["to_stop"]) == (trip.id, 0, 2)
    assert body["currency"] == "INR"
    [seat] = body["seats"]
    assert seat == {
        "seat_id": seats[1].id,
        "seat_number": seats[1].seat.number,
        "seat_type": "seater",
        "deck": "lower",
        "price": body["total_amount"],
    }
    reservation = await Reservation.get(public_id=body["id"])
    assert reservation.user_id == caller.user.id
    assert f"{reservation.total_amount:.2f}" == body["total_amount"]
    assert reservation.ip  # the caller's address: the per-address limits count it
    expiry = reservation.expires_at - reservation.created_at
    assert expiry == timedelta(minutes=15)
    assert body["expiry_datetime"].endswith("+05:30")
    assert await ActivityLog.filter(action="reservation.created").count() == 1

    seat_map = await (await client.get(f"/api/v1/schedules/{trip.id}/seats")).get_json()
    assert {s["id"]: s["status"] for s in seat_map["seats"]}[seats[1].id] == "held"


async def test_a_hold_for_a_segment_with_points(
    client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    details = await (
        await client.get(f"/api/v1/schedules/{trip.id}/details?from_stop=1&to_stop=2")
    ).get_json()
    caller = await caller_for()
    response = await _hold(
        client,
        caller,
        {
            "schedule_id": trip.id,
            "seat_ids": [seats[4].id, seats[5].id],
            "from_stop": 1,
            "to_stop": 2,
            "boarding_point_id": details["boarding_points"][0]["id"],
            "dropping_point_id": details["dropping_points"][0]["id"],
        },
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    body = await response.get_json()
    assert (body["from_stop"], body["to_stop"]) == (1, 2)
    assert body["boarding_point_id"] == details["boarding_points"][0]["id"]
    assert [s["seat_id"] for s in body["seats"]] == [seats[4].id, seats[5].id]
    assert sum(Decimal(s["price"]) for s in body["seats"]) == Decimal(body["total_amount"])

    # a point of another stop is refused, named
    wrong = await _hold(
        client,
        caller,
        {
            "schedule_id": trip.id,
            "seat_ids": [seats[6].id],
            "from_stop": 1,
            "to_stop": 2,
            "boarding_point_id": details["dropping_points"][0]["id"],
        },
    )
    assert wrong.status_code == 422
    problem = await problem_of(wrong)
    assert [e["field"] for e in problem["errors"]] == ["boarding_point_id"]


async def test_a_guest_cannot_hold(client: QuartClient, db: str) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    response = await client.post(CREATE, json={"schedule_id": trip.id, "seat_ids": [seats[0].id]})
    assert response.status_code == 401
    assert (await problem_of(response))["code"] == "authentication_required"
    assert await Reservation.all().count() == 0


async def test_bad_input_is_a_422_naming_the_field(
    client: QuartClient, db: str, caller_for: Any
) -> None:
    trip, other_trip = await _trip(), await _trip()
    seats, foreign = await schedule_seats(trip), await schedule_seats(other_trip)
    caller = await caller_for()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"schedule_id": trip.id, "seat_ids": [foreign[0].id]}, "seat_ids"),
        ({"schedule_id": trip.id, "seat_ids": []}, "seat_ids"),
        ({"schedule_id": trip.id, "seat_ids": [s.id for s in seats[:7]]}, "seat_ids"),
        ({"schedule_id": trip.id, "seat_ids": [seats[0].id, seats[0].id]}, "seat_ids"),
        (
            {"schedule_id": trip.id, "seat_ids": [seats[0].id], "from_stop": 2, "to_stop": 1},
            "to_stop",
        ),
        (
            {"schedule_id": trip.id, "seat_ids": [seats[0].id], "from_stop": 1, "to_stop": 1},
            "to_stop",
        ),
        ({"schedule_id": trip.id, "seat_ids": [seats[0].id], "from_stop": 9}, "from_stop"),
        ({"schedule_id": str(trip.id), "seat_ids": [seats[0].id]}, "schedule_id"),
        ({"schedule_id": trip.id, "seat_ids": [str(seats[0].id)]}, "seat_ids[0]"),
        ({"schedule_id": trip.id, "seat_ids": [seats[0].id], "from_stop": "0"}, "from_stop"),
        ({"schedule_id": trip.id, "seat_ids": [seats[0].id], "to_stop": False}, "to_stop"),
        ({"schedule_id": trip.id, "seat_ids": [2**31]}, "seat_ids[0]"),
        ({"schedule_id": trip.id}, "seat_ids"),
        ({"schedule_id": trip.id, "seat_ids": [seats[0].id], "seats": [1]}, "seats"),
    ]
    for body, field in cases:
        response = await _hold(client, caller, body)
        assert response.status_code == 422, (body, await response.get_data(as_text=True))
        problem = await problem_of(response)
        assert problem["code"] == "validation_failed"
        assert [e["field"] for e in problem["errors"]] == [field], (body, problem)
    assert await Reservation.all().count() == 0

    missing = await _hold(client, caller, {"schedule_id": 999999, "seat_ids": [seats[0].id]})
    assert missing.status_code == 404
    assert (await problem_of(missing))["code"] == "schedule_not_found"


async def test_a_taken_seat_is_a_409_naming_it(
    client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    first, second = await caller_for(), await caller_for()
    won = await _hold(client, first, {"schedule_id": trip.id, "seat_ids": [seats[0].id]})
    assert won.status_code == 201
    lost = await _hold(
        client, second, {"schedule_id": trip.id, "seat_ids": [seats[0].id, seats[1].id]}
    )
    assert lost.status_code == 409
    problem = await problem_of(lost)
    assert problem["code"] == "seats_unavailable"
    assert problem["seats"] == [seats[0].seat.number]
    assert seats[0].seat.number in problem["detail"]
    assert await Reservation.filter(user_id=second.user.id).count() == 0


async def test_details_are_the_holders_only(client: QuartClient, db: str, caller_for: Any) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    owner, stranger = await caller_for(), await caller_for()
    created = await (
        await _hold(client, owner, {"schedule_id": trip.id, "seat_ids": [seats[0].id]})
    ).get_json()
    path = f"/api/v1/reservations/{created['id']}/details"
    response = await client.get(path, headers=owner.headers)
    assert response.status_code == 200
    assert await response.get_json() == created

    for headers, status, code in (
        (stranger.headers, 404, "reservation_not_found"),
        ({}, 401, "authentication_required"),
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code == status
        assert (await problem_of(response))["code"] == code
    for bad in ("rsv_doesnotexist0000", "12", "x" * 64):
        response = await client.get(f"/api/v1/reservations/{bad}/details", headers=owner.headers)
        assert response.status_code == 404
        # No public id's shape: the path matches no route (views/api/blueprints.py
        # PublicIdConverter), which is the same 404 with the generic code.
        assert (await problem_of(response))["code"] == "not_found"


async def test_an_expired_hold_reads_as_expired(
    client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    owner = await caller_for()
    created = await (
        await _hold(client, owner, {"schedule_id": trip.id, "seat_ids": [seats[0].id]})
    ).get_json()
    await Reservation.filter(public_id=created["id"]).update(
        expires_at=clock.now() - timedelta(seconds=1)
    )  # ran out; the sweeper has not been by
    body = await (
        await client.get(f"/api/v1/reservations/{created['id']}/details", headers=owner.headers)
    ).get_json()
    assert body["status"] == "expired"
    listed = await (
        await client.get("/api/v1/reservations/active", headers=owner.headers)
    ).get_json()
    assert listed["reservations"] == []


async def test_active_holds_come_in_pages(client: QuartClient, db: str, caller_for: Any) -> None:
    trips = [await _trip() for _ in range(3)]  # two holds per trip at most
    caller, other = await caller_for(), await caller_for()
    made = []
    for trip in trips:
        seat = (await schedule_seats(trip))[0]
        response = await _hold(client, caller, {"schedule_id": trip.id, "seat_ids": [seat.id]})
        assert response.status_code == 201
        made.append((await response.get_json())["id"])
    other_seat = (await schedule_seats(trips[0]))[1]
    await _hold(client, other, {"schedule_id": trips[0].id, "seat_ids": [other_seat.id]})

    response = await client.get("/api/v1/reservations/active?limit=2", headers=caller.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    first = await response.get_json()
    assert [r["id"] for r in first["reservations"]] == made[:2]  # soonest to expire first
    assert first["next_cursor"]
    assert first["next"].startswith("/api/v1/reservations/active?")
    assert "limit=2" in first["next"]
    response = await client.get(first["next"], headers=caller.headers)
    assert response.status_code == 200
    last = await response.get_json()
    assert [r["id"] for r in last["reservations"]] == made[2:]
    assert last["next_cursor"] is None and last["next"] is None
    assert last["reservations"][0]["seats"][0]["seat_number"]

    everything = await (
        await client.get("/api/v1/reservations/active", headers=caller.headers)
    ).get_json()
    assert [r["id"] for r in everything["reservations"]] == made
    assert everything["next"] is None

    for cursor in ("broken", first["next_cursor"][:-2] + "xx", first["next_cursor"] + "a"):
        response = await client.get(
            f"/api/v1/reservations/active?cursor={cursor}", headers=caller.headers
        )
        assert response.status_code == 422
        problem = await problem_of(response)
        assert problem["code"] == "invalid_cursor"
        assert [e["field"] for e in problem["errors"]] == ["cursor"]
    for limit in ("0", "101", "x"):
        response = await client.get(
            f"/api/v1/reservations/active?limit={limit}", headers=caller.headers
        )
        assert response.status_code == 422
        assert [e["field"] for e in (await problem_of(response))["errors"]] == ["limit"]


async def test_the_html_list_of_holds_still_works(
    app: Quart, client: QuartClient, db: str, auth: Any
) -> None:
    """domain holds.active_holds gained pages for the API; the website's list is unchanged."""
    trip = await _trip()
    seats = await schedule_seats(trip)
    await auth.register("pager@example.com")
    await auth.login("pager@example.com")
    account = await User.get(email="pager@example.com")
    token = token_for(app, account)
    for seat in seats[:2]:
        response = await client.post(
            CREATE,
            json={"schedule_id": trip.id, "seat_ids": [seat.id]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201
    page = await client.get("/reservations")
    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    assert html.count('href="/reservations/rsv_') == 2


async def test_cancelling_a_hold_frees_its_seats(
    client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    owner, stranger = await caller_for(), await caller_for()
    created = await (
        await _hold(client, owner, {"schedule_id": trip.id, "seat_ids": [seats[0].id]})
    ).get_json()
    path = f"/api/v1/reservations/{created['id']}"

    refused = await client.delete(path, headers=stranger.headers)
    assert refused.status_code == 404
    assert (await problem_of(refused))["code"] == "reservation_not_found"
    assert (await Reservation.get(public_id=created["id"])).status == ReservationStatus.ACTIVE
    guest = await client.delete(path)
    assert guest.status_code == 401

    response = await client.delete(path, headers=owner.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["id"] == created["id"] and body["status"] == "cancelled"
    assert body["seats"] == created["seats"]
    assert (
        await SeatAllocation.filter(reservation__public_id=created["id"], active=True).count() == 0
    )
    assert await ActivityLog.filter(action="reservation.cancelled").count() == 1
    seat_map = await (await client.get(f"/api/v1/schedules/{trip.id}/seats")).get_json()
    assert {s["id"]: s["status"] for s in seat_map["seats"]}[seats[0].id] == "free"
    listed = await (
        await client.get("/api/v1/reservations/active", headers=owner.headers)
    ).get_json()
    assert listed["reservations"] == []

    again = await client.delete(path, headers=owner.headers)  # harmless, nothing changes
    assert again.status_code == 200
    assert (await again.get_json())["status"] == "cancelled"
    assert await ActivityLog.filter(action="reservation.cancelled").count() == 1

    taken = await _hold(client, stranger, {"schedule_id": trip.id, "seat_ids": [seats[0].id]})
    assert taken.status_code == 201


async def test_an_idempotency_key_replays_the_same_hold(
    client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    caller = await caller_for()
    headers = caller.headers | {"Idempotency-Key": "hold-once-1"}
    body = {"schedule_id": trip.id, "seat_ids": [seats[0].id, seats[1].id]}
    first = await client.post(CREATE, json=body, headers=headers)
    assert first.status_code == 201
    second = await client.post(CREATE, json=body, headers=headers)
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert await second.get_json() == await first.get_json()
    assert await Reservation.all().count() == 1
    assert await ActivityLog.filter(action="reservation.created").count() == 1

    other = await client.post(
        CREATE, json={"schedule_id": trip.id, "seat_ids": [seats[2].id]}, headers=headers
    )
    assert other.status_code == 422
    assert (await problem_of(other))["code"] == "idempotency_key_reused"
    assert await Reservation.all().count() == 1


CLIENTS = 20


async def test_one_seat_many_clients_one_hold(app: Quart, client: QuartClient, db: str) -> None:
    """THE contention test through the API: every client asks for the same seat at once;
    exactly one gets it, every other one is told 409 seats_unavailable naming the seat."""
    trip = await _trip()
    seat = (await schedule_seats(trip))[7]
    users = await make_users(CLIENTS)
    tokens = [token_for(app, user) for user in users]
    body = {"schedule_id": trip.id, "seat_ids": [seat.id]}

    async def attempt(token: str) -> tuple[int, dict[str, Any]]:
        response = await client.post(
            CREATE, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code, await response.get_json(force=True)

    outcomes = await asyncio.gather(*(attempt(t) for t in tokens))
    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [201] + [409] * (CLIENTS - 1), outcomes
    [(_, won)] = [o for o in outcomes if o[0] == 201]
    for status, problem in outcomes:
        if status == 409:
            assert problem["code"] == "seats_unavailable", problem
            assert problem["seats"] == [seat.seat.number]
    assert await Reservation.all().count() == 1
    allocations = await SeatAllocation.filter(schedule_seat_id=seat.id, active=True)
    assert len(allocations) == 1
    reservation = await Reservation.get(id=allocations[0].reservation_id)
    assert reservation.public_id == won["id"]
    assert won["seats"][0]["seat_id"] == seat.id


async def test_the_hold_limits_apply(client: QuartClient, db: str, caller_for: Any) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    caller = await caller_for()
    for seat in seats[:2]:
        response = await _hold(client, caller, {"schedule_id": trip.id, "seat_ids": [seat.id]})
        assert response.status_code == 201
    third = await _hold(client, caller, {"schedule_id": trip.id, "seat_ids": [seats[2].id]})
    assert third.status_code == 409
    problem = await problem_of(third)
    assert problem["code"] == "hold_limit_reached"
    assert problem["limit"] == "holds_per_trip"


async def test_the_chosen_points_with_their_times_are_in_the_hold_and_the_booking(
    app: Quart, client: QuartClient, db: str, caller_for: Any
) -> None:
    """Issue 12: a hold and its booking answered only the points' ids; a client showing the
    booking had the cities' times. Both now carry each point with its own time, as the
    trip's details offered it."""
    from tests.api.holding import approve, initiate, passengers_for
    from tests.factories import add_points

    trip = await _trip()
    board, drop = await add_points(trip)
    seats = await schedule_seats(trip)
    details = await (await client.get(f"/api/v1/schedules/{trip.id}/details")).get_json()
    offered = {p["id"]: p for p in details["boarding_points"] + details["dropping_points"]}
    caller = await caller_for()
    response = await _hold(
        client,
        caller,
        {
            "schedule_id": trip.id,
            "seat_ids": [seats[0].id],
            "boarding_point_id": board.id,
            "dropping_point_id": drop.id,
        },
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    created = await response.get_json()
    assert created["boarding_point"] == offered[board.id]
    assert created["boarding_point"]["name"] == "Dadar TT Circle"
    assert created["dropping_point"] == offered[drop.id]
    shown = await (
        await client.get(f"/api/v1/reservations/{created['id']}/details", headers=caller.headers)
    ).get_json()
    listed = await (
        await client.get("/api/v1/reservations/active", headers=caller.headers)
    ).get_json()
    for body in (shown, listed["reservations"][0]):
        assert (body["boarding_point"], body["dropping_point"]) == (
            offered[board.id],
            offered[drop.id],
        )

    reservation = await Reservation.get(public_id=created["id"])
    started = await initiate(client, caller, reservation, passengers=passengers_for(seats[:1]))
    payment = await started.get_json()
    await approve(app, payment["checkout_url"])
    status = await client.get(f"/api/v1/payments/{payment['id']}", headers=caller.headers)
    reference = (await status.get_json())["booking_reference"]
    booking = await (
        await client.get(f"/api/v1/bookings/{reference}/details", headers=caller.headers)
    ).get_json()
    assert booking["schedule"]["boarding_point"] == offered[board.id]
    assert booking["schedule"]["dropping_point"] == offered[drop.id]
    # 40 minutes after the bus leaves the booked stop
    leaves = booking["schedule"]["departure_datetime"]
    boards = booking["schedule"]["boarding_point"]["time"]
    assert datetime.fromisoformat(boards) - datetime.fromisoformat(leaves) == timedelta(minutes=40)
