"""Reading bookings and payments: a customer's bookings, one booking with everything its
page shows, and a payment by its public id (for its owner, or for a caller the gateway's
signature vouches for)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from domain import public_ids
from domain.enums import BookingStatus
from domain.errors import BookingNotFound, PaymentNotFound
from domain.inventory import Trip, load_trip
from domain.models import Booking, Payment, User


async def get_payment(viewer: User, payment_ref: str) -> Payment:
    """The viewer's own payment (admins see any), by its public id."""
    payment = await payment_by_ref(payment_ref)
    if payment.user_id != viewer.id and not viewer.is_admin:
        raise PaymentNotFound()
    return payment


async def payment_by_ref(payment_ref: str) -> Payment:
    """A payment by its public id, for callers the gateway's signature vouches for."""
    if not public_ids.looks_like(payment_ref, public_ids.PAYMENT):
        raise PaymentNotFound()
    payment = await Payment.get_or_none(public_id=payment_ref).prefetch_related("reservation")
    if payment is None:
        raise PaymentNotFound()
    return payment


async def booking_of(payment: Payment) -> Booking | None:
    return await Booking.get_or_none(id=payment.booking_id) if payment.booking_id else None


REFERENCE_MAX = 12  # Booking.reference


async def get_booking(viewer: User | None, reference: str) -> Booking:
    reference = reference.strip().upper()
    if len(reference) > REFERENCE_MAX:  # no such booking (Tortoise would refuse the filter)
        raise BookingNotFound()
    booking = await Booking.get_or_none(reference=reference).prefetch_related(
        "passengers",
        "passengers__seat",
        "tickets",
        "boarding_point",
        "dropping_point",
        "payments",
        "cancellations",
    )
    if booking is None or viewer is None or (booking.user_id != viewer.id and not viewer.is_admin):
        raise BookingNotFound()
    return booking


@dataclass(frozen=True)
class MyBookings:
    """A customer's bookings page: trips to come (nearest first), trips done (latest
    first), and bookings cancelled altogether (by them or because the operator cancelled
    the trip; latest trip first), which are neither."""

    upcoming: list[Booking]
    past: list[Booking]
    cancelled: list[Booking]


async def list_bookings(user: User, now: datetime) -> MyBookings:
    bookings = (
        await Booking.filter(user_id=user.id)
        .prefetch_related("schedule", "schedule__route")
        .order_by("schedule__departure_at")
    )
    live = [b for b in bookings if b.status != BookingStatus.CANCELLED]
    return MyBookings(
        upcoming=[b for b in live if b.schedule.arrival_at > now],
        past=[b for b in live if b.schedule.arrival_at <= now][::-1],
        cancelled=[b for b in bookings if b.status == BookingStatus.CANCELLED][::-1],
    )


@dataclass(frozen=True)
class HistoryEntry:
    booking: Booking
    trip: Trip  # for the booked segment's cities and times (trip.stop(booking.from_seq))


HISTORY_LIMIT_MAX = 100


async def booking_history(
    user: User,
    *,
    status: BookingStatus | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = 20,
) -> list[HistoryEntry]:
    """A customer's bookings, newest booked first (created_at, then id: a keyset), with
    `status` optionally; `after` is the (created_at, id) of the previous page's last one.
    Reads `limit + 1` so the caller knows whether another page follows."""
    limit = max(1, min(limit, HISTORY_LIMIT_MAX))
    query = Booking.filter(user_id=user.id)
    if status is not None:
        query = query.filter(status=status)
    if after is not None:
        created_at, booking_id = after
        query = query.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=booking_id)
        )
    rows = await query.order_by("-created_at", "-id").limit(limit + 1)
    return [HistoryEntry(b, await load_trip(b.schedule_id)) for b in rows]
