"""The operators' console over JSON (admins only): the dashboard's figures, active holds and
releasing one, and the audit trail. Each view makes the domain call the console's page makes
(views/admin.py): operations.dashboard, operations.hold_page, holds.release_hold and
operations.activity_page (keyset pages, as the console's)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field
from quart import Response

from domain import holds, keyset, operations
from domain.models import ActivityLog, Reservation
from views.api.auth import needs, require_api_admin
from views.api.blueprints import api_blueprint
from views.api.io import json_body, query, reply, responds, tags
from views.api.pagination import PageQuery, decode_cursor, encode_cursor, next_link
from views.api.problems import ApiProblem
from views.api.schemas import Money, Out, Strict, example
from views.services import services

blueprint = api_blueprint("admin", __name__)
SEARCH_MAX = 200  # as the console's search box
REASON_MAX = 255
# The audit trail's dates within a sane window (date.max + 1 day would overflow).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def local_time(moment: datetime) -> datetime:
    """A stored (UTC) time in the operator's time zone, as every answer gives it."""
    return moment.astimezone(services().tz)


def keyset_position(cursor: str | None, *fields: str) -> tuple[datetime, int] | None:
    """A keyset cursor's (time, id) position, or None without one; a cursor this API signed
    but of another list is as invalid as a forged one (422 `invalid_cursor`)."""
    position = decode_cursor(cursor)
    if position is None:
        return None
    try:
        moment = datetime.fromisoformat(str(position[fields[0]]))
        row_id = position[fields[1]]
        if not isinstance(row_id, int) or moment.tzinfo is None:
            raise ValueError(row_id)
    except (KeyError, ValueError) as exc:
        raise ApiProblem(
            422,
            "invalid_cursor",
            "This cursor belongs to another list. Use the `next_cursor` of this list's "
            "previous page, or leave it out to start from the first page.",
            errors=[{"field": "cursor", "message": "Not a cursor of this list."}],
        ) from exc
    return moment, row_id


# ----------------------------------------------------------------------------- dashboard


class DayOut(Out):
    day: date
    bookings: int
    revenue: Money


class TripOccupancyOut(Out):
    schedule_id: int
    route: str
    departure_datetime: datetime
    seats: int
    booked: int = Field(description="Seats booked on some part of the trip.")
    held: int = Field(description="Seats held right now on some part of the trip.")
    percent_booked: int


class RouteOccupancyOut(Out):
    route: str
    percent_booked: int = Field(description="Of the seats on its trips of the next 7 days.")


class ExpiringHoldOut(Out):
    id: str = Field(examples=["rsv_3kTq9xWm2pLa8vZr"])
    customer_email: str
    schedule_id: int
    expiry_datetime: datetime


class DashboardMetrics(Out):
    model_config = example(
        bookings_today=14,
        revenue_today="18450.00",
        active_holds=3,
        seats_held=7,
        expiring_soon=[],
        upcoming_trips=[],
        upcoming_trips_total=0,
        payments_needing_attention=1,
        refunds_pending=0,
        refunds_failing=0,
        mail={"pending": 2, "sent": 120, "failed": 0},
        mail_failed=0,
        days=[{"day": "2026-12-02", "bookings": 14, "revenue": "18450.00"}],
        routes=[{"route": "Mumbai - Pune", "percent_booked": 41}],
        generated_at="2026-12-02T10:15:00+05:30",
    )

    bookings_today: int = Field(description="Payments that succeeded today (operator's day).")
    revenue_today: Money = Field(description="Their amounts less what was refunded.")
    active_holds: int
    seats_held: int = Field(description="Seats in the active holds.")
    expiring_soon: list[ExpiringHoldOut] = Field(description="Holds ending within 5 minutes.")
    upcoming_trips: list[TripOccupancyOut] = Field(
        description="The next trips leaving within 24 hours (at most 12; "
        "`upcoming_trips_total` counts them all, `admin/timetables` lists them all)."
    )
    upcoming_trips_total: int = Field(description="Every trip leaving within 24 hours.")
    payments_needing_attention: int = Field(
        description="Flagged, refund pending, or pending for over 30 minutes (at most 20)."
    )
    refunds_pending: int
    refunds_failing: int = Field(description="Pending refunds the gateway refused so far.")
    mail: dict[str, int] = Field(description="Outbox messages by status.")
    mail_failed: int
    days: list[DayOut] = Field(description="The last 30 days, oldest first.")
    routes: list[RouteOccupancyOut]
    generated_at: datetime


@blueprint.get("/admin/dashboard/metrics")
@needs("admin")
@tags("admin")
@responds(DashboardMetrics)
async def dashboard_metrics() -> Response:
    """The operations dashboard's figures

    Today's bookings and revenue, active holds and their seats, holds about to expire, the
    next day's trips with their occupancy, payments, refunds and mail needing attention, and
    the last 30 days: the figures of the console's Operations page.
    """
    await require_api_admin()
    svc = services()
    figures = await operations.dashboard(svc.now(), svc.tz)
    return reply(
        DashboardMetrics(
            bookings_today=figures.bookings_today,
            revenue_today=figures.revenue_today,
            active_holds=figures.active_holds,
            seats_held=figures.seats_held,
            expiring_soon=[
                ExpiringHoldOut(
                    id=r.public_id,
                    customer_email=r.user.email,
                    schedule_id=r.schedule_id,
                    expiry_datetime=local_time(r.expires_at),
                )
                for r in figures.expiring_soon
            ],
            upcoming_trips=[
                TripOccupancyOut(
                    schedule_id=t.schedule_id,
                    route=t.route,
                    departure_datetime=local_time(t.departure_at),
                    seats=t.seats,
                    booked=t.booked,
                    held=t.held,
                    percent_booked=t.percent,
                )
                for t in figures.upcoming
            ],
            upcoming_trips_total=figures.upcoming_total,
            payments_needing_attention=len(figures.stuck_payments),
            refunds_pending=figures.refunds_pending,
            refunds_failing=len(figures.failed_refunds),
            mail={str(k): int(v) for k, v in figures.mail_counts.items()},
            mail_failed=len(figures.failed_mail),
            days=[DayOut(day=d.day, bookings=d.bookings, revenue=d.revenue) for d in figures.days],
            routes=[RouteOccupancyOut(route=n, percent_booked=p) for n, p in figures.routes],
            generated_at=local_time(svc.now()),
        )
    )


# ----------------------------------------------------------------------------- holds


class CustomerOut(Out):
    id: int
    email: str
    first_name: str
    last_name: str
    phone_number: str


class HeldSeatOut(Out):
    id: int = Field(description="The trip's seat id (as in schedules/{id}/seats).")
    seat_number: str
    seat_type: str


class AdminHoldOut(Out):
    model_config = example(
        id="rsv_3kTq9xWm2pLa8vZr",
        status="active",
        schedule_id=12,
        route="Mumbai - Pune",
        departure_datetime="2026-12-03T06:00:00+05:30",
        from_stop=0,
        to_stop=2,
        reservation_datetime="2026-12-02T10:01:00+05:30",
        expiry_datetime="2026-12-02T10:16:00+05:30",
        total_amount="945.00",
        currency="INR",
        customer={
            "id": 7,
            "email": "priya@example.com",
            "first_name": "Priya",
            "last_name": "Shah",
            "phone_number": "9876543210",
        },
        seats=[{"id": 301, "seat_number": "4", "seat_type": "seater"}],
    )

    id: str
    status: str
    schedule_id: int
    route: str
    departure_datetime: datetime
    from_stop: int
    to_stop: int
    reservation_datetime: datetime
    expiry_datetime: datetime
    total_amount: Money
    currency: str
    customer: CustomerOut
    seats: list[HeldSeatOut]

    @classmethod
    def of(cls, r: Reservation) -> AdminHoldOut:
        user = r.user
        held = [a for a in r.allocations if a.active]  # type: ignore[attr-defined]
        return cls(
            id=r.public_id,
            status=r.status.value,
            schedule_id=r.schedule.id,
            route=r.schedule.route.name,
            departure_datetime=local_time(r.schedule.departure_at),
            from_stop=r.from_seq,
            to_stop=r.to_seq,
            reservation_datetime=local_time(r.created_at),
            expiry_datetime=local_time(r.expires_at),
            total_amount=r.total_amount,
            currency=r.currency,
            customer=CustomerOut(
                id=user.id,
                email=user.email,
                first_name=user.first_name,
                last_name=user.last_name,
                phone_number=user.phone_number,
            ),
            seats=[
                HeldSeatOut(
                    id=a.schedule_seat.id,
                    seat_number=a.schedule_seat.seat.number,
                    seat_type=a.schedule_seat.seat.seat_type.value,
                )
                for a in sorted(held, key=lambda a: a.schedule_seat.seat.id)
            ],
        )


class HoldsQuery(PageQuery):
    q: str = Field(
        "",
        max_length=SEARCH_MAX,
        description="Customer email, phone or last name (part of it), as in the console.",
    )


class AdminHoldPage(Out):
    reservations: list[AdminHoldOut]
    next_cursor: str | None
    next: str | None = Field(description="The next page's URL, null on the last page.")


@blueprint.get("/admin/reservations/active")
@needs("admin")
@tags("admin")
@responds(AdminHoldPage)
@query(HoldsQuery)
async def admin_active_reservations(query: HoldsQuery) -> Response:
    """Every customer's active holds

    Holds not yet expired, those running out first, optionally matching `q` (email, phone
    or last name), with the customer, the trip and the seats held.
    """
    await require_api_admin()
    found = await operations.hold_page(
        services().now(),
        operations.HoldFilter(search=query.q),
        keyset.Window(after=keyset_position(query.cursor, "expires_at", "id"), size=query.limit),
    )
    page = found.rows
    cursor = (
        encode_cursor({"expires_at": page[-1].expires_at.isoformat(), "id": page[-1].id})
        if found.more_after and page
        else None
    )
    return reply(
        AdminHoldPage(
            reservations=[AdminHoldOut.of(r) for r in page],
            next_cursor=cursor,
            next=next_link(cursor),
        )
    )


class ReleaseHold(Strict):
    reason: str = Field(
        max_length=REASON_MAX,
        description="Why the hold is released; it goes into the audit trail.",
        examples=["Customer called: paid at the counter instead."],
    )


class ReleasedHoldOut(Out):
    model_config = example(
        id="rsv_3kTq9xWm2pLa8vZr",
        status="released",
        schedule_id=12,
        ended_datetime="2026-12-02T10:05:00+05:30",
    )

    id: str
    status: str = Field(
        description=(
            "`released` once released (also when it was released before); a hold that had "
            "already ended otherwise keeps its status (`expired`, `cancelled`, `converted`)."
        )
    )
    schedule_id: int
    ended_datetime: datetime | None


@blueprint.post("/admin/reservations/<reservation_id>/release")
@needs("admin")
@tags("admin")
@responds(ReleasedHoldOut)
@json_body(ReleaseHold)
async def release_admin_reservation(reservation_id: str, data: ReleaseHold) -> Response:
    """Release a customer's hold

    Frees the hold's seats at once on every seat map and writes `reservation.released`
    with the reason to the audit trail. Safe to repeat: releasing a hold that has already
    ended changes nothing and answers its current status.
    """
    admin = await require_api_admin()
    r = await holds.release_hold(admin, reservation_id, data.reason, now=services().now())
    return reply(
        ReleasedHoldOut(
            id=r.public_id,
            status=r.status.value,
            schedule_id=r.schedule_id,
            ended_datetime=local_time(r.ended_at) if r.ended_at else None,
        )
    )


# ----------------------------------------------------------------------------- audit trail


class LogQuery(PageQuery):
    action: str = Field(
        "", max_length=64, description="Dotted action or its start: `reservation.` matches all."
    )
    actor: str = Field("", max_length=254, description="The actor's email (part of it) or id.")
    subject_type: str = Field("", max_length=32, examples=["Reservation"])
    subject_id: str = Field("", max_length=64)
    since: date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="From this day on (operator's calendar)."
    )
    until: date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="Up to and including this day."
    )


class ActorOut(Out):
    id: int
    email: str


class ActivityOut(Out):
    model_config = example(
        id=4021,
        action="reservation.released",
        actor={"id": 1, "email": "admin@busbook.local"},
        subject_type="Reservation",
        subject_id="88",
        data={"reason": "Customer called", "seat_ids": [301]},
        ip=None,
        created_at="2026-12-02T10:05:00+05:30",
    )

    id: int
    action: str
    actor: ActorOut | None = Field(description="null for the system (sweeper, webhooks).")
    subject_type: str
    subject_id: str
    data: dict[str, Any]
    ip: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: ActivityLog) -> ActivityOut:
        actor = row.actor
        return cls(
            id=row.id,
            action=row.action,
            actor=ActorOut(id=actor.id, email=actor.email) if actor else None,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            data=row.data if isinstance(row.data, dict) else {"value": row.data},
            ip=row.ip,
            created_at=local_time(row.created_at),
        )


class ActivityPage(Out):
    activity_logs: list[ActivityOut]
    next_cursor: str | None
    next: str | None = Field(description="The next page's URL, null on the last page.")


@blueprint.get("/activity-logs")
@needs("admin")
@tags("admin")
@responds(ActivityPage)
@query(LogQuery)
async def activity_logs(query: LogQuery) -> Response:
    """The audit trail

    Every state change, newest first, filtered like the console's audit page. Paged by
    cursor: rows written while you page neither repeat nor go missing.
    """
    await require_api_admin()
    filters = operations.LogFilter(
        actor=query.actor,
        action=query.action,
        subject_type=query.subject_type,
        subject_id=query.subject_id,
        since=query.since,
        until=query.until,
    )
    found = await operations.activity_page(
        filters,
        services().tz,
        keyset.Window(after=keyset_position(query.cursor, "created_at", "id"), size=query.limit),
    )
    page = found.rows
    cursor = (
        encode_cursor({"created_at": page[-1].created_at.isoformat(), "id": page[-1].id})
        if found.more_after and page
        else None
    )
    return reply(
        ActivityPage(
            activity_logs=[ActivityOut.of(r) for r in page],
            next_cursor=cursor,
            next=next_link(cursor),
        )
    )
