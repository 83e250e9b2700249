"""What operators see and do: dashboard figures, holds, bookings, the audit trail, boarding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from domain import audit, availability, keyset, locking, mail, ticket_tokens
from domain.enums import (
    BookingStatus,
    PaymentStatus,
    RefundState,
    ReservationStatus,
    ScheduleStatus,
    TicketStatus,
)
from domain.errors import ValidationFailed
from domain.formatting import format_datetime, format_money, format_time
from domain.models import (
    ActivityLog,
    Booking,
    Bus,
    Payment,
    Refund,
    Reservation,
    Route,
    Schedule,
    Ticket,
    User,
)

INT32_MAX = 2**31 - 1
TICKET_NUMBER_MAX = 20  # Ticket.number


@dataclass(frozen=True)
class DayFigure:
    day: date
    bookings: int
    revenue: Decimal


@dataclass(frozen=True)
class TripOccupancy:
    schedule_id: int
    route: str
    departure_at: datetime
    booked: int
    held: int
    seats: int

    @property
    def percent(self) -> int:
        return round(100 * self.booked / self.seats) if self.seats else 0


@dataclass(frozen=True)
class Dashboard:
    bookings_today: int
    revenue_today: Decimal
    active_holds: int
    seats_held: int  # seats in those holds
    expiring_soon: list[Reservation]
    upcoming: list[TripOccupancy]  # the first UPCOMING_SHOWN of the next 24 hours
    upcoming_total: int  # every trip of the next 24 hours
    stuck_payments: list[Payment]
    refunds_pending: int
    failed_refunds: list[Refund]  # pending refunds the gateway has refused so far
    mail_counts: dict[str, int]
    failed_mail: list[Any]
    days: list[DayFigure]
    routes: list[tuple[str, int]]  # route name, occupancy % of the next 7 days


# The next week's trips with their seats booked and held right now (a seat taken on any
# segment by the availability rule counts once; booked on one segment and held on
# another, it counts in both).
OCCUPANCY_SQL = f"""
    SELECT s.id, r.name AS route, s.departure_at,
           (SELECT count(*) FROM schedule_seats ss WHERE ss.schedule_id = s.id) AS seats,
           taken.booked, taken.held
    FROM schedules s JOIN routes r ON r.id = s.route_id
    CROSS JOIN LATERAL (
        SELECT count(DISTINCT a.schedule_seat_id) FILTER (WHERE a.kind = 'booking') AS booked,
               count(DISTINCT a.schedule_seat_id) FILTER (WHERE a.kind = 'hold') AS held
        FROM seat_allocations a LEFT JOIN reservations res ON res.id = a.reservation_id
        WHERE a.schedule_id = s.id AND {availability.taken_sql("a", "res", now="$1")}
    ) taken
    WHERE s.status = 'scheduled' AND s.departure_at > $1 AND s.departure_at < $2
    ORDER BY s.departure_at
"""


UPCOMING_SHOWN = 12  # the dashboard's table; the trips page has them all


async def dashboard(now: datetime, tz: ZoneInfo) -> Dashboard:
    db = connections.get("default")
    today = now.astimezone(tz).date()
    start = datetime.combine(today - timedelta(days=29), time(0), tz)
    rows = await db.execute_query_dict(
        """
        SELECT (p.updated_at AT TIME ZONE $2)::date AS day, count(*) AS n,
               coalesce(sum(p.amount - p.refunded_amount), 0) AS revenue
        FROM payments p
        WHERE p.status = 'succeeded' AND p.updated_at >= $1
        GROUP BY 1
        """,
        [start, tz.key],
    )
    by_day = {r["day"]: r for r in rows}
    days = [
        DayFigure(
            d,
            int(by_day[d]["n"]) if d in by_day else 0,
            Decimal(by_day[d]["revenue"]) if d in by_day else Decimal(0),
        )
        for d in (today - timedelta(days=29 - i) for i in range(30))
    ]
    occupancy = await db.execute_query_dict(
        OCCUPANCY_SQL,
        [now, now + timedelta(days=7)],
    )
    trips = [
        TripOccupancy(r["id"], r["route"], r["departure_at"], r["booked"], r["held"], r["seats"])
        for r in occupancy
    ]
    per_route: dict[str, list[int]] = {}
    for trip in trips:
        totals = per_route.setdefault(trip.route, [0, 0])
        totals[0] += trip.booked
        totals[1] += trip.seats
    next_day = [t for t in trips if t.departure_at < now + timedelta(hours=24)]
    active = Reservation.filter(status=ReservationStatus.ACTIVE, expires_at__gt=now)
    held = await db.execute_query_dict(
        "SELECT count(*) AS holds, coalesce(sum(seat_count), 0) AS seats FROM reservations"
        " WHERE status = 'active' AND expires_at > $1",
        [now],
    )
    return Dashboard(
        bookings_today=days[-1].bookings,
        revenue_today=days[-1].revenue,
        active_holds=int(held[0]["holds"]),
        seats_held=int(held[0]["seats"]),
        expiring_soon=await active.filter(expires_at__lte=now + timedelta(minutes=5))
        .order_by("expires_at")
        .prefetch_related("user", "schedule", "schedule__route"),
        upcoming=next_day[:UPCOMING_SHOWN],
        upcoming_total=len(next_day),
        stuck_payments=await Payment.filter(
            Q(status__in=[PaymentStatus.FLAGGED, PaymentStatus.REFUND_PENDING])
            | Q(status=PaymentStatus.PENDING, updated_at__lt=now - timedelta(minutes=30))
        )
        .order_by("-updated_at")
        .limit(20),
        refunds_pending=await Refund.filter(status=RefundState.PENDING).count(),
        failed_refunds=await Refund.filter(status=RefundState.PENDING, attempts__gt=0)
        .order_by("-created_at")
        .limit(10),
        mail_counts=await mail.outbox_counts(),
        failed_mail=await mail.failed_emails(10),
        days=days,
        routes=[
            (name, round(100 * booked / seats) if seats else 0)
            for name, (booked, seats) in sorted(per_route.items())
        ],
    )


@dataclass(frozen=True)
class HoldFilter:
    state: ReservationStatus = ReservationStatus.ACTIVE
    schedule_id: int | None = None
    search: str = ""  # customer email, phone or last name


def hold_order(state: ReservationStatus) -> tuple[str, str]:
    """Active holds running out first; ended ones the latest first."""
    return ("expires_at", "id") if state == ReservationStatus.ACTIVE else ("-expires_at", "-id")


async def hold_page(
    now: datetime, filters: HoldFilter, window: keyset.Window
) -> keyset.Page[Reservation]:
    """One page of customers' holds in a state (an active hold whose time is up counts as
    expired: it is gone for everyone, whether or not the sweeper has been by), with the
    customer, the trip and the seats held."""
    if filters.state == ReservationStatus.ACTIVE:
        query = Reservation.filter(status=ReservationStatus.ACTIVE, expires_at__gt=now)
    elif filters.state == ReservationStatus.EXPIRED:
        query = Reservation.filter(
            Q(status=ReservationStatus.EXPIRED)
            | Q(status=ReservationStatus.ACTIVE, expires_at__lte=now)
        )
    else:
        query = Reservation.filter(status=filters.state)
    if filters.schedule_id is not None:
        query = query.filter(schedule_id=filters.schedule_id)
    search = filters.search.strip()
    if search:
        query = query.filter(
            Q(user__email__icontains=search)
            | Q(user__phone_number__contains=search.replace(" ", ""))
            | Q(user__last_name__icontains=search)
        )
    return await keyset.read_page(
        query,
        hold_order(filters.state),
        window,
        "user",
        "schedule",
        "schedule__route",
        "allocations",
        "allocations__schedule_seat__seat",
    )


async def trips_with_active_holds(now: datetime, limit: int = 100) -> list[Schedule]:
    """The trips that have a hold right now (the holds page's trip filter), soonest first."""
    return list(
        await Schedule.filter(
            reservations__status=ReservationStatus.ACTIVE, reservations__expires_at__gt=now
        )
        .distinct()
        .order_by("departure_at", "id")
        .limit(limit)
        .prefetch_related("route")
    )


@dataclass(frozen=True)
class BookingFilter:
    search: str = ""  # a reference, an email, a phone number or a trip number
    status: BookingStatus | None = None
    travel_day: date | None = None  # the operator's calendar day the trip leaves


BOOKING_ORDER = ("-created_at", "-id")


async def booking_page(
    filters: BookingFilter, window: keyset.Window, tz: ZoneInfo
) -> keyset.Page[Booking]:
    """One page of bookings, the latest first, with their trips."""
    search = filters.search.strip()
    query = Booking.all()
    if search:
        condition = (
            Q(reference__iexact=search)
            | Q(contact_email__icontains=search)
            | Q(contact_phone__contains=search.replace(" ", ""))
            | Q(user__email__icontains=search)
        )
        # All digits may be a trip number, or a phone number (9876543210) that no trip id
        # can be: only an id that fits PostgreSQL's integer is looked up as one.
        if search.isascii() and search.isdigit() and len(search) <= 10 and int(search) <= INT32_MAX:
            condition |= Q(schedule_id=int(search))
        query = query.filter(condition)
    if filters.status is not None:
        query = query.filter(status=filters.status)
    if filters.travel_day is not None:
        start = datetime.combine(filters.travel_day, time(0), tz)
        query = query.filter(
            schedule__departure_at__gte=start,
            schedule__departure_at__lt=start + timedelta(days=1),
        )
    return await keyset.read_page(query, BOOKING_ORDER, window, "schedule", "schedule__route")


@dataclass(frozen=True)
class LogFilter:
    actor: str = ""
    action: str = ""
    subject_type: str = ""
    subject_id: str = ""
    since: date | None = None
    until: date | None = None


# What the audit trail is about (ActivityLog.subject_type): the activity page's choices.
SUBJECT_TYPES = (
    "Booking",
    "Bus",
    "Cancellation",
    "Payment",
    "Refund",
    "Reservation",
    "Route",
    "Schedule",
    "ScheduleSeat",
    "Ticket",
    "User",
    "ApiKey",
)
LOG_ORDER = ("-created_at", "-id")


def _log_query(filters: LogFilter, tz: ZoneInfo) -> QuerySet[ActivityLog]:
    query = ActivityLog.all()
    actor = filters.actor.strip()
    if actor:
        by_actor = Q(actor__email__icontains=actor)
        if actor.isascii() and actor.isdigit() and len(actor) <= 10 and int(actor) <= INT32_MAX:
            by_actor |= Q(actor_id=int(actor))  # an account's id
        query = query.filter(by_actor)
    if filters.action:
        query = query.filter(action__startswith=filters.action.strip())
    if filters.subject_type:
        query = query.filter(subject_type__iexact=filters.subject_type.strip())
    if filters.subject_id:
        query = query.filter(subject_id=filters.subject_id.strip())
    if filters.since:
        query = query.filter(created_at__gte=datetime.combine(filters.since, time(0), tz))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(0), tz)
        query = query.filter(created_at__lt=end)
    return query


async def activity_page(
    filters: LogFilter, tz: ZoneInfo, window: keyset.Window, *, describe: bool = False
) -> keyset.Page[ActivityLog]:
    """One page of the audit trail, newest first, from a keyset position (the created_at
    and id of the last row seen): rows written meanwhile neither repeat nor skip a row.
    With `describe`, `extra["subjects"]` names each row's subject in words (the console's
    "Trip Mumbai - Pune, Fri 27 Nov 2026, 06:00" for "Schedule 3"), one query per kind."""
    page = await keyset.read_page(_log_query(filters, tz), LOG_ORDER, window, "actor")
    if describe:
        page.extra["subjects"] = await _subject_names(page.rows, tz)
    return page


def _ids(rows: list[ActivityLog], kind: str) -> list[int]:
    return sorted(
        {
            int(r.subject_id)
            for r in rows
            if r.subject_type == kind
            and r.subject_id.isascii()
            and r.subject_id.isdigit()
            and len(r.subject_id) <= 10
            and int(r.subject_id) <= INT32_MAX
        }
    )


async def _subject_names(rows: list[ActivityLog], tz: ZoneInfo) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}

    def trip(s: Schedule) -> str:
        return f"{s.route.name}, {format_datetime(s.departure_at, tz)}"

    if ids := _ids(rows, "Schedule"):
        for s in await Schedule.filter(id__in=ids).prefetch_related("route"):
            names["Schedule", str(s.id)] = f"Trip {trip(s)}"
    if ids := _ids(rows, "Booking"):
        for b in await Booking.filter(id__in=ids):
            names["Booking", str(b.id)] = f"Booking {b.reference}"
    if ids := _ids(rows, "Reservation"):
        for r in await Reservation.filter(id__in=ids).prefetch_related(
            "user", "schedule", "schedule__route"
        ):
            names["Reservation", str(r.id)] = f"Hold by {r.user.email} on {trip(r.schedule)}"
    if ids := _ids(rows, "Payment"):
        for p in await Payment.filter(id__in=ids):
            who = (
                (p.checkout_data or {}).get("contact_email")
                if isinstance(p.checkout_data, dict)
                else None
            )
            names["Payment", str(p.id)] = f"Payment of {format_money(p.amount, p.currency)}" + (
                f" from {who}" if who else ""
            )
    if ids := _ids(rows, "Ticket"):
        for t in await Ticket.filter(id__in=ids):
            names["Ticket", str(t.id)] = f"Ticket {t.number}"
    if ids := _ids(rows, "User"):
        for u in await User.filter(id__in=ids):
            names["User", str(u.id)] = f"Account {u.email}"
    if ids := _ids(rows, "Bus"):
        for bus in await Bus.filter(id__in=ids):
            names["Bus", str(bus.id)] = f"Bus {bus.registration}"
    if ids := _ids(rows, "Route"):
        for route in await Route.filter(id__in=ids):
            names["Route", str(route.id)] = f"Route {route.code} ({route.name})"
    return names


# -------------------------------------------------------------------------------- boarding


async def boarding_trips(now: datetime) -> list[Schedule]:
    """Trips a conductor may be boarding now: left up to 12 hours ago or leaving within 24."""
    return (
        await Schedule.filter(
            departure_at__gte=now - timedelta(hours=12),
            departure_at__lte=now + timedelta(hours=24),
        )
        .order_by("departure_at")
        .prefetch_related("route", "bus")
    )


@dataclass(frozen=True)
class BoardingResult:
    ok: bool
    headline: str
    detail: str = ""
    ticket: Ticket | None = None
    passengers: tuple[str, ...] = ()  # "Meera Iyer — seat 29", the ones travelling
    trip: str = ""  # "Mumbai - Pune · Tue 1 Dec 2026, 22:30"


async def board(
    admin: User, code: str, schedule_id: int, *, secret: str, now: datetime, tz: ZoneInfo
) -> BoardingResult:
    """Check a ticket at the door: a signed QR token (or a ticket number), for this trip,
    boarded once. A second scan says when it was already boarded."""
    code = code.strip()
    if not code:
        raise ValidationFailed({"code": "Scan or type the ticket's code."})
    payload = ticket_tokens.read_qr_token(secret, code)
    number = payload.ticket_number if payload else code.upper()
    if payload is None and not number.startswith("TK-"):
        return BoardingResult(False, "Not a valid ticket", "The code's signature does not match.")
    if len(number) > TICKET_NUMBER_MAX:
        return BoardingResult(False, "Unknown ticket", "That is not a ticket number.")
    async with locking.transaction() as conn:
        ticket = await Ticket.filter(number=number).select_for_update().using_db(conn).first()
        if ticket is None:
            return BoardingResult(False, "Unknown ticket", f"No ticket {number}.")
        booking = await Booking.get(id=ticket.booking_id, using_db=conn).prefetch_related(
            "passengers", "passengers__seat", "boarding_point"
        )
        seats = ", ".join(p.seat.number for p in booking.passengers if p.status == "active")
        if booking.schedule_id != schedule_id or (
            payload is not None and payload.schedule_id != schedule_id
        ):
            return BoardingResult(
                False, "Not for this trip", f"Ticket {number} is for another bus.", ticket
            )
        schedule = await Schedule.get(id=booking.schedule_id, using_db=conn).prefetch_related(
            "route"
        )
        trip = f"{schedule.route.name} · {format_datetime(schedule.departure_at, tz)}"
        travelling = tuple(
            f"{p.name} — seat {p.seat.number}" for p in booking.passengers if p.status == "active"
        )
        if schedule.status == ScheduleStatus.CANCELLED:
            return BoardingResult(
                False,
                "Trip cancelled",
                f"This trip was cancelled by the operator; ticket {number} is not valid.",
                ticket,
            )
        if ticket.status == TicketStatus.CANCELLED:
            newer = (
                await Ticket.filter(booking_id=booking.id, issued_at__gte=ticket.issued_at)
                .exclude(status=TicketStatus.CANCELLED)
                .using_db(conn)
                .order_by("-issued_at", "-id")
                .first()
            )
            if newer is not None:
                return BoardingResult(
                    False,
                    "Cancelled ticket",
                    f"Replaced by ticket {newer.number} (seats {seats}): scan that one. "
                    f"Ticket {number} was cancelled when seats of the booking were cancelled.",
                    ticket,
                    travelling,
                    trip,
                )
            return BoardingResult(
                False,
                "Cancelled ticket",
                f"Ticket {number} was cancelled: booking {booking.reference} has no seats left.",
                ticket,
                trip=trip,
            )
        if ticket.status == TicketStatus.BOARDED and ticket.boarded_at:
            at = format_time(ticket.boarded_at, tz)
            return BoardingResult(
                False, f"Already boarded at {at}", f"Seats {seats}.", ticket, travelling, trip
            )
        ticket.status = TicketStatus.BOARDED
        ticket.boarded_at = now
        await ticket.save(update_fields=["status", "boarded_at"], using_db=conn)
        await audit.record(
            "ticket.boarded",
            now=now,
            actor=admin,
            subject=ticket,
            using_db=conn,
            data={"schedule_id": schedule_id},
        )
    point = booking.boarding_point.name if booking.boarding_point else ""
    noun = "Seat" if len(travelling) == 1 else "Seats"
    return BoardingResult(
        True,
        "Valid",
        f"{noun} {seats}" + (f", boarding at {point}" if point else ""),
        ticket,
        travelling,
        trip,
    )
