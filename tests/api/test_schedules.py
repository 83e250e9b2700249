"""The trip endpoints: one trip's details and seat map (guests and users), and generating a
trip's seats (admins only)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from quart import Quart
from quart.testing import QuartClient

from domain import clock, holds
from domain.holds import HoldRequest
from domain.models import ActivityLog, ScheduleSeat
from domain.pricing import seat_fare
from tests.api.conftest import problem_of
from tests.factories import book, make_trip, make_user, schedule_seats

ACCESS = [
    ("GET", "/api/v1/schedules/search", "guest"),
    ("GET", "/api/v1/schedules/{id}/details", "guest"),
    ("GET", "/api/v1/schedules/{id}/seats", "guest"),
    ("POST", "/api/v1/schedules/{id}/generate-seats", "admin"),
]


async def _trip() -> Any:
    return await make_trip(clock.now().replace(microsecond=0) + timedelta(days=2))


async def test_details_for_a_guest_cover_the_whole_route(client: QuartClient, db: str) -> None:
    trip = await _trip()
    response = await client.get(f"/api/v1/schedules/{trip.id}/details")
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["id"] == trip.id
    assert body["status"] == "scheduled"
    assert (body["from_stop"], body["to_stop"]) == (0, 2)
    assert body["base_price"] == body["segment_price"] == "650.00"
    assert body["currency"] == "INR"
    assert body["available_seats"] == body["total_seats"] == 40
    assert body["departed"] is False
    assert body["bus"]["bus_number"] == (await trip.bus).registration
    assert body["bus"]["bus_type"] == "AC Seater"
    route = body["route"]
    assert (route["origin_city"], route["destination_city"], route["distance_km"]) == (
        "Mumbai",
        "Pune",
        148,
    )
    assert [(s["stop"], s["city"], s["minutes"], s["km"]) for s in route["stops"]] == [
        (0, "Mumbai", 0, 0),
        (1, "Lonavala", 120, 83),
        (2, "Pune", 210, 148),
    ]
    lonavala = route["stops"][1]
    [point] = lonavala["boarding_points"]
    assert point["name"] == "Lonavala Bus Stand"
    assert point["time"] == lonavala["arrival_datetime"]
    assert lonavala["arrival_datetime"].endswith("+05:30")  # the operator's time zone
    assert [p["name"] for p in body["boarding_points"]] == ["Mumbai Bus Stand"]
    assert [p["name"] for p in body["dropping_points"]] == ["Pune Bus Stand"]


async def test_details_of_a_segment(client: QuartClient, db: str) -> None:
    trip = await _trip()
    [seat, *_] = await schedule_seats(trip)
    user = await make_user()
    await book(trip, seat, 0, 1, user=user, now=clock.now())  # Mumbai -> Lonavala only
    whole = await (await client.get(f"/api/v1/schedules/{trip.id}/details")).get_json()
    assert whole["available_seats"] == 39
    response = await client.get(f"/api/v1/schedules/{trip.id}/details?from_stop=1&to_stop=2")
    assert response.status_code == 200
    body = await response.get_json()
    assert (body["from_stop"], body["to_stop"]) == (1, 2)
    assert body["available_seats"] == 40  # the seat is free again from Lonavala
    assert Decimal(body["segment_price"]) < Decimal(body["base_price"])
    assert [p["name"] for p in body["boarding_points"]] == ["Lonavala Bus Stand"]


async def test_details_refuse_a_bad_segment_naming_the_field(client: QuartClient, db: str) -> None:
    trip = await _trip()
    for query, field in (
        ("from_stop=2&to_stop=1", "to_stop"),
        ("from_stop=1&to_stop=1", "to_stop"),
        ("from_stop=7", "from_stop"),
        ("from_stop=abc", "from_stop"),
        ("to_stop=-1", "to_stop"),
    ):
        for what in ("details", "seats"):
            response = await client.get(f"/api/v1/schedules/{trip.id}/{what}?{query}")
            assert response.status_code == 422, (query, what)
            body = await problem_of(response)
            assert body["code"] == "validation_failed"
            assert [e["field"] for e in body["errors"]] == [field], (query, body)


async def test_an_unknown_trip_is_a_404(client: QuartClient, db: str) -> None:
    for what in ("details", "seats"):
        response = await client.get(f"/api/v1/schedules/999999/{what}")
        assert response.status_code == 404
        assert (await problem_of(response))["code"] == "schedule_not_found"


def _statuses(body: dict[str, Any]) -> dict[int, str]:
    return {seat["id"]: seat["status"] for seat in body["seats"]}


async def test_seats_show_each_seat_for_a_guest_and_mine_for_the_holder(
    client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    holder, other = await caller_for(), await caller_for()
    held = await holds.hold_seats(
        holder.user, HoldRequest(trip.id, 0, 1, (seats[0].id,)), now=clock.now()
    )
    await book(trip, seats[1], 0, 2, user=other.user, now=clock.now())
    await ScheduleSeat.filter(id=seats[2].id).update(is_blocked=True)

    response = await client.get(f"/api/v1/schedules/{trip.id}/seats")
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert (body["schedule_id"], body["from_stop"], body["to_stop"]) == (trip.id, 0, 2)
    assert len(body["seats"]) == 40
    assert body["available_seats"] == 37
    first = body["seats"][0]
    assert first == {
        "id": seats[0].id,
        "seat_number": seats[0].seat.number,
        "seat_type": "seater",
        "deck": "lower",
        "row": seats[0].seat.row,
        "column": seats[0].seat.column,
        "position": seats[0].seat.position.value,
        "price": f"{seat_fare(Decimal('650'), seats[0].seat.price_factor):.2f}",
        "status": "held",
    }
    guest = _statuses(body)
    assert (guest[seats[0].id], guest[seats[1].id], guest[seats[2].id]) == (
        "held",
        "booked",
        "blocked",
    )
    assert set(guest.values()) == {"free", "held", "booked", "blocked"}

    mine = _statuses(
        await (
            await client.get(f"/api/v1/schedules/{trip.id}/seats", headers=holder.headers)
        ).get_json()
    )
    assert mine[seats[0].id] == "mine"
    theirs = _statuses(
        await (
            await client.get(f"/api/v1/schedules/{trip.id}/seats", headers=other.headers)
        ).get_json()
    )
    assert theirs[seats[0].id] == "held"
    details = await (
        await client.get(f"/api/v1/schedules/{trip.id}/details", headers=holder.headers)
    ).get_json()
    assert details["available_seats"] == 37  # "mine" is not free either

    # The hold is on Mumbai -> Lonavala only: from Lonavala the seat is free for everyone.
    later = await (
        await client.get(f"/api/v1/schedules/{trip.id}/seats?from_stop=1&to_stop=2")
    ).get_json()
    assert _statuses(later)[seats[0].id] == "free"
    assert held.public_id.startswith("rsv_")


async def test_seats_free_a_hold_the_instant_it_expires(
    client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    holder = await caller_for()
    await holds.hold_seats(
        holder.user,
        HoldRequest(trip.id, 0, 2, (seats[0].id,)),
        now=clock.now() - timedelta(minutes=16),  # held 16 minutes ago: ran out a minute ago
    )
    body = await (await client.get(f"/api/v1/schedules/{trip.id}/seats")).get_json()
    assert _statuses(body)[seats[0].id] == "free"


async def test_generate_seats_is_for_admins(client: QuartClient, db: str, caller_for: Any) -> None:
    trip = await _trip()
    path = f"/api/v1/schedules/{trip.id}/generate-seats"
    response = await client.post(path)
    assert response.status_code == 401
    assert (await problem_of(response))["code"] == "authentication_required"
    customer = await caller_for()
    response = await client.post(path, headers=customer.headers)
    assert response.status_code == 403
    assert (await problem_of(response))["code"] == "forbidden"
    assert await ActivityLog.filter(action="schedule.seats_generated").count() == 0


async def test_generate_seats_adds_the_missing_seats_once(
    app: Quart, client: QuartClient, db: str, caller_for: Any
) -> None:
    trip = await _trip()
    seats = await schedule_seats(trip)
    await ScheduleSeat.filter(id__in=[s.id for s in seats[30:]]).delete()
    admin = await caller_for(admin=True)
    path = f"/api/v1/schedules/{trip.id}/generate-seats"
    response = await client.post(path, headers=admin.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert await response.get_json() == {"schedule_id": trip.id, "created": 10}
    assert await ScheduleSeat.filter(schedule_id=trip.id).count() == 40
    again = await client.post(path, headers=admin.headers)
    assert await again.get_json() == {"schedule_id": trip.id, "created": 0}
    assert await ScheduleSeat.filter(schedule_id=trip.id).count() == 40
    logged = await ActivityLog.filter(action="schedule.seats_generated").order_by("id")
    assert [row.data["created"] for row in logged] == [10, 0]
    assert all(row.actor_id == admin.user.id for row in logged)

    missing = await client.post("/api/v1/schedules/999999/generate-seats", headers=admin.headers)
    assert missing.status_code == 404
    assert (await problem_of(missing))["code"] == "schedule_not_found"


async def test_a_bad_token_is_a_401_not_a_guest(client: QuartClient, db: str) -> None:
    trip = await _trip()
    for what in ("details", "seats"):
        response = await client.get(
            f"/api/v1/schedules/{trip.id}/{what}", headers={"Authorization": "Bearer nonsense"}
        )
        assert response.status_code == 401
        assert (await problem_of(response))["code"] == "invalid_token"
