"""Hostile and out-of-range input: every case is a 4xx with a sentence a person can read,
and nothing in the database changes. Each of these was a 500 before views/forms.py."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest

from domain.models import (
    ActivityLog,
    Booking,
    Bus,
    Cancellation,
    Payment,
    PaymentEvent,
    Reservation,
    Route,
    Schedule,
    User,
)
from domain.payments.base import InvalidSignature
from tests import factories
from tests.integration.test_gateways import (
    RZP_WHSEC,
    STRIPE_WHSEC,
    razorpay_gateway,
    stripe_gateway,
)
from tests.views.test_checkout import buy, checkout_pairs, hold, post
from views.services import services_of

TOO_BIG = ("2147483648", "99999999999999999999")


@pytest.fixture
async def trip(settings):
    departure = (datetime.now(settings.tz) + timedelta(days=2)).replace(hour=6, minute=0)
    return await factories.make_trip(departure, rows=2)


@pytest.fixture
async def admin(app, auth):
    await factories.make_user("ops@example.com", "ops-password-1", admin=True)
    actions = type(auth)(app.test_client())
    await actions.login("ops@example.com", "ops-password-1")
    return actions


async def text(response) -> str:
    return html.unescape(await response.get_data(as_text=True))


async def counts() -> dict[str, int]:
    models = (User, Reservation, Payment, PaymentEvent, Booking, Cancellation, Bus, Route)
    return {m.__name__: await m.all().count() for m in (*models, Schedule)}


async def admin_post(admin, path: str, pairs: list[tuple[str, object]]):
    return await post(admin, path, pairs, page="/admin")


# ------------------------------------------------------------------------- URL integers


async def test_every_int_route_refuses_ids_beyond_int32(app, admin):
    """Walk the URL map: every `<int:…>` parameter, every method, 2**31 and a 20-digit id
    are refused with a 4xx (the converter: no route matches, so a 404)."""
    token = await admin.csrf("/admin")
    checked = []
    for rule in app.app.url_map.iter_rules():
        ints = [a for a, c in rule._converters.items() if c.__class__.__name__ == "Int32Converter"]
        if not ints:
            continue
        for name in ints:
            for bad in TOO_BIG:
                path = rule.rule
                for arg in rule.arguments:
                    value = bad if arg == name else "1"
                    path = path.replace(f"<int:{arg}>", value).replace(f"<{arg}>", value)
                for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                    response = await admin.client.open(
                        path, method=method, form={"csrf_token": token}
                    )
                    checked.append(path)
                    # a 404, never a 405 naming another method of a rule it did not match
                    code = response.status_code
                    assert 400 <= code < 500 and code != 405, (method, path, code)
    assert any(p.startswith("/schedules/2147483648") for p in checked)
    assert any(p.startswith("/admin/schedules/99999999999999999999") for p in checked)


async def test_unicode_digits_in_the_path_match_no_route(client, trip):
    assert (await client.get(f"/schedules/{trip.id}")).status_code == 200
    for path in ("/schedules/\u0661", "/schedules/²", "/schedules/" + "9" * 5000):
        assert (await client.get(quote(path))).status_code == 404


# ------------------------------------------------------------------- unicode digits (²)


async def test_unicode_digits_in_a_hold_are_refused(auth, trip):
    await auth.register()
    before = await counts()
    seats = await factories.schedule_seats(trip)
    for bad in ("²", "1²", "\u0661"):
        response = await post(
            auth,
            "/reservations",
            [("schedule_id", trip.id), ("from_stop", 0), ("to_stop", 2), ("seat_ids", bad)],
            page=f"/schedules/{trip.id}",
        )
        assert response.status_code == 422
        assert "Pick seats from the seat map." in await text(response)
    # and a value that only pre-ticks seats on the trip page is dropped, not a 500
    query = urlencode([("seat_ids", "²"), ("seat_ids", seats[0].id), ("boarding_point_id", "1²")])
    page = await auth.client.get(f"/schedules/{trip.id}?{query}")
    assert page.status_code == 200
    assert await counts() == before


async def test_unicode_digits_and_huge_ages_in_checkout_are_refused(auth, trip):
    seats = (await factories.schedule_seats(trip))[:1]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    page = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    before = await counts()
    for bad in ("²", "99999999999999999999", "\u0661\u0662"):
        pairs = checkout_pairs(page, seats, **{f"passenger-{seats[0].id}-age": bad})
        response = await post(
            auth, f"/reservations/{reservation.public_id}/checkout", pairs, page="/reservations"
        )
        assert response.status_code == 422
        assert "Enter an age between 1 and 120." in await text(response)
    pairs = checkout_pairs(
        page, seats, **{f"passenger-{seats[0].id}-age": "²", "contact_phone": "12"}
    )
    response = await post(auth, f"/reservations/{reservation.public_id}/checkout", pairs, page="/")
    body = await text(response)
    assert "Enter an age between 1 and 120." in body and "10 to 15 digits" in body
    assert await counts() == before


async def test_unicode_digits_in_passenger_ids_are_refused(auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    booking = await Booking.get()
    before = await counts()
    quote_page = await auth.client.get(f"/bookings/{booking.reference}/cancel?passenger_ids=%C2%B2")
    assert quote_page.status_code == 422
    assert "Choose passengers of this booking from the list." in await text(quote_page)
    response = await post(
        auth,
        f"/bookings/{booking.reference}/cancel",
        [("passenger_ids", "²"), ("passenger_ids", "99999999999")],
        page="/bookings",
    )
    assert response.status_code == 422
    assert await counts() == before


async def test_admin_pages_and_layout_fields_refuse_unicode_digits(admin):
    for path in (  # the log pages by position now: a forged position is a broken link
        "/admin/activity-logs?after=%C2%B2",
        "/admin/activity-logs?before=99999999999999999999",
    ):
        response = await admin.client.get(path)
        assert response.status_code == 422
        assert "This page link is broken" in await text(response)
    preview = await admin.client.get("/admin/buses?rows=%C2%B2&columns=4&aisle_after=2&kind=seater")
    assert preview.status_code == 200  # the editor shows the field's message in the preview
    assert "Enter a whole number from 1 to 20." in await text(preview)
    before = await counts()
    response = await admin_post(
        admin,
        "/admin/buses",
        [("name", "Volvo"), ("registration", "MH-01-AB-1234"), ("rows", "²"), ("columns", "4")],
    )
    assert response.status_code == 422
    assert "Enter a whole number from 1 to 20." in await text(response)
    assert await counts() == before


# --------------------------------------------------------- all-digit admin booking search


async def test_an_all_digit_booking_search_finds_the_phone_number(admin, auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    booking = await Booking.get()
    for search in ("9876543210", "919876543210", "9" * 40):
        response = await admin.client.get(f"/admin/bookings?q={search}")
        assert response.status_code == 200
        found = booking.reference in await text(response)
        assert found == (search != "9" * 40)
    by_trip = await admin.client.get(f"/admin/bookings?q={trip.id}")
    assert booking.reference in await text(by_trip)


# ---------------------------------------------------------------------- dates out of range


async def test_search_dates_far_out_are_refused(client, trip):
    for day in ("9999-12-31", "0001-01-01", "2026-02-30", "²⁰²⁶-01-01"):
        query = urlencode({"origin_city": "Mumbai", "destination_city": "Pune", "date": day})
        response = await client.get(f"/schedules/search?{query}")
        assert response.status_code == 422, day
        body = await text(response)
        assert "Enter a date from" in body or "Enter the travel date as YYYY-MM-DD." in body


async def test_activity_log_dates_far_out_are_refused(admin):
    for query in ("since=0001-01-01", "until=9999-12-31", "since=" + quote("²⁰²⁶-01-01")):
        response = await admin.client.get(f"/admin/activity-logs?{query}")
        assert response.status_code == 422, query
        assert "date" in (await text(response)).lower()


async def test_a_timetable_in_9999_is_refused(admin, trip):
    route, bus = await Route.first(), await Bus.first()
    before = await counts()
    base = [("route_id", route.id), ("bus_id", bus.id), ("departure_time", "06:00")]
    for first, last, fare in (
        ("9999-01-01", "9999-01-02", "650"),
        ("2027-01-01", "9999-12-31", "650"),
        ("2027-01-01", "", "Infinity"),
        ("2027-01-01", "", "1e20"),
        ("2027-01-01", "", "sNaN"),
        ("2027-01-01", "", "12345678901"),
    ):
        pairs = [*base, ("first_day", first), ("last_day", last), ("base_fare", fare)]
        every_day = [("weekdays", d) for d in range(7)]
        response = await admin_post(admin, "/admin/schedules", [*pairs, *every_day])
        assert response.status_code == 422, (first, last, fare)
    response = await admin_post(
        admin, "/admin/schedules", [*base, ("first_day", "2027-01-01"), ("weekdays", "²")]
    )
    assert response.status_code == 422
    assert await counts() == before


async def test_a_fare_whose_holds_would_overflow_the_money_column_is_refused(admin, auth, trip):
    """A trip's fare times the seats of one hold (and the window surcharge) must still fit
    DECIMAL(12, 2): a fare of 2147483648 was published, and holding six of its seats was
    a 500 (numeric field overflow) instead of a hold."""
    route, bus = await Route.first(), await Bus.first()
    base = [("route_id", route.id), ("bus_id", bus.id), ("departure_time", "05:10")]
    before = await counts()
    for fare in ("2147483648", "9999999999.99", "10000000.01"):
        pairs = [*base, ("first_day", "2027-03-01"), ("base_fare", fare), ("weekdays", "0")]
        response = await admin_post(admin, "/admin/schedules", pairs)
        assert response.status_code == 422, fare
        assert "Enter the fare for the whole route" in await text(response)
    assert await counts() == before
    # The highest fare allowed still holds as many seats as one hold may take.
    departure = (datetime.now(trip.departure_at.tzinfo) + timedelta(days=3)).replace(hour=9)
    dear = await factories.make_trip(departure, route=route, base_fare=Decimal("10000000"))
    seats = (await factories.schedule_seats(dear))[:6]
    await auth.register()
    reservation = await hold(auth, dear, seats)
    assert reservation.total_amount > Decimal("60000000")


# ---------------------------------------------------------------- strings beyond columns


async def test_login_with_an_email_longer_than_the_column(auth):
    await auth.register()
    response = await auth.login("a" * 300 + "@example.com", "secret-pass-1")
    assert response.status_code == 422
    assert "at most 254 characters" in await text(response)
    assert await ActivityLog.filter(action="user.login_failed").count() == 0


async def test_registration_fields_beyond_their_columns(auth):
    for fields, message in (
        ({"first_name": "P" * 81}, "at most 80 characters"),
        ({"email": "a" * 250 + "@example.com"}, "at most 254 characters"),
        ({"phone_number": "9" * 40}, "at most 32 characters"),
        ({"password": "x" * 2000}, "That password is too long."),
    ):
        response = await auth.register(**fields)
        assert response.status_code == 422, fields
        assert message in await text(response)
    # every field's problem at once: the reader's and the domain's
    response = await auth.register(first_name="P" * 81, phone_number="12")
    assert response.status_code == 422
    body = await text(response)
    assert "at most 80 characters" in body and "10 to 15 digits" in body
    assert await User.all().count() == 0


async def test_long_references_and_ticket_numbers_are_not_found(auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats)
    for path in (
        "/bookings/" + "B" * 40,
        "/bookings/" + "B" * 40 + "/cancel",
        "/tickets/TK-" + "9" * 40,
        "/tickets/TK-" + "9" * 40 + "/download",
        "/bookings/" + "B" * 5000,
    ):
        assert (await auth.client.get(path)).status_code == 404, path


async def test_a_long_ticket_code_at_boarding_is_unknown(admin, trip):
    response = await admin_post(
        admin, "/admin/boarding", [("schedule_id", trip.id), ("code", "TK-" + "9" * 100)]
    )
    assert response.status_code == 200
    assert "Unknown ticket" in await text(response)
    response = await admin_post(
        admin, "/admin/boarding", [("schedule_id", trip.id), ("code", "x" * 600)]
    )
    assert response.status_code == 422
    assert "at most 512 characters" in await text(response)


async def test_checkout_refuses_hostile_totals_and_keys(auth, trip):
    seats = (await factories.schedule_seats(trip))[:1]
    await auth.register()
    reservation = await hold(auth, trip, seats)
    page = await (await auth.client.get(f"/reservations/{reservation.public_id}")).get_data(
        as_text=True
    )
    before = await counts()
    for override in (
        {"quoted_total": "Infinity"},
        {"quoted_total": "NaN"},
        {"quoted_total": "sNaN"},
        {"quoted_total": "1e20"},
        {"quoted_total": "650.001"},
        {"quoted_total": "-650"},
        {"idempotency_key": "k" * 100},
        {f"passenger-{seats[0].id}-name": "N" * 200},
    ):
        pairs = checkout_pairs(page, seats, **override)
        response = await post(
            auth, f"/reservations/{reservation.public_id}/checkout", pairs, page="/reservations"
        )
        assert response.status_code == 422, override
        body = await text(response)
        assert "out of date" in body or "at most 120 characters" in body
    assert await counts() == before


async def test_bus_and_route_fields_beyond_their_columns(admin):
    before = await counts()
    bus = [("name", "Volvo"), ("rows", "10"), ("columns", "4"), ("aisle_after", "2")]
    response = await admin_post(admin, "/admin/buses", [*bus, ("registration", "R" * 30)])
    assert response.status_code == 422
    assert "at most 20 characters" in await text(response)
    stops = "Mumbai | 0 | 0\nPune | 210 | 148"
    for pairs, message in (
        ([("code", "C" * 30), ("stops", stops)], "at most 20 characters"),
        ([("code", "MP"), ("name", "N" * 200), ("stops", stops)], "at most 160 characters"),
        ([("code", "MP"), ("stops", "C" * 100 + " | 0 | 0\nPune | 1 | 1")], "at most 80"),
        ([("code", "MP"), ("stops", "Mumbai | 0 | 0\nPune | 99999999999 | 5")], "whole numbers"),
        ([("code", "MP"), ("stops", "Mumbai | 0 | 0\nPune | 999999 | 5")], "at most 20160"),
        ([("code", "MP"), ("stops", "Mumbai | 0 | 0\nPune | ² | 5")], "whole numbers"),
        ([("code", "MP"), ("route_id", "99999999999"), ("stops", stops)], "Choose a route"),
    ):
        response = await admin_post(admin, "/admin/routes", pairs)
        assert response.status_code == 422, pairs
        assert message in await text(response), pairs
    assert await counts() == before


async def test_a_route_has_at_most_sixty_stops(admin):
    stops = "\n".join(f"City {i} | {i * 10} | {i * 5}" for i in range(3000))
    response = await admin_post(admin, "/admin/routes", [("code", "LONG"), ("stops", stops)])
    assert response.status_code == 422
    assert "at most 60" in await text(response)
    assert await Route.all().count() == 0


async def test_reasons_beyond_their_column(admin, auth, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    reservation = await hold(auth, trip, seats[:1])
    before = await counts()
    response = await admin_post(
        admin, f"/admin/reservations/{reservation.public_id}/release", [("reason", "r" * 300)]
    )
    assert response.status_code == 422
    assert "at most 255 characters" in await text(response)
    response = await admin_post(
        admin, f"/admin/schedules/{trip.id}/cancel", [("reason", "r" * 300)]
    )
    assert response.status_code == 422
    assert await counts() == before
    assert (await Reservation.get()).status == "active"
    assert (await Schedule.get()).status == "scheduled"


# ------------------------------------------------------------------------------ NUL bytes


async def test_nul_bytes_anywhere_are_a_400(app, auth, admin, trip):
    await auth.register()
    before = await counts()
    for path in (
        "/schedules/search?origin_city=Mumbai%00&destination_city=Pune&date=2027-01-01",
        "/cities?q=%00",
        "/cities?q=Mu%00",
        "/admin/bookings?q=%00",
        "/bookings/BK%00",
    ):
        response = await admin.client.get(path)
        assert response.status_code == 400, path
        assert "NUL" in await text(response)
    for client, path, data in (
        (auth, "/users/login", {"email": "priya@example.com\x00", "password": "x"}),
        (auth, "/users/register", {"email": "n@example.com", "first_name": "P\x00"}),
        (admin, "/admin/routes", {"code": "X\x00", "stops": "A | 0 | 0\nB | 1 | 1"}),
    ):
        response = await client.post(path, {**data})
        assert response.status_code == 400, path
    assert await counts() == before


# ----------------------------------------------------------------------------- webhooks


def simulator_headers(app, body: bytes) -> dict[str, str]:
    simulator = services_of(app.app).gateways.get("simulator")
    return {"X-Simulator-Signature": simulator.sign(body), "Content-Type": "application/json"}


async def test_signed_simulator_webhooks_that_are_not_objects_are_a_400(app, client):
    event = {"id": "e1", "type": "payment.succeeded", "reference": "r", "amount": "1"}
    for body in (
        b"[1, 2]",
        b"3",
        b'"payment"',
        b"null",
        b"\xff\xfe\x00",
        json.dumps({**event, "currency": "INR", "payment_id": 99999999999}).encode(),
        json.dumps({**event, "currency": "INR", "id": "e" * 500}).encode(),
        json.dumps({**event, "currency": "INR", "amount": "Infinity"}).encode(),
        json.dumps({**event, "currency": "INR\u0000"}).encode(),
        json.dumps({**event, "currency": "INR", "payment_id": "²"}).encode(),
    ):
        response = await client.post(
            "/payments/webhook/simulator", data=body, headers=simulator_headers(app, body)
        )
        assert response.status_code == 400, body
        assert "payment notification" in (await response.get_json())["error"]
    assert await PaymentEvent.all().count() == 0


def _stripe_headers(body: bytes) -> dict[str, str]:
    stamp = int(time.time())
    digest = hmac.new(STRIPE_WHSEC.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return {"Stripe-Signature": f"t={stamp},v1={digest.hexdigest()}"}


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b"3",
        b'"x"',
        b"null",
        b"\xff\xfe",
        json.dumps(
            {
                "id": "evt",
                "type": "checkout.session.completed",
                "data": {
                    "object": {
                        "object": "checkout.session",
                        "id": "cs_1",
                        "payment_status": "paid",
                        "currency": "inr",
                        "amount_total": "lots",
                        "metadata": [],
                    }
                },
            }
        ).encode(),
    ],
)
def test_signed_stripe_bodies_that_are_not_events_are_invalid(body):
    gateway = stripe_gateway("http://127.0.0.1:9")
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(_stripe_headers(body), body)


def test_a_signed_stripe_event_without_a_session_is_ignored():
    body = b'{"id": "evt", "type": "checkout.session.completed", "data": [1]}'
    gateway = stripe_gateway("http://127.0.0.1:9")
    assert gateway.parse_webhook(_stripe_headers(body), body) is None


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b"3",
        b'"x"',
        b"\xff\xfe",
        json.dumps(
            {
                "event": "payment.captured",
                "payload": {
                    "payment": {"entity": {"order_id": "order_1", "amount": "lots"}},
                },
            }
        ).encode(),
        json.dumps(
            {
                "event": "payment.captured",
                "payload": {
                    "payment": {
                        "entity": {
                            "order_id": "order_1",
                            "amount": 100,
                            "currency": "INR",
                            "notes": {"payment_id": "99999999999"},
                        }
                    }
                },
            }
        ).encode(),
    ],
)
def test_signed_razorpay_bodies_that_are_not_events_are_invalid(body):
    gateway = razorpay_gateway("http://127.0.0.1:9")
    signature = hmac.new(RZP_WHSEC.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook({"X-Razorpay-Signature": signature}, body)


# ------------------------------------------------------------------- methods and CSRF


async def test_a_non_ascii_csrf_token_is_refused_not_a_crash(auth):
    await auth.register()
    for token in ("²", "é" * 43):
        response = await auth.client.post("/users/logout", form={"csrf_token": token})
        assert response.status_code == 403
        response = await auth.client.post("/users/logout", headers={"X-CSRF-Token": token})
        assert response.status_code == 403


async def test_non_ascii_signatures_from_the_simulator_are_refused(app, auth, client, trip):
    seats = (await factories.schedule_seats(trip))[:2]
    await auth.register()
    await buy(auth, trip, seats, outcome="decline")
    payment = await Payment.get()
    response = await auth.client.get(f"/payments/{payment.public_id}/return?sig=%C2%B2")
    assert response.status_code == 303
    body = b"{}"
    headers = {"X-Simulator-Signature": f"t={int(time.time())},v1=\xe9"}
    response = await client.post("/payments/webhook/simulator", data=body, headers=headers)
    assert response.status_code == 400


async def test_put_and_delete_are_405_with_allow_even_without_a_csrf_token(client, trip):
    for method in ("PUT", "DELETE", "PATCH"):
        for path in ("/users/login", f"/schedules/{trip.id}", "/reservations", "/admin/buses"):
            response = await client.open(path, method=method)
            assert response.status_code == 405, (method, path)
            assert "GET" in response.headers["Allow"] or "POST" in response.headers["Allow"]
    # and an unknown path stays a 404, not a CSRF refusal
    assert (await client.post("/no-such-page")).status_code == 404


async def test_a_form_body_that_is_not_utf8_is_refused_not_a_crash(auth):
    await auth.register()
    token = await auth.csrf()
    body = b"email=%ff%fe\xff&password=\xc3&csrf_token=" + token.encode()
    response = await auth.client.post(
        "/users/login", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 403  # the form cannot be read, so neither can its token
    assert "This form has expired" in await text(response)
    assert await ActivityLog.filter(action__startswith="user.log").count() == 0
