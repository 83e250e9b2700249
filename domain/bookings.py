"""Reading bookings and payments: a customer's bookings, one booking with everything its
page shows, and a payment by its public id (for its owner, or for a caller the gateway's
signature vouches for)."""

from __future__ import annotations

from datetime import datetime

from domain import public_ids
from domain.errors import BookingNotFound, PaymentNotFound
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


async def list_bookings(user: User, now: datetime) -> tuple[list[Booking], list[Booking]]:
    """(upcoming, past) bookings of a customer, nearest first."""
    bookings = (
        await Booking.filter(user_id=user.id)
        .prefetch_related("schedule", "schedule__route")
        .order_by("schedule__departure_at")
    )
    upcoming = [b for b in bookings if b.schedule.arrival_at > now]
    past = [b for b in bookings if b.schedule.arrival_at <= now][::-1]
    return upcoming, past
