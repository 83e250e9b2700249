"""What the booking, ticket and cancellation answers share: the booked trip, a seat's
passenger, the ticket with its QR code, and a cancellation with its refund."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from domain import ticket_documents, trip_views
from domain.cancellations import CancellationView
from domain.enums import Gender, PassengerStatus, RefundState, RefundStatus, TicketStatus
from domain.inventory import Trip
from domain.models import Booking, Passenger, Ticket
from views.api.blueprints import PREFIX
from views.api.schedules import BusOut, PointOut, RouteOut
from views.api.schemas import Money, Out
from views.services import services


def _local(moment: datetime) -> datetime:
    return moment.astimezone(services().tz)


class BookedTrip(Out):
    id: int = Field(description="The schedule (trip).")
    departure_datetime: datetime = Field(description="Leaves the booked origin stop.")
    arrival_datetime: datetime = Field(description="Reaches the booked destination stop.")
    from_stop: int
    to_stop: int
    boarding_point: PointOut | None = Field(
        description="The boarding point chosen at from_stop, with its own time; null if none."
    )
    dropping_point: PointOut | None = Field(
        description="The dropping point chosen at to_stop, with its own time; null if none."
    )
    route_name: str
    operator: str
    bus: BusOut
    route: RouteOut = Field(description="The booked segment.")

    @classmethod
    def of(cls, booking: Booking, trip: Trip) -> BookedTrip:
        origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
        boarding = trip_views.chosen_point(origin, booking.boarding_point_id)
        dropping = trip_views.chosen_point(destination, booking.dropping_point_id)
        bus = trip.schedule.bus
        return cls(
            id=booking.schedule_id,
            departure_datetime=_local(origin.arrives_at),
            arrival_datetime=_local(destination.arrives_at),
            from_stop=booking.from_seq,
            to_stop=booking.to_seq,
            boarding_point=PointOut.of(boarding) if boarding else None,
            dropping_point=PointOut.of(dropping) if dropping else None,
            route_name=trip.schedule.route.name,
            operator=bus.operator.name,
            bus=BusOut(bus_number=bus.registration, bus_type=bus.type_label, name=bus.name),
            route=RouteOut(
                origin_city=origin.city,
                destination_city=destination.city,
                distance_km=destination.km - origin.km,
            ),
        )


class SeatPassenger(Out):
    passenger_id: int = Field(description="What bookings/{id}/cancel takes in passenger_ids.")
    seat_number: str
    name: str
    age: int | None = Field(
        description="null: not stated (the account holder travels: no passengers were given)."
    )
    gender: Gender
    fare: Money
    status: PassengerStatus

    @classmethod
    def of(cls, passenger: Passenger) -> SeatPassenger:
        return cls(
            passenger_id=passenger.id,
            seat_number=passenger.seat.number,
            name=passenger.name,
            age=passenger.age or None,  # checkout.HOLDER_AGE (0) means not stated
            gender=passenger.gender,
            fare=passenger.fare,
            status=passenger.status,
        )


def ticket_download_url(number: str) -> str:
    base = services().settings.public_base_url.rstrip("/")
    return f"{base}{PREFIX}/tickets/{number}/download"


class TicketOut(Out):
    ticket_number: str
    validity_status: TicketStatus = Field(
        description="valid; boarded once scanned at the door; cancelled when its seats were "
        "cancelled or re-issued on a new ticket."
    )
    qr_code: str = Field(
        description="The QR code shown at boarding, as a `data:image/png;base64,` URI.",
        examples=["data:image/png;base64,iVBORw0KGgo..."],
    )
    download_url: str = Field(description="The PDF (GET with the access token).")
    issued_at: datetime

    @classmethod
    def of(cls, ticket: Ticket) -> TicketOut:
        return cls(
            ticket_number=ticket.number,
            validity_status=ticket.status,
            qr_code=ticket_documents.qr_png_data_uri(ticket.qr_token),
            download_url=ticket_download_url(ticket.number),
            issued_at=_local(ticket.issued_at),
        )


class RefundOut(Out):
    id: str = Field(examples=["rfd_4c1d..."])
    amount: Money
    currency: str
    status: RefundState = Field(
        description="pending until the gateway takes it (retried until it does), succeeded, "
        "or closed (paid back outside Busbook, e.g. at the counter)."
    )


class CancellationOut(Out):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "cnl_9a8b...",
                    "booking_id": "BK7Q2M4X",
                    "seats": [],
                    "policy_tier": "48 hours or more before departure: 90% refund",
                    "fee": "45.00",
                    "refund_amount": "405.00",
                    "currency": "INR",
                    "refund_status": "processed",
                    "refund": None,
                    "reason": "",
                    "created_at": "2026-12-02T10:15:00+05:30",
                    "processed_at": "2026-12-02T10:15:01+05:30",
                }
            ]
        },
        "from_attributes": True,
    }

    id: str
    booking_id: str = Field(description="The booking's reference.")
    seats: list[SeatPassenger] = Field(description="The passengers whose seats it cancelled.")
    policy_tier: str
    fee: Money
    refund_amount: Money
    currency: str
    refund_status: RefundStatus = Field(
        description="none (nothing to refund), pending, processed, or failed (being retried)."
    )
    refund: RefundOut | None
    reason: str
    created_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, view: CancellationView) -> CancellationOut:
        c, refund = view.cancellation, view.refund
        return cls(
            id=c.public_id,
            booking_id=view.booking.reference,
            seats=[SeatPassenger.of(p) for p in view.passengers],
            policy_tier=c.policy_tier,
            fee=c.fee,
            refund_amount=c.refund_amount,
            currency=view.booking.currency,
            refund_status=c.refund_status,
            refund=(
                RefundOut(
                    id=refund.public_id,
                    amount=refund.amount,
                    currency=refund.currency,
                    status=refund.status,
                )
                if refund is not None
                else None
            ),
            reason=c.reason,
            created_at=_local(c.created_at),
            processed_at=_local(c.processed_at) if c.processed_at else None,
        )


# The examples the booking and ticket answers share (the same trip and passenger), in one place.
BOOKED_TRIP_EXAMPLE = {
    "id": 12,
    "departure_datetime": "2026-12-03T06:00:00+05:30",
    "arrival_datetime": "2026-12-03T09:30:00+05:30",
    "from_stop": 0,
    "to_stop": 2,
    "boarding_point": {
        "id": 7,
        "name": "Dadar TT Circle",
        "landmark": "Near the flyover",
        "time": "2026-12-03T06:40:00+05:30",
    },
    "dropping_point": None,
    "route_name": "Mumbai - Pune",
    "operator": "Sahyadri Travels",
    "bus": {"bus_number": "MH-01-AB-1234", "bus_type": "AC Seater", "name": "Volvo"},
    "route": {"origin_city": "Mumbai", "destination_city": "Pune", "distance_km": 150},
}
SEAT_PASSENGER_EXAMPLE = {
    "passenger_id": 41,
    "seat_number": "4",
    "name": "Asha Rao",
    "age": 34,
    "gender": "female",
    "fare": "625.00",
    "status": "active",
}
