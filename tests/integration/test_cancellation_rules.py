"""Issue 12: who may cancel what, the operator's refund by hand, what an old ticket says at
the door, and what the mails about a cancellation say (over a real SMTP server).

Found from outside: a seat whose ticket had boarded was cancelled and refunded 50 % after
"Already boarded"; an old ticket scanned as "Cancelled ticket" with no word of its
replacement; the mail named the new ticket without a link; the passengers of a trip the
operator cancelled were not told which trip, when, nor why.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest

from domain import (
    booking_views,
    cancellations,
    mail,
    operations,
    operator_refunds,
    ticket_tokens,
    trip_cancellation,
)
from domain.cancellations import DEFAULT_TIERS, parse_tiers, policy_lines, quote_refund
from domain.enums import BookingStatus, PassengerStatus, RefundStatus, TicketStatus
from domain.errors import (
    BookingDeparted,
    SeatsBoarded,
    TicketNoLongerValid,
    ValidationFailed,
)
from domain.mail import SmtpSender
from domain.models import ActivityLog, Cancellation, EmailOutbox, Refund, Schedule, Ticket
from tests import factories
from tests.integration.test_cancellations import CONFIG, DEPARTURE, buy
from tests.integration.test_cancellations import gateways as gateways
from tests.integration.test_cancellations import simulator as simulator
from tests.integration.test_mail import sink as sink

pytestmark = pytest.mark.usefixtures("db")
TZ = ZoneInfo("Asia/Kolkata")
AT = DEPARTURE - timedelta(hours=13)  # the 50 % tier: what the boarded seat was refunded


async def board(ticket: Ticket, schedule_id: int, *, now=AT) -> operations.BoardingResult:
    admin = await factories.make_user(admin=True)
    return await operations.board(
        admin, ticket.qr_token, schedule_id, secret=CONFIG.secret, now=now, tz=TZ
    )


# ------------------------------------------------------------------- who may cancel


async def test_a_boarded_seat_cannot_be_cancelled_by_the_customer(gateways, simulator):
    user, booking, passengers = await buy(gateways, simulator, 2)
    ticket = await Ticket.get(booking=booking)
    assert (await board(ticket, booking.schedule_id)).ok

    with pytest.raises(SeatsBoarded) as quoted:
        await quote_refund(booking, [passengers[0].id], now=AT)
    assert quoted.value.code == "seats_boarded" and quoted.value.status == 409
    assert quoted.value.data == {"seats": ["1"]}
    assert "boarded the bus" in quoted.value.message
    with pytest.raises(SeatsBoarded):
        await cancellations.cancel_booking(
            user, booking, None, now=AT, gateways=gateways, config=CONFIG
        )
    # Nothing changed: no cancellation, no refund, the seats still booked.
    assert await Cancellation.all().count() == 0 and await Refund.all().count() == 0
    await booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert {p.status for p in await booking.passengers} == {PassengerStatus.ACTIVE}
    assert simulator.refunds == []

    view = await booking_views.booking_view(user, booking.reference, config=CONFIG, now=AT)
    assert not view.can_cancel
    assert view.cancel_rule is not None and "checked at the bus door" in view.cancel_rule.why_not
    assert all(view.boarded(p) for p in view.passengers)


async def test_a_booking_whose_bus_has_left_says_so_with_its_own_code(gateways, simulator):
    user, booking, passengers = await buy(gateways, simulator, 1)
    after = DEPARTURE + timedelta(minutes=5)
    with pytest.raises(BookingDeparted) as refused:
        await cancellations.cancel_booking(
            user, booking, [passengers[0].id], now=after, gateways=gateways, config=CONFIG
        )
    assert refused.value.code == "booking_departed"
    view = await booking_views.booking_view(user, booking.reference, config=CONFIG, now=after)
    assert not view.can_cancel and view.cancel_rule is not None
    assert view.cancel_rule.departed and "already left" in view.cancel_rule.why_not


async def test_the_operator_cancelling_the_trip_still_refunds_a_boarded_booking_in_full(
    gateways, simulator
):
    _, booking, _ = await buy(gateways, simulator, 2)
    assert (await board(await Ticket.get(booking=booking), booking.schedule_id)).ok
    admin = await factories.make_user(admin=True)
    await trip_cancellation.cancel_trip(admin, booking.schedule_id, "Engine failure", now=AT)
    await trip_cancellation.finish_cancelled_trips(now=AT, gateways=gateways, config=CONFIG)
    await booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    cancellation = await Cancellation.get(booking=booking)
    assert cancellation.refund_amount == booking.total_amount
    assert cancellation.refund_status == RefundStatus.PROCESSED


# ------------------------------------------------------------- the refund by hand


async def test_an_operator_refunds_a_boarded_booking_by_hand(gateways, simulator):
    _, booking, _ = await buy(gateways, simulator, 2)
    assert (await board(await Ticket.get(booking=booking), booking.schedule_id)).ok
    admin = await factories.make_user(admin=True)

    form = await operator_refunds.refund_form(admin, booking.reference)
    assert form.paid == booking.total_amount and form.refundable == booking.total_amount

    with pytest.raises(ValidationFailed) as no_reason:
        await operator_refunds.refund_by_operator(
            admin, booking.reference, Decimal(300), " ", gateways=gateways, config=CONFIG, now=AT
        )
    assert "reason" in no_reason.value.errors
    with pytest.raises(ValidationFailed) as too_much:
        await operator_refunds.refund_by_operator(
            admin,
            booking.reference,
            booking.total_amount + 1,
            "AC broke down",
            gateways=gateways,
            config=CONFIG,
            now=AT,
        )
    assert "At most" in too_much.value.errors["amount"]
    assert await Refund.all().count() == 0

    done = await operator_refunds.refund_by_operator(
        admin,
        booking.reference,
        Decimal("300.50"),
        "AC broke down on the way",
        gateways=gateways,
        config=CONFIG,
        now=AT,
    )
    assert done.passenger_ids == [] and done.refund_amount == Decimal("300.50")
    assert done.refund_status == RefundStatus.PROCESSED  # through the gateway
    refund = await Refund.get(cancellation_id=done.id)
    assert refund.reason_code == "operator" and refund.requested_by_id == admin.id
    assert simulator.refunds[-1][1] == Decimal("300.50")
    log = await ActivityLog.get(action="booking.refunded_by_operator")
    assert log.actor_id == admin.id and log.data["reason"] == "AC broke down on the way"
    assert log.data["amount"] == "300.50"
    notice = await EmailOutbox.get(subject__contains="refund is on its way")
    assert "AC broke down on the way" in notice.body_text and "₹300.50" in notice.body_text
    # The seats and the ticket stay as they are; what is left can still be refunded.
    await booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert (await Ticket.get(booking=booking)).status == TicketStatus.BOARDED
    form = await operator_refunds.refund_form(admin, booking.reference)
    assert form.refundable == booking.total_amount - Decimal("300.50")
    view = await booking_views.booking_view(admin, booking.reference, config=CONFIG, now=AT)
    (line,) = view.cancellation_lines
    assert line.title.startswith("Refund by the operator on")
    assert "₹300.50" in line.detail and "AC broke down" in line.detail


@pytest.mark.parametrize(
    ("raw", "amount"), [("450", "450"), ("450.5", "450.50"), ("₹1,200.00", "1200.00")]
)
def test_the_amount_typed_in_the_refund_form(raw, amount):
    assert operator_refunds.parse_amount(raw) == Decimal(amount)


@pytest.mark.parametrize("raw", ["", "0", "-5", "1e3", "12.345", "abc", "٣٠٠", "9" * 12])
def test_amounts_the_refund_form_refuses(raw):
    with pytest.raises(ValidationFailed):
        operator_refunds.parse_amount(raw)


# ------------------------------------------------------------------ at the bus door


async def test_an_old_ticket_scans_as_replaced_by_the_new_one_and_a_valid_one_names_them(
    gateways, simulator
):
    user, booking, passengers = await buy(gateways, simulator, 3)
    old = await Ticket.get(booking=booking)
    await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=AT, gateways=gateways, config=CONFIG
    )
    new = await Ticket.get(booking=booking, status=TicketStatus.VALID)

    stale = await board(old, booking.schedule_id)
    assert not stale.ok and stale.headline == "Cancelled ticket"
    assert f"Replaced by ticket {new.number} (seats 2, 3)" in stale.detail

    valid = await board(new, booking.schedule_id)
    assert valid.ok and valid.headline == "Valid"
    assert valid.passengers == ("P1 — seat 2", "P2 — seat 3")
    trip = await Schedule.get(id=booking.schedule_id).prefetch_related("route")
    assert valid.trip.startswith(trip.route.name + " · ")


async def test_a_ticket_of_a_booking_cancelled_altogether_says_no_seats_are_left(
    gateways, simulator
):
    user, booking, _ = await buy(gateways, simulator, 1)
    old = await Ticket.get(booking=booking)
    await cancellations.cancel_booking(
        user, booking, None, now=AT, gateways=gateways, config=CONFIG
    )
    result = await board(old, booking.schedule_id)
    assert not result.ok and "has no seats left" in result.detail


# -------------------------------------------------------- tickets that are no longer valid


async def test_no_pdf_of_a_replaced_ticket_nor_of_a_cancelled_trip(gateways, simulator):
    user, booking, passengers = await buy(gateways, simulator, 2)
    old = await Ticket.get(booking=booking)
    await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=AT, gateways=gateways, config=CONFIG
    )
    new = await Ticket.get(booking=booking, status=TicketStatus.VALID)
    with pytest.raises(TicketNoLongerValid) as replaced:
        await booking_views.ticket_document(user, old.number, token=None, config=CONFIG, now=AT)
    assert replaced.value.status == 410 and replaced.value.data == {"replaced_by": new.number}
    assert f"replaced by ticket {new.number}" in replaced.value.message
    assert (
        await booking_views.ticket_document(user, new.number, token=None, config=CONFIG, now=AT)
    ).ticket_number == new.number

    admin = await factories.make_user(admin=True)
    later = AT + timedelta(minutes=20)
    await trip_cancellation.cancel_trip(admin, booking.schedule_id, "Floods at Lonavala", now=later)
    with pytest.raises(TicketNoLongerValid) as cancelled:
        await booking_views.ticket_document(user, new.number, token=None, config=CONFIG, now=later)
    assert "The operator cancelled this trip" in cancelled.value.message
    assert "Floods at Lonavala" in cancelled.value.message
    await trip_cancellation.finish_cancelled_trips(now=later, gateways=gateways, config=CONFIG)
    view = await booking_views.booking_view(user, booking.reference, config=CONFIG, now=later)
    assert not view.can_download and view.trip_cancelled is not None
    assert view.trip_cancelled.reason == "Floods at Lonavala"
    assert view.trip_cancelled.at == later
    # This booking's refund for the trip: the seat still booked, in full (not the seat
    # the customer had cancelled before).
    assert view.trip_cancelled.refund == passengers[1].fare
    assert view.trip_cancelled.refund_text == "refunded to your original payment method"


# ---------------------------------------------------------------------- the mails


async def test_the_mails_of_a_partial_cancellation_and_of_a_cancelled_trip(
    gateways, simulator, sink
):
    user, booking, passengers = await buy(gateways, simulator, 2)
    await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=AT, gateways=gateways, config=CONFIG
    )
    new = await Ticket.get(booking=booking, status=TicketStatus.VALID)
    admin = await factories.make_user(admin=True)
    await trip_cancellation.cancel_trip(
        admin, booking.schedule_id, "The bus failed its safety check", now=AT
    )
    await trip_cancellation.finish_cancelled_trips(now=AT, gateways=gateways, config=CONFIG)
    await mail.deliver_due(SmtpSender(sink.url), now=AT, mail_from="Busbook <t@busbook.local>")

    by_subject = {str(m["Subject"]): m.get_body(("plain",)).get_content() for m in sink.messages}
    (partial,) = [
        text for subject, text in by_subject.items() if "cancellation confirmed" in subject
    ]
    assert "P0 (seat 1)" in partial and f"a new ticket, {new.number}" in partial
    link = re.search(rf"http://testserver/tickets/{new.number}/download\?token=\S+", partial)
    assert link is not None, partial
    token = parse_qs(urlparse(link.group(0)).query)["token"][0]
    check = ticket_tokens.read_download_token(CONFIG.secret, token, now=AT)
    assert (check.status, check.ticket_number) == ("valid", new.number)
    assert "Policy: 12 to 24 hours before departure: 50% refund" in partial

    (subject,) = [s for s in by_subject if "bus is cancelled" in s]
    text = by_subject[subject]
    trip = await Schedule.get(id=booking.schedule_id).prefetch_related("route")
    fmt = CONFIG.formatter
    assert fmt.date(trip.departure_at) in subject
    assert trip.route.name in text
    assert fmt.date(trip.departure_at) in text
    assert f"at {fmt.time(trip.departure_at)}" in text
    assert "The operator's reason: The bus failed its safety check" in text
    assert "P1 (seat 2)" in text and "in full" in text


# --------------------------------------------------------------------- the policy


def test_the_policy_reads_as_people_read_it():
    assert policy_lines(DEFAULT_TIERS) == [
        "48 hours or more before departure: 90% refund",
        "24 to 48 hours before departure: 75% refund",
        "12 to 24 hours before departure: 50% refund",
        "4 to 12 hours before departure: 25% refund",
        "Less than 4 hours before departure: no refund",
    ]
    assert policy_lines(parse_tiers("6:100,0:0")) == [
        "6 hours or more before departure: full refund",
        "Less than 6 hours before departure: no refund",
    ]
    assert policy_lines(parse_tiers("0:80")) == ["Any time before departure: 80% refund"]
    assert (
        policy_lines(parse_tiers("1:50,0:10"))[1] == "Less than 1 hour before departure: 10% refund"
    )
