"""The whole purchase over HTTP: hold, passengers, simulator, booking, ticket PDF, links."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from pypdf import PdfReader

from domain import checkout, ticket_tokens
from domain.models import Booking, EmailOutbox, Payment, Reservation, Schedule, Ticket
from tests import factories
from views.services import services_of

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def trip(settings):
    departure = (datetime.now(settings.tz) + timedelta(days=1)).replace(hour=6, minute=0)
    return await factories.make_trip(departure, rows=2)


async def post(auth, path, pairs, page="/"):
    token = await auth.csrf(page)
    return await auth.client.post(
        path, data=urlencode([*pairs, ("csrf_token", token)]), headers=FORM
    )


async def hold(auth, trip, seats, points=None):
    """Holds `seats` from the first stop to the third, at the (boarding, dropping) points."""
    point_pairs = []
    if points:
        board, drop = points
        point_pairs = [("boarding_point_id", board.id), ("dropping_point_id", drop.id)]
    response = await post(
        auth,
        "/reservations",
        [
            ("schedule_id", trip.id),
            ("from_stop", 0),
            ("to_stop", 2),
            *[("seat_ids", s.id) for s in seats],
            *point_pairs,
        ],
        page=f"/schedules/{trip.id}",
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    return await Reservation.get(public_id=response.headers["Location"].rsplit("/", 1)[1])


def checkout_pairs(page_html, seats, **overrides):
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page_html).group(1)
    total = re.search(r'name="quoted_total" value="([^"]+)"', page_html).group(1)
    pairs = {
        "idempotency_key": key,
        "quoted_total": total,
        "contact_email": "priya@example.com",
        "contact_phone": "+919876543210",
        "method": "upi",
    }
    for i, seat in enumerate(seats):
        pairs |= {
            f"passenger-{seat.id}-name": f"Traveller {i}",
            f"passenger-{seat.id}-age": "34",
            f"passenger-{seat.id}-gender": "female",
        }
    return list((pairs | overrides).items())


async def reach_gateway(auth, trip, seats) -> str:
    """Hold the seats, fill in the passengers and pay: the gateway's page it lands on."""
    reservation = await hold(auth, trip, seats)
    page = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    response = await post(
        auth,
        f"/reservations/{reservation.public_id}/checkout",
        checkout_pairs(page, seats),
        page=f"/reservations/{reservation.public_id}",
    )
    assert response.status_code == 303
    return str(response.headers["Location"])


async def buy(auth, trip, seats, outcome="approve"):
    simulator_page = await reach_gateway(auth, trip, seats)
    assert simulator_page.startswith("/payments/simulator/")
    shown = await (await auth.client.get(simulator_page)).get_data(as_text=True)
    assert "Approve payment" in shown and "₹1,333" in shown
    back = await post(auth, simulator_page, [("outcome", outcome)], page=simulator_page)
    assert back.status_code == 303
    return await auth.client.get(back.headers["Location"])


async def test_purchase_end_to_end_with_pdf(auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    landing = await buy(auth, trip, seats)
    assert landing.status_code == 303
    booking = await Booking.get()
    assert landing.headers["Location"] == f"/bookings/{booking.reference}"
    page = await (await auth.client.get(f"/bookings/{booking.reference}")).get_data(as_text=True)
    assert booking.reference in page and "Traveller 0" in page and "<svg" in page
    ticket = await Ticket.get()
    listing = await (await auth.client.get("/bookings")).get_data(as_text=True)
    assert booking.reference in listing

    pdf = await auth.client.get(f"/tickets/{ticket.number}/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(await pdf.get_data()))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert ticket.number in text and "Traveller 0" in text and "Traveller 1" in text

    trip_page = await (await auth.client.get(f"/schedules/{trip.id}")).get_data(as_text=True)
    assert re.search(rf'id="seat-{seats[0].id}"[^>]*data-status="booked"', trip_page)


async def test_emailed_link_opens_the_pdf_without_login_until_it_expires(app, auth, trip, settings):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    ticket = await Ticket.get()
    mail = await EmailOutbox.get()
    link = re.search(r"(/tickets/\S+/download\?token=\S+)", mail.body_text).group(1)
    stranger = app.test_client()
    response = await stranger.get(link)
    assert response.status_code == 200 and response.mimetype == "application/pdf"

    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    bad = await stranger.get(tampered)
    assert bad.status_code == 403
    assert "not valid" in await bad.get_data(as_text=True)
    expired_token = ticket_tokens.download_token(
        settings.secret_key,
        ticket.number,
        expires_at=datetime.now().astimezone() - timedelta(seconds=1),
    )
    old = await stranger.get(f"/tickets/{ticket.number}/download?token={expired_token}")
    assert old.status_code == 410
    assert "has expired" in await old.get_data(as_text=True)
    other = await factories.make_trip(trip.departure_at, rows=1)  # a token for another ticket
    assert (
        await stranger.get(f"/tickets/TK-OTHER123/download?token={expired_token}")
    ).status_code in (403, 410)
    assert (await stranger.get(f"/tickets/{ticket.number}/download")).status_code == 403
    assert other


async def test_declined_payment_lets_the_customer_try_again(auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    back = await buy(auth, trip, seats, outcome="decline")
    assert back.status_code == 303
    status_page = await auth.client.get(back.headers["Location"])
    assert status_page.status_code == 200
    html = await status_page.get_data(as_text=True)
    assert "did not go through" in html and "Try again" in html
    assert await Booking.all().count() == 0


async def test_the_hold_page_total_is_what_the_gateway_charges_after_a_fare_edit(auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    path = f"/reservations/{reservation.public_id}"
    page = await (await auth.client.get(path)).get_data(as_text=True)
    assert "Pay ₹1,333" in page
    await Schedule.filter(id=trip.id).update(base_fare=900)  # the operator raises the fare
    again = await (await auth.client.get(path)).get_data(as_text=True)
    assert "Pay ₹1,333" in again and 'name="quoted_total" value="1333.00"' in again
    response = await post(auth, f"{path}/checkout", checkout_pairs(page, seats), page=path)
    assert response.status_code == 303
    gateway_page = await auth.client.get(response.headers["Location"])
    assert "Pay ₹1,333" in await gateway_page.get_data(as_text=True)
    payment = await Payment.get()
    assert payment.amount == reservation.total_amount == 1333
    # A form whose total the hold page never showed charges nothing.
    forged = checkout_pairs(again, seats, quoted_total="1800")
    response = await post(auth, f"{path}/checkout", forged, page=path)
    assert response.status_code == 409
    assert "The total of these seats is ₹1,333, not" in await response.get_data(as_text=True)
    assert await Payment.all().count() == 1


async def test_checkout_errors_keep_what_was_typed(auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    page = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    pairs = checkout_pairs(
        page, seats, **{f"passenger-{seats[1].id}-age": "0", "contact_phone": "12"}
    )
    response = await post(
        auth,
        f"/reservations/{reservation.public_id}/checkout",
        pairs,
        page=f"/reservations/{reservation.public_id}",
    )
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "Enter an age between 1 and 120" in html and "10 to 15 digits" in html
    # The domain's paths (passengers[1].age, contact_phone) land next to their inputs.
    assert f'id="f-passenger-{seats[1].id}-age-error">Enter an age between 1 and 120.</p>' in html
    assert 'id="f-contact_phone-error">Enter a phone number of 10 to 15 digits.</p>' in html
    assert f'id="f-passenger-{seats[0].id}-age-error"' not in html
    assert 'value="Traveller 0"' in html  # nothing typed is lost
    assert await Payment.all().count() == 0


async def test_bookings_tickets_and_payments_of_others_are_404(app, auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    booking, ticket, payment = await Booking.get(), await Ticket.get(), await Payment.get()
    stranger = type(auth)(app.test_client())
    await stranger.register(email="stranger@example.com")
    for path in (
        f"/bookings/{booking.reference}",
        f"/tickets/{ticket.number}",
        f"/tickets/{ticket.number}/download",
        f"/payments/{payment.public_id}",
        f"/payments/simulator/{payment.public_id}",
    ):
        assert (await stranger.client.get(path)).status_code == 404, path


async def test_webhook_endpoint(app, auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    page = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    await post(
        auth,
        f"/reservations/{reservation.public_id}/checkout",
        checkout_pairs(page, seats),
        page=f"/reservations/{reservation.public_id}",
    )
    payment = await Payment.get()
    simulator = services_of(app.app).gateways.get("simulator")
    headers, body = simulator.webhook(checkout.payment_info(payment), succeeded=True)
    client = app.test_client()  # a gateway has no session and no CSRF token
    forged = await client.post("/payments/webhook/simulator", data=body + b" ", headers=headers)
    assert forged.status_code == 400
    assert (await Payment.get()).status == "pending"
    ok = await client.post("/payments/webhook/simulator", data=body, headers=headers)
    assert ok.status_code == 200
    again = await client.post("/payments/webhook/simulator", data=body, headers=headers)
    assert again.status_code == 200
    assert await Booking.all().count() == 1
    assert (await client.post("/payments/webhook/paypal", data=body)).status_code == 404


async def test_the_chosen_points_and_their_times_are_on_the_pages_the_pdf_and_the_mail(auth, trip):
    """Issue 12: the boarding and dropping points picked on the trip page (each with its own
    time) were never shown again; the hold page, booking page, PDF and mail gave the
    cities' times. The trip leaves Mumbai at 06:00 and reaches Pune at 09:30; Dadar TT
    Circle is 40 minutes later, Swargate 25 minutes after Pune."""
    board, drop = await factories.add_points(trip)
    seats = (await factories.schedule_seats(trip))[:1]
    await auth.register()
    hold_path = f"/reservations/{(await hold(auth, trip, seats, (board, drop))).public_id}"

    def summary(page: str) -> str:
        facts = re.search(r'<dl class="facts">(.*?)</dl>', page, re.DOTALL)
        assert facts, page
        return re.sub(r"<[^>]+>|\s+", " ", facts.group(1))

    hold_page = await (await auth.client.get(hold_path)).get_data(as_text=True)
    lines = summary(hold_page)
    assert re.search(
        r"From .*, 06:40 · Dadar TT Circle .*Boarding point in Mumbai, Near the flyover", lines
    ), lines
    assert re.search(r"To .*, 09:55 · Swargate .*Dropping point in Pune", lines), lines
    assert "06:00" not in lines and "09:30" not in lines

    paid = await post(
        auth, f"{hold_path}/checkout", checkout_pairs(hold_page, seats), page=hold_path
    )
    simulator_page = paid.headers["Location"]
    back = await post(auth, simulator_page, [("outcome", "approve")], page=simulator_page)
    landing = await auth.client.get(back.headers["Location"])
    booking = await Booking.get()
    assert landing.headers["Location"] == f"/bookings/{booking.reference}"
    page = await (await auth.client.get(f"/bookings/{booking.reference}")).get_data(as_text=True)
    lines = summary(page)
    assert re.search(r"From .*, 06:40 · Dadar TT Circle .*Near the flyover", lines), lines
    assert re.search(r"To .*, 09:55 · Swargate", lines), lines
    assert "06:00" not in lines and "09:30" not in lines

    ticket = await Ticket.get()
    pdf = await auth.client.get(f"/tickets/{ticket.number}/download")
    text = PdfReader(io.BytesIO(await pdf.get_data())).pages[0].extract_text()
    assert re.search(
        r"Mumbai\s+\S+ \d+ \S+ \d{4}, 06:40\s+Dadar TT Circle · Near the flyover", text
    ), text
    assert re.search(r"Pune\s+\S+ \d+ \S+ \d{4}, 09:55\s+Swargate", text), text
    assert "06:00" not in text and "09:30" not in text

    mail = await EmailOutbox.get(to_address="priya@example.com")
    assert re.search(
        r"From Mumbai: .*, 06:40 · Dadar TT Circle \(Near the flyover\)\n", mail.body_text
    )
    assert re.search(r"To Pune: .*, 09:55 · Swargate\n", mail.body_text)


@pytest.mark.parametrize("field", ["boarding_point_id", "dropping_point_id"])
async def test_a_point_that_is_no_number_is_refused_not_dropped(auth, trip, field):
    seat = (await factories.schedule_seats(trip))[0]
    await auth.register()
    response = await post(
        auth,
        "/reservations",
        [
            ("schedule_id", trip.id),
            ("from_stop", 0),
            ("to_stop", 2),
            ("seat_ids", seat.id),
            (field, "dadar"),
        ],
        page=f"/schedules/{trip.id}",
    )
    kind = field.split("_")[0]
    assert response.status_code == 422
    assert f"Pick the {kind} point from the list." in await response.get_data(as_text=True)
    assert not await Reservation.filter(schedule_id=trip.id).exists()
