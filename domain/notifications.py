"""Customer mail: the words of the emails a customer gets about a booking (its confirmation
with the ticket link, the refund of a payment we could not honour, a cancellation's
confirmation), queued in the caller's transaction through `domain.mail`'s outbox. Times and
amounts are written as the pages write them (domain/formatting.py, via the config)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from domain import mail
from domain.checkout import CheckoutConfig
from domain.enums import ScheduleStatus
from domain.inventory import load_trip
from domain.models import Booking, Cancellation, Passenger, Payment, Ticket, TripCancellation
from domain.tickets import ticket_link
from domain.trip_views import PointChoice, chosen_point


async def queue_booking_confirmation(
    conn: BaseDBAsyncClient,
    booking: Booking,
    ticket: Ticket,
    *,
    config: CheckoutConfig,
    now: datetime,
) -> None:
    """The confirmation of a new booking, with its ticket's download link: where and when
    to board and get off (the points chosen, at their own times)."""
    trip = await load_trip(booking.schedule_id)
    origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
    link = await ticket_link(ticket, booking, config=config, trip=trip)
    fmt = config.formatter

    def end(label: str, city: str, city_time: datetime, point: PointChoice | None) -> str:
        if point is None:
            return f"{label} {city}: {fmt.datetime(city_time)}\n"
        landmark = f" ({point.landmark})" if point.landmark else ""
        return f"{label} {city}: {fmt.datetime(point.at)} · {point.name}{landmark}\n"

    boarding = chosen_point(origin, booking.boarding_point_id)
    dropping = chosen_point(destination, booking.dropping_point_id)
    total = fmt.money(booking.total_amount, booking.currency)
    await mail.queue_email(
        to=booking.contact_email,
        subject=f"Your Busbook ticket {booking.reference}: {origin.city} to {destination.city}",
        text=(
            f"Your booking {booking.reference} is confirmed.\n\n"
            f"{trip.schedule.route.name}\n"
            + end("From", origin.city, origin.arrives_at, boarding)
            + end("To", destination.city, destination.arrives_at, dropping)
            + f"Ticket {ticket.number}, total {total}\n\n"
            f"Download your ticket (PDF, no login needed):\n{link}\n\n"
            f"Your booking: {config.public_base_url}/bookings/{booking.reference}\n"
        ),
        now=now,
        using_db=conn,
    )


async def queue_refund_notice(
    conn: BaseDBAsyncClient,
    payment: Payment,
    *,
    reason: str,
    amount: Decimal,
    currency: str,
    config: CheckoutConfig,
    now: datetime,
) -> None:
    """Captured money that could not become a booking is being refunded; `reason` is one
    sentence completing "We received your payment, but …"."""
    await mail.queue_email(
        to=str(payment.checkout_data.get("contact_email", "")),
        subject="Your Busbook payment is being refunded",
        text=(
            f"We received your payment, but {reason}\n\n"
            f"We are refunding {config.formatter.money(amount, currency)} in full to the same "
            "payment method. "
            "Depending on your bank this takes 5-7 working days.\n\n"
            "We are sorry. You can search for another bus at "
            f"{config.public_base_url}/\n"
        ),
        now=now,
        using_db=conn,
    )


def _seats_text(passengers: list[Passenger]) -> str:
    return ", ".join(f"{p.name} (seat {p.seat.number})" for p in passengers)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


async def queue_cancellation_confirmation(
    conn: BaseDBAsyncClient,
    booking: Booking,
    cancellation: Cancellation,
    *,
    seats: int,
    fee: Decimal,
    refund: Decimal,
    new_ticket: Ticket | None,
    config: CheckoutConfig,
    now: datetime,
) -> None:
    """Seats of a booking were cancelled (by the customer, an admin or the trip's
    cancellation): the policy, fee and refund, and the new ticket (with its download link)
    for those who remain. When the operator cancelled the trip the mail says so: which
    trip (route, date, departure time), why (the operator's words) and the full refund."""
    fmt = config.formatter
    money = fmt.money
    trip = await load_trip(booking.schedule_id)
    origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
    cancelled = list(
        await Passenger.filter(id__in=cancellation.passenger_ids)
        .using_db(conn)
        .order_by("id")
        .prefetch_related("seat")
    )
    booking_url = f"{config.public_base_url}/bookings/{booking.reference}"
    refund_text = (
        f"Refund: {money(refund, booking.currency)} to your original payment method. "
        "Depending on your bank it arrives in 5-7 working days.\n"
        if refund > 0
        else "There is nothing to refund.\n"
    )
    trip_text = (
        f"{trip.schedule.route.name}\n"
        f"{origin.city} to {destination.city}, {fmt.date(origin.arrives_at)}, "
        f"leaving {origin.city} at {fmt.time(origin.arrives_at)}\n"
    )
    if trip.schedule.status == ScheduleStatus.CANCELLED:
        notice = (
            await TripCancellation.filter(schedule_id=booking.schedule_id).using_db(conn).first()
        )
        why = notice.reason if notice else cancellation.reason
        await mail.queue_email(
            to=booking.contact_email,
            subject=(
                f"Your bus is cancelled: {origin.city} to {destination.city}, "
                f"{fmt.date(origin.arrives_at)} (booking {booking.reference})"
            ),
            text=(
                "We are sorry: the operator cancelled your bus.\n\n"
                + trip_text
                + f"Booking {booking.reference}: {_seats_text(cancelled)}\n\n"
                + f"The operator's reason: {why}\n\n"
                + "Your tickets for this bus are no longer valid. "
                + f"We refund everything you paid for these seats, in full.\n{refund_text}"
                + f"\nYour booking: {booking_url}\n"
                + f"Find another bus: {config.public_base_url}/\n"
            ),
            now=now,
            using_db=conn,
        )
        return
    new_ticket_text = ""
    if new_ticket:
        link = await ticket_link(new_ticket, booking, config=config, trip=trip)
        new_ticket_text = (
            f"\nYour earlier ticket is no longer valid. The passengers still travelling have "
            f"a new ticket, {new_ticket.number}.\n"
            f"Download it (PDF, no login needed):\n{link}\n"
        )
    await mail.queue_email(
        to=booking.contact_email,
        subject=f"Busbook booking {booking.reference}: cancellation confirmed",
        text=(
            f"We cancelled {_count(seats, 'seat')} of booking {booking.reference}: "
            f"{_seats_text(cancelled)}.\n\n"
            + trip_text
            + f"\nPolicy: {cancellation.policy_tier}\n"
            + (f"Fee: {money(fee, booking.currency)}\n" if fee > 0 else "No fee.\n")
            + refund_text
            + new_ticket_text
            + f"\nDetails: {config.public_base_url}/cancellations/{cancellation.public_id}\n"
            + f"Your booking: {booking_url}\n"
        ),
        now=now,
        using_db=conn,
    )


async def queue_operator_refund(
    conn: BaseDBAsyncClient,
    booking: Booking,
    cancellation: Cancellation,
    *,
    config: CheckoutConfig,
    now: datetime,
) -> None:
    """The operator refunded (part of) a booking by hand: how much and why."""
    fmt = config.formatter
    trip = await load_trip(booking.schedule_id)
    origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
    await mail.queue_email(
        to=booking.contact_email,
        subject=f"Busbook booking {booking.reference}: a refund is on its way",
        text=(
            f"The operator refunds {fmt.money(cancellation.refund_amount, booking.currency)} "
            f"of booking {booking.reference} to your original payment method "
            "(5-7 working days, depending on your bank).\n\n"
            f"{trip.schedule.route.name}\n"
            f"{origin.city} to {destination.city}, {fmt.datetime(origin.arrives_at)}\n\n"
            f"The operator's reason: {cancellation.reason}\n\n"
            f"Your booking: {config.public_base_url}/bookings/{booking.reference}\n"
        ),
        now=now,
        using_db=conn,
    )
