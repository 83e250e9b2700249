"""The booking screens as one call each: a booking's page (also reached by one of its
tickets) and the ticket document the PDF is drawn from, as plain data (view models).

The HTML pages and the PDF template render them; the JSON API serialises the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain import bookings, cancellations, ticket_documents, ticket_tokens, tickets
from domain.cancellations import CancelRule
from domain.checkout import CheckoutConfig
from domain.enums import (
    BookingStatus,
    PassengerStatus,
    PaymentMethod,
    PaymentStatus,
    RefundStatus,
    ScheduleStatus,
    TicketStatus,
)
from domain.errors import TicketLinkExpired, TicketLinkInvalid, TicketNoLongerValid
from domain.inventory import StopView, Trip, load_trip
from domain.models import (
    Booking,
    Cancellation,
    Passenger,
    Payment,
    Ticket,
    TripCancellation,
    User,
)
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
    can_cancel: bool  # the customer may cancel some seat now (cancel_rule)
    now: datetime
    cancel_rule: CancelRule | None = None  # why not, and which seats boarded
    trip_cancelled: TripCancelledNotice | None = None  # the operator cancelled the trip
    replaced_by: Ticket | None = None  # the ticket now valid, when `ticket` was cancelled
    payment_lines: tuple[str, ...] = ()  # "Card payment (simulator) — succeeded, 1 Dec 14:02"
    cancellation_lines: tuple[CancellationLine, ...] = ()

    @property
    def can_download(self) -> bool:
        """The QR code and the PDF are shown only for a ticket that can still be used."""
        return (
            self.ticket is not None
            and self.ticket.status != TicketStatus.CANCELLED
            and self.trip_cancelled is None
        )

    @property
    def status_text(self) -> str:
        return status_words(self.booking.status)

    @property
    def no_ticket_reason(self) -> str:
        """Why the page shows no QR code, "" when it shows one (or there is no ticket)."""
        if self.ticket is None or self.can_download:
            return ""
        if self.trip_cancelled is not None:
            return "The operator cancelled this trip, so its ticket is no longer valid."
        if self.replaced_by is not None:
            return (
                f"Ticket {self.ticket.number} was replaced by ticket {self.replaced_by.number} "
                "when seats were cancelled."
            )
        return "This booking is cancelled, so its ticket is no longer valid."

    def details(self, passenger: Passenger) -> str:
        return passenger_details(passenger)

    def boarded(self, passenger: Passenger) -> bool:
        return self.cancel_rule is not None and passenger.id in self.cancel_rule.boarded


@dataclass(frozen=True)
class TripCancelledNotice:
    """The operator cancelled the booking's trip: when, why, and this booking's refund."""

    at: datetime
    reason: str
    refund: Decimal
    refund_text: str  # "refunded to your original payment method" / "on its way"


def status_words(status: BookingStatus) -> str:
    """A booking status as a person writes it: "Partially cancelled"."""
    return status.value.replace("_", " ").capitalize()


METHOD_WORDS = {
    PaymentMethod.CARD: "Card payment",
    PaymentMethod.UPI: "UPI payment",
    PaymentMethod.NET_BANKING: "Net banking payment",
    PaymentMethod.WALLET: "Wallet payment",
    PaymentMethod.CASH: "Cash at the counter",
}
PAYMENT_STATUS_WORDS = {
    PaymentStatus.CREATED: "not started",
    PaymentStatus.PENDING: "waiting for the payment provider",
    PaymentStatus.SUCCEEDED: "succeeded",
    PaymentStatus.FAILED: "failed",
    PaymentStatus.FLAGGED: "being checked by the operator",
    PaymentStatus.REFUND_PENDING: "being refunded",
    PaymentStatus.REFUNDED: "refunded",
}


def payment_line(payment: Payment, *, gateway_name: str, when: str) -> str:
    """ "Card payment (simulator) — succeeded, Tue 1 Dec 2026, 14:02" """
    method = METHOD_WORDS.get(payment.method, "Payment")
    via = "" if payment.method == PaymentMethod.CASH else f" ({gateway_name})"
    status = PAYMENT_STATUS_WORDS.get(payment.status, payment.status.value)
    return f"{method}{via} — {status}, {when}"


REFUND_WORDS = {
    RefundStatus.PROCESSED: "sent to your original payment method",
    RefundStatus.PENDING: "being sent",
    RefundStatus.FAILED: "the payment provider has not taken it yet; we retry automatically",
    RefundStatus.NONE: "nothing to refund",
}


def passenger_seat(passenger: Passenger) -> str:
    """ "Meera Iyer — seat 29" """
    return f"{passenger.name} — seat {passenger.seat.number}"


def passenger_details(passenger: Passenger) -> str:
    """ "Age 29 · Female" ("" when neither was given)."""
    parts = []
    if passenger.age:
        parts.append(f"Age {passenger.age}")
    if passenger.gender:
        parts.append(passenger.gender.value.capitalize())
    return " · ".join(parts)


@dataclass(frozen=True)
class CancellationLine:
    public_id: str
    title: str  # "Seats cancelled on Tue 1 Dec 2026, 14:02" / "Refund by the operator on …"
    detail: str  # "Meera Iyer — seat 29 · refund ₹614.70, sent to your original payment method"


def cancellation_line(
    cancellation: Cancellation,
    passengers: list[Passenger],
    *,
    config: CheckoutConfig,
    currency: str,
) -> CancellationLine:
    fmt = config.formatter
    when = fmt.datetime(cancellation.created_at)
    chosen = [p for p in passengers if p.id in set(cancellation.passenger_ids)]
    refund = (
        f"refund {fmt.money(cancellation.refund_amount, currency)}, "
        f"{REFUND_WORDS[cancellation.refund_status]}"
        if cancellation.refund_status != RefundStatus.NONE
        else "nothing to refund"
    )
    if not chosen:
        reason = f" · {cancellation.reason}" if cancellation.reason else ""
        return CancellationLine(
            cancellation.public_id, f"Refund by the operator on {when}", refund + reason
        )
    seats = ", ".join(passenger_seat(p) for p in chosen)
    noun = "Seat" if len(chosen) == 1 else "Seats"
    return CancellationLine(
        cancellation.public_id, f"{noun} cancelled on {when}", f"{seats} · {refund}"
    )


async def _trip_cancelled(
    booking: Booking, trip: Trip, config: CheckoutConfig
) -> TripCancelledNotice | None:
    if trip.schedule.status != ScheduleStatus.CANCELLED:
        return None
    row = await TripCancellation.get_or_none(schedule_id=trip.schedule.id)
    since = row.requested_at if row else None
    mine = [c for c in booking.cancellations if since is None or c.created_at >= since]
    refund = sum((c.refund_amount for c in mine), Decimal(0))
    if not mine:
        text = "your refund in full is being prepared"
    elif all(c.refund_status in (RefundStatus.PROCESSED, RefundStatus.NONE) for c in mine):
        text = "refunded to your original payment method"
    else:
        text = "on its way to your original payment method"
    return TripCancelledNotice(
        at=row.requested_at if row else trip.schedule.departure_at,
        reason=row.reason if row else "",
        refund=refund,
        refund_text=text,
    )


async def _booking_view(
    booking: Booking, ticket: Ticket | None, *, config: CheckoutConfig, now: datetime
) -> BookingView:
    trip = await load_trip(booking.schedule_id)
    origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
    issued = list(booking.tickets)
    rule = cancellations.cancel_rule(booking, list(booking.passengers), trip, issued, now=now)
    replaced_by = None
    if ticket is not None and ticket.status == TicketStatus.CANCELLED:
        replaced_by = next(
            (
                t
                for t in reversed(issued)
                if t.status != TicketStatus.CANCELLED and t.issued_at >= ticket.issued_at
            ),
            None,
        )
    fmt = config.formatter
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
        can_cancel=rule.allowed,
        now=now,
        cancel_rule=rule,
        trip_cancelled=await _trip_cancelled(booking, trip, config),
        replaced_by=replaced_by,
        payment_lines=tuple(
            payment_line(p, gateway_name=p.gateway, when=fmt.datetime(p.created_at))
            for p in booking.payments
        ),
        cancellation_lines=tuple(
            cancellation_line(c, list(booking.passengers), config=config, currency=booking.currency)
            for c in booking.cancellations
        ),
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


async def _refuse_unusable(
    booking: Booking, ticket: Ticket, trip: Trip, config: CheckoutConfig
) -> None:
    """No PDF of a ticket that can no longer be used: say why, and what to use instead."""
    fmt = config.formatter
    origin = trip.stop(booking.from_seq)
    if trip.schedule.status == ScheduleStatus.CANCELLED:
        row = await TripCancellation.get_or_none(schedule_id=trip.schedule.id)
        why = f" The operator's reason: {row.reason}." if row and row.reason else ""
        raise TicketNoLongerValid(
            f"The operator cancelled this trip ({trip.schedule.route.name}, leaving "
            f"{origin.city} {fmt.datetime(origin.arrives_at)}), so ticket {ticket.number} is "
            f"no longer valid.{why} Everything paid for booking {booking.reference} is "
            "refunded in full; your booking page shows the refund."
        )
    if ticket.status != TicketStatus.CANCELLED:
        return
    newer = (
        await Ticket.filter(booking_id=booking.id, issued_at__gte=ticket.issued_at)
        .exclude(status=TicketStatus.CANCELLED)
        .order_by("-issued_at", "-id")
        .first()
    )
    if newer is not None:
        raise TicketNoLongerValid(
            f"Ticket {ticket.number} was replaced by ticket {newer.number} when seats of "
            f"booking {booking.reference} were cancelled. Use the link in the email about that "
            "cancellation, or download the new ticket from your booking page.",
            replaced_by=newer.number,
        )
    raise TicketNoLongerValid(
        f"Booking {booking.reference} was cancelled, so ticket {ticket.number} is no longer "
        "valid. Your booking page shows the refund."
    )


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
    await _refuse_unusable(booking, ticket, trip, config)
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
