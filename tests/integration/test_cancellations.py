"""Cancellations: policy tiers at their boundaries, partial and double cancels, refunds
through the gateway with retries, and money that adds up."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain import cancellations, checkout, holds, payment_outcomes, refunds
from domain.cancellations import DEFAULT_TIERS, parse_tiers, quote_refund
from domain.checkout import CheckoutConfig, CheckoutInput, PassengerInput
from domain.enums import (
    BookingStatus,
    Gender,
    PassengerStatus,
    PaymentMethod,
    RefundStatus,
    TicketStatus,
)
from domain.errors import Conflict, ValidationFailed
from domain.holds import HoldPolicy, HoldRequest
from domain.models import (
    ActivityLog,
    Booking,
    Cancellation,
    Passenger,
    Payment,
    SeatAllocation,
    Ticket,
)
from domain.payments.registry import Gateways
from domain.payments.simulator import SimulatorGateway
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime.now(UTC).replace(microsecond=0)
DEPARTURE = NOW + timedelta(days=5)
CONFIG = CheckoutConfig(secret="c" * 40, public_base_url="http://testserver")


@pytest.fixture
def simulator():
    return SimulatorGateway(CONFIG.secret)


@pytest.fixture
def gateways(simulator):
    return Gateways([simulator])


async def buy(gateways, simulator, seats_wanted=3, *, trip=None, skip=0):
    """A paid booking of `seats_wanted` seats (on `trip`, from its `skip`-th seat on)."""
    trip = trip or await factories.make_trip(DEPARTURE, rows=2)
    seats = (await factories.schedule_seats(trip))[skip : skip + seats_wanted]
    user = await factories.make_user()
    reservation = await holds.hold_seats(
        user,
        HoldRequest(trip.id, 0, 2, tuple(s.id for s in seats)),
        now=NOW,
        policy=HoldPolicy(),
    )
    quote = await checkout.quote(reservation)
    payment = await checkout.start_checkout(
        user,
        reservation.public_id,
        CheckoutInput(
            [PassengerInput(s.id, f"P{i}", 30, Gender.MALE) for i, s in enumerate(seats)],
            "p@example.com",
            "+919800000000",
            PaymentMethod.CARD,
            quote.total,
            secrets.token_urlsafe(24),
        ),
        gateways=gateways,
        config=CONFIG,
        now=NOW,
    )
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=True)
    paid = await payment_outcomes.receive_webhook(
        "simulator", headers, body, gateways=gateways, config=CONFIG, now=NOW
    )
    booking = await Booking.get(id=paid.booking_id)
    passengers = await Passenger.filter(booking=booking).order_by("id")
    return user, booking, passengers


@pytest.mark.parametrize(
    ("hours_before", "percent"),
    [
        (72, 90),
        (48, 90),
        (47.99, 75),
        (24, 75),
        (23.99, 50),
        (12, 50),
        (11.99, 25),
        (4, 25),
        (3.99, 0),
        (0.01, 0),
    ],
)
async def test_refund_tiers_at_each_boundary(gateways, simulator, hours_before, percent):
    _, booking, passengers = await buy(gateways, simulator, 1)
    at = DEPARTURE - timedelta(hours=hours_before)
    quote = await quote_refund(booking, [passengers[0].id], now=at)
    assert quote.tier.refund_percent == percent
    fare = passengers[0].fare
    assert quote.refund == (fare * percent / 100).quantize(Decimal("0.01"))
    assert quote.fee == fare - quote.refund


async def test_partial_cancellation_releases_seats_and_reissues_the_ticket(gateways, simulator):
    user, booking, passengers = await buy(gateways, simulator)
    at = DEPARTURE - timedelta(hours=30)  # 75% tier
    quote = await quote_refund(booking, [passengers[0].id], now=at)
    cancellation = await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=at, gateways=gateways, config=CONFIG
    )
    assert cancellation.refund_amount == quote.refund  # the quote is the figure
    assert cancellation.refund_status == RefundStatus.PROCESSED
    assert cancellation.refund_reference.startswith("sim_rf_")
    await booking.refresh_from_db()
    assert booking.status == BookingStatus.PARTIALLY_CANCELLED
    assert await SeatAllocation.filter(booking=booking, active=True).count() == 2
    tickets = await Ticket.filter(booking=booking).order_by("id")
    assert [t.status for t in tickets] == [TicketStatus.CANCELLED, TicketStatus.VALID]
    assert simulator.refunds[-1][1] == quote.refund
    assert await ActivityLog.filter(action="booking.partially_cancelled").count() == 1
    assert await ActivityLog.filter(action="refund.succeeded").count() == 1


async def test_double_cancel_is_refused(gateways, simulator):
    user, booking, passengers = await buy(gateways, simulator)
    at = DEPARTURE - timedelta(hours=50)
    await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=at, gateways=gateways, config=CONFIG
    )
    with pytest.raises(Conflict, match="already cancelled"):
        await cancellations.cancel_booking(
            user, booking, [passengers[0].id], now=at, gateways=gateways, config=CONFIG
        )
    assert await Cancellation.all().count() == 1
    with pytest.raises(ValidationFailed):
        await cancellations.cancel_booking(
            user, booking, [], now=at, gateways=gateways, config=CONFIG
        )


async def test_no_cancelling_after_departure(gateways, simulator):
    user, booking, passengers = await buy(gateways, simulator)
    with pytest.raises(Conflict, match="already left"):
        await cancellations.cancel_booking(
            user,
            booking,
            [passengers[0].id],
            now=DEPARTURE + timedelta(minutes=1),
            gateways=gateways,
            config=CONFIG,
        )
    assert await Cancellation.all().count() == 0
    assert (await Passenger.get(id=passengers[0].id)).status == PassengerStatus.ACTIVE


async def test_refund_retry_after_a_gateway_failure(gateways, simulator):
    user, booking, passengers = await buy(gateways, simulator)
    at = DEPARTURE - timedelta(hours=100)
    simulator.fail_refunds = True
    cancellation = await cancellations.cancel_booking(
        user, booking, [p.id for p in passengers], now=at, gateways=gateways, config=CONFIG
    )
    assert cancellation.refund_status == RefundStatus.FAILED
    assert "refuse refunds" in cancellation.last_error
    # One retry loop for every refund, with backoff: due a minute after the refusal.
    due = at + timedelta(minutes=1)
    assert await refunds.retry_refunds(gateways=gateways, now=due) == 0
    simulator.fail_refunds = False
    assert await refunds.retry_refunds(gateways=gateways, now=due) == 0  # backed off again
    later = due + timedelta(minutes=2)
    assert await refunds.retry_refunds(gateways=gateways, now=later) == 1
    await cancellation.refresh_from_db()
    assert cancellation.refund_status == RefundStatus.PROCESSED
    assert await refunds.retry_refunds(gateways=gateways, now=later) == 0
    assert len(simulator.refunds) == 1  # refunded once, not once per retry


async def test_money_adds_up(gateways, simulator):
    """payments - refunds = kept revenue (fees of cancelled seats + fares still travelling)."""
    first_user, first, first_passengers = await buy(gateways, simulator)
    second_user, second, second_passengers = await buy(gateways, simulator, 2)
    await cancellations.cancel_booking(
        first_user,
        first,
        [first_passengers[0].id],
        now=DEPARTURE - timedelta(hours=30),
        gateways=gateways,
        config=CONFIG,
    )
    await cancellations.cancel_booking(
        first_user,
        first,
        [first_passengers[2].id],
        now=DEPARTURE - timedelta(hours=5),
        gateways=gateways,
        config=CONFIG,
    )
    await cancellations.cancel_booking(
        second_user,
        second,
        [p.id for p in second_passengers],
        now=DEPARTURE - timedelta(hours=60),
        gateways=gateways,
        config=CONFIG,
    )
    paid = sum((p.amount for p in await Payment.filter(status="succeeded")), Decimal(0))
    refunded = sum((p.refunded_amount for p in await Payment.all()), Decimal(0))
    fees = sum((c.fee for c in await Cancellation.all()), Decimal(0))
    travelling = sum(
        (p.fare for p in await Passenger.filter(status=PassengerStatus.ACTIVE)), Decimal(0)
    )
    assert refunded == sum((c.refund_amount for c in await Cancellation.all()), Decimal(0))
    assert paid - refunded == fees + travelling
    assert sum(amount for _, amount in simulator.refunds) == refunded


def test_tiers_are_configurable():
    assert parse_tiers("48:90,24:75,12:50,4:25,0:0") == DEFAULT_TIERS
    assert [t.refund_percent for t in parse_tiers("0:0, 72:100")] == [100, 0]
    with pytest.raises(ValueError):
        parse_tiers("24:150,0:0")
    with pytest.raises(ValueError):
        parse_tiers("24:50")


async def test_the_cancellation_mail_writes_fee_and_refund_like_the_pages(gateways, simulator):
    """Defect 5: the mail said `Fee: 170.75 INR` where the cancellation page says `₹170.75`."""
    from domain.formatting import format_money
    from domain.models import EmailOutbox

    user, booking, passengers = await buy(gateways, simulator, 1)
    at = DEPARTURE - timedelta(hours=30)  # 75% tier: a fee and a refund, both not zero
    cancellation = await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=at, gateways=gateways, config=CONFIG
    )
    mail = await EmailOutbox.get(subject__contains="cancellation confirmed")
    fee = format_money(cancellation.fee, booking.currency)
    refund = format_money(cancellation.refund_amount, booking.currency)
    assert fee.startswith("₹") and refund.startswith("₹")
    assert f"Fee: {fee}\n" in mail.body_text
    assert f"Refund: {refund} to your original payment method." in mail.body_text
    assert "INR" not in mail.body_text
