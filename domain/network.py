"""The operator's network: buses and their layouts, routes, timetables, trip inventory, and
cancelling a whole trip."""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import audit, cancellations, database, events, holds, inventory
from domain.bookings import CheckoutConfig
from domain.enums import (
    BookingStatus,
    BusKind,
    ReservationStatus,
    ScheduleStatus,
)
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.fleet import SeatSpec, seater_layout, sleeper_layout
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
    StopPoint,
    User,
)
from domain.payments.registry import Gateways

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayoutInput:
    name: str
    registration: str
    kind: str
    is_ac: bool
    rows: str
    columns: str
    aisle_after: str


@dataclass(frozen=True)
class Layout:
    kind: BusKind
    rows: int
    columns: int
    aisle_after: int
    seats: list[SeatSpec]


def plan_layout(data: LayoutInput) -> Layout:
    """Validate a layout and lay its seats out (the editor's preview and the saved bus)."""
    errors: dict[str, str] = {}
    if data.kind not in {k.value for k in BusKind}:
        errors["kind"] = "Choose seater or sleeper."
    numbers = {}
    for field, raw, low, high in (
        ("rows", data.rows, 1, 20),
        ("columns", data.columns, 1, 6),
        ("aisle_after", data.aisle_after, 0, 6),
    ):
        text = raw.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else -1
        if not low <= value <= high:
            errors[field] = f"Enter a whole number from {low} to {high}."
        numbers[field] = value
    if not errors and numbers["aisle_after"] >= numbers["columns"]:
        errors["aisle_after"] = "The aisle must run between two columns of seats."
    if not errors and numbers["rows"] * numbers["columns"] == 0:
        errors["rows"] = "A bus needs at least one seat."
    if errors:
        raise ValidationFailed(errors)
    kind = BusKind(data.kind)
    build = sleeper_layout if kind is BusKind.SLEEPER else seater_layout
    seats = build(numbers["rows"], numbers["columns"])
    if len({(s.deck, s.number) for s in seats}) != len(seats):
        raise ValidationFailed({"rows": "Seat numbers would repeat; change the layout."})
    return Layout(kind, numbers["rows"], numbers["columns"], numbers["aisle_after"], seats)


async def create_bus(admin: User, data: LayoutInput, *, now: datetime) -> Bus:
    layout = plan_layout(data)
    errors = {}
    registration = data.registration.strip().upper()
    if not registration:
        errors["registration"] = "Enter the registration number."
    elif await Bus.filter(registration=registration).exists():
        errors["registration"] = "A bus with this registration already exists."
    if not data.name.strip():
        errors["name"] = "Give the bus a name passengers will recognise."
    if errors:
        raise ValidationFailed(errors)
    operator = await Operator.first()
    if operator is None:
        operator = await Operator.create(name="Busbook Operator")
    async with in_transaction() as conn:
        bus = await Bus.create(
            registration=registration,
            name=data.name.strip()[:120],
            operator=operator,
            kind=layout.kind,
            is_ac=data.is_ac,
            decks=2 if layout.kind is BusKind.SLEEPER else 1,
            rows=layout.rows,
            columns=layout.columns,
            aisle_after=layout.aisle_after,
            using_db=conn,
        )
        await Seat.bulk_create([Seat(bus=bus, **vars(s)) for s in layout.seats], using_db=conn)
        await audit.record(
            "bus.created",
            now=now,
            actor=admin,
            subject=bus,
            using_db=conn,
            data={"registration": registration, "seats": len(layout.seats)},
        )
    return bus


@dataclass(frozen=True)
class TimetableInput:
    route_id: str
    bus_id: str
    departure_time: str  # HH:MM, local
    first_day: str
    last_day: str
    weekdays: list[str]  # "0".."6", Monday = 0
    base_fare: str


async def create_timetable(
    admin: User, data: TimetableInput, *, now: datetime, tz: ZoneInfo
) -> list[Schedule]:
    """One trip or a recurring timetable (days of the week within a date range) in one go,
    each with its seat inventory. A bus already on the road at that time is refused."""
    errors: dict[str, str] = {}
    route = await Route.get_or_none(id=int(data.route_id)) if data.route_id.isdigit() else None
    bus = await Bus.get_or_none(id=int(data.bus_id)) if data.bus_id.isdigit() else None
    if route is None:
        errors["route_id"] = "Choose a route."
    if bus is None:
        errors["bus_id"] = "Choose a bus."
    try:
        departs = time.fromisoformat(data.departure_time)
    except ValueError:
        errors["departure_time"] = "Enter the departure time as HH:MM."
    try:
        first, last = (
            date.fromisoformat(data.first_day),
            date.fromisoformat(data.last_day or data.first_day),
        )
    except ValueError:
        errors["first_day"] = "Enter the dates as YYYY-MM-DD."
    else:
        if last < first:
            errors["last_day"] = "The last day must not be before the first day."
        elif (last - first).days > 366:
            errors["last_day"] = "A timetable can cover at most a year."
    try:
        fare = Decimal(data.base_fare)
        if fare <= 0:
            raise InvalidOperation
    except InvalidOperation:
        errors["base_fare"] = "Enter the fare for the whole route, e.g. 650."
    weekdays = {int(d) for d in data.weekdays if d in {"0", "1", "2", "3", "4", "5", "6"}}
    if not weekdays:
        errors["weekdays"] = "Choose at least one day of the week."
    if errors:
        raise ValidationFailed(errors)
    assert route is not None and bus is not None
    last_stop = await RouteStop.filter(route=route).order_by("-seq").first()
    if last_stop is None or last_stop.seq == 0:
        raise ValidationFailed({"route_id": "That route has no stops yet."})
    duration = timedelta(minutes=last_stop.minutes_from_origin)
    starts = [
        datetime.combine(first + timedelta(days=i), departs, tz)
        for i in range((last - first).days + 1)
        if (first + timedelta(days=i)).weekday() in weekdays
    ]
    starts = [s for s in starts if s > now]
    if not starts:
        raise ValidationFailed({"first_day": "Those days are all in the past."})
    async with in_transaction() as conn:
        # Lock the bus so two timetables cannot put it on two roads at once.
        await Bus.filter(id=bus.id).select_for_update().using_db(conn).first()
        for start in starts:
            clash = (
                await Schedule.filter(
                    bus=bus,
                    status=ScheduleStatus.SCHEDULED,
                    departure_at__lt=start + duration,
                    arrival_at__gt=start,
                )
                .using_db(conn)
                .first()
            )
            if clash is not None:
                raise Conflict(
                    f"Bus {bus.registration} is already on another trip then "
                    f"(trip #{clash.id}, leaving {clash.departure_at.astimezone(tz):%d %b %H:%M})."
                    " Nothing was created."
                )
        created = []
        for start in starts:
            schedule = await Schedule.create(
                route=route,
                bus=bus,
                departure_at=start,
                arrival_at=start + duration,
                base_fare=fare,
                using_db=conn,
            )
            await inventory.generate_schedule_seats(schedule, using_db=conn)
            created.append(schedule)
        await audit.record(
            "schedule.created",
            now=now,
            actor=admin,
            using_db=conn,
            data={"route_id": route.id, "bus_id": bus.id, "trips": [s.id for s in created]},
        )
    return created


async def generate_seats(admin: User, schedule_id: int, *, now: datetime) -> int:
    schedule = await Schedule.get_or_none(id=schedule_id)
    if schedule is None:
        raise NotFound("We could not find that trip.")
    async with in_transaction() as conn:
        count = await inventory.generate_schedule_seats(schedule, using_db=conn)
        await audit.record(
            "schedule.seats_generated",
            now=now,
            actor=admin,
            subject=schedule,
            data={"created": count},
            using_db=conn,
        )
    return count


async def set_seat_blocked(
    admin: User, schedule_seat_id: int, blocked: bool, reason: str, *, now: datetime
) -> ScheduleSeat:
    """Block a seat on one trip (not for sale) or unblock it; a sold or held seat cannot be
    blocked until it is free."""
    async with in_transaction() as conn:
        seat = (
            await ScheduleSeat.filter(id=schedule_seat_id)
            .select_for_update()
            .using_db(conn)
            .prefetch_related("seat")
            .first()
        )
        if seat is None:
            raise NotFound("We could not find that seat.")
        if blocked:
            states = await inventory.seat_states(seat.schedule_id, [seat.id], using_db=conn)
            state = states.get(seat.id)
            if state and any(o.live(now) for o in state.occupancies):
                raise Conflict(f"Seat {seat.seat.number} is held or booked; free it first.")
        seat.is_blocked = blocked
        seat.blocked_reason = reason.strip()[:200] if blocked else ""
        await seat.save(update_fields=["is_blocked", "blocked_reason"], using_db=conn)
        await audit.record(
            "seat.blocked" if blocked else "seat.unblocked",
            now=now,
            actor=admin,
            subject=seat,
            using_db=conn,
            data={
                "schedule_id": seat.schedule_id,
                "seat": seat.seat.number,
                "reason": seat.blocked_reason,
            },
        )
        await events.announce(conn, seat.schedule_id, [seat.id], "blocked")
    return seat


@dataclass(frozen=True)
class TripCancellation:
    """What one run of `cancel_trip` did: bookings refunded now, and the ones that could not
    be done this time (run it again to finish them)."""

    refunded: int
    failed: int
    resumed: bool  # the trip was already cancelled: this run finished earlier work


async def cancel_trip(
    admin: User,
    schedule_id: int,
    reason: str,
    *,
    now: datetime,
    gateways: Gateways,
    config: CheckoutConfig,
) -> TripCancellation:
    """The operator cancels a trip: seats closed, holds released, every booking refunded in
    full and its passengers emailed.

    A saga: the trip is marked cancelled first (from then on no payment can become a
    booking on it), then each hold and each booking is ended in its own transaction. One
    that fails (a customer cancelling a seat at the same moment, a lock that times out) is
    counted and the rest go on; running it again on the cancelled trip finishes what is
    left, and refunds nobody twice."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed({"reason": "Say why the trip is cancelled; passengers are told."})
    async with in_transaction() as conn:
        schedule = await Schedule.filter(id=schedule_id).select_for_update().using_db(conn).first()
        if schedule is None:
            raise NotFound("We could not find that trip.")
        resumed = schedule.status == ScheduleStatus.CANCELLED
        if not resumed:
            if schedule.departure_at <= now:
                raise Conflict("This trip has already left and cannot be cancelled.")
            schedule.status = ScheduleStatus.CANCELLED
            await schedule.save(update_fields=["status"], using_db=conn)
            await audit.record(
                "schedule.cancelled",
                now=now,
                actor=admin,
                subject=schedule,
                data={"reason": reason},
                using_db=conn,
            )
    failed = 0
    holds_ended = 0
    for reservation in await Reservation.filter(
        schedule_id=schedule_id, status=ReservationStatus.ACTIVE
    ):
        try:
            await holds.release_hold(
                admin, reservation.public_id, f"Trip cancelled: {reason}", now=now
            )
            holds_ended += 1
        except Exception as exc:
            if database.is_outage(exc):
                raise
            log.exception("cancel trip %s: hold %s not released", schedule_id, reservation.id)
            failed += 1
    refunded = 0
    for booking in await Booking.filter(
        schedule_id=schedule_id,
        status__in=[BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED],
    ):
        try:
            await cancellations.cancel_booking(
                admin,
                booking,
                None,  # every seat still active when the booking is locked
                now=now,
                gateways=gateways,
                config=config,
                reason=f"Trip cancelled by the operator: {reason}",
                full_refund=True,
            )
            refunded += 1
        except cancellations.NothingToCancel:
            continue  # its last seats were cancelled a moment ago (in full: trip cancelled)
        except Exception as exc:
            if database.is_outage(exc):
                raise
            log.exception("cancel trip %s: booking %s not refunded", schedule_id, booking.id)
            failed += 1
    if resumed and not (refunded or failed or holds_ended):
        raise Conflict("This trip is already cancelled and every booking on it was refunded.")
    if failed:
        await audit.record(
            "schedule.cancellation_incomplete",
            now=now,
            actor=admin,
            subject=schedule,
            data={"refunded": refunded, "failed": failed},
        )
    return TripCancellation(refunded, failed, resumed)


async def list_routes() -> list[Route]:
    return (
        await Route.all().order_by("code").prefetch_related("stops", "stops__city", "stops__points")
    )


async def list_buses() -> list[Bus]:
    return await Bus.all().order_by("registration").prefetch_related("operator")


async def upcoming_schedules(now: datetime, limit: int = 200) -> list[Schedule]:
    return (
        await Schedule.filter(departure_at__gt=now - timedelta(hours=12))
        .order_by("departure_at")
        .limit(limit)
        .prefetch_related("route", "bus")
    )


@dataclass(frozen=True)
class StopLine:
    city: str
    minutes: int
    km: int
    points: list[str]


# Bounds of a route: a real one has a few dozen stops and runs for days at most; the
# bounds keep a typo (or 20,000 lines) from becoming minutes of work or a column overflow.
MAX_STOPS = 60
MAX_MINUTES = 14 * 24 * 60
MAX_KM = 20_000
CITY_MAX = 80  # City.name
POINT_MAX = 120  # StopPoint.name
_WHOLE = re.compile(r"[0-9]{1,6}")


def parse_stops(text: str) -> list[StopLine]:
    """One stop per line: `City | minutes from origin | km from origin | point; point`."""
    stops: list[StopLine] = []
    problems: list[str] = []
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_STOPS:
        raise ValidationFailed({"stops": f"A route can have at most {MAX_STOPS} stops."})
    for number, raw in enumerate(lines, 1):
        parts = [p.strip() for p in raw.split("|")]
        if len(parts) < 3 or not parts[0]:
            problems.append(f"line {number}: write City | minutes | km | points")
            continue
        if not (_WHOLE.fullmatch(parts[1]) and _WHOLE.fullmatch(parts[2])):
            problems.append(f"line {number}: minutes and km must be whole numbers")
            continue
        minutes, km = int(parts[1]), int(parts[2])
        if minutes > MAX_MINUTES or km > MAX_KM:
            problems.append(
                f"line {number}: at most {MAX_MINUTES} minutes and {MAX_KM} km from the origin"
            )
            continue
        points = [p.strip() for p in (parts[3] if len(parts) > 3 else "").split(";") if p.strip()]
        if len(" ".join(parts[0].split())) > CITY_MAX or any(len(p) > POINT_MAX for p in points):
            problems.append(
                f"line {number}: city names can have at most {CITY_MAX} characters, "
                f"boarding points {POINT_MAX}"
            )
            continue
        stops.append(
            StopLine(
                " ".join(parts[0].split()).title(),
                minutes,
                km,
                points or [f"{parts[0].strip()} bus stand"],
            )
        )
    if not problems and len(stops) < 2:
        problems.append("a route needs at least two stops")
    if not problems:
        if stops[0].minutes != 0 or stops[0].km != 0:
            problems.append("the first stop is the origin: 0 minutes and 0 km")
        for before, after in itertools.pairwise(stops):
            if after.minutes <= before.minutes or after.km <= before.km:
                problems.append(
                    f"{after.city} must come later and farther than {before.city}: stops are "
                    "in travel order"
                )
        if len({s.city for s in stops}) != len(stops):
            problems.append("a city can appear only once on a route")
    if problems:
        raise ValidationFailed({"stops": "; ".join(problems).capitalize() + "."})
    return stops


async def save_route(
    admin: User, route_id: int | None, code: str, name: str, stops_text: str, *, now: datetime
) -> Route:
    """Create a route, or replace an existing route's stops. A route with holds or bookings
    keeps its stops' number and order (their segments refer to them); only times, distances
    and points may change then."""
    errors: dict[str, str] = {}
    code = code.strip().upper()
    if not code:
        errors["code"] = "Give the route a short code, e.g. MUM-PUN."
    try:
        stops = parse_stops(stops_text)
    except ValidationFailed as exc:
        errors |= exc.errors
        stops = []
    if errors:
        raise ValidationFailed(errors)
    clash = await Route.filter(code=code).exclude(id=route_id or 0).exists()
    if clash:
        raise ValidationFailed({"code": "Another route already uses this code."})
    operator = await Operator.first() or await Operator.create(name="Busbook Operator")
    async with in_transaction() as conn:
        if route_id is None:
            route = await Route.create(
                code=code, name=name.strip() or code, operator=operator, using_db=conn
            )
            current: list[RouteStop] = []
        else:
            found = await Route.filter(id=route_id).select_for_update().using_db(conn).first()
            if found is None:
                raise NotFound("We could not find that route.")
            route = found
            current = list(
                await RouteStop.filter(route=route)
                .order_by("seq")
                .using_db(conn)
                .prefetch_related("city")
            )
            in_use = (
                await Reservation.filter(
                    schedule__route_id=route.id, status=ReservationStatus.ACTIVE
                )
                .using_db(conn)
                .exists()
                or await Booking.filter(
                    schedule__route_id=route.id,
                    status__in=[BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED],
                )
                .using_db(conn)
                .exists()
            )
            same_stops = [s.city.name for s in current] == [s.city for s in stops]
            if in_use and not same_stops:
                raise Conflict(
                    "This route has holds or bookings, and their seats are sold by stop: its "
                    "stops must stay the same cities in the same order. You can change times, "
                    "distances and boarding points, or create a new route."
                )
            route.code, route.name = code, name.strip() or route.name
            await route.save(update_fields=["code", "name"], using_db=conn)
        for seq, line in enumerate(stops):
            city, _ = await City.get_or_create(name=line.city, using_db=conn)
            if seq < len(current) and current[seq].city_id == city.id:  # type: ignore[attr-defined]
                stop = current[seq]
                stop.minutes_from_origin, stop.km_from_origin = line.minutes, line.km
                await stop.save(using_db=conn)
                # Keep points that holds or bookings refer to; drop the others not listed.
                for point in await StopPoint.filter(stop=stop).using_db(conn):
                    if point.name in line.points:
                        continue
                    used = (
                        await Reservation.filter(
                            Q(boarding_point_id=point.id) | Q(dropping_point_id=point.id)
                        )
                        .using_db(conn)
                        .exists()
                        or await Booking.filter(
                            Q(boarding_point_id=point.id) | Q(dropping_point_id=point.id)
                        )
                        .using_db(conn)
                        .exists()
                    )
                    if not used:
                        await point.delete(using_db=conn)
            else:
                if seq < len(current):
                    await current[seq].delete(using_db=conn)
                stop = await RouteStop.create(
                    route=route,
                    seq=seq,
                    city=city,
                    minutes_from_origin=line.minutes,
                    km_from_origin=line.km,
                    using_db=conn,
                )
            existing = {p.name for p in await StopPoint.filter(stop=stop).using_db(conn)}
            for offset, point_name in enumerate(line.points):
                if point_name in existing:
                    continue
                await StopPoint.create(
                    stop=stop,
                    name=point_name[:120],
                    minutes_offset=offset * 10,
                    is_boarding=seq < len(stops) - 1,
                    is_dropping=seq > 0,
                    using_db=conn,
                )
        for extra in current[len(stops) :]:
            await extra.delete(using_db=conn)
        await audit.record(
            "route.saved",
            now=now,
            actor=admin,
            subject=route,
            using_db=conn,
            data={"code": code, "stops": [s.city for s in stops]},
        )
    inventory.forget_routes()
    return route
