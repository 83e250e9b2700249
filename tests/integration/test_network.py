"""The operator's network: bus layouts, timetables, seat blocks and cancelling a trip."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain import fleet, holds, routes, trip_cancellation
from domain.enums import BookingStatus, BusKind, RefundStatus, ScheduleStatus
from domain.errors import Conflict, ValidationFailed
from domain.holds import HoldRequest
from domain.models import (
    ActivityLog,
    Booking,
    Cancellation,
    EmailOutbox,
    Reservation,
    Schedule,
    ScheduleSeat,
    Seat,
)
from domain.timetable import TimetableInput, create_timetable, set_seat_blocked
from tests import factories
from tests.integration.test_cancellations import CONFIG, buy
from views.forms import stop_lines

pytestmark = pytest.mark.usefixtures("db")
IST = ZoneInfo("Asia/Kolkata")
NOW = datetime.now(UTC).replace(microsecond=0)


def layout(**overrides):
    data = {
        "name": "Volvo 9600",
        "registration": "mh-14-xy-1",
        "kind": BusKind.SLEEPER,
        "is_ac": True,
        "rows": 6,
        "columns": 3,
        "aisle_after": 1,
    }
    return fleet.LayoutInput(**(data | overrides))


async def test_layout_editor_makes_a_two_deck_sleeper():
    admin = await factories.make_user(admin=True)
    bus = await fleet.create_bus(admin, layout(), now=NOW)
    numbers = await Seat.filter(bus=bus).values_list("number", flat=True)
    assert len(numbers) == 36 and {"L1", "U18"} <= set(numbers)
    assert bus.registration == "MH-14-XY-1"
    with pytest.raises(ValidationFailed, match="already exists"):
        await fleet.create_bus(admin, layout(), now=NOW)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rows": 0}, "rows"),
        ({"rows": 21}, "rows"),
        ({"columns": 9}, "columns"),
        ({"aisle_after": 3}, "aisle_after"),
        ({"registration": " "}, "registration"),
    ],
)
async def test_bad_layouts_are_refused(overrides, field):
    admin = await factories.make_user(admin=True)
    with pytest.raises(ValidationFailed) as caught:
        await fleet.create_bus(admin, layout(**overrides), now=NOW)
    assert field in caught.value.errors


async def timetable(admin, route, bus, **overrides):
    first = (NOW + timedelta(days=2)).astimezone(IST).date()
    data = {
        "route_id": route.id,
        "bus_id": bus.id,
        "departure_time": time(6, 0),
        "first_day": first,
        "last_day": first + timedelta(days=13),
        "weekdays": frozenset({0, 2, 4}),
        "base_fare": Decimal("650"),
    }
    return await create_timetable(
        admin, TimetableInput(**(data | overrides)), now=NOW, tz=IST, currency="INR"
    )


async def test_recurring_timetable_in_one_go_with_seats():
    admin = await factories.make_user(admin=True)
    route, bus = await factories.make_route(), await factories.make_bus(rows=2)
    created = await timetable(admin, route, bus)
    assert len(created) == 6  # Mon, Wed, Fri over two weeks
    assert {s.departure_at.astimezone(IST).weekday() for s in created} == {0, 2, 4}
    assert all(s.arrival_at - s.departure_at == timedelta(minutes=210) for s in created)
    assert await ScheduleSeat.filter(schedule_id=created[0].id).count() == 8
    assert await ActivityLog.filter(action="schedule.created").count() == 1


async def test_a_bus_cannot_be_on_two_trips_at_once():
    admin = await factories.make_user(admin=True)
    route, bus = await factories.make_route(), await factories.make_bus(rows=1)
    await timetable(admin, route, bus, weekdays=frozenset({0}))
    before = await Schedule.all().count()
    with pytest.raises(Conflict, match="already on another trip"):
        await timetable(admin, route, bus, departure_time=time(7, 30), weekdays=frozenset(range(7)))
    assert await Schedule.all().count() == before  # nothing half-created


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"route_id": 999_999}, "route_id"),
        ({"bus_id": 999_999}, "bus_id"),
        ({"weekdays": frozenset()}, "weekdays"),
        ({"weekdays": frozenset({7})}, "weekdays"),
        ({"base_fare": Decimal("-5")}, "base_fare"),
        ({"last_day": date(2020, 1, 1)}, "last_day"),
    ],
)
async def test_bad_timetables_are_refused(overrides, field):
    admin = await factories.make_user(admin=True)
    route, bus = await factories.make_route(), await factories.make_bus(rows=1)
    with pytest.raises(ValidationFailed) as caught:
        await timetable(admin, route, bus, **overrides)
    assert field in caught.value.errors
    assert await Schedule.all().count() == 0


async def test_block_and_unblock_a_seat_but_not_a_held_one():
    admin = await factories.make_user(admin=True)
    trip = await factories.make_trip(NOW + timedelta(days=1), rows=1)
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    await holds.hold_seats(user, HoldRequest(trip.id, 0, 2, (seats[0].id,)), now=NOW)
    with pytest.raises(Conflict, match="held or booked"):
        await set_seat_blocked(admin, seats[0].id, True, "broken", now=NOW)
    blocked = await set_seat_blocked(admin, seats[1].id, True, "broken recliner", now=NOW)
    assert blocked.is_blocked and blocked.blocked_reason == "broken recliner"
    await set_seat_blocked(admin, seats[1].id, False, "", now=NOW)
    assert not (await ScheduleSeat.get(id=seats[1].id)).is_blocked
    assert await ActivityLog.filter(action__in=["seat.blocked", "seat.unblocked"]).count() == 2


async def test_cancelling_a_trip_refunds_everyone_in_full(gateways, simulator):
    admin = await factories.make_user(admin=True)
    _, booking, _ = await buy(gateways, simulator)
    other = await factories.make_user()
    seats = await factories.schedule_seats(await Schedule.get(id=booking.schedule_id))
    await holds.hold_seats(other, HoldRequest(booking.schedule_id, 0, 2, (seats[5].id,)), now=NOW)
    with pytest.raises(ValidationFailed):
        await trip_cancellation.cancel_trip(admin, booking.schedule_id, " ", now=NOW)
    asked = await trip_cancellation.cancel_trip(
        admin, booking.schedule_id, "engine failure", now=NOW
    )
    (done,) = await trip_cancellation.finish_cancelled_trips(
        now=NOW, gateways=gateways, config=CONFIG
    )
    assert (done.refunded, done.failed, asked.resumed) == (1, 0, False)
    await booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    cancellation = await Cancellation.get()
    assert cancellation.refund_amount == booking.total_amount and cancellation.fee == Decimal(0)
    assert cancellation.refund_status == RefundStatus.PROCESSED
    assert (await Schedule.get(id=booking.schedule_id)).status == ScheduleStatus.CANCELLED
    assert await Reservation.filter(status="released").count() == 1
    assert await EmailOutbox.filter(subject__startswith="Your bus is cancelled").count() == 1
    with pytest.raises(Conflict, match="already cancelled"):
        await trip_cancellation.cancel_trip(admin, booking.schedule_id, "again", now=NOW)
    assert await Booking.all().count() == 1


@pytest.fixture
def simulator():
    from domain.payments.simulator import SimulatorGateway

    return SimulatorGateway(CONFIG.secret)


@pytest.fixture
def gateways(simulator):
    from domain.payments.registry import Gateways

    return Gateways([simulator])


STOPS = "Mumbai | 0 | 0 | Dadar; Sion\nLonavala | 120 | 83 | Bus stand\nPune | 210 | 148 | Wakad"


async def test_create_and_edit_a_route():
    admin = await factories.make_user(admin=True)
    route = await routes.save_route(admin, None, "mum-pun-2", "Express", stop_lines(STOPS), now=NOW)
    stops = (
        await factories.RouteStop.filter(route=route)
        .order_by("seq")
        .prefetch_related("city", "points")
    )
    assert [s.city.name for s in stops] == ["Mumbai", "Lonavala", "Pune"]
    assert [p.name for p in stops[0].points] == ["Dadar", "Sion"]
    assert route.code == "MUM-PUN-2"
    edited = STOPS.replace("Pune | 210 | 148", "Pune | 200 | 150").replace("Sion", "Chembur")
    await routes.save_route(admin, route.id, "MUM-PUN-2", "Express", stop_lines(edited), now=NOW)
    first = await factories.RouteStop.get(route=route, seq=0).prefetch_related("points")
    assert sorted(p.name for p in first.points) == ["Chembur", "Dadar"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mumbai | 0 | 0", "at least two stops"),
        ("Mumbai | 0 | 0\nPune | 210 | 148\nLonavala | 120 | 83", "travel order"),
        ("Mumbai | 5 | 0\nPune | 210 | 148", "0 minutes and 0 km"),
        ("Mumbai | 0 | 0\nPune | x | 148", "whole numbers"),
        ("Mumbai | 0 | 0\nMumbai | 10 | 10", "only once"),
    ],
)
async def test_stops_out_of_order_or_malformed_are_refused(text, message):
    admin = await factories.make_user(admin=True)
    with pytest.raises(ValidationFailed, match=message):
        await routes.save_route(admin, None, "BAD", "Bad", stop_lines(text), now=NOW)
    assert await factories.Route.all().count() == 0


async def test_a_route_with_bookings_keeps_its_stops(gateways, simulator):
    admin = await factories.make_user(admin=True)
    _, booking, _ = await buy(gateways, simulator)
    schedule = await Schedule.get(id=booking.schedule_id)
    route = await factories.Route.get(id=schedule.route_id)
    with pytest.raises(Conflict, match="holds or bookings"):
        await routes.save_route(
            admin,
            route.id,
            route.code,
            route.name,
            stop_lines("Mumbai | 0 | 0 | A\nPune | 210 | 148 | B"),
            now=NOW,
        )
    assert await factories.RouteStop.filter(route=route).count() == 3
    # Times and points may change; the booking's boarding point survives.
    await routes.save_route(
        admin,
        route.id,
        route.code,
        route.name,
        stop_lines("Mumbai | 0 | 0 | New point\nLonavala | 125 | 83 | X\nPune | 215 | 148 | Y"),
        now=NOW,
    )
    assert await factories.RouteStop.filter(route=route).count() == 3
