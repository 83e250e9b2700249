"""The operators' console over HTTP."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from domain.formatting import format_money
from domain.models import ActivityLog, Booking, Reservation, Ticket
from tests import factories
from tests.views.test_checkout import FORM, buy, hold


@pytest.fixture
async def trip(settings):
    departure = datetime.now(settings.tz) + timedelta(hours=6)
    return await factories.make_trip(departure, rows=2)


@pytest.fixture
async def admin(app, auth):
    await factories.make_user("ops@example.com", "ops-password-1", admin=True)
    actions = type(auth)(app.test_client())
    await actions.login("ops@example.com", "ops-password-1")
    return actions


async def test_dashboard_shows_the_day_and_refreshes_as_a_fragment(admin, auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    page = await admin.client.get("/admin")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "bookings today" in html and "₹1,333" in html and "<svg" in html
    fragment = await admin.client.get("/admin", headers={"HX-Request": "true"})
    part = await fragment.get_data(as_text=True)
    assert part.lstrip().startswith('<div id="dashboard"') and "<html" not in part


async def test_customers_and_guests_cannot_reach_the_console(app, auth):
    await auth.register()
    response = await auth.client.get("/admin")
    assert response.status_code == 403
    assert "operators only" in await response.get_data(as_text=True)
    assert (await app.test_client().get("/admin/reservations")).status_code == 302


async def test_release_a_stuck_hold_with_a_reason(admin, auth, trip):
    seats = (await factories.schedule_seats(trip))[:1]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    listing = await (await admin.client.get("/admin/reservations?q=priya")).get_data(as_text=True)
    assert f'id="hold-{reservation.id}"' in listing and "Hold #" not in listing
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing).group(1)
    path = f"/admin/reservations/{reservation.public_id}/release"
    refused = await admin.client.post(
        path, data=urlencode({"csrf_token": token, "reason": " "}), headers=FORM
    )
    assert refused.status_code == 422
    assert "Say why" in await refused.get_data(as_text=True)
    assert (await Reservation.get(id=reservation.id)).status == "active"
    done = await admin.client.post(
        path,
        data=urlencode({"csrf_token": token, "reason": "payment failed, customer called"}),
        headers=FORM,
    )
    assert done.status_code == 303
    assert (await Reservation.get(id=reservation.id)).status == "released"
    log = await ActivityLog.get(action="reservation.released")
    assert log.data["reason"] == "payment failed, customer called"
    trail = await admin.client.get("/admin/activity-logs?action=reservation.released")
    assert "payment failed, customer called" in await trail.get_data(as_text=True)


def next_page(html: str) -> str:
    """The pager's "Next page" link of a console list."""
    found = re.search(r'<a href="([^"]+)"[^>]*rel="next"', html)
    assert found, "no next page link"
    return found.group(1).replace("&amp;", "&")


async def test_activity_log_filters_and_pages(admin, auth):
    await auth.register()
    for _ in range(60):
        await factories.make_user()
    first = await (await admin.client.get("/admin/activity-logs?action=user.registered")).get_data(
        as_text=True
    )
    assert first.count("<code>user.registered</code>") == 50 and "Next page →" in first
    assert "Showing 50 entries: more on the next page" in first
    second = await (await admin.client.get(next_page(first))).get_data(as_text=True)
    assert second.count("<code>user.registered</code>") == 12 and "← Previous page" in second
    assert "Next page" not in second
    by_actor = await (
        await admin.client.get("/admin/activity-logs?actor=priya@example.com")
    ).get_data(as_text=True)
    assert "priya@example.com" in by_actor and "ops@example.com" not in by_actor.split("<table")[1]


async def test_find_bookings_and_board_passengers(admin, auth, trip, settings):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    booking, ticket = await Booking.get(), await Ticket.get()
    for query in (booking.reference, "priya@example", "98765"):
        found = await admin.client.get(f"/admin/bookings?q={query}")
        assert booking.reference in await found.get_data(as_text=True), query
    page = await (await admin.client.get("/admin/boarding")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    async def scan(code, schedule_id=trip.id):
        response = await admin.client.post(
            "/admin/boarding",
            data=urlencode({"csrf_token": token, "schedule_id": schedule_id, "code": code}),
            headers={**FORM, "HX-Request": "true"},
        )
        return await response.get_data(as_text=True)

    first = await scan(ticket.qr_token)
    assert 'data-ok="true"' in first and "Valid" in first and "Seats 1, 2" in first
    ticket = await Ticket.get()
    assert ticket.status == "boarded"
    again = await scan(ticket.qr_token)
    assert "Already boarded at" in again
    other = await factories.make_trip(trip.departure_at + timedelta(hours=1), rows=1)
    assert "Not for this trip" in await scan(ticket.qr_token, other.id)
    assert "Not a valid ticket" in await scan(ticket.qr_token[:-2] + "xx")
    assert await ActivityLog.filter(action="ticket.boarded").count() == 1


async def test_an_admin_cancels_on_the_customers_behalf(admin, auth, trip):
    from domain.models import Cancellation, Passenger

    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    booking = await Booking.get()
    passenger = await Passenger.filter(booking=booking).order_by("id").first()
    page = await admin.client.get(
        f"/bookings/{booking.reference}/cancel?passenger_ids={passenger.id}"
    )
    html = await page.get_data(as_text=True)
    assert page.status_code == 200 and "Your refund" in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    done = await admin.client.post(
        f"/bookings/{booking.reference}/cancel",
        data=urlencode([("csrf_token", token), ("passenger_ids", passenger.id)]),
        headers=FORM,
    )
    assert done.status_code == 303
    cancellation = await Cancellation.get()
    ops = await factories.User.get(email="ops@example.com")
    assert cancellation.actor_id == ops.id
    assert await ActivityLog.filter(action="booking.partially_cancelled", actor_id=ops.id).exists()


async def start_paying(auth, trip, seats):
    """A customer who reached the gateway's page and stopped there."""
    from domain.models import Payment
    from tests.views.test_checkout import reach_gateway

    gateway_page = await reach_gateway(auth, trip, seats)
    return await Payment.get(public_id=gateway_page.split("?")[0].rsplit("/", 1)[1])


async def test_payments_needing_attention_refund_and_resolve_with_a_reason(admin, auth, trip):
    from domain.models import Payment

    seats = await factories.schedule_seats(trip)
    await auth.register()
    first = await start_paying(auth, trip, seats[:1])
    second = await start_paying(auth, trip, seats[1:2])
    assert "Payment #" not in await (await admin.client.get("/admin/payments")).get_data(
        as_text=True
    )
    listing = await admin.client.get("/admin/payments?show=waiting")
    html = await listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert f'id="payment-{first.id}"' in html and f'id="payment-{second.id}"' in html
    assert f"{format_money(first.amount, first.currency)} by " in html and "via Simulator" in html
    assert "Payment #" not in html
    assert "The payer is at the gateway" in html and "History (" in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    assert f'action="/admin/payments/{first.public_id}/refund?show=waiting"' in html
    refused = await admin.client.post(
        f"/admin/payments/{first.public_id}/refund?show=waiting",
        data=urlencode({"csrf_token": token, "reason": ""}),
        headers=FORM,
    )
    assert refused.status_code == 422
    assert "goes into the audit log" in await refused.get_data(as_text=True)
    assert (await Payment.get(id=first.id)).status == "pending"

    refunded = await admin.client.post(
        f"/admin/payments/{first.public_id}/refund",
        data=urlencode({"csrf_token": token, "reason": "customer asked on the phone"}),
        headers=FORM,
    )
    assert refunded.status_code == 303
    after = await (await admin.client.get(refunded.headers["Location"])).get_data(as_text=True)
    paid = format_money(first.amount, first.currency)
    email = first.checkout_data["contact_email"]
    assert f"The payment of {paid} from {email} was refunded in full." in after
    assert (await Payment.get(id=first.id)).status == "refunded"
    told = await (await auth.client.get(f"/payments/{first.public_id}")).get_data(as_text=True)
    assert "refunded in full" in told and "customer asked on the phone." in told
    assert "Search for another bus" in told and "phone.." not in told

    resolved = await admin.client.post(
        f"/admin/payments/{second.public_id}/resolve",
        data=urlencode({"csrf_token": token, "reason": "abandoned at the gateway"}),
        headers=FORM,
    )
    assert resolved.status_code == 303
    assert (await Payment.get(id=second.id)).status == "failed"
    log = await ActivityLog.get(action="payment.resolved")
    assert log.data["reason"] == "abandoned at the gateway"
    empty = await (await admin.client.get("/admin/payments?show=waiting")).get_data(as_text=True)
    assert "No payer is at the gateway right now." in empty


async def test_cancelling_a_trip_returns_at_once_and_the_trips_page_shows_its_progress(
    admin, auth, trip, settings
):
    from domain import trip_cancellation
    from domain.checkout import CheckoutConfig
    from domain.payments.registry import Gateways
    from domain.payments.simulator import SimulatorGateway

    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    page = await (await admin.client.get("/admin/schedules")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    done = await admin.client.post(
        f"/admin/schedules/{trip.id}/cancel",
        data=urlencode({"csrf_token": token, "reason": "engine failure", "confirm": "yes"}),
        headers=FORM,
    )
    assert done.status_code == 303
    # The request only closed the trip; the booking is the worker's to refund.
    assert (await Booking.get()).status == "confirmed"
    listing = await (await admin.client.get(done.headers["Location"])).get_data(as_text=True)
    assert "cancelled. Its holds are being released" in listing
    assert "Cancelled: 0 of 1 bookings refunded, 1 being cancelled." in listing
    fragment_url = f"/admin/schedules/{trip.id}/cancellation"
    assert f'hx-get="{fragment_url}"' in listing and 'hx-trigger="every 3s"' in listing
    assert f'href="/admin/schedules#trip-cancellation-{trip.id}">Refresh</a>' in listing

    await trip_cancellation.finish_cancelled_trips(
        now=datetime.now().astimezone(),
        gateways=Gateways([SimulatorGateway(settings.secret_key)]),
        config=CheckoutConfig(secret=settings.secret_key, public_base_url="http://t"),
    )
    fragment = await admin.client.get(fragment_url, headers={"HX-Request": "true"})
    part = await fragment.get_data(as_text=True)
    assert part.lstrip().startswith(f'<div id="trip-cancellation-{trip.id}"')
    assert "Cancelled: 1 of 1 bookings refunded." in part
    assert "hx-get" not in part and "<html" not in part  # complete: no more refreshes
    # Without htmx the same address is the whole trips page; a trip not cancelled has none.
    plain = await admin.client.get(fragment_url)
    assert plain.status_code == 200 and "<html" in await plain.get_data(as_text=True)
    other = await factories.make_trip(datetime.now(settings.tz) + timedelta(days=2), rows=1)
    missing = await admin.client.get(f"/admin/schedules/{other.id}/cancellation")
    assert missing.status_code == 404


async def test_cancelling_a_trip_asks_first_and_the_first_post_changes_nothing(
    admin, auth, trip, settings
):
    """The trips page's "Cancel trip and refund all" only shows what it would do: the trip,
    its bookings and passengers, the refund in all, the reason to confirm. Without
    JavaScript that is a page; htmx gets the same partial in place of the form."""
    from domain.formatting import format_money
    from domain.models import Passenger, Schedule, TripCancellation

    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    before = await ActivityLog.all().count()
    page = await (await admin.client.get("/admin/schedules")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    asked = await admin.client.post(
        f"/admin/schedules/{trip.id}/cancel",
        data=urlencode({"csrf_token": token, "reason": "engine failure"}),
        headers=FORM,
    )
    assert asked.status_code == 200
    html = await asked.get_data(as_text=True)
    total = format_money(sum(p.fare for p in await Passenger.all()), "INR")
    assert "Cancel this trip?" in html and "<html" in html
    assert f"1 booking, 2 passengers: refunded <strong>{total}</strong> in full" in html
    assert 'name="confirm" value="yes"' in html and ">engine failure</textarea>" in html
    assert f"Cancel the trip and refund {total}" in html and "Keep the trip" in html
    # Nothing changed: the trip still sells, no cancellation row, no audit row.
    assert (await Schedule.get(id=trip.id)).status == "scheduled"
    assert not await TripCancellation.exists()
    assert await ActivityLog.all().count() == before
    assert (await Booking.get()).status == "confirmed"
    # htmx: the same step as a fragment, for the form's place in the table.
    inline = await admin.client.post(
        f"/admin/schedules/{trip.id}/cancel",
        data=urlencode({"csrf_token": token, "reason": ""}),
        headers={**FORM, "HX-Request": "true"},
    )
    part = await inline.get_data(as_text=True)
    assert inline.status_code == 200 and "<html" not in part
    assert part.lstrip().startswith(f'<div id="cancel-trip-{trip.id}"')
    # Confirming without a reason is refused on the confirmation page, still changing nothing.
    refused = await admin.client.post(
        f"/admin/schedules/{trip.id}/cancel",
        data=urlencode({"csrf_token": token, "reason": " ", "confirm": "yes"}),
        headers=FORM,
    )
    assert refused.status_code == 422
    assert "Say why the trip is cancelled" in await refused.get_data(as_text=True)
    assert (await Schedule.get(id=trip.id)).status == "scheduled"
    done = await admin.client.post(
        f"/admin/schedules/{trip.id}/cancel",
        data=urlencode({"csrf_token": token, "reason": "engine failure", "confirm": "yes"}),
        headers=FORM,
    )
    assert done.status_code == 303
    assert (await Schedule.get(id=trip.id)).status == "cancelled"
    assert (await TripCancellation.get()).reason == "engine failure"
    await finish_trip_cancellations(settings)


async def finish_trip_cancellations(settings):
    """The background worker's pass, so every cancelled trip's bookings end refunded."""
    from domain import trip_cancellation
    from domain.checkout import CheckoutConfig
    from domain.payments.registry import Gateways
    from domain.payments.simulator import SimulatorGateway

    await trip_cancellation.finish_cancelled_trips(
        now=datetime.now().astimezone(),
        gateways=Gateways([SimulatorGateway(settings.secret_key)]),
        config=CheckoutConfig(secret=settings.secret_key, public_base_url="http://t"),
    )


async def test_console_forms_show_parsing_and_domain_errors_next_to_their_inputs(admin):
    from tests.views.test_checkout import post

    bus = [("name", "Volvo"), ("registration", "MH-01-ZZ-1"), ("columns", "4")]
    response = await post(
        admin, "/admin/buses", [*bus, ("kind", "boat"), ("rows", "x"), ("aisle_after", "2")]
    )
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "Choose seater or sleeper." in html  # parsed in the web layer
    assert 'id="f-rows-error">Enter a whole number from 1 to 20.</p>' in html
    response = await post(
        admin, "/admin/buses", [*bus, ("kind", "seater"), ("rows", "10"), ("aisle_after", "4")]
    )
    assert response.status_code == 422  # the domain's rule between fields, on its input
    html = await response.get_data(as_text=True)
    assert 'id="f-aisle_after-error">The aisle must run between two columns of seats.' in html
    stops = "Mumbai | 5 | 0\nPune | 210 | 148\nGoa | 100 | 9"
    response = await post(admin, "/admin/routes", [("code", "MG"), ("stops", stops)])
    assert response.status_code == 422  # the domain's stops[...] paths, by line
    assert (
        "Line 1: the first stop is the origin: 0 minutes and 0 km; line 3: must come later "
        "and farther than Pune: stops are in travel order."
    ) in await response.get_data(as_text=True)
