"""Bookings: one booking with its ticket, the caller's history, a cancellation quote and
the cancellation itself, and the counter booking an operator records. The website makes
the same domain calls (views/bookings.py, views/cancellations.py):
`booking_views.booking_view`, `cancellations.quote_refund`, `cancellations.cancel_booking`;
`payment_outcomes.settle_at_counter` is the fulfilment path of a gateway's success."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from quart import Response, request
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE, DataSource

from domain import booking_views, bookings, cancellations, payment_outcomes
from domain.booking_views import BookingView
from domain.enums import BookingStatus, PaymentMethod, PaymentStatus
from domain.models import Payment
from views.api.auth import needs, require_api_admin, require_api_user
from views.api.blueprints import PREFIX, api_blueprint
from views.api.booking_schemas import (
    BOOKED_TRIP_EXAMPLE,
    SEAT_PASSENGER_EXAMPLE,
    BookedTrip,
    CancellationOut,
    SeatPassenger,
    TicketOut,
)
from views.api.idempotency import idempotent
from views.api.io import json_body, query, read_json, reply, responds, tags
from views.api.pagination import PageQuery, decode_cursor, encode_cursor, next_link, split_page
from views.api.passengers import (
    EMAIL_MAX,
    PHONE_MAX,
    PassengerIn,
    checkout_fields,
    passenger_inputs,
)
from views.api.problems import ApiProblem
from views.api.schemas import Money, Out, Query, Strict, example
from views.auth import client_ip
from views.services import services

blueprint = api_blueprint("bookings", __name__)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
PUBLIC_ID_MAX = 36
REASON_MAX = 255


class PaymentSummary(Out):
    id: str
    status: PaymentStatus
    amount: Money
    currency: str
    gateway: str = Field(description='The gateway, or "counter" for money taken in person.')
    payment_method: PaymentMethod

    @classmethod
    def of(cls, payment: Payment) -> PaymentSummary:
        return cls(
            id=payment.public_id,
            status=payment.status,
            amount=payment.amount,
            currency=payment.currency,
            gateway=payment.gateway,
            payment_method=PaymentMethod(payment.method),
        )


class CancellationSummary(Out):
    id: str = Field(description="cancellations/{id}/details")
    refund_amount: Money
    created_at: datetime


class BookingDetails(Out):
    model_config = example(
        id="BK7Q2M4X",
        booking_reference="BK7Q2M4X",
        status="confirmed",
        total_amount="1250.00",
        currency="INR",
        created_at="2026-12-02T10:16:00+05:30",
        schedule=BOOKED_TRIP_EXAMPLE,
        seats=[SEAT_PASSENGER_EXAMPLE],
        ticket={
            "ticket_number": "TK8H3K2M9Q",
            "validity_status": "valid",
            "qr_code": "data:image/png;base64,iVBORw0KGgo...",
            "download_url": "https://busbook.example/api/v1/tickets/TK8H3K2M9Q/download",
            "issued_at": "2026-12-02T10:16:00+05:30",
        },
        payments=[],
        cancellations=[],
        can_cancel=True,
    )

    id: str = Field(description="The booking reference (what every booking URL takes).")
    booking_reference: str
    status: BookingStatus
    total_amount: Money
    currency: str
    created_at: datetime
    schedule: BookedTrip
    seats: list[SeatPassenger] = Field(description="Every passenger, cancelled ones too.")
    ticket: TicketOut | None = Field(description="The current ticket (null when none).")
    payments: list[PaymentSummary]
    cancellations: list[CancellationSummary]
    can_cancel: bool = Field(
        description="The customer may cancel some seat now: some are booked, their ticket "
        "has not boarded and the bus has not left."
    )
    cannot_cancel_reason: str | None = Field(
        default=None,
        description="Why `can_cancel` is false, in words to show (null when it is true).",
    )

    @classmethod
    def of(cls, view: BookingView) -> BookingDetails:
        booking = view.booking
        return cls(
            id=booking.reference,
            booking_reference=booking.reference,
            status=booking.status,
            total_amount=booking.total_amount,
            currency=booking.currency,
            created_at=booking.created_at.astimezone(services().tz),
            schedule=BookedTrip.of(booking, view.trip),
            seats=[SeatPassenger.of(p) for p in view.passengers],
            ticket=TicketOut.of(view.ticket) if view.ticket is not None else None,
            payments=[PaymentSummary.of(p) for p in view.payments],
            cancellations=[
                CancellationSummary(
                    id=c.public_id,
                    refund_amount=c.refund_amount,
                    created_at=c.created_at.astimezone(services().tz),
                )
                for c in view.cancellations
            ],
            can_cancel=view.can_cancel,
            cannot_cancel_reason=(
                view.cancel_rule.why_not or None
                if view.cancel_rule and not view.can_cancel
                else None
            ),
        )


async def _details(reference: str) -> BookingDetails:
    svc = services()
    view = await booking_views.booking_view(
        await require_api_user(), reference, config=svc.checkout, now=svc.now()
    )
    return BookingDetails.of(view)


@blueprint.get("/bookings/<booking_id>/details")
@needs("user")
@tags("bookings")
@responds(BookingDetails)
async def booking_details(booking_id: str) -> Response:
    """A booking with its ticket

    The caller's own booking (an admin sees any) by its reference: the trip, every seat's
    passenger, the current ticket with its QR code (a PNG data: URI) and PDF link, its
    payments and cancellations.
    """
    return reply(await _details(booking_id))


# ------------------------------------------------------------------------- counter


class CreateBooking(Strict):
    reservation_id: str = Field(max_length=PUBLIC_ID_MAX, description="The live hold (rsv_...).")
    amount: Money = Field(description="What was received: exactly the hold's total_amount.")
    payment_method: PaymentMethod = Field(
        PaymentMethod.CASH, description="How it was paid at the counter (default cash)."
    )
    passengers: list[PassengerIn] | None = Field(
        None,
        max_length=50,
        description="One per held seat; left out: the hold's account holder on every seat.",
    )
    contact_email: str | None = Field(
        None, max_length=EMAIL_MAX, description="Default the hold's account's."
    )
    contact_phone: str | None = Field(None, max_length=PHONE_MAX)
    note: str = Field("", max_length=REASON_MAX, description="For the activity log (receipt no.).")


@blueprint.post("/bookings/create")
@needs("admin")
@idempotent
@tags("bookings")
@responds(BookingDetails, 201)
@json_body(CreateBooking)
async def create_booking(data: CreateBooking) -> Response:
    """Confirm a hold paid at the counter (admin)

    For an operator who took the money in person (an agent or counter sale): the hold must
    still be live and `amount` exactly its total (409 `price_changed` otherwise). A payment
    of gateway "counter" is recorded and the hold becomes a booking of the hold's customer
    by the same path as an online payment (ticket, confirmation email, seat map); the
    activity log names the admin. A refund of it is paid back at the counter and closed in
    the payments console. Customers get a 403.
    """
    admin = await require_api_admin()
    svc = services()
    with checkout_fields():
        payment = await payment_outcomes.settle_at_counter(
            admin,
            payment_outcomes.CounterSale(
                reservation_ref=data.reservation_id,
                amount=data.amount,
                method=data.payment_method,
                passengers=tuple(passenger_inputs(data.passengers)),
                contact_email=data.contact_email,
                contact_phone=data.contact_phone,
                note=data.note,
            ),
            config=svc.checkout,
            now=svc.now(),
            ip=client_ip(),
        )
    booking = await bookings.booking_of(payment)
    assert booking is not None  # a live hold on a trip on sale always books
    details = await _details(booking.reference)
    return reply(details, 201, {"Location": f"{PREFIX}/bookings/{booking.reference}/details"})


# ------------------------------------------------------------------------- history


class HistoryArgs(PageQuery):
    status: BookingStatus | None = Field(None, description="Only bookings in this status.")


class BookingSummary(Out):
    id: str
    booking_reference: str
    status: BookingStatus
    total_amount: Money
    currency: str
    created_at: datetime
    schedule: BookedTrip


class BookingHistory(Out):
    bookings: list[BookingSummary] = Field(description="Newest booked first.")
    next_cursor: str | None
    next: str | None


@blueprint.get("/bookings/history")
@needs("user")
@tags("bookings")
@responds(BookingHistory)
@query(HistoryArgs)
async def booking_history(query: HistoryArgs) -> Response:
    """The caller's bookings

    Newest booked first, `limit` at a time; pass `next_cursor` as `cursor` for the next
    page. `status` filters (confirmed, partially_cancelled, cancelled, completed).
    """
    user = await require_api_user()
    position = decode_cursor(query.cursor)
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(str(position["t"])), int(position["id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiProblem(422, "invalid_cursor", "This cursor is not for this list.") from exc
    rows = await bookings.booking_history(user, status=query.status, after=after, limit=query.limit)
    page, more = split_page(rows, query.limit)
    cursor = None
    if more:
        last = page[-1].booking
        cursor = encode_cursor({"t": last.created_at.isoformat(), "id": last.id})
    tz = services().tz
    return reply(
        BookingHistory(
            bookings=[
                BookingSummary(
                    id=e.booking.reference,
                    booking_reference=e.booking.reference,
                    status=e.booking.status,
                    total_amount=e.booking.total_amount,
                    currency=e.booking.currency,
                    created_at=e.booking.created_at.astimezone(tz),
                    schedule=BookedTrip.of(e.booking, e.trip),
                )
                for e in page
            ],
            next_cursor=cursor,
            next=next_link(cursor),
        )
    )


# ------------------------------------------------------------------------- cancelling


class QuoteArgs(Query):
    passenger_ids: list[int] = Field(
        default_factory=list,
        description="Repeat for each passenger (?passenger_ids=41&passenger_ids=42); "
        "left out: every seat still booked.",
    )


class QuoteLineOut(Out):
    passenger_id: int
    seat_number: str
    name: str
    fare: Money
    fee: Money
    refund: Money


class CancellationQuote(Out):
    booking_id: str
    policy_tier: str = Field(examples=["48 hours or more before departure: 90% refund"])
    refund_percent: int
    hours_before_departure: float
    operator_cancelled: bool = Field(description="The operator cancelled the trip: all back.")
    seats: list[QuoteLineOut]
    fee: Money
    refund_amount: Money
    currency: str


@blueprint.get("/bookings/<booking_id>/cancellation-quote")
@needs("user")
@tags("bookings")
@responds(CancellationQuote)
@query(QuoteArgs)
async def cancellation_quote(booking_id: str, query: QuoteArgs) -> Response:
    """What cancelling would refund now

    Per seat: its fare, the fee and the refund under the cancellation policy's tier for the
    time left before departure (the figure `POST /bookings/{id}/cancel` refunds, if sent
    now). Nothing changes. Seats that cannot be cancelled answer 409 as the cancel does:
    `seats_boarded` (the ticket was checked at the bus door; `seats` names them) or
    `booking_departed` (the bus has left the booking's boarding stop).
    """
    user = await require_api_user()
    svc = services()
    booking = await bookings.get_booking(user, booking_id)
    quote = await cancellations.quote_refund(
        booking, query.passenger_ids or None, now=svc.now(), tiers=svc.cancellation_tiers
    )
    seats = {p.id: p.seat.number for p in booking.passengers}
    return reply(
        CancellationQuote(
            booking_id=booking.reference,
            policy_tier=quote.policy,
            refund_percent=100 if quote.operator_cancelled else quote.tier.refund_percent,
            hours_before_departure=round(quote.hours_before, 2),
            operator_cancelled=quote.operator_cancelled,
            seats=[
                QuoteLineOut(
                    passenger_id=line.passenger.id,
                    seat_number=seats[line.passenger.id],
                    name=line.passenger.name,
                    fare=line.fare,
                    fee=line.fee,
                    refund=line.refund,
                )
                for line in quote.lines
            ],
            fee=quote.fee,
            refund_amount=quote.refund,
            currency=booking.currency,
        )
    )


class CancelBooking(Strict):
    passenger_ids: list[int] | None = Field(
        None, max_length=100, description="Left out: every seat still booked."
    )
    reason: str = Field("", max_length=REASON_MAX)


def optional_json_body(model: type[BaseModel]) -> Callable[[F], F]:
    """As `json_body`, but an empty body (no bytes at all) is the model's defaults."""

    def decorator(view: F) -> F:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            raw = await request.get_data(as_text=False)
            data = model() if not raw else await read_json(model)
            return await view(*args, data=data, **kwargs)

        setattr(wrapper, QUART_SCHEMA_REQUEST_ATTRIBUTE, (model, DataSource.JSON))
        return wrapper  # type: ignore[return-value]

    return decorator


@blueprint.post("/bookings/<booking_id>/cancel")
@needs("user")
@idempotent
@tags("bookings")
@responds(CancellationOut, 201)
@optional_json_body(CancelBooking)
async def cancel_booking(booking_id: str, data: CancelBooking) -> Response:
    """Cancel seats of a booking

    An empty body (or `{}`) cancels every seat still booked; `passenger_ids` cancels those.
    The refund is the quote's figure (cancellation-quote), recorded at once and sent back
    through the gateway that took the money; the answer is the cancellation with its
    refund. The seats are free again at once and the remaining passengers get a new ticket.

    A customer cannot cancel a seat whose ticket was checked at the bus door (409
    `seats_boarded`, with `seats`) nor a booking whose bus has left (409 `booking_departed`);
    `can_cancel` on the booking says so beforehand, and an operator can still refund by hand
    in the console.
    """
    user = await require_api_user()
    svc = services()
    booking = await bookings.get_booking(user, booking_id)
    cancellation = await cancellations.cancel_booking(
        user,
        booking,
        data.passenger_ids,
        now=svc.now(),
        gateways=svc.gateways,
        config=svc.checkout,
        tiers=svc.cancellation_tiers,
        reason=data.reason,
    )
    view = await cancellations.cancellation_view(user, cancellation.public_id)
    return reply(
        CancellationOut.of(view),
        201,
        {"Location": f"{PREFIX}/cancellations/{cancellation.public_id}/details"},
    )
