"""The CURRENCY setting reaches every trip the operator creates and what is priced from it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.models import Bus, Payment, Reservation, Route, Schedule
from tests import factories
from tests.conftest import make_settings
from tests.views.test_checkout import checkout_pairs, hold, post


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, currency="EUR")


@pytest.fixture
async def admin(app, auth):
    await factories.make_user("ops@example.com", "ops-password-1", admin=True)
    actions = type(auth)(app.test_client())
    await actions.login("ops@example.com", "ops-password-1")
    return actions


async def test_new_trips_are_priced_in_the_configured_currency(admin, auth, settings):
    await factories.make_route()
    await factories.make_bus(rows=2)
    route, bus = await Route.first(), await Bus.first()
    day = (datetime.now(settings.tz) + timedelta(days=2)).date()
    response = await post(
        admin,
        "/admin/schedules",
        [
            ("route_id", route.id),
            ("bus_id", bus.id),
            ("departure_time", "07:00"),
            ("first_day", day.isoformat()),
            ("weekdays", day.weekday()),
            ("base_fare", "40"),
        ],
        page="/admin",
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    trip = await Schedule.get()
    assert trip.currency == "EUR"
    search = await auth.client.get(
        f"/schedules/search?origin_city=Mumbai&destination_city=Pune&date={day.isoformat()}"
    )
    assert "€" in await search.get_data(as_text=True)
    seats = (await factories.schedule_seats(trip))[:1]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    assert reservation.currency == "EUR"
    page = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    assert "€" in page and "₹" not in page
    response = await post(
        auth,
        f"/reservations/{reservation.public_id}/checkout",
        checkout_pairs(page, seats),
        page=f"/reservations/{reservation.public_id}",
    )
    assert response.status_code == 303
    payment = await Payment.get()
    assert (payment.amount, payment.currency) == (reservation.total_amount, "EUR")
    assert await Reservation.filter(currency="INR").count() == 0
