"""The booking screens as one call each: a booking's page (also reached by one of its
tickets) and the ticket document the PDF is drawn from, as plain data (view models).

The HTML pages and the PDF template render them; the JSON API serialises the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import bookings, ticket_documents, ticket_tokens, tickets
from domain.checkout import CheckoutConfig
from domain.enums import BookingStatus, PassengerStatus
from domain.errors import TicketLinkExpired, TicketLinkInvalid
from domain.inventory import StopView, Trip, load_trip
from domain.models import Booking, Cancellation, Passenger, Payment, Ticket, User
from domain.trip_views import PointChoice, chosen_point

CANCELLABLE = frozenset({BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED})


@dataclass(frozen=True)
class BookingView:
    """A booking's page: the trip, its passengers, its ticket and QR code, its payments and
    cancellations, and what the viewer may do with it."""

    booking: Booking
    trip: Trip
    origin: StopView
    destination: StopView
    boarding: PointChoice | None  # the point chosen at `origin`, with its time
    dropping: PointChoice | None  # the point chosen at `destination`
    passengers: list[Passenger]  # all of them, cancelled ones too
    ticket: Ticket | None  # the latest (or the one the page was opened by)
    qr_svg: str  # the ticket's QR code, "" without a ticket
    download_link: str | None  # signed, for emails; the page links the logged-in download
    payments: list[Payment]
    cancellations: list[Cancellation]
    can_cancel: bool  # some seats are still booked and the bus has not left
    now: datetime

    @property
    def can_download(self) -> bool:
        return self.ticket is not None


async def _booking_view(
    booking: Booking, ticket: Ticket | None, *, config: CheckoutConfig, now: datetime
) -> BookingView:
    trip = await load_trip(booking.schedule_id)
    origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
    return BookingView(
        booking=booking,
        trip=trip,
        origin=origin,
        destination=destination,
        boarding=chosen_point(origin, booking.boarding_point_id),
        dropping=chosen_point(destination, booking.dropping_point_id),
        passengers=list(booking.passengers),
        ticket=ticket,
        qr_svg=ticket_documents.qr_svg(ticket.qr_token) if ticket else "",
        download_link=(
            await tickets.ticket_link(ticket, booking, config=config, trip=trip) if ticket else None
        ),
        payments=list(booking.payments),
        cancellations=list(booking.cancellations),
        can_cancel=booking.status in CANCELLABLE and origin.arrives_at > now,
        now=now,
    )


async def booking_view(
    viewer: User | None, reference: str, *, config: CheckoutConfig, now: datetime
) -> BookingView:
    """A booking its owner (or an admin) may see, by reference; else BookingNotFound."""
    booking = await bookings.get_booking(viewer, reference)
    issued = list(booking.tickets)
    return await _booking_view(booking, issued[-1] if issued else None, config=config, now=now)


async def ticket_view(
    viewer: User | None, number: str, *, config: CheckoutConfig, now: datetime
) -> BookingView:
    """The booking page opened by one of its tickets; else TicketNotFound."""
    found = await tickets.get_ticket(viewer, number)
    return await _booking_view(found.booking, found.ticket, config=config, now=now)


# ------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class TicketPassenger:
    name: str
    age: int
    gender: str  # for people: "Female"
    seat: str
    fare_text: str


@dataclass(frozen=True)
class TicketDocument:
    """Everything printed on a ticket, as text (the PDF template only lays it out)."""

    ticket_number: str
    booking_reference: str
    status: str
    route_name: str
    operator: str
    bus_type: str
    origin_city: str
    boarding_point: str  # the point chosen, else the city
    boarding_landmark: str
    departs_at_text: str  # at the boarding point
    destination_city: str
    dropping_point: str
    dropping_landmark: str
    arrives_at_text: str  # at the dropping point
    passengers: tuple[TicketPassenger, ...]  # the ones still travelling
    total_text: str
    qr_svg: str
    issued_at_text: str
    support_phone: str

    @property
    def filename(self) -> str:
        return f"busbook-{self.ticket_number}.pdf"


async def ticket_document(
    viewer: User | None,
    number: str,
    *,
    token: str | None,
    config: CheckoutConfig,
    now: datetime,
) -> TicketDocument:
    """The ticket `number` as a document, for its owner (or an admin) when `token` is None,
    or for anyone holding the signed download link `token`. Raises TicketLinkExpired,
    TicketLinkInvalid (no token and nobody signed in, or a token for another ticket) or
    TicketNotFound. Times and amounts are written with `config.formatter`, as on the
    pages."""
    if token:
        check = ticket_tokens.read_download_token(config.secret, token, now=now)
        if check.status == "expired" and check.ticket_number == number.upper():
            raise TicketLinkExpired()
        if check.status != "valid" or check.ticket_number != number.upper():
            raise TicketLinkInvalid()
        found = await tickets.ticket_by_number(number)
    else:
        if viewer is None:
            raise TicketLinkInvalid()
        found = await tickets.get_ticket(viewer, number)
    booking, ticket = found.booking, found.ticket
    trip = await load_trip(booking.schedule_id)
    origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
    boarding = chosen_point(origin, booking.boarding_point_id)
    dropping = chosen_point(destination, booking.dropping_point_id)
    bus = trip.schedule.bus
    formats = config.formatter
    return TicketDocument(
        ticket_number=ticket.number,
        booking_reference=booking.reference,
        status=ticket.status.value,
        route_name=trip.schedule.route.name,
        operator=bus.operator.name,
        bus_type=bus.type_label,
        origin_city=origin.city,
        boarding_point=boarding.name if boarding else origin.city,
        boarding_landmark=boarding.landmark if boarding else "",
        departs_at_text=formats.datetime(boarding.at if boarding else origin.arrives_at),
        destination_city=destination.city,
        dropping_point=dropping.name if dropping else destination.city,
        dropping_landmark=dropping.landmark if dropping else "",
        arrives_at_text=formats.datetime(dropping.at if dropping else destination.arrives_at),
        passengers=tuple(
            TicketPassenger(
                name=p.name,
                age=p.age,
                gender=p.gender.value.title(),
                seat=p.seat.number,
                fare_text=formats.money(p.fare, booking.currency),
            )
            for p in booking.passengers
            if p.status == PassengerStatus.ACTIVE
        ),
        total_text=formats.money(booking.total_amount, booking.currency),
        qr_svg=ticket_documents.qr_svg(ticket.qr_token),
        issued_at_text=formats.datetime(ticket.issued_at),
        support_phone=bus.operator.support_phone,
    )
