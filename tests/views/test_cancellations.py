"""Cancelling through the pages: a quote first, then the confirmation and its record."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from domain.models import Booking, Cancellation, Passenger
from tests import factories
from tests.views.test_checkout import FORM, buy


@pytest.fixture
async def trip(settings):
    departure = (datetime.now(settings.tz) + timedelta(days=3)).replace(hour=6, minute=0)
    return await factories.make_trip(departure, rows=2)


async def test_quote_then_confirm_a_partial_cancellation(app, auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    booking = await Booking.get()
    first = await Passenger.filter(booking=booking).order_by("id").first()
    page = await auth.client.get(f"/bookings/{booking.reference}/cancel?passenger_ids={first.id}")
    html = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "90% refund" in html and "₹614.70" in html  # 90% of the 683 window seat
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = await auth.client.post(
        f"/bookings/{booking.reference}/cancel",
        data=urlencode([("csrf_token", token), ("passenger_ids", first.id)]),
        headers=FORM,
    )
    assert response.status_code == 303
    cancellation = await Cancellation.get()
    record = await (await auth.client.get(response.headers["Location"])).get_data(as_text=True)
    assert "₹614.70" in record and "sent to your original payment method" in record
    assert str(cancellation.refund_amount) == "614.70"
    trip_page = await (await auth.client.get(f"/schedules/{trip.id}")).get_data(as_text=True)
    assert re.search(rf'id="seat-{seats[0].id}"[^>]*data-status="available"', trip_page)

    again = await auth.client.post(
        f"/bookings/{booking.reference}/cancel",
        data=urlencode([("csrf_token", token), ("passenger_ids", first.id)]),
        headers=FORM,
    )
    assert again.status_code == 409
    assert "already cancelled" in await again.get_data(as_text=True)
    assert await Cancellation.all().count() == 1

    stranger = type(auth)(app.test_client())
    await stranger.register(email="stranger@example.com")
    assert (
        await stranger.client.get(f"/cancellations/{cancellation.public_id}")
    ).status_code == 404
    assert (await stranger.client.get(f"/bookings/{booking.reference}/cancel")).status_code == 404
