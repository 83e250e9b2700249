"""One call per screen: the trip, the hold, the booking, the ticket document and the payment
return, each read by one domain call returning plain data (what the HTML views render and
the JSON API will serialise)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain import booking_views, checkout, payment_outcomes, ticket_tokens, trip_views
from domain.checkout import CheckoutConfig
from domain.enums import ONLINE_METHODS, PaymentMethod, PaymentStatus, ReservationStatus, SeatStatus
from domain.errors import (
    BookingNotFound,
    PaymentNotFound,
    ReservationNotFound,
    TicketLinkExpired,
    TicketLinkInvalid,
)
from domain.formatting import Formatter
from domain.models import Booking, Payment, Reservation, StopPoint
from domain.payments.base import PaymentInfo, ReturnKind, ReturnLinks
from domain.payments.razorpay_gateway import RazorpayGateway
from domain.payments.registry import Gateways
from domain.payments.simulator import SimulatorGateway
from domain.payments.stripe_gateway import StripeGateway
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime.now(UTC).replace(microsecond=0)
# Times in a zone other than the default, so the test sees the document uses this one.
FORMATS = Formatter(ZoneInfo("America/New_York"), "INR")
CONFIG = CheckoutConfig(secret="s" * 40, public_base_url="http://testserver", formatter=FORMATS)
RZP_SECRET = "rzp_secret_screens"
LINKS = ReturnLinks(callback_url="http://testserver/cb", cancel_url="http://testserver/back")


@pytest.fixture
def simulator() -> SimulatorGateway:
    return SimulatorGateway(CONFIG.secret)


@pytest.fixture
def razorpay() -> RazorpayGateway:
    return RazorpayGateway("rzp_test_screens", RZP_SECRET, "whsec", base_url="http://127.0.0.1:9")


@pytest.fixture
def gateways(simulator, razorpay) -> Gateways:
    return Gateways([simulator, razorpay])


async def paid_booking(simulator, gateways, *, now=NOW):
    paying = await factories.start_paying(gateways, CONFIG, now=now, seats=2)
    headers, body = simulator.webhook(checkout.payment_info(paying.payment), succeeded=True)
    payment = await payment_outcomes.receive_webhook(
        "simulator", headers, body, gateways=gateways, config=CONFIG, now=now
    )
    assert payment is not None and payment.status == PaymentStatus.SUCCEEDED
    booking = await Booking.get(id=payment.booking_id)
    return paying, booking


# -- the trip ----------------------------------------------------------------------------


async def test_trip_view_has_the_segment_its_seats_for_the_viewer_points_and_fare():
    trip = await factories.make_trip(NOW + timedelta(days=1), rows=2)
    seats = await factories.schedule_seats(trip)
    me, other = await factories.make_user(), await factories.make_user()
    await factories.hold(trip, seats[0], 0, 1, user=me, expires_at=NOW + timedelta(minutes=5))
    await factories.hold(trip, seats[1], 0, 2, user=other, expires_at=NOW + timedelta(minutes=5))
    await factories.book(trip, seats[2], 1, 2, user=other, now=NOW)
    await factories.hold(trip, seats[3], 0, 2, user=other, expires_at=NOW)  # expired: free
    first = await StopPoint.filter(stop__route_id=trip.route_id, stop__seq=0).first()
    assert first is not None
    await StopPoint.create(stop_id=first.stop_id, name="Dadar", minutes_offset=20)
    await StopPoint.create(stop_id=first.stop_id, name="Only off", is_boarding=False)

    view = await trip_views.trip_view(trip.id, 0, 1, viewer=me, now=NOW)

    assert view.segment is not None and (view.segment.from_seq, view.segment.to_seq) == (0, 1)
    assert not view.errors and not view.departed
    assert view.seat_map is not None
    statuses = {sid: seat.status for sid, seat in view.seat_map.seats.items()}
    assert statuses[seats[0].id] is SeatStatus.MINE
    assert statuses[seats[1].id] is SeatStatus.HELD
    assert statuses[seats[2].id] is SeatStatus.AVAILABLE  # booked on the other part only
    assert statuses[seats[3].id] is SeatStatus.AVAILABLE
    assert view.origin is not None and view.destination is not None
    assert (view.origin.seq, view.destination.seq) == (0, 1)
    assert view.fare == view.trip.segment_fare(view.segment) and view.fare < trip.base_fare
    assert [p.name for p in view.boarding_points] == [f"{view.origin.city} Bus Stand", "Dadar"]
    assert view.boarding_points[1].at == view.origin.arrives_at + timedelta(minutes=20)
    assert [p.name for p in view.dropping_points] == [f"{view.destination.city} Bus Stand"]

    # Another viewer (and a guest, through an awaitable still loading) sees the hold as held.
    async def guest():
        return None

    as_guest = await trip_views.trip_view(trip.id, 0, 1, viewer=guest(), now=NOW)
    assert as_guest.seat_map is not None
    assert as_guest.seat_map.seats[seats[0].id].status is SeatStatus.HELD
    whole = await trip_views.trip_view(trip.id, None, None, viewer=None, now=NOW)
    assert whole.segment is not None and whole.segment.to_seq == whole.trip.last_seq
    assert whole.seat_map is not None
    assert whole.seat_map.seats[seats[2].id].status is SeatStatus.BOOKED


async def test_trip_view_for_stops_that_are_no_segment_has_the_trip_and_the_errors():
    trip = await factories.make_trip(NOW + timedelta(days=1), rows=1)
    view = await trip_views.trip_view(trip.id, 2, 1, viewer=None, now=NOW)
    assert view.trip.schedule.id == trip.id
    assert view.segment is None and view.seat_map is None
    assert view.errors == {"to": "The dropping stop must come after the boarding stop."}
    problems = {"from": "Choose a stop of this route."}
    unread = await trip_views.trip_view(
        trip.id, None, None, viewer=None, now=NOW, problems=problems
    )
    assert unread.errors == problems and unread.segment is None


async def test_trip_view_after_the_bus_left_the_boarding_stop_is_departed():
    trip = await factories.make_trip(NOW - timedelta(minutes=1), rows=1)
    view = await trip_views.trip_view(trip.id, 0, 1, viewer=None, now=NOW)
    assert view.departed


# -- the hold ----------------------------------------------------------------------------


async def test_hold_view_has_the_seats_price_countdown_and_methods(simulator, gateways):
    paying = await factories.start_paying(gateways, CONFIG, now=NOW, seats=2)
    view = await checkout.hold_view(
        paying.user, paying.reservation.public_id, gateways=gateways, now=NOW
    )
    reservation = await Reservation.get(id=paying.reservation.id)
    assert view.reservation.id == reservation.id
    assert view.expires_at == reservation.expires_at and view.now == NOW
    assert view.live and view.owner and view.can_pay
    assert len(view.seats) == 2
    assert view.total == sum((s.fare for s in view.seats), Decimal(0)) == paying.payment.amount
    assert view.currency == "INR"
    assert (view.origin.seq, view.destination.seq) == (0, 2)
    # the simulator takes every online method (cash is only taken at the counter)
    assert view.methods == tuple(m for m in PaymentMethod if m in ONLINE_METHODS)

    later = await checkout.hold_view(
        paying.user, paying.reservation.public_id, gateways=gateways, now=view.expires_at
    )
    assert not later.live and not later.can_pay  # expires_at <= now: gone (invariant 2)

    admin = await factories.make_user(admin=True)
    seen = await checkout.hold_view(admin, paying.reservation.public_id, gateways=gateways, now=NOW)
    assert seen.live and not seen.owner and not seen.can_pay
    with pytest.raises(ReservationNotFound):
        await checkout.hold_view(
            await factories.make_user(), paying.reservation.public_id, gateways=gateways, now=NOW
        )
    assert reservation.status == ReservationStatus.ACTIVE


# -- the booking and its ticket ----------------------------------------------------------


async def test_booking_view_has_passengers_ticket_payments_and_what_may_be_done(
    simulator, gateways
):
    paying, booking = await paid_booking(simulator, gateways)
    view = await booking_views.booking_view(
        paying.user, booking.reference.lower(), config=CONFIG, now=NOW
    )
    assert view.booking.id == booking.id
    assert [p.name for p in view.passengers] == ["Passenger 0", "Passenger 1"]
    assert view.ticket is not None and view.can_download
    assert view.qr_svg.startswith("<svg")
    assert view.download_link is not None
    assert view.download_link.startswith(
        f"http://testserver/tickets/{view.ticket.number}/download?token="
    )
    assert [p.id for p in view.payments] == [paying.payment.id]
    assert view.cancellations == []
    assert view.can_cancel
    assert (view.origin.seq, view.destination.seq) == (0, 2)

    by_ticket = await booking_views.ticket_view(
        paying.user, view.ticket.number, config=CONFIG, now=NOW
    )
    assert by_ticket.booking.id == booking.id and by_ticket.ticket == view.ticket

    departed = await booking_views.booking_view(
        paying.user, booking.reference, config=CONFIG, now=view.origin.arrives_at
    )
    assert not departed.can_cancel  # the bus has left: nothing to cancel any more
    with pytest.raises(BookingNotFound):
        await booking_views.booking_view(
            await factories.make_user(), booking.reference, config=CONFIG, now=NOW
        )


async def test_ticket_document_is_the_text_the_pdf_prints(simulator, gateways):
    paying, booking = await paid_booking(simulator, gateways)
    view = await booking_views.booking_view(paying.user, booking.reference, config=CONFIG, now=NOW)
    assert view.ticket is not None
    number = view.ticket.number
    document = await booking_views.ticket_document(
        paying.user, number.lower(), token=None, config=CONFIG, now=NOW
    )
    assert document.ticket_number == number and document.booking_reference == booking.reference
    assert document.filename == f"busbook-{number}.pdf"
    assert document.status == "valid"
    assert document.route_name == view.trip.schedule.route.name
    assert document.origin_city == view.origin.city
    assert document.boarding_point == view.origin.city  # no point chosen: the city
    assert document.departs_at_text == FORMATS.datetime(view.origin.arrives_at)
    assert document.arrives_at_text == FORMATS.datetime(view.destination.arrives_at)
    assert document.departs_at_text != Formatter.default().datetime(view.origin.arrives_at)
    assert [(p.name, p.age, p.gender) for p in document.passengers] == [
        ("Passenger 0", 34, "Female"),
        ("Passenger 1", 34, "Female"),
    ]
    assert document.total_text == FORMATS.money(booking.total_amount, "INR")
    assert document.total_text.startswith("₹")
    assert document.qr_svg.startswith("<svg")
    assert document.issued_at_text == FORMATS.datetime(view.ticket.issued_at)

    # With the signed link nobody needs to be signed in; a link for another ticket, an
    # expired one, or neither a link nor a login is refused.
    token = ticket_tokens.download_token(CONFIG.secret, number, expires_at=NOW + timedelta(1))
    linked = await booking_views.ticket_document(None, number, token=token, config=CONFIG, now=NOW)
    assert linked == document
    with pytest.raises(TicketLinkExpired):
        await booking_views.ticket_document(
            None,
            number,
            token=token,
            config=CONFIG,
            now=NOW + timedelta(2),
        )
    with pytest.raises(TicketLinkInvalid):
        await booking_views.ticket_document(None, "TK-OTHER", token=token, config=CONFIG, now=NOW)
    with pytest.raises(TicketLinkInvalid):
        await booking_views.ticket_document(None, number, token=None, config=CONFIG, now=NOW)


# -- the payment return ------------------------------------------------------------------


def links(payment: Payment) -> ReturnLinks:
    return LINKS


async def test_a_signed_simulator_return_applies_the_outcome_and_names_the_booking(
    simulator, gateways
):
    paying = await factories.start_paying(gateways, CONFIG, now=NOW)
    ref = paying.payment.public_id
    other = await factories.make_user()
    with pytest.raises(PaymentNotFound):
        await payment_outcomes.payment_return(
            other, ref, {}, links=links, gateways=gateways, config=CONFIG, now=NOW
        )
    forged = await payment_outcomes.payment_return(
        paying.user, ref, {"sig": "0" * 64}, links=links, gateways=gateways, config=CONFIG, now=NOW
    )
    assert forged.payment.status == PaymentStatus.PENDING and not forged.booked
    assert forged.client_step is None

    values = simulator.return_values(ref, succeeded=True)
    back = await payment_outcomes.payment_return(
        paying.user, ref, values, links=links, gateways=gateways, config=CONFIG, now=NOW
    )
    assert back.payment.status == PaymentStatus.SUCCEEDED and back.booked
    assert back.booking is not None and back.booking.id == back.payment.booking_id


async def test_a_declined_simulator_return_fails_the_payment(simulator, gateways):
    paying = await factories.start_paying(gateways, CONFIG, now=NOW)
    ref = paying.payment.public_id
    values = simulator.return_values(ref, succeeded=False)
    back = await payment_outcomes.payment_return(
        paying.user, ref, values, links=links, gateways=gateways, config=CONFIG, now=NOW
    )
    assert back.payment.status == PaymentStatus.FAILED and not back.booked


async def razorpay_payment(gateways, order_id="order_S0000001"):
    """A pending payment whose checkout is a Razorpay order (as start_checkout leaves it)."""
    paying = await factories.start_paying(gateways, CONFIG, now=NOW)
    await Payment.filter(id=paying.payment.id).update(
        gateway="razorpay", gateway_reference=order_id
    )
    return paying


async def test_razorpay_return_is_a_client_step_then_its_signed_post_books(gateways):
    paying = await razorpay_payment(gateways)
    ref = paying.payment.public_id
    step = await payment_outcomes.payment_return(
        paying.user,
        ref,
        {"order_id": "order_S0000001"},
        links=links,
        gateways=gateways,
        config=CONFIG,
        now=NOW,
    )
    assert step.client_step is not None and not step.booked
    assert step.client_step.gateway == "razorpay"
    assert step.client_step.script_url == "https://checkout.razorpay.com/v1/checkout.js"
    options = step.client_step.options
    assert options["order_id"] == "order_S0000001"
    assert options["callback_url"] == LINKS.callback_url
    assert options["cancel_url"] == LINKS.cancel_url
    assert options["key"] == "rzp_test_screens"
    assert "https://checkout.razorpay.com" in step.client_step.csp["script_src"]

    with pytest.raises(PaymentNotFound):  # the query names another order
        await payment_outcomes.payment_return(
            paying.user,
            ref,
            {"order_id": "order_S0000002"},
            links=links,
            gateways=gateways,
            config=CONFIG,
            now=NOW,
        )

    # Checkout's post to the callback: no session, the signature vouches. A bad one is
    # ignored (the webhook decides); a good one books.
    bad = {"razorpay_payment_id": "pay_S1", "razorpay_signature": "0" * 64}
    ignored = await payment_outcomes.payment_return(
        None, ref, bad, links=links, gateways=gateways, config=CONFIG, now=NOW
    )
    assert ignored.payment.status == PaymentStatus.PENDING and ignored.client_step is None
    signature = hmac.new(RZP_SECRET.encode(), b"order_S0000001|pay_S1", hashlib.sha256)
    good = {"razorpay_payment_id": "pay_S1", "razorpay_signature": signature.hexdigest()}
    paid = await payment_outcomes.payment_return(
        None, ref, good, links=links, gateways=gateways, config=CONFIG, now=NOW
    )
    assert paid.payment.status == PaymentStatus.SUCCEEDED and paid.booked

    # Once paid, the return's order id no longer opens Checkout.
    after = await payment_outcomes.payment_return(
        paying.user,
        ref,
        {"order_id": "order_S0000001"},
        links=links,
        gateways=gateways,
        config=CONFIG,
        now=NOW,
    )
    assert after.client_step is None and after.booked


async def test_a_post_without_a_session_never_gets_a_client_step(gateways):
    paying = await razorpay_payment(gateways)
    back = await payment_outcomes.payment_return(
        None,
        paying.payment.public_id,
        {"order_id": "order_S0000001"},
        links=links,
        gateways=gateways,
        config=CONFIG,
        now=NOW,
    )
    assert back.client_step is None and back.payment.status == PaymentStatus.PENDING


def test_every_gateway_reads_its_way_back(simulator, razorpay):
    stripe = StripeGateway("sk_test_screens", "whsec_screens", api_base="http://127.0.0.1:9")
    info = PaymentInfo(
        payment_id=1,
        amount=Decimal("650.00"),
        currency="INR",
        method=PaymentMethod.CARD,
        description="Mumbai - Pune",
        customer_email="",
        idempotency_key="k",
        gateway_reference="cs_1",
        public_id="pay_x",
    )
    # Stripe's return carries only the session id: nothing verifiable, the webhook decides.
    assert stripe.read_return(info, {"session_id": "cs_1"}, links=LINKS).kind is ReturnKind.NONE
    assert simulator.read_return(info, {}, links=LINKS).kind is ReturnKind.NONE
    assert simulator.read_return(info, {"sig": "é"}, links=LINKS).kind is ReturnKind.NONE
    ok = simulator.read_return(info, simulator.return_values("pay_x", succeeded=True), links=LINKS)
    assert ok.kind is ReturnKind.SUCCEEDED and ok.verified
    assert razorpay.read_return(info, {}, links=LINKS).kind is ReturnKind.NONE
    weird = {"razorpay_payment_id": "pay_1", "razorpay_signature": "é"}
    assert razorpay.read_return(info, weird, links=LINKS).kind is ReturnKind.NONE
