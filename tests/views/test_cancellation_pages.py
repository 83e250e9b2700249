"""Issue 12 on the pages: a boarded seat or a bus that has left is not cancellable and the
page says why; the operator refunds by hand; a cancelled trip's booking shows no QR code
and says when, why and the refund; the boarding check names the passengers; words where
the pages showed raw values."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from domain import trip_cancellation
from domain.models import (
    ActivityLog,
    Booking,
    Cancellation,
    Passenger,
    Refund,
    Schedule,
    Ticket,
)
from tests import factories
from tests.views.test_admin import admin as admin
from tests.views.test_cancellations import trip as trip
from tests.views.test_checkout import FORM, buy
from views.services import services_of


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def booked(auth, trip, n=2) -> Booking:
    seats = (await factories.schedule_seats(trip))[:n]
    await auth.register()
    await buy(auth, trip, seats)
    return await Booking.get()


async def text(client, path) -> str:
    return await (await client.get(path)).get_data(as_text=True)


async def test_a_boarded_booking_shows_why_it_cannot_be_cancelled(auth, trip):
    booking = await booked(auth, trip)
    await Ticket.filter(booking=booking).update(status="boarded", boarded_at=datetime.now(UTC))
    page = await text(auth.client, f"/bookings/{booking.reference}")
    assert page.count("Boarded — can't be cancelled") == 2
    assert "Cancel seats" not in page
    assert "checked at the bus door" in page

    cancel_page = await text(auth.client, f"/bookings/{booking.reference}/cancel")
    assert "checked at the bus door" in cancel_page
    assert 'name="passenger_ids"' not in cancel_page  # no form to tick boarded seats in
    first = await Passenger.filter(booking=booking).order_by("id").first()
    refused = await auth.client.post(
        f"/bookings/{booking.reference}/cancel",
        data=urlencode([("csrf_token", csrf_of(page)), ("passenger_ids", first.id)]),
        headers=FORM,
    )
    assert refused.status_code == 409
    assert "boarded the bus" in await refused.get_data(as_text=True)
    assert await Cancellation.all().count() == 0


async def test_a_departed_booking_shows_no_cancel_button_and_says_why(auth, trip):
    booking = await booked(auth, trip)
    gone = datetime.now(UTC) - timedelta(minutes=10)
    await Schedule.filter(id=trip.id).update(
        departure_at=gone, arrival_at=gone + timedelta(hours=4)
    )
    page = await text(auth.client, f"/bookings/{booking.reference}")
    assert "Cancel seats" not in page
    assert "The bus has already left" in page


async def test_a_cancelled_trips_booking_hides_the_code_and_says_when_why_and_the_refund(
    app, auth, trip, settings
):
    booking = await booked(auth, trip)
    ticket = await Ticket.get(booking=booking)
    ops = await factories.make_user(admin=True)
    now = datetime.now(UTC)
    await trip_cancellation.cancel_trip(ops, trip.id, "Cyclone warning on the ghats", now=now)
    svc = services_of(app.app)
    await trip_cancellation.finish_cancelled_trips(
        now=now, gateways=svc.gateways, config=svc.checkout
    )
    page = await text(auth.client, f"/bookings/{booking.reference}")
    assert "The operator cancelled this trip" in page
    assert "Cyclone warning on the ghats" in page
    assert svc.formatter.datetime(now) in page
    assert "₹1,333" in page and "refunded to your original payment method" in page
    assert "Download PDF" not in page and "ticket__qr" not in page
    assert "no longer valid" in page

    pdf = await auth.client.get(f"/tickets/{ticket.number}/download")
    body = await pdf.get_data(as_text=True)
    assert pdf.status_code == 410 and pdf.mimetype == "text/html"
    assert "The operator cancelled this trip" in body and "Cyclone warning" in body


async def test_words_instead_of_raw_values(auth, trip):
    booking = await booked(auth, trip)
    page = await text(auth.client, f"/bookings/{booking.reference}")
    assert "Age 34 · Female" in page and "34, female" not in page
    assert "UPI payment (simulator) — succeeded, " in page
    assert re.search(r'class="badge badge--confirmed">Confirmed<', page)

    first = await Passenger.filter(booking=booking).order_by("id").first()
    quote = await text(
        auth.client, f"/bookings/{booking.reference}/cancel?passenger_ids={first.id}"
    )
    head = re.search(r"<thead>(.*?)</thead>", quote, re.S).group(1)
    assert re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', head) == [
        "Passenger",
        "Seat",
        "Fare",
        "Fee",
        "Refund",
    ]
    assert "Traveller 0 — seat 1" in quote
    assert "Less than 4 hours before departure: no refund" in quote
    assert "0 hours or more" not in quote
    done = await auth.client.post(
        f"/bookings/{booking.reference}/cancel",
        data=urlencode([("csrf_token", csrf_of(quote)), ("passenger_ids", first.id)]),
        headers=FORM,
    )
    record = await text(auth.client, done.headers["Location"])
    assert "Traveller 0 — seat 1" in record and "(1)" not in record
    page = await text(auth.client, f"/bookings/{booking.reference}")
    assert "Seat cancelled on " in page and "Traveller 0 — seat 1 · refund ₹" in page
    assert "Partially cancelled" in page

    rest = await Passenger.filter(booking=booking).order_by("-id").first()
    await auth.client.post(
        f"/bookings/{booking.reference}/cancel",
        data=urlencode([("csrf_token", csrf_of(page)), ("passenger_ids", rest.id)]),
        headers=FORM,
    )
    listing = await text(auth.client, "/bookings")
    upcoming, cancelled = listing.split('id="cancelled-bookings"')
    assert booking.reference not in upcoming and booking.reference in cancelled
    assert "No upcoming trips" in upcoming


async def test_the_operator_refunds_a_boarded_booking_by_hand(admin, auth, trip):
    booking = await booked(auth, trip)
    await Ticket.filter(booking=booking).update(status="boarded", boarded_at=datetime.now(UTC))
    detail = await text(admin.client, f"/bookings/{booking.reference}")
    assert f"/admin/bookings/{booking.reference}/refund" in detail
    assert "Refund by hand" not in await text(auth.client, f"/bookings/{booking.reference}")

    form = await text(admin.client, f"/admin/bookings/{booking.reference}/refund")
    assert "₹1,333" in form and 'name="amount"' in form and 'name="reason"' in form
    assert 'class="admin-nav"' in form

    async def send(**fields):
        return await admin.client.post(
            f"/admin/bookings/{booking.reference}/refund",
            data=urlencode({"csrf_token": csrf_of(form), **fields}),
            headers=FORM,
        )

    bad = await send(amount="lots", reason="AC failed")
    assert bad.status_code == 422
    assert "Enter the amount to refund" in await bad.get_data(as_text=True)
    too_much = await send(amount="5000", reason="AC failed")
    assert too_much.status_code == 422 and "At most" in await too_much.get_data(as_text=True)
    assert await Refund.all().count() == 0

    done = await send(amount="400", reason="AC failed for the whole night")
    assert done.status_code == 303
    after = await text(admin.client, done.headers["Location"])
    assert "The refund is recorded" in after and "AC failed for the whole night" in after
    assert (await Refund.get()).amount == 400
    assert await ActivityLog.filter(action="booking.refunded_by_operator").count() == 1
    customer = await text(auth.client, f"/bookings/{booking.reference}")
    assert "Refund by the operator on" in customer and "₹400" in customer


async def test_the_boarding_check_leads_back_and_names_the_passengers(admin, auth, trip):
    booking = await booked(auth, trip)
    ticket = await Ticket.get(booking=booking)
    page = await text(admin.client, "/admin/boarding")
    assert 'class="admin-nav"' in page and 'href="/admin"' in page
    response = await admin.client.post(
        "/admin/boarding",
        data=urlencode(
            {"csrf_token": csrf_of(page), "schedule_id": trip.id, "code": ticket.qr_token}
        ),
        headers={**FORM, "HX-Request": "true"},
    )
    result = await response.get_data(as_text=True)
    assert 'data-ok="true"' in result
    assert "Traveller 0 — seat 1" in result and "Traveller 1 — seat 2" in result
    assert "Mumbai" in result  # the trip: route and departure
