"""Checkout through the simulator gateway, at the domain level: money and seats rules."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain import checkout, holds, payment_outcomes, refunds, routes
from domain.checkout import CheckoutConfig, CheckoutInput, PassengerInput
from domain.enums import AllocationKind, Gender, PaymentMethod, PaymentStatus, ReservationStatus
from domain.errors import HoldExpired, PriceChanged, ValidationFailed
from domain.holds import HoldPolicy, HoldRequest
from domain.models import (
    ActivityLog,
    Booking,
    EmailOutbox,
    Payment,
    PaymentEvent,
    Refund,
    Schedule,
    SeatAllocation,
    Ticket,
)
from domain.payments.base import InvalidSignature
from domain.payments.registry import Gateways
from domain.payments.simulator import SimulatorGateway
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime.now(UTC).replace(microsecond=0)
CONFIG = CheckoutConfig(
    secret="s" * 40, public_base_url="http://testserver", grace=timedelta(minutes=10)
)


@pytest.fixture
def simulator():
    return SimulatorGateway(CONFIG.secret)


@pytest.fixture
def gateways(simulator):
    return Gateways([simulator])


@pytest.fixture
async def held():
    trip = await factories.make_trip(NOW + timedelta(days=1), rows=2)
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    reservation = await holds.hold_seats(
        user,
        HoldRequest(trip.id, 0, 2, (seats[0].id, seats[1].id)),
        now=NOW,
        policy=HoldPolicy(hold_minutes=15),
    )
    return user, reservation, seats


def checkout_input(seats, total, key=None, **overrides):
    data = {
        "passengers": [
            PassengerInput(s.id, f"Passenger {i}", 30 + i, Gender.FEMALE)
            for i, s in enumerate(seats)
        ],
        "contact_email": "priya@example.com",
        "contact_phone": "+919876543210",
        "method": PaymentMethod.UPI,
        "quoted_total": total,
        "idempotency_key": key or secrets.token_urlsafe(24),
    }
    return CheckoutInput(**(data | overrides))


async def start(held, gateways, now=NOW, **overrides):
    user, reservation, seats = held
    quote = await checkout.quote(reservation)
    return await checkout.start_checkout(
        user,
        reservation.public_id,
        checkout_input(seats[:2], quote.total, **overrides),
        gateways=gateways,
        config=CONFIG,
        now=now,
    )


async def deliver(simulator, gateways, payment, *, succeeded=True, now=NOW, **kwargs):
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=succeeded, **kwargs)
    return await payment_outcomes.receive_webhook(
        "simulator", headers, body, gateways=gateways, config=CONFIG, now=now
    )


async def test_paid_hold_becomes_a_booking_with_a_ticket_and_an_email(held, gateways, simulator):
    _user, reservation, _seats = held
    payment = await start(held, gateways)
    assert payment.status == PaymentStatus.PENDING
    assert payment.amount == Decimal(683 + 650)
    assert payment.checkout_url.split("?")[0] == f"/payments/simulator/{payment.public_id}"
    await reservation.refresh_from_db()
    assert reservation.expires_at == NOW + timedelta(minutes=25)  # extended once by grace

    paid = await deliver(simulator, gateways, payment)
    assert paid.status == PaymentStatus.SUCCEEDED
    booking = await Booking.get(id=paid.booking_id)
    assert booking.reference.startswith("BK") and len(booking.reference) == 8
    assert booking.total_amount == payment.amount
    assert [p.name for p in await booking.passengers.all().order_by("id")] == [
        "Passenger 0",
        "Passenger 1",
    ]
    allocations = await SeatAllocation.filter(active=True)
    assert {a.kind for a in allocations} == {AllocationKind.BOOKING}
    assert {a.booking_id for a in allocations} == {booking.id}
    await reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CONVERTED
    ticket = await Ticket.get(booking=booking)
    assert ticket.number.startswith("TK-")
    mail = await EmailOutbox.get()
    assert mail.to_address == "priya@example.com"
    assert booking.reference in mail.subject
    assert f"/tickets/{ticket.number}/download?token=" in mail.body_text
    actions = set(await ActivityLog.all().values_list("action", flat=True))
    assert {
        "payment.started",
        "reservation.extended",
        "payment.succeeded",
        "booking.confirmed",
        "reservation.converted",
        "ticket.issued",
    } <= actions


async def test_double_click_starts_one_payment(held, gateways):
    key = secrets.token_urlsafe(24)
    first, second = await asyncio.gather(
        start(held, gateways, key=key), start(held, gateways, key=key)
    )
    assert first.id == second.id
    assert await Payment.all().count() == 1


async def test_duplicate_and_replayed_webhooks_change_nothing(held, gateways, simulator):
    payment = await start(held, gateways)
    headers, body = simulator.webhook(
        checkout.payment_info(payment), succeeded=True, event_id="evt_once"
    )
    for _ in range(3):
        await payment_outcomes.receive_webhook(
            "simulator", headers, body, gateways=gateways, config=CONFIG, now=NOW
        )
    # A second, different event for the same payment is applied at most once too.
    await deliver(simulator, gateways, payment)
    assert await Booking.all().count() == 1
    assert await Ticket.all().count() == 1
    assert await EmailOutbox.all().count() == 1
    assert await PaymentEvent.all().count() == 2
    assert await ActivityLog.filter(action="payment.succeeded").count() == 1


async def test_forged_signature_is_refused_and_changes_nothing(held, gateways, simulator):
    payment = await start(held, gateways)
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=True)
    forged = SimulatorGateway("another-secret" * 3).webhook(
        checkout.payment_info(payment), succeeded=True
    )
    for bad_headers, bad_body in (
        (headers, body.replace(b'"amount":"1333', b'"amount":"1')),
        (forged[0], forged[1]),
        ({}, body),
    ):
        with pytest.raises(InvalidSignature):
            await payment_outcomes.receive_webhook(
                "simulator", bad_headers, bad_body, gateways=gateways, config=CONFIG, now=NOW
            )
    assert await PaymentEvent.all().count() == 0
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.PENDING


async def test_amount_mismatch_is_refunded_in_full_not_kept(held, gateways, simulator):
    _, reservation, _ = held
    payment = await start(held, gateways)
    refunded = await deliver(simulator, gateways, payment, amount=Decimal("1.00"))
    # What the gateway said it took goes back, at once; no booking comes of it.
    assert refunded.status == PaymentStatus.REFUNDED
    assert refunded.refunded_amount == Decimal("1.00")
    assert [amount for _, amount in simulator.refunds] == [Decimal("1.00")]
    assert await Booking.all().count() == 0
    log = await ActivityLog.get(action="payment.amount_mismatched")
    assert log.data["reported_amount"] == "1.00"
    assert log.data["expected_amount"] == str(payment.amount)
    due = await ActivityLog.get(action="refund.requested")
    assert due.data["code"] == "amount_mismatch" and due.data["amount"] == "1.00"
    assert due.data["payment_id"] == payment.id and due.data["cancellation_id"] is None
    assert await ActivityLog.filter(action="refund.succeeded").count() == 1
    mail = await EmailOutbox.get()
    assert "refunded" in mail.subject and "refunding ₹1 in full" in mail.body_text
    # Later news for the settled payment changes nothing; the hold is still there to pay.
    again = await deliver(simulator, gateways, payment, currency="USD")
    assert again.status == PaymentStatus.REFUNDED and len(simulator.refunds) == 1
    await reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.ACTIVE
    retry = await start(held, gateways)
    assert (await deliver(simulator, gateways, retry)).status == PaymentStatus.SUCCEEDED


async def test_a_currency_mismatch_is_refunded_in_the_reported_currency(held, gateways, simulator):
    payment = await start(held, gateways)
    refunded = await deliver(simulator, gateways, payment, currency="USD")
    assert refunded.status == PaymentStatus.REFUNDED
    assert simulator.refunds[0][1] == payment.amount
    log = await ActivityLog.get(action="refund.succeeded")
    assert log.data["currency"] == "USD"
    assert await Booking.all().count() == 0


async def test_declined_payment_keeps_the_hold_for_another_try(held, gateways, simulator):
    _, reservation, _ = held
    payment = await start(held, gateways)
    failed = await deliver(simulator, gateways, payment, succeeded=False)
    assert failed.status == PaymentStatus.FAILED
    await reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.ACTIVE
    retry = await start(held, gateways)
    assert (await deliver(simulator, gateways, retry)).status == PaymentStatus.SUCCEEDED


async def test_browser_return_racing_the_webhook_makes_one_booking(held, gateways, simulator):
    payment = await start(held, gateways)
    results = await asyncio.gather(
        deliver(simulator, gateways, payment),
        payment_outcomes.apply_return(
            payment.public_id, succeeded=True, gateways=gateways, config=CONFIG, now=NOW
        ),
        deliver(simulator, gateways, payment),
    )
    assert {r.status for r in results if r is not None} == {PaymentStatus.SUCCEEDED}
    assert await Booking.all().count() == 1
    assert await Ticket.all().count() == 1
    assert await SeatAllocation.filter(active=True, kind=AllocationKind.BOOKING).count() == 2


async def test_late_payment_resecures_the_same_seats_when_still_free(held, gateways, simulator):
    _, _reservation, _ = held
    payment = await start(held, gateways)
    late = NOW + timedelta(minutes=40)  # the hold (with grace) ended at +25 minutes
    await holds.expire_holds(late)
    paid = await deliver(simulator, gateways, payment, now=late)
    assert paid.status == PaymentStatus.SUCCEEDED
    booking = await Booking.get(id=paid.booking_id)
    allocations = await SeatAllocation.filter(active=True)
    assert len(allocations) == 2 and {a.booking_id for a in allocations} == {booking.id}
    assert await ActivityLog.filter(action="booking.seats_resecured").count() == 1


async def test_late_payment_ends_an_expired_hold_in_the_way_once(held, gateways, simulator):
    """A rival's hold of both seats expired too (not swept yet): the late payment gets the
    seats and ends that hold once, with one audit row and one event, not once per seat."""
    _, reservation, seats = held
    payment = await start(held, gateways)
    after_grace = NOW + timedelta(minutes=30)
    rival = await factories.make_user()
    rival_hold = await holds.hold_seats(
        rival,
        HoldRequest(reservation.schedule_id, 0, 2, (seats[0].id, seats[1].id)),
        now=after_grace,
        policy=HoldPolicy(hold_minutes=5),
    )
    late = after_grace + timedelta(minutes=10)
    paid = await deliver(simulator, gateways, payment, now=late)
    assert paid.status == PaymentStatus.SUCCEEDED
    ended = await ActivityLog.filter(action="reservation.expired", subject_id=str(rival_hold.id))
    assert len(ended) == 1
    assert ended[0].data["seat_ids"] == sorted(s.id for s in seats[:2])


async def test_late_payment_for_taken_seats_is_refunded(held, gateways, simulator):
    _, reservation, seats = held
    payment = await start(held, gateways)
    late = NOW + timedelta(minutes=40)
    rival = await factories.make_user()
    await holds.hold_seats(
        rival, HoldRequest(reservation.schedule_id, 1, 2, (seats[1].id,)), now=late
    )
    paid = await deliver(simulator, gateways, payment, now=late)
    assert paid.status == PaymentStatus.REFUNDED
    assert paid.refunded_amount == payment.amount
    assert simulator.refunds == [(simulator.refunds[0][0], payment.amount)]
    assert await Booking.all().count() == 0
    mail = await EmailOutbox.get()
    assert "refunded" in mail.subject
    assert await ActivityLog.filter(action="refund.succeeded").count() == 1


async def test_refund_failures_are_retried_with_backoff_until_done(held, gateways, simulator):
    _, reservation, seats = held
    payment = await start(held, gateways)
    late = NOW + timedelta(minutes=40)
    rival = await factories.make_user()
    await holds.hold_seats(
        rival, HoldRequest(reservation.schedule_id, 0, 2, (seats[0].id,)), now=late
    )
    simulator.fail_refunds = True
    pending = await deliver(simulator, gateways, payment, now=late)
    assert pending.status == PaymentStatus.REFUND_PENDING
    refund = await Refund.get(payment_id=payment.id)
    assert refund.attempts == 1 and refund.next_attempt_at == late + timedelta(minutes=1)
    # Not due yet: nothing is tried.
    assert await refunds.retry_refunds(gateways=gateways, now=late) == 0
    assert await ActivityLog.filter(action="refund.failed").count() == 1
    # Due: tried and refused again, so the next wait doubles.
    soon = late + timedelta(minutes=1)
    assert await refunds.retry_refunds(gateways=gateways, now=soon) == 0
    again = await Refund.get(payment_id=payment.id)
    assert again.attempts == 2 and again.next_attempt_at == soon + timedelta(minutes=2)
    simulator.fail_refunds = False
    later = soon + timedelta(minutes=2)
    assert await refunds.retry_refunds(gateways=gateways, now=later) == 1
    done = await Payment.get(id=payment.id)
    assert done.status == PaymentStatus.REFUNDED and done.refunded_amount == payment.amount
    assert await ActivityLog.filter(action="refund.failed").count() == 2
    assert refunds.next_refund_attempt(30, late) == late + timedelta(hours=1)


class RecordingSimulator(SimulatorGateway):
    """The simulator, remembering what each checkout asked the gateway to charge."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self.charged: list[tuple[Decimal, str]] = []

    async def start_checkout(self, payment, *, return_url, cancel_url):
        self.charged.append((payment.amount, payment.currency))
        return await super().start_checkout(payment, return_url=return_url, cancel_url=cancel_url)


async def test_a_fare_or_route_edit_after_the_hold_does_not_change_the_price():
    """One price: the operator raises the fare and moves a stop between the hold and the
    checkout; the customer pays what the hold page showed, and nothing else."""
    gateway = RecordingSimulator(CONFIG.secret)
    trip = await factories.make_trip(NOW + timedelta(days=1), rows=2)
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    admin = await factories.make_user(admin=True)
    reservation = await holds.hold_seats(
        user, HoldRequest(trip.id, 0, 1, (seats[0].id, seats[1].id)), now=NOW
    )
    shown = await checkout.quote(reservation)  # what the hold page showed
    assert shown.total == reservation.total_amount
    await Schedule.filter(id=trip.id).update(base_fare=Decimal("700"))
    route = await factories.Route.get(id=trip.route_id)
    await routes.save_route(
        admin,
        route.id,
        route.code,
        route.name,
        [
            routes.StopLine("Mumbai", 0, 0, ["Mumbai Bus Stand"]),
            routes.StopLine("Lonavala", 120, 100, ["Lonavala Bus Stand"]),
            routes.StopLine("Pune", 210, 148, ["Pune Bus Stand"]),
        ],
        now=NOW,
    )
    now_fares = await holds.reservation_seats(reservation)
    assert sum(s.fare for s in now_fares) != shown.total  # the route's fares did change
    again = await checkout.quote(reservation)  # the hold page, reloaded
    assert again.total == shown.total and [s.fare for s in again.seats] == [
        s.fare for s in shown.seats
    ]
    payment = await checkout.start_checkout(
        user,
        reservation.public_id,
        checkout_input(seats[:2], shown.total),
        gateways=Gateways([gateway]),
        config=CONFIG,
        now=NOW,
    )
    assert gateway.charged == [(shown.total, "INR")]
    assert payment.amount == shown.total
    fares = [Decimal(p["fare"]) for p in payment.checkout_data["passengers"]]
    assert sum(fares) == shown.total  # each passenger's fare (and refund) from that price


async def test_the_hold_time_fares_are_found_again_from_the_stored_total():
    trip = await factories.make_trip(NOW + timedelta(days=1), rows=1)
    window, aisle = (await factories.schedule_seats(trip))[:2]  # price factors 1.05 and 1
    assert (window.seat.price_factor, aisle.seat.price_factor) == (Decimal("1.05"), 1)
    # Held at a segment fare of 400 (the window seat: 420), then the fare went up.
    moved = [holds.HeldSeat(window, Decimal("500")), holds.HeldSeat(aisle, Decimal("476"))]
    assert [s.fare for s in checkout.price_seats(moved, Decimal("820.00"))] == [
        Decimal("420"),
        Decimal("400"),
    ]
    assert checkout.price_seats(moved, Decimal("976")) == moved  # nothing changed
    # No whole segment fare gives 1000.01: shared by price factor, to the cent.
    shared = checkout.price_seats(moved, Decimal("1000.01"))
    assert [s.fare for s in shared] == [Decimal("512.20"), Decimal("487.81")]


async def test_a_total_the_hold_page_did_not_show_is_refused_and_an_expired_hold(held, gateways):
    user, reservation, seats = held
    with pytest.raises(PriceChanged) as caught:
        await checkout.start_checkout(
            user,
            reservation.public_id,
            checkout_input(seats[:2], Decimal("1"), key=None),
            gateways=gateways,
            config=CONFIG,
            now=NOW,
        )
    assert caught.value.code == "price_changed"
    assert caught.value.data == {
        "quoted": "1",
        "total": str(reservation.total_amount),
        "currency": "INR",
    }
    assert await Payment.all().count() == 0
    with pytest.raises(HoldExpired):
        await start(held, gateways, now=NOW + timedelta(minutes=15))


async def test_bad_passenger_details_name_the_field(held, gateways):
    user, reservation, seats = held
    quote = await checkout.quote(reservation)
    data = checkout_input(seats[:2], quote.total, contact_email="nope", method=None)
    data.passengers[0] = PassengerInput(seats[0].id, "", 200, None)
    with pytest.raises(ValidationFailed) as caught:
        await checkout.start_checkout(
            user, reservation.public_id, data, gateways=gateways, config=CONFIG, now=NOW
        )
    fields = set(caught.value.errors)
    assert {
        "passengers[0].name",
        "passengers[0].age",
        "passengers[0].gender",
        "contact_email",
        "method",
    } <= fields
    assert await Payment.all().count() == 0


async def test_the_confirmation_reaches_a_real_smtp_server_with_the_ticket_link(
    held, gateways, simulator
):
    from domain import mail
    from tests.integration.test_mail import Sink, free_port

    sink = Sink(free_port())
    sink.start()
    try:
        payment = await start(held, gateways)
        paid = await deliver(simulator, gateways, payment)
        report = await mail.deliver_due(
            mail.SmtpSender(sink.url), now=NOW, mail_from="Busbook <tickets@busbook.test>"
        )
        assert report.sent == 1
        (message,) = sink.messages
        booking = await Booking.get(id=paid.booking_id)
        ticket = await Ticket.get(booking=booking)
        assert message["To"] == "priya@example.com"
        assert booking.reference in message["Subject"]
        body = message.get_body(("plain",)).get_content()
        assert f"http://testserver/tickets/{ticket.number}/download?token=" in body
    finally:
        sink.stop()


async def test_the_confirmation_mail_shows_local_times_and_amounts_like_the_pages(simulator):
    """Defect 5: the mail said `Fri 27 Nov 2026 00:30 UTC` and `650.00 INR` where every page
    and the PDF ticket say `Fri 27 Nov 2026, 06:00` (the operator's TIMEZONE) and `₹650`."""
    from zoneinfo import ZoneInfo

    from domain.formatting import format_datetime, format_money
    from domain.settings import Settings

    kolkata = ZoneInfo("Asia/Kolkata")
    config = Settings(
        secret_key=CONFIG.secret, public_base_url="http://testserver", timezone="Asia/Kolkata"
    ).checkout
    # 00:30 UTC is 06:00 in Kolkata: a UTC time in the mail cannot pass for the local one.
    departure = (NOW + timedelta(days=2)).replace(hour=0, minute=30, second=0)
    trip = await factories.make_trip(departure, rows=1)
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    reservation = await holds.hold_seats(
        user, HoldRequest(trip.id, 0, 2, (seats[0].id,)), now=NOW, policy=HoldPolicy()
    )
    quote = await checkout.quote(reservation)
    text = await pay_and_read_the_confirmation(simulator, user, reservation, seats[:1], config)
    departs = format_datetime(departure, kolkata)
    assert departs.endswith(", 06:00")
    assert f"From Mumbai: {departs}\n" in text
    total = format_money(quote.total, "INR")
    assert total.startswith("₹") and f"total {total}\n" in text
    assert "UTC" not in text and "INR" not in text and f"{quote.total:.2f}" not in text


async def test_the_confirmation_mail_names_the_chosen_points_at_their_times(simulator):
    """Issue 12: the mail gave the cities' times; the passenger boards at the point they
    picked, at its own time (06:40 at Dadar TT Circle for a bus leaving Mumbai at 06:00)."""
    from zoneinfo import ZoneInfo

    from domain.formatting import format_datetime
    from domain.settings import Settings

    kolkata = ZoneInfo("Asia/Kolkata")
    config = Settings(
        secret_key=CONFIG.secret, public_base_url="http://testserver", timezone="Asia/Kolkata"
    ).checkout
    departure = (NOW + timedelta(days=2)).replace(hour=0, minute=30, second=0)  # 06:00 IST
    trip = await factories.make_trip(departure, rows=1)
    board, drop = await factories.add_points(trip)
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    reservation = await holds.hold_seats(
        user,
        HoldRequest(trip.id, 0, 2, (seats[0].id,), board.id, drop.id),
        now=NOW,
        policy=HoldPolicy(),
    )
    text = await pay_and_read_the_confirmation(simulator, user, reservation, seats[:1], config)
    boards = format_datetime(departure + timedelta(minutes=40), kolkata)
    arrives = format_datetime(departure + timedelta(minutes=210 + 25), kolkata)
    assert boards.endswith(", 06:40") and arrives.endswith(", 09:55")
    assert f"From Mumbai: {boards} · Dadar TT Circle (Near the flyover)\n" in text
    assert f"To Pune: {arrives} · Swargate\n" in text


async def pay_and_read_the_confirmation(simulator, user, reservation, seats, config) -> str:
    """Pays `reservation` through the simulator's webhook and sends the outbox to a real SMTP
    server; the plain-text confirmation mail it received."""
    from domain import mail
    from tests.integration.test_mail import Sink, free_port

    quote = await checkout.quote(reservation)
    gateways = Gateways([simulator])
    payment = await checkout.start_checkout(
        user,
        reservation.public_id,
        checkout_input(seats, quote.total),
        gateways=gateways,
        config=config,
        now=NOW,
    )
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=True)
    await payment_outcomes.receive_webhook(
        "simulator", headers, body, gateways=gateways, config=config, now=NOW
    )
    sink = Sink(free_port())
    sink.start()
    try:
        report = await mail.deliver_due(
            mail.SmtpSender(sink.url), now=NOW, mail_from="Busbook <tickets@busbook.test>"
        )
        assert report.sent == 1
        (message,) = sink.messages
        return str(message.get_body(("plain",)).get_content().replace("\r\n", "\n"))
    finally:
        sink.stop()
