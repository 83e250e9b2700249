"""Tickets: issuing a booking's ticket, its signed download link, and finding a ticket for
its owner or for the holder of a link. The numbers and tokens are made in
`domain.ticket_tokens`; the QR image and the PDF in `domain.ticket_documents`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from domain import audit, ticket_tokens
from domain.bookings import get_booking
from domain.checkout import CheckoutConfig
from domain.errors import BookingNotFound, TicketNotFound
from domain.inventory import Trip, load_trip
from domain.models import Booking, Ticket, User

TICKET_NUMBER_MAX = 20  # Ticket.number


async def issue_ticket(
    conn: BaseDBAsyncClient, booking: Booking, *, config: CheckoutConfig, now: datetime
) -> Ticket:
    number = ticket_tokens.ticket_number()
    ticket = await Ticket.create(
        number=number,
        booking=booking,
        qr_token=ticket_tokens.qr_token(
            config.secret,
            ticket_number=number,
            booking_reference=booking.reference,
            schedule_id=booking.schedule_id,
        ),
        issued_at=now,
        using_db=conn,
    )
    await audit.record(
        "ticket.issued",
        now=now,
        subject=ticket,
        using_db=conn,
        data={"booking": booking.reference, "number": number},
    )
    return ticket


async def ticket_link(
    ticket: Ticket, booking: Booking, *, config: CheckoutConfig, trip: Trip | None = None
) -> str:
    """The signed, expiring download link that goes into emails (no login needed)."""
    trip = trip or await load_trip(booking.schedule_id)
    expires = trip.stop(booking.to_seq).arrives_at + config.link_valid_after_arrival
    token = ticket_tokens.download_token(config.secret, ticket.number, expires_at=expires)
    return f"{config.public_base_url}/tickets/{ticket.number}/download?token={token}"


@dataclass(frozen=True)
class TicketView:
    ticket: Ticket
    booking: Booking


async def get_ticket(viewer: User | None, number: str) -> TicketView:
    """A ticket its owner (or an admin) may see; anyone else gets a 404."""
    ticket = await _ticket(number)
    if ticket is None:
        raise TicketNotFound()
    try:
        booking = await get_booking(viewer, (await ticket.booking).reference)
    except BookingNotFound as exc:  # someone else's: no such ticket, as for any number
        raise TicketNotFound() from exc
    return TicketView(ticket, booking)


async def _ticket(number: str) -> Ticket | None:
    number = number.strip().upper()
    if len(number) > TICKET_NUMBER_MAX:
        return None
    return await Ticket.get_or_none(number=number)


async def ticket_by_number(number: str) -> TicketView:
    """For a holder of a signed link: no login, the link itself is the permission."""
    ticket = await _ticket(number)
    if ticket is None:
        raise TicketNotFound()
    booking = await Booking.get(id=ticket.booking_id).prefetch_related(
        "passengers", "passengers__seat", "boarding_point", "dropping_point"
    )
    return TicketView(ticket, booking)
