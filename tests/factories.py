"""Small async factories that build just enough of the network for a test."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from domain import accounts, inventory
from domain.enums import AllocationKind, BusKind, ReservationStatus, UserRole
from domain.fleet import seater_layout, sleeper_layout
from domain.models import (
    Booking,
    Bus,
    City,
    Operator,
    Reservation,
    Route,
    RouteStop,
    Schedule,
    ScheduleSeat,
    Seat,
    SeatAllocation,
    StopPoint,
    User,
)

_sequence = count(1)
MUMBAI_PUNE = [("Mumbai", 0, 0), ("Lonavala", 120, 83), ("Pune", 210, 148)]


async def make_user(
    email: str | None = None,
    password: str = "secret-pass-1",
    *,
    admin: bool = False,
    now: datetime | None = None,
) -> User:
    email = email or f"user{next(_sequence)}@example.com"
    return await accounts.register(
        accounts.ProfileInput(email, "Test", "User", "+919800000000"),
        password,
        now=now or datetime.now().astimezone(),
        role=UserRole.ADMIN if admin else UserRole.CUSTOMER,
    )


async def make_route(
    stops: list[tuple[str, int, int]] | None = None, code: str | None = None
) -> Route:
    stops = stops or MUMBAI_PUNE
    operator, _ = await Operator.get_or_create(name="Sahyadri Travels")
    route = await Route.create(
        code=code or f"R{next(_sequence)}",
        name=" - ".join(city for city, _, _ in stops),
        operator=operator,
    )
    for seq, (name, minutes, km) in enumerate(stops):
        city, _ = await City.get_or_create(name=name)
        stop = await RouteStop.create(
            route=route, seq=seq, city=city, minutes_from_origin=minutes, km_from_origin=km
        )
        await StopPoint.create(stop=stop, name=f"{name} Bus Stand")
    return route


async def make_bus(kind: BusKind = BusKind.SEATER, *, is_ac: bool = True, rows: int = 10) -> Bus:
    operator, _ = await Operator.get_or_create(name="Sahyadri Travels")
    sleeper = kind is BusKind.SLEEPER
    bus = await Bus.create(
        registration=f"MH-12-TT-{next(_sequence):04d}",
        name="Test sleeper" if sleeper else "Test seater",
        operator=operator,
        kind=kind,
        is_ac=is_ac,
        decks=2 if sleeper else 1,
        rows=rows,
        columns=3 if sleeper else 4,
        aisle_after=1 if sleeper else 2,
    )
    layout = sleeper_layout(rows) if sleeper else seater_layout(rows)
    await Seat.bulk_create([Seat(bus=bus, **vars(spec)) for spec in layout])
    return bus


async def make_trip(
    departure: datetime,
    *,
    route: Route | None = None,
    bus: Bus | None = None,
    base_fare: Decimal = Decimal("650"),
    kind: BusKind = BusKind.SEATER,
    is_ac: bool = True,
    rows: int = 10,
) -> Schedule:
    route = route or await make_route()
    bus = bus or await make_bus(kind, is_ac=is_ac, rows=rows)
    last = await RouteStop.filter(route=route).order_by("-seq").first()
    assert last is not None
    schedule = await Schedule.create(
        route=route,
        bus=bus,
        departure_at=departure,
        arrival_at=departure + timedelta(minutes=last.minutes_from_origin),
        base_fare=base_fare,
    )
    await inventory.generate_schedule_seats(schedule)
    return schedule


async def schedule_seats(schedule: Schedule) -> list[ScheduleSeat]:
    return await ScheduleSeat.filter(schedule=schedule).order_by("id").prefetch_related("seat")


async def hold(
    schedule: Schedule,
    seat: ScheduleSeat,
    from_seq: int,
    to_seq: int,
    *,
    user: User,
    expires_at: datetime,
) -> SeatAllocation:
    """A raw hold allocation (the hold service arrives with the seat-holds issue)."""
    reservation = await Reservation.create(
        user=user,
        schedule=schedule,
        from_seq=from_seq,
        to_seq=to_seq,
        status=ReservationStatus.ACTIVE,
        total_amount=Decimal("100"),
        expires_at=expires_at,
        created_at=expires_at - timedelta(minutes=15),
    )
    return await SeatAllocation.create(
        schedule=schedule,
        schedule_seat_id=seat.id,
        from_seq=from_seq,
        to_seq=to_seq,
        kind=AllocationKind.HOLD,
        reservation=reservation,
        created_at=reservation.created_at,
    )


async def book(
    schedule: Schedule,
    seat: ScheduleSeat,
    from_seq: int,
    to_seq: int,
    *,
    user: User,
    now: datetime,
) -> SeatAllocation:
    booking = await Booking.create(
        reference=f"BK{next(_sequence):06d}",
        user=user,
        schedule=schedule,
        from_seq=from_seq,
        to_seq=to_seq,
        total_amount=Decimal("100"),
        contact_email=user.email,
        contact_phone=user.phone_number,
        created_at=now,
    )
    return await SeatAllocation.create(
        schedule=schedule,
        schedule_seat_id=seat.id,
        from_seq=from_seq,
        to_seq=to_seq,
        kind=AllocationKind.BOOKING,
        booking=booking,
        created_at=now,
    )


async def make_users(count: int) -> list[User]:
    """Many customers at once, for load and contention tests (no password hashing)."""
    start = next(_sequence)
    users = [
        User(
            email=f"load{start}-{i}@example.com",
            password_hash="!unusable",
            first_name="Load",
            last_name=str(i),
            phone_number="+919800000000",
        )
        for i in range(count)
    ]
    await User.bulk_create(users)
    return await User.filter(email__startswith=f"load{start}-").order_by("id")


@dataclass(frozen=True)
class Paying:
    """A customer at the gateway's page: a hold with a payment started for it."""

    user: User
    trip: Schedule
    reservation: Reservation
    form: Any  # the CheckoutInput sent (a resent form reuses its idempotency key)
    payment: Any  # the Payment, pending


async def start_paying(
    gateways: Any,
    config: Any,
    *,
    now: datetime,
    departs: datetime | None = None,
    seats: int = 1,
) -> Paying:
    """Hold `seats` seats on a fresh trip and start paying for them, as the hold page does."""
    from domain import checkout, holds
    from domain.checkout import CheckoutInput, PassengerInput
    from domain.enums import Gender, PaymentMethod
    from domain.holds import HoldPolicy, HoldRequest

    trip = await make_trip(departs or now + timedelta(days=1), rows=2)
    chosen = (await schedule_seats(trip))[:seats]
    user = await make_user()
    reservation = await holds.hold_seats(
        user,
        HoldRequest(trip.id, 0, 2, tuple(s.id for s in chosen)),
        now=now,
        policy=HoldPolicy(),
    )
    quote = await checkout.quote(reservation)
    form = CheckoutInput(
        passengers=[
            PassengerInput(s.id, f"Passenger {i}", 34, Gender.FEMALE) for i, s in enumerate(chosen)
        ],
        contact_email="asha@example.com",
        contact_phone="+919876543210",
        method=PaymentMethod.UPI,
        quoted_total=quote.total,
        idempotency_key=secrets.token_urlsafe(24),
    )
    payment = await checkout.start_checkout(
        user, reservation.public_id, form, gateways=gateways, config=config, now=now
    )
    return Paying(user, trip, reservation, form, payment)


async def cancel_trip_and_finish(
    admin: User, schedule_id: int, reason: str, *, now: datetime, gateways: Any, config: Any
) -> Any:
    """The operator cancels a trip and the background worker makes its pass (what the app
    does a few seconds later): the worker's pass for this trip."""
    from domain import trip_cancellation

    await trip_cancellation.cancel_trip(admin, schedule_id, reason, now=now)
    passes = await trip_cancellation.finish_cancelled_trips(
        now=now, gateways=gateways, config=config
    )
    return next(p for p in passes if p.schedule_id == schedule_id)


async def add_points(trip: Schedule) -> tuple[StopPoint, StopPoint]:
    """A boarding point 40 minutes after the trip's first stop ("Dadar TT Circle", with a
    landmark) and a dropping point 25 minutes after its last, as a real route has."""
    stops = await RouteStop.filter(route_id=trip.route_id).order_by("seq")  # type: ignore[attr-defined]
    board = await StopPoint.create(
        stop=stops[0], name="Dadar TT Circle", landmark="Near the flyover", minutes_offset=40
    )
    drop = await StopPoint.create(stop=stops[-1], name="Swargate", minutes_offset=25)
    inventory.forget_routes()
    return board, drop
