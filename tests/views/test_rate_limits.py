"""Rate limits across workers: two apps on one database are two worker processes. Each
limited action (log in, register, hold, start a payment) is counted per account and per
address in PostgreSQL, so a client that spreads its requests over both workers meets the
same limit: the page with 429 and `Retry-After`."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from quart import Quart
from quart.testing import QuartClient

from app import create_app
from domain.models import Payment, Reservation, Schedule, User
from tests import factories
from tests.conftest import CSRF_RE, make_settings

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HOME = "198.51.100.10"
CAFE = "203.0.113.20"
PASSWORD = "secret-pass-1"


@dataclass
class Browser:
    """One browser on one worker, from one address."""

    client: QuartClient
    ip: str

    async def get(self, path: str) -> Any:
        return await self.client.get(path, scope_base={"client": (self.ip, 40000)})

    async def post(self, path: str, pairs: list[tuple[str, Any]], page: str = "/") -> Any:
        html = await (await self.get(page)).get_data(as_text=True)
        match = CSRF_RE.search(html)
        assert match, f"no CSRF token on {page}"
        return await self.client.post(
            path,
            data=urlencode([*pairs, ("csrf_token", match.group(1))]),
            headers=FORM,
            scope_base={"client": (self.ip, 40000)},
        )

    async def login(self, email: str, password: str = PASSWORD) -> Any:
        return await self.post(
            "/users/login", [("email", email), ("password", password)], "/users/login"
        )


@pytest.fixture
def limits() -> dict[str, int]:
    return {}


@pytest.fixture
async def workers(database_url: str, limits: dict[str, int]) -> AsyncIterator[list[Quart]]:
    settings = make_settings(database_url, **limits)
    apps = [create_app(settings, manage_database=False, background_tasks=False) for _ in "ab"]
    async with apps[0].test_app() as first, apps[1].test_app() as second:
        yield [first, second]  # type: ignore[list-item]


def browser(app: Quart, ip: str) -> Browser:
    return Browser(app.test_client(), ip)


async def assert_refused(response: Any, words: str) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert response.mimetype == "text/html"
    assert words in await response.get_data(as_text=True)


# ------------------------------------------------------------------------------ login


@pytest.mark.parametrize("limits", [{"login_max_failures_per_ip": 3}])
async def test_login_failures_per_address_count_on_every_worker(workers):
    for i in range(3):
        await factories.make_user(f"guess{i}@example.com")
    for i in range(3):
        response = await browser(workers[i % 2], HOME).login(f"guess{i}@example.com", "wrong-one")
        assert response.status_code == 422
    refused = await browser(workers[1], HOME).login("guess0@example.com")
    await assert_refused(refused, "Too many failed sign-in attempts")
    assert (await browser(workers[1], CAFE).login("guess0@example.com")).status_code == 303


@pytest.mark.parametrize("limits", [{"login_max_failures_per_account": 3}])
async def test_login_failures_per_account_count_on_every_worker(workers):
    await factories.make_user("rahul@example.com")
    for i in range(3):
        response = await browser(workers[i % 2], f"198.51.100.{i + 1}").login(
            "rahul@example.com", "wrong-one"
        )
        assert response.status_code == 422
    refused = await browser(workers[1], "198.51.100.99").login("rahul@example.com")
    await assert_refused(refused, "Too many failed sign-in attempts")


# --------------------------------------------------------------------------- register


def registration(email: str) -> list[tuple[str, str]]:
    return [
        ("email", email),
        ("password", PASSWORD),
        ("first_name", "Priya"),
        ("last_name", "Sharma"),
        ("phone_number", "+919876543210"),
    ]


@pytest.mark.parametrize("limits", [{"registrations_per_ip_per_hour": 2}])
async def test_registrations_per_address_count_on_every_worker(workers):
    for i in range(2):
        made = await browser(workers[i % 2], HOME).post(
            "/users/register", registration(f"new{i}@example.com"), "/users/register"
        )
        assert made.status_code == 303
    refused = await browser(workers[0], HOME).post(
        "/users/register", registration("new9@example.com"), "/users/register"
    )
    await assert_refused(refused, "Too many new accounts")
    assert await User.filter(email="new9@example.com").count() == 0
    elsewhere = await browser(workers[1], CAFE).post(
        "/users/register", registration("new9@example.com"), "/users/register"
    )
    assert elsewhere.status_code == 303


# ------------------------------------------------------------------------------ holds


async def trips(count: int) -> list[Schedule]:
    departure = datetime.now().astimezone() + timedelta(days=2)
    return [await factories.make_trip(departure + timedelta(hours=i), rows=3) for i in range(count)]


async def post_hold(who: Browser, trip: Schedule, seat_index: int) -> Any:
    seats = await factories.schedule_seats(trip)
    return await who.post(
        "/reservations",
        [
            ("schedule_id", trip.id),
            ("from_stop", 0),
            ("to_stop", 2),
            ("seat_ids", seats[seat_index].id),
        ],
        f"/schedules/{trip.id}",
    )


@pytest.mark.parametrize("limits", [{"holds_per_account_per_hour": 3}])
async def test_holds_per_account_count_on_every_worker(workers):
    await factories.make_user("asha@example.com")
    one, two = browser(workers[0], HOME), browser(workers[1], CAFE)
    assert (await one.login("asha@example.com")).status_code == 303
    assert (await two.login("asha@example.com")).status_code == 303
    trip_a, trip_b = await trips(2)
    for who, trip, seat in ((one, trip_a, 0), (two, trip_b, 0), (one, trip_b, 1)):
        assert (await post_hold(who, trip, seat)).status_code == 303
    refused = await post_hold(two, trip_a, 1)
    await assert_refused(refused, "You have made a lot of holds in a short time")
    assert 'name="seat_ids"' in await refused.get_data(as_text=True)  # the trip page
    assert await Reservation.all().count() == 3
    # someone else from the same address is not this account
    await factories.make_user("ravi@example.com")
    other = browser(workers[1], CAFE)
    assert (await other.login("ravi@example.com")).status_code == 303
    assert (await post_hold(other, trip_a, 1)).status_code == 303


@pytest.mark.parametrize("limits", [{"holds_per_ip_per_hour": 2, "max_active_holds_per_ip": 0}])
async def test_holds_per_address_count_on_every_worker(workers):
    people = []
    for i, app in enumerate([workers[0], workers[1], workers[0]]):
        await factories.make_user(f"p{i}@example.com")
        who = browser(app, HOME)
        assert (await who.login(f"p{i}@example.com")).status_code == 303
        people.append(who)
    (trip,) = await trips(1)
    assert (await post_hold(people[0], trip, 0)).status_code == 303
    assert (await post_hold(people[1], trip, 1)).status_code == 303
    refused = await post_hold(people[2], trip, 2)
    await assert_refused(refused, "You have made a lot of holds in a short time")
    assert await Reservation.all().count() == 2
    people[2].ip = CAFE
    assert (await post_hold(people[2], trip, 2)).status_code == 303


# --------------------------------------------------------------------------- payments


async def pay(who: Browser, reservation: Reservation, key: str | None = None) -> Any:
    """Post the checkout form of the hold, with a fresh form key (a new payment) unless
    `key` is given (the same form sent again)."""
    seats = await factories.schedule_seats(await reservation.schedule)
    held = {a.schedule_seat_id for a in await reservation.allocations.all()}
    pairs: list[tuple[str, Any]] = [
        ("idempotency_key", key or secrets.token_urlsafe(24)),
        ("quoted_total", str(reservation.total_amount)),
        ("contact_email", "asha@example.com"),
        ("contact_phone", "+919876543210"),
        ("method", "upi"),
    ]
    for seat in seats:
        if seat.id in held:
            pairs += [
                (f"passenger-{seat.id}-name", "Asha"),
                (f"passenger-{seat.id}-age", "34"),
                (f"passenger-{seat.id}-gender", "female"),
            ]
    page = f"/reservations/{reservation.public_id}"
    return await who.post(f"{page}/checkout", pairs, page)


async def signed_in_hold(app: Quart, email: str, ip: str, trip: Schedule, seat: int) -> Any:
    await factories.make_user(email)
    who = browser(app, ip)
    assert (await who.login(email)).status_code == 303
    response = await post_hold(who, trip, seat)
    assert response.status_code == 303
    reservation = await Reservation.get(public_id=response.headers["Location"].rsplit("/", 1)[1])
    return who, reservation


@pytest.mark.parametrize("limits", [{"payments_per_account_per_hour": 2}])
async def test_payments_per_account_count_on_every_worker(workers):
    (trip,) = await trips(1)
    one, reservation = await signed_in_hold(workers[0], "asha@example.com", HOME, trip, 0)
    two = browser(workers[1], CAFE)
    assert (await two.login("asha@example.com")).status_code == 303
    assert (await pay(one, reservation)).status_code == 303
    assert (await pay(two, reservation)).status_code == 303
    refused = await pay(one, reservation)
    await assert_refused(refused, "You have started a lot of payments in a short time")
    assert reservation.public_id in await refused.get_data(as_text=True)  # the hold page
    assert await Payment.all().count() == 2


@pytest.mark.parametrize("limits", [{"payments_per_ip_per_hour": 2}])
async def test_payments_per_address_count_on_every_worker(workers):
    (trip,) = await trips(1)
    one, first = await signed_in_hold(workers[0], "asha@example.com", HOME, trip, 0)
    two, second = await signed_in_hold(workers[1], "ravi@example.com", HOME, trip, 1)
    assert (await pay(one, first)).status_code == 303
    assert (await pay(two, second)).status_code == 303
    refused = await pay(two, second)
    await assert_refused(refused, "You have started a lot of payments in a short time")
    assert await Payment.all().count() == 2
    two.ip = CAFE
    assert (await pay(two, second)).status_code == 303


@pytest.mark.parametrize("limits", [{"payments_per_account_per_hour": 1}])
async def test_the_same_payment_form_sent_again_is_not_counted(workers):
    (trip,) = await trips(1)
    one, reservation = await signed_in_hold(workers[0], "asha@example.com", HOME, trip, 0)
    first = await pay(one, reservation)
    assert first.status_code == 303
    payment = await Payment.get()
    assert (await pay(one, reservation, payment.idempotency_key)).status_code == 303
    assert await Payment.all().count() == 1
    await assert_refused(await pay(one, reservation), "a lot of payments")
