"""The operators' console over JSON: admins only, the console's domain calls and rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from quart.testing import QuartClient

from domain import clock, fleet, holds, operations, routes, timetable
from domain.errors import SeatsUnavailable
from domain.holds import HoldRequest
from domain.models import ActivityLog, Bus, Operator, Reservation, Schedule, ScheduleSeat, Seat
from tests.api.conftest import problem_of
from tests.factories import book, make_trip, make_user, schedule_seats

ACCESS = [
    ("GET", "/api/v1/admin/dashboard/metrics", "admin"),
    ("GET", "/api/v1/admin/reservations/active", "admin"),
    ("POST", "/api/v1/admin/reservations/{id}/release", "admin"),
    ("GET", "/api/v1/activity-logs", "admin"),
    ("GET", "/api/v1/admin/routes", "admin"),
    ("POST", "/api/v1/admin/routes", "admin"),
    ("GET", "/api/v1/admin/routes/{id}", "admin"),
    ("PUT", "/api/v1/admin/routes/{id}", "admin"),
    ("GET", "/api/v1/admin/buses", "admin"),
    ("POST", "/api/v1/admin/buses", "admin"),
    ("GET", "/api/v1/admin/buses/{id}", "admin"),
    ("PUT", "/api/v1/admin/buses/{id}", "admin"),
    ("GET", "/api/v1/admin/timetables", "admin"),
    ("POST", "/api/v1/admin/timetables", "admin"),
    ("PUT", "/api/v1/admin/timetables/{id}", "admin"),
]

IST = ZoneInfo("Asia/Kolkata")
STOPS = [
    {"city": "Nashik", "minutes": 0, "km": 0, "points": ["CBS", "Dwarka"]},
    {"city": "Igatpuri", "minutes": 60, "km": 45},
    {"city": "Thane", "minutes": 150, "km": 150, "points": ["Cadbury Junction"]},
]
BUS = {
    "name": "Volvo 9600 Sleeper",
    "registration": "mh-15-ab-0001",
    "kind": "sleeper",
    "is_ac": True,
    "rows": 2,
    "columns": 3,
    "aisle_after": 1,
}


def tomorrow() -> str:
    return (clock.now().astimezone(IST) + timedelta(days=1)).date().isoformat()


async def valid_body(method: str, path: str) -> dict[str, Any] | None:
    """A body each endpoint accepts, so that only the caller decides the answer."""
    if method == "GET":
        return None
    if "release" in path:
        return {"reason": "stuck"}
    if "routes" in path:
        return {"code": "NSK-THN", "name": "", "stops": STOPS}
    if "buses" in path:
        return BUS
    if method == "PUT":
        return {"departure_datetime": "2030-01-01T06:00:00+05:30", "base_fare": "700"}
    return {
        "route_id": 1,
        "bus_id": 1,
        "departure_time": "06:30",
        "first_day": tomorrow(),
        "base_fare": "650",
    }


@pytest.mark.parametrize(("method", "path", "audience"), ACCESS)
async def test_only_admins_reach_the_admin_api(
    client: QuartClient, caller_for: Any, method: str, path: str, audience: str
) -> None:
    admin = await caller_for(admin=True)
    customer = await caller_for()
    trip = await make_trip(clock.now() + timedelta(days=2))
    target = path.replace("{id}", "rsv_missing0000000000" if "reservations" in path else "1")
    body = await valid_body(method, path)
    if method == "POST" and "timetables" in path:
        body = {**body, "route_id": trip.route_id, "bus_id": trip.bus_id}  # type: ignore[attr-defined,dict-item]
    guest = await client.open(target, method=method, json=body)
    assert guest.status_code == 401
    assert (await problem_of(guest))["code"] == "authentication_required"
    refused = await client.open(target, method=method, json=body, headers=customer.headers)
    assert refused.status_code == 403
    assert (await problem_of(refused))["code"] == "forbidden"
    allowed = await client.open(target, method=method, json=body, headers=admin.headers)
    assert allowed.status_code not in (401, 403), await allowed.get_data(as_text=True)
    if method == "GET":
        assert allowed.status_code == 200, await allowed.get_data(as_text=True)


# ------------------------------------------------------------------------------ dashboard


async def real_hold(user: Any, trip: Schedule, seats: list[ScheduleSeat]) -> Reservation:
    return await holds.hold_seats(
        user, HoldRequest(trip.id, 0, 2, tuple(s.id for s in seats)), now=clock.now()
    )


async def test_dashboard_metrics_are_the_console_figures(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    customer = await caller_for()
    trip = await make_trip(clock.now() + timedelta(hours=5), rows=2)
    seats = await schedule_seats(trip)
    await real_hold(customer.user, trip, seats[:3])
    await book(trip, seats[4], 0, 2, user=customer.user, now=clock.now())
    response = await client.get("/api/v1/admin/dashboard/metrics", headers=admin.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    figures = await operations.dashboard(clock.now(), IST)
    assert body["active_holds"] == figures.active_holds == 1
    assert body["seats_held"] == figures.seats_held == 3
    assert body["bookings_today"] == figures.bookings_today
    assert body["revenue_today"] == f"{figures.revenue_today:.2f}"
    [upcoming] = body["upcoming_trips"]
    assert body["upcoming_trips_total"] == figures.upcoming_total == 1
    assert upcoming["schedule_id"] == trip.id
    assert (upcoming["seats"], upcoming["booked"], upcoming["held"]) == (8, 1, 3)
    assert upcoming["departure_datetime"].endswith("+05:30")
    assert (
        len(body["days"]) == 30
        and body["days"][-1]["day"] == clock.now().astimezone(IST).date().isoformat()
    )


# ------------------------------------------------------------------------------ holds


async def test_active_holds_page_by_cursor_and_search(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    trip = await make_trip(clock.now() + timedelta(days=1), rows=2)
    seats = await schedule_seats(trip)
    customers = [await caller_for(email=f"rider{i}@example.com") for i in range(3)]
    made = [await real_hold(c.user, trip, [seats[i]]) for i, c in enumerate(customers)]
    first = await client.get("/api/v1/admin/reservations/active?limit=2", headers=admin.headers)
    assert first.status_code == 200, await first.get_data(as_text=True)
    page = await first.get_json()
    second = await (await client.get(page["next"], headers=admin.headers)).get_json()
    seen = [r["id"] for r in page["reservations"] + second["reservations"]]
    assert seen == [r.public_id for r in made] and second["next"] is None
    assert page["reservations"][0]["seats"] == [
        {"id": seats[0].id, "seat_number": seats[0].seat.number, "seat_type": "seater"}
    ]
    assert page["reservations"][0]["customer"]["email"] == "rider0@example.com"
    found = await client.get("/api/v1/admin/reservations/active?q=RIDER1", headers=admin.headers)
    assert [r["id"] for r in (await found.get_json())["reservations"]] == [made[1].public_id]


async def test_release_a_hold_audits_it_and_frees_the_seat(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    customer, other = await caller_for(), await caller_for()
    trip = await make_trip(clock.now() + timedelta(days=1), rows=2)
    seats = await schedule_seats(trip)
    reservation = await real_hold(customer.user, trip, seats[:1])
    with pytest.raises(SeatsUnavailable):
        await real_hold(other.user, trip, seats[:1])
    path = f"/api/v1/admin/reservations/{reservation.public_id}/release"
    blank = await client.post(path, json={"reason": "  "}, headers=admin.headers)
    assert blank.status_code == 422
    problem = await problem_of(blank)
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["reason"]
    released = await client.post(path, json={"reason": "customer called"}, headers=admin.headers)
    assert released.status_code == 200, await released.get_data(as_text=True)
    body = await released.get_json()
    assert body["id"] == reservation.public_id and body["status"] == "released"
    log = await ActivityLog.get(action="reservation.released", subject_id=str(reservation.id))
    assert log.actor_id == admin.user.id and log.data["reason"] == "customer called"  # type: ignore[attr-defined]
    assert log.data["seat_ids"] == [seats[0].id]
    await real_hold(other.user, trip, seats[:1])  # the seat is free again
    again = await client.post(path, json={"reason": "double click"}, headers=admin.headers)
    assert again.status_code == 200 and (await again.get_json())["status"] == "released"
    assert await ActivityLog.filter(action="reservation.released").count() == 1
    missing = await client.post(
        "/api/v1/admin/reservations/rsv_nosuchhold000000/release",
        json={"reason": "x"},
        headers=admin.headers,
    )
    assert missing.status_code == 404
    assert (await problem_of(missing))["code"] == "reservation_not_found"


# ------------------------------------------------------------------------------ audit trail


async def test_activity_logs_page_by_cursor_with_a_next_link(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    for _ in range(6):
        await make_user()
    expected = [
        row.id
        for row in await ActivityLog.filter(action="user.registered").order_by("-created_at", "-id")
    ]
    assert len(expected) == 7  # the admin and six customers: pages of 3, 3 and 1
    seen: list[int] = []
    url = "/api/v1/activity-logs?action=user.registered&limit=3"
    pages = 0
    while url:
        response = await client.get(url, headers=admin.headers)
        assert response.status_code == 200, await response.get_data(as_text=True)
        body = await response.get_json()
        seen += [row["id"] for row in body["activity_logs"]]
        pages += 1
        if body["next"]:
            assert "action=user.registered" in body["next"] and "limit=3" in body["next"]
            assert body["next_cursor"] in body["next"]
        url = body["next"]
    assert pages == 3 and seen == expected
    broken = await client.get("/api/v1/activity-logs?cursor=not-a-cursor", headers=admin.headers)
    assert broken.status_code == 422
    problem = await problem_of(broken)
    assert problem["code"] == "invalid_cursor" and problem["errors"][0]["field"] == "cursor"


async def test_activity_logs_filters(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True, email="boss@example.com")
    customer = await caller_for(email="priya@example.com")
    await fleet.create_bus(
        admin.user,
        fleet.LayoutInput("Seater", "MH-01-ZZ-0001", fleet.BusKind.SEATER, True, 2, 4, 2),
        now=clock.now(),
    )

    async def actions(query: str) -> list[tuple[str, str]]:
        response = await client.get(f"/api/v1/activity-logs?{query}", headers=admin.headers)
        assert response.status_code == 200, await response.get_data(as_text=True)
        rows = (await response.get_json())["activity_logs"]
        return [(r["action"], r["actor"]["email"] if r["actor"] else "") for r in rows]

    boss = [("bus.created", "boss@example.com"), ("user.registered", "boss@example.com")]
    assert await actions("actor=boss@") == boss  # newest first
    assert await actions(f"actor={admin.user.id}") == boss
    assert await actions(f"actor={customer.user.id}") == [("user.registered", "priya@example.com")]
    bus = await Bus.get(registration="MH-01-ZZ-0001")
    assert await actions(f"subject_type=bus&subject_id={bus.id}") == [
        ("bus.created", "boss@example.com")
    ]
    everything = await actions("action=user.")
    assert len(everything) == 2 and all(a == "user.registered" for a, _ in everything)
    today = clock.now().astimezone(IST).date()
    assert len(await actions(f"since={today}&until={today}")) == 3
    assert await actions(f"until={today - timedelta(days=1)}") == []
    assert await actions(f"since={today + timedelta(days=1)}") == []
    late = await client.get("/api/v1/activity-logs?until=9999-12-31", headers=admin.headers)
    assert late.status_code == 422
    assert (await problem_of(late))["errors"][0]["field"] == "until"


# ------------------------------------------------------------------------------ routes


async def test_create_and_update_a_route_as_the_console_sees_it(
    client: QuartClient, caller_for: Any
):
    admin = await caller_for(admin=True)
    created = await client.post(
        "/api/v1/admin/routes",
        json={"code": "nsk-thn", "name": "Nashik - Thane", "stops": STOPS},
        headers={**admin.headers, "Idempotency-Key": "route-1"},
    )
    assert created.status_code == 201, await created.get_data(as_text=True)
    body = await created.get_json()
    assert created.headers["Location"] == f"/api/v1/admin/routes/{body['id']}"
    assert body["code"] == "NSK-THN"
    assert [(s["seq"], s["city"], s["minutes"], s["km"]) for s in body["stops"]] == [
        (0, "Nashik", 0, 0),
        (1, "Igatpuri", 60, 45),
        (2, "Thane", 150, 150),
    ]
    assert body["stops"][1]["points"] == ["Igatpuri bus stand"]
    replay = await client.post(
        "/api/v1/admin/routes",
        json={"code": "nsk-thn", "name": "Nashik - Thane", "stops": STOPS},
        headers={**admin.headers, "Idempotency-Key": "route-1"},
    )
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    [console] = await routes.list_routes()
    assert console.id == body["id"] and [s.city.name for s in console.stops] == [
        "Nashik",
        "Igatpuri",
        "Thane",
    ]
    changed = [{**STOPS[0]}, {**STOPS[1], "minutes": 70}, {**STOPS[2], "points": ["Vandana"]}]
    updated = await client.put(
        f"/api/v1/admin/routes/{body['id']}",
        json={"code": "NSK-THN", "name": "Nashik - Thane express", "stops": changed},
        headers=admin.headers,
    )
    assert updated.status_code == 200, await updated.get_data(as_text=True)
    again = await routes.get_route(body["id"])
    assert again.name == "Nashik - Thane express"
    assert [s.minutes_from_origin for s in sorted(again.stops, key=lambda s: s.seq)] == [0, 70, 150]
    listed = await (await client.get("/api/v1/admin/routes", headers=admin.headers)).get_json()
    assert [r["name"] for r in listed["routes"]] == ["Nashik - Thane express"]
    assert listed["routes"][0]["stops"][2]["points"] == ["Vandana"]


async def test_invalid_stops_name_their_path(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    backwards = [STOPS[0], STOPS[1], {**STOPS[2], "minutes": 30}]
    response = await client.post(
        "/api/v1/admin/routes",
        json={"code": "BAD", "stops": backwards},
        headers=admin.headers,
    )
    assert response.status_code == 422
    problem = await problem_of(response)
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["stops[2].minutes"]
    wrong_type = await client.post(
        "/api/v1/admin/routes",
        json={"code": "BAD", "stops": [STOPS[0], {**STOPS[1], "km": "45"}]},
        headers=admin.headers,
    )
    assert wrong_type.status_code == 422
    assert [e["field"] for e in (await problem_of(wrong_type))["errors"]] == ["stops[1].km"]
    nul = await client.post(
        "/api/v1/admin/routes",
        json={"code": "NUL", "stops": [{**STOPS[0], "city": "Nas\u0000hik"}, STOPS[1]]},
        headers=admin.headers,
    )
    assert nul.status_code == 400  # PostgreSQL text cannot hold it: refused, never a 500
    assert "NUL" in (await problem_of(nul))["detail"]
    missing = await client.put(
        "/api/v1/admin/routes/999999", json={"code": "X", "stops": STOPS}, headers=admin.headers
    )
    assert missing.status_code == 404
    assert (await problem_of(missing))["code"] == "route_not_found"
    assert await routes.list_routes() == []


async def test_a_route_in_use_keeps_its_cities(client: QuartClient, caller_for: Any):
    admin, customer = await caller_for(admin=True), await caller_for()
    trip = await make_trip(clock.now() + timedelta(days=1), rows=2)
    await book(trip, (await schedule_seats(trip))[0], 0, 2, user=customer.user, now=clock.now())
    response = await client.put(
        f"/api/v1/admin/routes/{trip.route_id}",  # type: ignore[attr-defined]
        json={"code": "R-X", "stops": STOPS},
        headers=admin.headers,
    )
    assert response.status_code == 409
    assert (await problem_of(response))["code"] == "route_in_use"


# ------------------------------------------------------------------------------ buses


async def test_create_and_update_a_bus_with_its_layout(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    created = await client.post(
        "/api/v1/admin/buses", json=BUS, headers={**admin.headers, "Idempotency-Key": "bus-1"}
    )
    assert created.status_code == 201, await created.get_data(as_text=True)
    body = await created.get_json()
    assert body["registration"] == "MH-15-AB-0001" and body["decks"] == 2
    assert len(body["seats"]) == 12
    assert body["seats"][0] == {
        "number": "L1",
        "deck": "lower",
        "row": 1,
        "column": 1,
        "seat_type": "sleeper",
        "position": "window",
        "price_factor": "1.10",
    }
    [console] = await fleet.list_buses()
    assert console.id == body["id"] and await Seat.filter(bus_id=console.id).count() == 12
    relaid = {**BUS, "name": "Renamed", "kind": "seater", "rows": 3, "columns": 4, "aisle_after": 2}
    updated = await client.put(
        f"/api/v1/admin/buses/{body['id']}", json=relaid, headers=admin.headers
    )
    assert updated.status_code == 200, await updated.get_data(as_text=True)
    after = await updated.get_json()
    assert after["name"] == "Renamed" and after["decks"] == 1 and len(after["seats"]) == 12
    assert [s["number"] for s in after["seats"][:4]] == ["1", "2", "3", "4"]
    assert (await Bus.get(id=body["id"])).kind == "seater"
    assert await ActivityLog.filter(action="bus.updated", subject_id=str(body["id"])).exists()
    listed = await (await client.get("/api/v1/admin/buses", headers=admin.headers)).get_json()
    assert [b["name"] for b in listed["buses"]] == ["Renamed"]


async def test_invalid_layouts_name_their_field(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    aisle = await client.post(
        "/api/v1/admin/buses", json={**BUS, "aisle_after": 3}, headers=admin.headers
    )
    assert aisle.status_code == 422
    assert [e["field"] for e in (await problem_of(aisle))["errors"]] == ["aisle_after"]
    rows = await client.post("/api/v1/admin/buses", json={**BUS, "rows": 40}, headers=admin.headers)
    assert [e["field"] for e in (await problem_of(rows))["errors"]] == ["rows"]
    kind = await client.post(
        "/api/v1/admin/buses", json={**BUS, "kind": "double-decker"}, headers=admin.headers
    )
    assert kind.status_code == 422
    assert [e["field"] for e in (await problem_of(kind))["errors"]] == ["kind"]
    ok = await client.post("/api/v1/admin/buses", json=BUS, headers=admin.headers)
    assert ok.status_code == 201
    clash = await client.post(
        "/api/v1/admin/buses", json={**BUS, "name": "Twin"}, headers=admin.headers
    )
    assert [e["field"] for e in (await problem_of(clash))["errors"]] == ["registration"]
    assert await Bus.all().count() == 1


async def test_a_bus_names_its_operator_and_can_move_to_another(
    client: QuartClient, caller_for: Any
):
    admin = await caller_for(admin=True)
    first = await Operator.create(name="Sahyadri Travels")
    other = await Operator.create(name="Konkan Express")
    created = await client.post("/api/v1/admin/buses", json=BUS, headers=admin.headers)
    body = await created.get_json()
    assert (body["operator"], body["operator_id"]) == ("Sahyadri Travels", first.id)
    path = f"/api/v1/admin/buses/{body['id']}"
    moved = await client.put(path, json={**BUS, "operator_id": other.id}, headers=admin.headers)
    assert (await moved.get_json())["operator"] == "Konkan Express"
    kept = await client.put(path, json=BUS, headers=admin.headers)  # omitted: unchanged
    assert (await kept.get_json())["operator_id"] == other.id
    unknown = await client.put(path, json={**BUS, "operator_id": 99999}, headers=admin.headers)
    assert unknown.status_code == 422
    assert [e["field"] for e in (await problem_of(unknown))["errors"]] == ["operator_id"]


async def test_a_bus_in_service_keeps_its_layout(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    trip = await make_trip(clock.now() + timedelta(days=1), rows=2)
    bus = await Bus.get(id=trip.bus_id)  # type: ignore[attr-defined]
    same = {
        "name": "Renamed seater",
        "registration": bus.registration,
        "kind": "seater",
        "is_ac": False,
        "rows": 2,
        "columns": 4,
        "aisle_after": 2,
    }
    path = f"/api/v1/admin/buses/{bus.id}"
    renamed = await client.put(path, json=same, headers=admin.headers)
    assert renamed.status_code == 200, await renamed.get_data(as_text=True)
    assert (await Bus.get(id=bus.id)).name == "Renamed seater"
    relaid = await client.put(path, json={**same, "rows": 3}, headers=admin.headers)
    assert relaid.status_code == 409
    assert (await problem_of(relaid))["code"] == "bus_in_service"
    assert await Seat.filter(bus_id=bus.id).count() == 8
    missing = await client.put("/api/v1/admin/buses/999999", json=same, headers=admin.headers)
    assert (await problem_of(missing))["code"] == "bus_not_found"


# ------------------------------------------------------------------------------ timetable


async def test_publish_a_timetable_and_change_a_trip(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    model = await make_trip(clock.now() - timedelta(days=5), rows=2)  # a route and a bus
    first = (clock.now().astimezone(IST) + timedelta(days=2)).date()
    created = await client.post(
        "/api/v1/admin/timetables",
        json={
            "route_id": model.route_id,  # type: ignore[attr-defined]
            "bus_id": model.bus_id,  # type: ignore[attr-defined]
            "departure_time": "06:30",
            "first_day": first.isoformat(),
            "last_day": (first + timedelta(days=2)).isoformat(),
            "base_fare": "725.50",
        },
        headers={**admin.headers, "Idempotency-Key": "tt-1"},
    )
    assert created.status_code == 201, await created.get_data(as_text=True)
    trips = (await created.get_json())["schedules"]
    assert len(trips) == 3 and {t["base_fare"] for t in trips} == {"725.50"}
    assert trips[0]["departure_datetime"] == f"{first}T06:30:00+05:30"
    console = await timetable.upcoming_schedules(clock.now())
    assert [s.id for s in console] == [t["id"] for t in trips]
    assert await ScheduleSeat.filter(schedule_id=trips[0]["id"]).count() == 8
    listed = await client.get("/api/v1/admin/timetables?limit=2", headers=admin.headers)
    page = await listed.get_json()
    rest = await (await client.get(page["next"], headers=admin.headers)).get_json()
    assert [t["id"] for t in page["schedules"] + rest["schedules"]] == [t["id"] for t in trips]

    later = datetime.fromisoformat(trips[0]["departure_datetime"]) + timedelta(hours=2)
    moved = await client.put(
        f"/api/v1/admin/timetables/{trips[0]['id']}",
        json={"departure_datetime": later.isoformat(), "base_fare": "800"},
        headers=admin.headers,
    )
    assert moved.status_code == 200, await moved.get_data(as_text=True)
    trip = await Schedule.get(id=trips[0]["id"])
    assert trip.departure_at == later and trip.base_fare == Decimal("800")
    assert trip.arrival_at - trip.departure_at == timedelta(minutes=210)
    assert await ActivityLog.filter(action="schedule.updated", subject_id=str(trip.id)).exists()

    onto_next = datetime.fromisoformat(trips[1]["departure_datetime"]) + timedelta(minutes=30)
    clash = await client.put(
        f"/api/v1/admin/timetables/{trips[0]['id']}",
        json={"departure_datetime": onto_next.isoformat(), "base_fare": "800"},
        headers=admin.headers,
    )
    assert clash.status_code == 409 and (await problem_of(clash))["code"] == "conflict"

    customer = await caller_for()
    seats = await schedule_seats(trip)
    await real_hold(customer.user, trip, seats[:1])
    in_use = await client.put(
        f"/api/v1/admin/timetables/{trip.id}",
        json={"departure_datetime": (later + timedelta(hours=1)).isoformat(), "base_fare": "800"},
        headers=admin.headers,
    )
    assert in_use.status_code == 409 and (await problem_of(in_use))["code"] == "trip_in_use"
    fare_only = await client.put(
        f"/api/v1/admin/timetables/{trip.id}",
        json={"departure_datetime": later.isoformat(), "base_fare": "900"},
        headers=admin.headers,
    )
    assert fare_only.status_code == 200
    assert (await fare_only.get_json())["base_fare"] == "900.00"
    departed = await client.put(
        f"/api/v1/admin/timetables/{model.id}",
        json={"departure_datetime": later.isoformat(), "base_fare": "900"},
        headers=admin.headers,
    )
    assert (await problem_of(departed))["code"] == "trip_closed"


async def test_invalid_timetables_name_their_field(client: QuartClient, caller_for: Any):
    admin = await caller_for(admin=True)
    model = await make_trip(clock.now() + timedelta(days=1), rows=2)
    base = {
        "route_id": model.route_id,  # type: ignore[attr-defined]
        "bus_id": 999999,
        "departure_time": "06:30",
        "first_day": tomorrow(),
        "weekdays": [0, 7],
        "base_fare": "0",
    }
    response = await client.post("/api/v1/admin/timetables", json=base, headers=admin.headers)
    assert response.status_code == 422
    fields = {e["field"] for e in (await problem_of(response))["errors"]}
    assert fields == {"bus_id", "weekdays", "base_fare"}
    naive = await client.put(
        f"/api/v1/admin/timetables/{model.id}",
        json={"departure_datetime": "2030-01-01T06:00:00", "base_fare": "10"},
        headers=admin.headers,
    )
    assert naive.status_code == 422
    assert [e["field"] for e in (await problem_of(naive))["errors"]] == ["departure_datetime"]
    past = await client.put(
        f"/api/v1/admin/timetables/{model.id}",
        json={"departure_datetime": "2020-01-01T06:00:00+05:30", "base_fare": "10"},
        headers=admin.headers,
    )
    assert [e["field"] for e in (await problem_of(past))["errors"]] == ["departure_datetime"]
    far = await client.post(
        "/api/v1/admin/timetables",
        json={**base, "bus_id": model.bus_id, "weekdays": [6], "first_day": "2999-01-01"},  # type: ignore[attr-defined]
        headers=admin.headers,
    )
    assert {e["field"] for e in (await problem_of(far))["errors"]} == {"first_day", "base_fare"}
    assert await Schedule.all().count() == 1
