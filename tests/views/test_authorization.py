"""The authorization matrix: every route of the app, for a guest, the owning customer,
another customer and an admin. No customer reaches /admin or another customer's things."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from werkzeug.exceptions import Unauthorized

from domain import api_keys
from domain.models import Booking, Cancellation, Passenger, Payment, Reservation, Ticket, User
from tests import factories
from tests.views.test_checkout import buy, hold
from views import auth

ROLES = ("guest", "owner", "other", "admin")
L, F, NF = 302, 403, 404  # to the login page, forbidden, not found (ids cannot be probed)

# path template -> expected status for guest, owner, other customer, admin
GET_MATRIX = {
    "/": (200, 200, 200, 200),
    "/healthz": (200, 200, 200, 200),
    "/cities?q=Mu": (200, 200, 200, 200),
    "/schedules/search?origin_city=Mumbai&destination_city=Pune&date={day}": (200,) * 4,
    "/schedules/{trip}": (200,) * 4,
    "/schedules/{trip}/seats": (200,) * 4,
    "/users/register": (200,) * 4,
    "/users/login": (200,) * 4,
    "/users/{owner_id}/profile": (L, 200, F, 200),
    "/reservations": (L, 200, 200, 200),
    "/reservations/{hold}": (L, 200, NF, 200),
    "/bookings": (L, 200, 200, 200),
    "/bookings/{ref}": (L, 200, NF, 200),
    "/bookings/{ref}/cancel": (L, 200, NF, 200),
    "/cancellations/{cancellation}": (L, 200, NF, 200),
    "/tickets/{ticket}": (L, 200, NF, 200),
    "/tickets/{ticket}/download": (F, 200, NF, 200),
    "/payments/{payment}": (L, 200, NF, 200),
    "/payments/{payment}/return": (L, 303, NF, 303),
    "/payments/simulator/{payment}": (L, 200, NF, 200),
    "/admin": (L, F, F, 200),
    "/admin/reservations": (L, F, F, 200),
    "/admin/bookings": (L, F, F, 200),
    "/admin/payments": (L, F, F, 200),
    "/admin/activity-logs": (L, F, F, 200),
    "/admin/boarding": (L, F, F, 200),
    "/admin/buses": (L, F, F, 200),
    "/admin/buses/preview": (L, F, F, 200),
    "/admin/buses/{bus}": (L, F, F, 200),
    "/admin/routes": (L, F, F, 200),
    "/admin/schedules/{trip}/cancellation": (L, F, F, NF),  # the trip is not cancelled
    "/admin/schedules": (L, F, F, 200),
    "/admin/schedules/{trip}": (L, F, F, 200),
    "/admin/api-keys": (L, F, F, 200),
    "/admin/bookings/{ref}/refund": (L, F, F, 200),
}
POST_MATRIX = {
    "/users/{owner_id}/profile": (L, 422, F, 422),
    "/users/{owner_id}/password": (L, 422, F, F),
    "/reservations/{hold}/cancel": (L, 303, NF, 303),
    "/reservations/{hold}/checkout": (L, 422, NF, NF),
    "/reservations/{hold}/draft": (L, 204, NF, NF),  # only the holder's typing is kept
    "/bookings/{ref}/cancel": (L, 422, NF, 422),
    "/admin/reservations/{hold}/release": (L, F, F, 422),
    "/admin/boarding": (L, F, F, 422),
    "/admin/payments/{payment}/refund": (L, F, F, 422),
    "/admin/payments/{payment}/resolve": (L, F, F, 422),
    "/admin/buses": (L, F, F, 422),
    "/admin/buses/{bus}": (L, F, F, 422),
    "/admin/routes": (L, F, F, 422),
    "/admin/schedules": (L, F, F, 422),
    "/admin/schedules/{trip}/generate-seats": (L, F, F, 303),
    "/admin/schedules/{trip}": (L, F, F, 422),
    "/admin/schedules/{trip}/cancel": (L, F, F, 200),  # the confirmation step
    "/admin/schedule-seats/{seat}/block": (L, F, F, 303),
    "/admin/api-keys": (L, F, F, 422),
    "/admin/api-keys/{api_key}/revoke": (L, F, F, 303),
    "/admin/bookings/{ref}/refund": (L, F, F, 422),
}
# Routes outside the matrix, and why.
EXEMPT = {
    "/static/<path:filename>": "public files",
    "/favicon.ico": "the site's icon, a public file (test_trips.py)",
    "/openapi.json": "the API's public description (tests/api/test_foundation.py)",
    "/docs": "the API's public documentation page, static for everyone (test_api_docs.py)",
    "/schedules/<int:schedule_id>/stream": "an endless SSE stream; tested in test_live.py",
    "/reservations": "POST: a guest is sent to log in (test_holds.py); anyone may hold seats",
    "/users/register": "POST: open to everyone (test_accounts.py)",
    "/users/login": "POST: open to everyone (test_accounts.py)",
    "/users/logout": "POST: logs out whoever is logged in (test_accounts.py)",
    "/payments/webhook/<gateway>": "POST: for gateways; signed, no session (test_checkout.py)",
    "/payments/<payment_id>/callback": "POST: from a gateway's script, signed (test_screens.py)",
}


@pytest.fixture
async def world(app, auth, settings):
    """One customer with a trip, a hold, a booking (with a cancellation and a ticket) and
    a payment; another customer; an admin."""
    departure = (datetime.now(settings.tz) + timedelta(days=3)).replace(hour=6, minute=0)
    trip = await factories.make_trip(departure, rows=3)
    seats = await factories.schedule_seats(trip)
    await auth.register()
    await buy(auth, trip, seats[:2])
    booking = await Booking.get()
    from domain import cancellations
    from domain.checkout import CheckoutConfig
    from domain.payments.registry import Gateways
    from domain.payments.simulator import SimulatorGateway

    passenger = await Passenger.filter(booking=booking).first()
    owner = await User.get(email="priya@example.com")
    await cancellations.cancel_booking(
        owner,
        booking,
        [passenger.id],
        now=datetime.now().astimezone(),
        gateways=Gateways([SimulatorGateway(settings.secret_key)]),
        config=CheckoutConfig(secret=settings.secret_key, public_base_url="http://t"),
    )
    reservation = await hold(auth, trip, seats[4:5])
    other = type(auth)(app.test_client())
    await other.register(email="other@example.com")
    ops = await factories.make_user("ops@example.com", "ops-password-1", admin=True)
    admin = type(auth)(app.test_client())
    await admin.login("ops@example.com", "ops-password-1")
    values = {
        "day": departure.date().isoformat(),
        "trip": trip.id,
        "owner_id": owner.id,
        "hold": reservation.public_id,
        "ref": booking.reference,
        "cancellation": (await Cancellation.get()).public_id,
        "ticket": (await Ticket.filter(booking=booking, status="valid").first()).number,
        "payment": (await Payment.get()).public_id,
        "seat": seats[-1].id,
        "bus": trip.bus_id,
        "api_key": (await api_keys.create_api_key(ops, "Matrix", now=ops.created_at))[0].id,
    }
    clients = {
        "guest": app.test_client(),
        "owner": auth.client,
        "other": other.client,
        "admin": admin.client,
    }
    return values, clients


async def csrf_of(client) -> str:
    page = await client.get("/users/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', await page.get_data(as_text=True))[1]


async def test_every_route_for_every_role(app, world):
    values, clients = world
    failures = []
    for template, expected in GET_MATRIX.items():
        path = template.format(**values)
        for role, status in zip(ROLES, expected, strict=True):
            got = (await clients[role].get(path)).status_code
            if got != status:
                failures.append(f"GET {path} as {role}: {got}, expected {status}")
    for template, expected in POST_MATRIX.items():
        path = template.format(**values)
        for role, status in zip(ROLES, expected, strict=True):
            client = clients[role]
            got = (await client.post(path, form={"csrf_token": await csrf_of(client)})).status_code
            if got != status:
                failures.append(f"POST {path} as {role}: {got}, expected {status}")
    assert failures == []


def test_the_matrix_covers_every_route(app):
    def rule_of(template: str) -> str:
        path = template.split("?")[0]
        return re.sub(r"\{(\w+)\}", "<x>", path)

    covered = {rule_of(t) for t in (*GET_MATRIX, *POST_MATRIX)}
    missing = []
    for rule in app.app.url_map.iter_rules():
        shape = re.sub(r"<[^>]+>", "<x>", rule.rule)
        if shape in covered or rule.rule in EXEMPT:
            continue
        if rule.rule.startswith("/api/"):
            continue  # the JSON API has its own matrix (tests/api/)
        missing.append(rule.rule)
    assert missing == []


async def test_holds_payments_and_cancellations_are_not_reachable_by_their_row_ids(app, world):
    """Public ids only: the integer keys (which would tell how many came before, and could be
    walked) lead nowhere, for the owner and for an admin."""
    values, clients = world
    hold = await Reservation.get(public_id=values["hold"])
    payment = await Payment.get(public_id=values["payment"])
    cancellation = await Cancellation.get(public_id=values["cancellation"])
    for path in (
        f"/reservations/{hold.id}",
        f"/payments/{payment.id}",
        f"/payments/simulator/{payment.id}",
        f"/cancellations/{cancellation.id}",
        f"/reservations/{values['hold'][:-1]}{'1' if values['hold'].endswith('0') else '0'}",
        "/reservations/rsv_" + "0" * 32,
    ):
        for role in ("owner", "admin"):
            assert (await clients[role].get(path)).status_code == 404, (path, role)
    for value, prefix in ((values["hold"], "rsv_"), (values["payment"], "pay_")):
        assert value.startswith(prefix) and len(value) == 36


async def test_require_user_refuses_a_guest_with_a_401(app):
    """`login_required` sends guests to the login page first; a view that asks for the
    user anyway gets a 401 (the "Please log in" page), never an AssertionError."""
    async with app.app.test_request_context("/bookings"):
        with pytest.raises(Unauthorized):
            auth.require_user()
