"""The timetable: trips (schedules) of a route on a bus, their seat inventory, blocking a
seat on one trip, and the operator's list of upcoming trips."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import audit, events, inventory, keyset, locking
from domain.enums import BookingStatus, ReservationStatus, ScheduleStatus
from domain.errors import (
    Conflict,
    NotFound,
    ScheduleNotFound,
    TripClosed,
    TripInUse,
    ValidationFailed,
)
from domain.models import (
    Booking,
    Bus,
    Reservation,
    Route,
    RouteStop,
    Schedule,
    ScheduleSeat,
    User,
)

# The highest fare for a whole route. A hold's total (its seats' fares, each with the bus's
# surcharge) and the booking and payment made from it are DECIMAL(12, 2): a fare near that
# column's limit was accepted here and then every hold on the trip failed with a numeric
# overflow. Ten million leaves room for hundreds of seats in one hold, in any currency.
MAX_BASE_FARE = Decimal("10000000")
# How far ahead a trip may be published: further is a typo (and near year 9999 the arrival
# overflows date arithmetic). The console's date inputs have the same horizon.
MAX_DAYS_AHEAD = 366 * 5


@dataclass(frozen=True)
class TimetableInput:
    """One trip, or trips on some weekdays between two dates. Errors name these fields."""

    route_id: int
    bus_id: int
    departure_time: time  # local, in the operator's time zone
    first_day: date
    last_day: date | None  # None: only the first day
    weekdays: frozenset[int]  # Monday = 0 .. Sunday = 6
    base_fare: Decimal  # for the whole route


async def create_timetable(
    admin: User, data: TimetableInput, *, now: datetime, tz: ZoneInfo, currency: str
) -> list[Schedule]:
    """One trip or a recurring timetable (days of the week within a date range) in one go,
    each with its seat inventory, priced in `currency` (the CURRENCY setting). A bus
    already on the road at that time is refused."""
    errors: dict[str, str] = {}
    route = await Route.get_or_none(id=data.route_id)
    bus = await Bus.get_or_none(id=data.bus_id)
    if route is None:
        errors["route_id"] = "Choose a route."
    if bus is None:
        errors["bus_id"] = "Choose a bus."
    departs = data.departure_time
    first, last = data.first_day, data.last_day or data.first_day
    horizon = now.astimezone(tz).date() + timedelta(days=MAX_DAYS_AHEAD)
    if first > horizon:
        errors["first_day"] = f"Trips can be published up to {horizon:%d %b %Y}."
    elif last < first:
        errors["last_day"] = "The last day must not be before the first day."
    elif (last - first).days > 366:
        errors["last_day"] = "A timetable can cover at most a year."
    fare = data.base_fare
    if not fare.is_finite() or not 0 < fare <= MAX_BASE_FARE:
        errors["base_fare"] = "Enter the fare for the whole route, e.g. 650."
    weekdays = {d for d in data.weekdays if 0 <= d <= 6}
    if not weekdays or len(weekdays) != len(data.weekdays):
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
    async with locking.transaction() as conn:
        # Lock the bus so two timetables cannot put it on two roads at once.
        await Bus.filter(id=bus.id).select_for_update().using_db(conn).first()
        for start in starts:
            await _refuse_clash(conn, bus, start, start + duration, tz, "Nothing was created.")
        created = []
        for start in starts:
            schedule = await Schedule.create(
                route=route,
                bus=bus,
                departure_at=start,
                arrival_at=start + duration,
                base_fare=fare,
                currency=currency,
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


async def _refuse_clash(
    conn: BaseDBAsyncClient,
    bus: Bus,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    outcome: str,
    *,
    other_than: int | None = None,
) -> None:
    """Conflict when the bus is on another scheduled trip between start and end."""
    clash = (
        await Schedule.filter(
            bus=bus, status=ScheduleStatus.SCHEDULED, departure_at__lt=end, arrival_at__gt=start
        )
        .exclude(id=other_than or 0)
        .using_db(conn)
        .first()
    )
    if clash is not None:
        raise Conflict(
            f"Bus {bus.registration} is already on another trip then "
            f"(trip #{clash.id}, leaving {clash.departure_at.astimezone(tz):%d %b %H:%M}). "
            + outcome
        )


@dataclass(frozen=True)
class TripChange:
    """A trip's new departure (an aware time) and fare for the whole route."""

    departure_datetime: datetime
    base_fare: Decimal


@dataclass(frozen=True)
class TripUpdate:
    """A saved trip, and whether the save changed it."""

    schedule: Schedule
    changed: bool


async def update_trip(
    admin: User, schedule_id: int, change: TripChange, *, now: datetime, tz: ZoneInfo
) -> TripUpdate:
    """Change one trip of the timetable: its fare (for holds made from now on: a hold keeps
    the total it was quoted) and its departure, which moves only while the trip has no
    active hold and no booking (their tickets are for that time) and never onto another
    trip of the same bus. A cancelled or departed trip is not changed. Saving a trip as it
    is changes nothing and writes no audit row."""
    errors: dict[str, str] = {}
    fare = change.base_fare
    if not fare.is_finite() or not 0 < fare <= MAX_BASE_FARE:
        errors["base_fare"] = "Enter the fare for the whole route, e.g. 650."
    if change.departure_datetime.tzinfo is None:
        errors["departure_datetime"] = "Give the departure with its time zone offset."
    elif change.departure_datetime <= now:
        errors["departure_datetime"] = "The departure must be in the future."
    elif change.departure_datetime > now + timedelta(days=MAX_DAYS_AHEAD):
        errors["departure_datetime"] = "A trip can be at most five years ahead."
    if errors:
        raise ValidationFailed(errors)
    async with locking.transaction() as conn:
        schedule = await Schedule.filter(id=schedule_id).select_for_update().using_db(conn).first()
        if schedule is None:
            raise ScheduleNotFound()
        if schedule.status != ScheduleStatus.SCHEDULED or schedule.departure_at <= now:
            raise TripClosed()
        before = {"departure_at": schedule.departure_at, "base_fare": schedule.base_fare}
        if (change.departure_datetime, fare) == (schedule.departure_at, schedule.base_fare):
            return TripUpdate(schedule, changed=False)  # nothing to change, nothing to audit
        if change.departure_datetime != schedule.departure_at:
            in_use = (
                await Reservation.filter(
                    schedule_id=schedule.id, status=ReservationStatus.ACTIVE, expires_at__gt=now
                )
                .using_db(conn)
                .exists()
                or await Booking.filter(
                    schedule_id=schedule.id,
                    status__in=[BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED],
                )
                .using_db(conn)
                .exists()
            )
            if in_use:
                raise TripInUse()
            bus = await Bus.filter(id=schedule.bus_id).select_for_update().using_db(conn).first()
            assert bus is not None
            duration = schedule.arrival_at - schedule.departure_at
            start = change.departure_datetime
            await _refuse_clash(
                conn,
                bus,
                start,
                start + duration,
                tz,
                "Nothing was changed.",
                other_than=schedule.id,
            )
            schedule.departure_at, schedule.arrival_at = start, start + duration
        schedule.base_fare = fare
        await schedule.save(
            update_fields=["departure_at", "arrival_at", "base_fare"], using_db=conn
        )
        await audit.record(
            "schedule.updated",
            now=now,
            actor=admin,
            subject=schedule,
            using_db=conn,
            data={
                "before": before,
                "after": {"departure_at": schedule.departure_at, "base_fare": fare},
            },
        )
    return TripUpdate(schedule, changed=True)


async def generate_seats(admin: User, schedule_id: int, *, now: datetime) -> int:
    schedule = await Schedule.get_or_none(id=schedule_id)
    if schedule is None:
        raise ScheduleNotFound()
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
    async with locking.transaction() as conn:
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
            if state and any(o.takes(None, now) for o in state.occupancies):
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


async def upcoming_schedules(
    now: datetime, limit: int = 200, *, after: tuple[datetime, int] | None = None
) -> list[Schedule]:
    """Trips from 12 hours ago on, by departure (ties by id); `after` is the (departure_at,
    id) of the last trip already seen."""
    query = Schedule.filter(departure_at__gt=now - timedelta(hours=12))
    if after is not None:
        query = query.filter(
            Q(departure_at__gt=after[0]) | Q(departure_at=after[0], id__gt=after[1])
        )
    return await query.order_by("departure_at", "id").limit(limit).prefetch_related("route", "bus")


@dataclass(frozen=True)
class TripFilter:
    """The trips list's filters; without a day, trips from 12 hours ago on."""

    route_id: int | None = None
    day: date | None = None  # the operator's calendar day of departure
    status: ScheduleStatus | None = None


TRIP_ORDER = ("departure_at", "id")


async def trip_page(
    now: datetime, filters: TripFilter, window: keyset.Window, tz: ZoneInfo
) -> keyset.Page[Schedule]:
    """One page of the timetable by departure (ties by id), with route and bus: the
    console's trips page and the API's timetable read the same."""
    if filters.day is not None:
        start = datetime.combine(filters.day, time(0), tz)
        query = Schedule.filter(
            departure_at__gte=start,
            departure_at__lt=datetime.combine(filters.day + timedelta(days=1), time(0), tz),
        )
    else:
        query = Schedule.filter(departure_at__gt=now - timedelta(hours=12))
    if filters.route_id is not None:
        query = query.filter(route_id=filters.route_id)
    if filters.status is not None:
        query = query.filter(status=filters.status)
    return await keyset.read_page(query, TRIP_ORDER, window, "route", "bus")
