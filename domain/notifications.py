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
from domain.inventory import load_trip
from domain.models import Booking, Cancellation, Payment, Ticket
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
    cancellation): the policy, fee and refund, and the new ticket for those who remain."""
    money = config.formatter.money
    await mail.queue_email(
        to=booking.contact_email,
        subject=f"Busbook booking {booking.reference}: cancellation confirmed",
        text=(
            f"We cancelled {seats} seat(s) of booking {booking.reference}.\n"
            f"Policy: {cancellation.policy_tier}\nFee: {money(fee, booking.currency)}\n"
            f"Refund: {money(refund, booking.currency)} to your original payment method.\n"
            + (
                f"Your new ticket for the remaining passengers: {new_ticket.number}\n"
                if new_ticket
                else ""
            )
            + f"\nDetails: {config.public_base_url}/cancellations/{cancellation.public_id}\n"
        ),
        now=now,
        using_db=conn,
    )
