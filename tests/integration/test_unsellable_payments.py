"""Money for a trip that can no longer be sold is refunded, never turned into a booking.

Found by an attack (issue 9): the operator cancelled a trip while a customer was at the
payment page, the customer approved, and a confirmed booking with a valid ticket came out of
it on the cancelled trip.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import checkout, holds, operations, payment_outcomes
from domain.checkout import CheckoutConfig, CheckoutInput, PassengerInput
from domain.enums import (
    Gender,
    PaymentMethod,
    PaymentStatus,
    ReservationStatus,
    ScheduleStatus,
    TicketStatus,
)
from domain.errors import TripDeparted
from domain.holds import HoldRequest
from domain.models import (
    ActivityLog,
    Booking,
    EmailOutbox,
    Payment,
    Reservation,
    Schedule,
    SeatAllocation,
    Ticket,
)
from domain.payments.registry import Gateways
from domain.payments.simulator import SimulatorGateway
from tests import factories
from tests.integrity import assert_integrity

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime.now(UTC).replace(microsecond=0)
CONFIG = CheckoutConfig(secret="s" * 40, public_base_url="http://testserver")
TZ = ZoneInfo("Asia/Kolkata")


@pytest.fixture
def simulator():
    return SimulatorGateway(CONFIG.secret)


@pytest.fixture
def gateways(simulator):
    return Gateways([simulator])


async def paying(gateways, *, departs=NOW + timedelta(days=1)):
    """A customer holding two seats with a payment started at the gateway."""
    started = await factories.start_paying(gateways, CONFIG, now=NOW, departs=departs, seats=2)
    return started.trip, started.reservation, started.payment


async def approve(simulator, gateways, payment, now=NOW):
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=True)
    return await payment_outcomes.receive_webhook(
        "simulator", headers, body, gateways=gateways, config=CONFIG, now=now
    )


async def test_payment_approved_after_the_operator_cancelled_the_trip_is_refunded(
    gateways, simulator
):
    trip, _reservation, payment = await paying(gateways)
    admin = await factories.make_user(admin=True)
    await factories.cancel_trip_and_finish(
        admin, trip.id, "breakdown", now=NOW, gateways=gateways, config=CONFIG
    )
    paid = await approve(simulator, gateways, payment)
    assert paid.status == PaymentStatus.REFUNDED
    assert paid.refunded_amount == payment.amount
    assert simulator.refunds[0][1] == payment.amount
    assert await Booking.all().count() == 0
    assert await Ticket.all().count() == 0
    assert await SeatAllocation.filter(active=True).count() == 0
    due = await ActivityLog.get(action="refund.requested")
    assert due.data["code"] == "trip_cancelled"
    (mail,) = await EmailOutbox.all()
    assert "refunded" in mail.subject and "cancelled this trip" in mail.body_text
    assert "is confirmed" not in mail.body_text
    await assert_integrity()


async def test_a_live_hold_on_a_trip_cancelled_a_moment_ago_is_released_and_refunded(
    gateways, simulator
):
    # The trip is marked cancelled but its holds are not released yet (the operator's
    # cancellation is still working through them) when the money arrives.
    trip, reservation, payment = await paying(gateways)
    await Schedule.filter(id=trip.id).update(status=ScheduleStatus.CANCELLED)
    paid = await approve(simulator, gateways, payment)
    assert paid.status == PaymentStatus.REFUNDED
    await reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.RELEASED
    assert await SeatAllocation.filter(active=True).count() == 0
    assert await Booking.all().count() == 0
    await assert_integrity()


async def test_payment_arriving_after_departure_is_refunded(gateways, simulator):
    trip, _reservation, payment = await paying(gateways, departs=NOW + timedelta(minutes=20))
    paid = await approve(simulator, gateways, payment, now=NOW + timedelta(minutes=21))
    assert paid.status == PaymentStatus.REFUNDED
    assert await Booking.all().count() == 0
    due = await ActivityLog.get(action="refund.requested")
    assert due.data["code"] == "trip_departed"
    assert trip.id  # the trip itself is untouched
    await assert_integrity()


async def test_checkout_on_a_cancelled_trip_is_refused_before_any_money_moves(gateways):
    trip = await factories.make_trip(NOW + timedelta(days=1), rows=2)
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    reservation = await holds.hold_seats(user, HoldRequest(trip.id, 0, 2, (seats[0].id,)), now=NOW)
    # A hold that slipped in while the trip was being cancelled.
    await Schedule.filter(id=trip.id).update(status=ScheduleStatus.CANCELLED)
    quote = await checkout.quote(reservation)
    with pytest.raises(TripDeparted, match="cancelled"):
        await checkout.start_checkout(
            user,
            reservation.public_id,
            CheckoutInput(
                [PassengerInput(seats[0].id, "Asha", 30, Gender.FEMALE)],
                "priya@example.com",
                "+919876543210",
                PaymentMethod.UPI,
                quote.total,
                secrets.token_urlsafe(24),
            ),
            gateways=gateways,
            config=CONFIG,
            now=NOW,
        )
    assert await Payment.all().count() == 0


@pytest.mark.breaks_integrity  # a trip marked cancelled with its booking still live
async def test_boarding_refuses_a_ticket_of_a_cancelled_trip(gateways, simulator):
    trip, _reservation, payment = await paying(gateways)
    paid = await approve(simulator, gateways, payment)
    ticket = await Ticket.get(booking_id=paid.booking_id)
    # However the trip came to be cancelled, its tickets do not board.
    await Schedule.filter(id=trip.id).update(status=ScheduleStatus.CANCELLED)
    admin = await factories.make_user(admin=True)
    result = await operations.board(
        admin, ticket.qr_token, trip.id, secret=CONFIG.secret, now=NOW, tz=TZ
    )
    assert not result.ok and result.headline == "Trip cancelled"
    await ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VALID and ticket.boarded_at is None


@pytest.mark.parametrize("first", ["payment", "cancel"])
async def test_cancel_racing_a_payment_never_leaves_a_booking_on_the_cancelled_trip(
    gateways, simulator, first
):
    trip, _reservation, payment = await paying(gateways)
    admin = await factories.make_user(admin=True)

    async def cancel():
        await factories.cancel_trip_and_finish(
            admin, trip.id, "flood", now=NOW, gateways=gateways, config=CONFIG
        )

    async def pay():
        await approve(simulator, gateways, payment)

    steps = [pay(), cancel()] if first == "payment" else [cancel(), pay()]
    await asyncio.gather(*steps)
    paid = await Payment.get(id=payment.id)
    booking = await Booking.get_or_none(reservation_id=payment.reservation_id)
    if booking is None:
        assert paid.status == PaymentStatus.REFUNDED  # refunded as a payment
    else:
        assert booking.status == "cancelled"  # booked first, then refunded by the cancel
    assert await Reservation.filter(status=ReservationStatus.ACTIVE).count() == 0
    await assert_integrity()
