"""Rate limits through the API: a limit reached is a 429 problem (`too_many_attempts`) with
`Retry-After`, counted in PostgreSQL so that two workers (two apps on one database) share
it, and the website and the API share one budget (the same domain call counts both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from app import create_app
from domain import attempts, clock
from domain.models import Payment, Reservation, User
from tests.api.conftest import problem_of, token_for
from tests.conftest import CSRF_RE, make_settings
from tests.factories import make_trip, make_user, schedule_seats
from views.api.auth import needs, require_api_user
from views.api.blueprints import api_blueprint
from views.auth import client_ip
from views.services import services

HOME = ("198.51.100.10", 40000)
CAFE = ("203.0.113.20", 40000)
TRY_LIMITS = attempts.RateLimits(per_account=2, per_ip=3, window=timedelta(minutes=10))

ACCESS: list[tuple[str, str, str]] = []  # no routes of its own (the matrix test)

# A tiny limited route, as the API's limited views are: one domain counter per account and
# per address, checked before the work.
probe = api_blueprint("rate_probe", __name__)


@probe.post("/rate-probe")
@needs("user")
async def post_rate_probe() -> tuple[dict[str, bool], int]:
    user = await require_api_user()
    await attempts.reserve(
        TRY_LIMITS.limits("probe", user.id, client_ip()),
        now=services().now(),
        message="Too many probes.",
    )
    return {"ok": True}, 201


@pytest.fixture
def limits() -> dict[str, int]:
    return {}


@pytest.fixture
async def workers(database_url: str, limits: dict[str, int]) -> AsyncIterator[list[Quart]]:
    apps = []
    for _ in range(2):
        settings = make_settings(database_url, **limits)
        app = create_app(settings, manage_database=False, background_tasks=False)
        app.register_blueprint(probe)
        apps.append(app)
    async with apps[0].test_app() as first, apps[1].test_app() as second:
        yield [first, second]  # type: ignore[list-item]


async def send(app: Quart, token: str, peer: tuple[str, int]) -> Any:
    return await app.test_client().post(
        "/api/v1/rate-probe",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        scope_base={"client": peer},
    )


async def assert_limited(response: Any) -> dict[str, Any]:
    assert response.status_code == 429
    body = await problem_of(response)
    assert body["code"] == "too_many_attempts"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 3600  # within the window
    assert body["retry_after"] == retry_after
    return body


async def test_the_account_limit_is_shared_by_two_workers(workers):
    user = await make_user()
    token = token_for(workers[0], user)
    assert (await send(workers[0], token, HOME)).status_code == 201
    assert (await send(workers[1], token, CAFE)).status_code == 201
    body = await assert_limited(await send(workers[0], token, ("192.0.2.1", 1)))
    assert "Too many probes." in body["detail"]
    # another account is not limited by this one
    other = await make_user()
    assert (await send(workers[1], token_for(workers[1], other), CAFE)).status_code == 201


async def test_the_address_limit_is_shared_by_two_workers(workers):
    users = [await make_user() for _ in range(4)]
    for i, user in enumerate(users[:3]):
        assert (await send(workers[i % 2], token_for(workers[0], user), HOME)).status_code == 201
    await assert_limited(await send(workers[1], token_for(workers[1], users[3]), HOME))
    assert (await send(workers[0], token_for(workers[0], users[3]), CAFE)).status_code == 201


# ------------------------------------------------------------- the real API endpoints

LOGIN = "/api/v1/users/login"
REGISTER = "/api/v1/users/register"
CREATE = "/api/v1/reservations/create"


def profile(email: str) -> dict[str, str]:
    return {
        "email": email,
        "password": "secret-pass-1",
        "first_name": "Priya",
        "last_name": "Sharma",
        "phone_number": "+919876543210",
    }


async def api_post(app: Quart, path: str, body: dict[str, Any], peer: Any, **headers: str) -> Any:
    return await app.test_client().post(
        path, json=body, headers=headers, scope_base={"client": peer}
    )


async def form_post(app: Quart, path: str, fields: dict[str, Any], peer: Any) -> Any:
    """The website's form (with its CSRF token), from the same address."""
    client = app.test_client()
    page = await client.get(path if path != "/reservations" else "/", scope_base={"client": peer})
    token = CSRF_RE.search(await page.get_data(as_text=True))
    assert token
    return await client.post(
        path, form={**fields, "csrf_token": token.group(1)}, scope_base={"client": peer}
    )


@pytest.mark.parametrize("limits", [{"login_max_failures_per_ip": 3}])
async def test_api_login_failures_per_address_are_one_budget_with_the_website(workers):
    for i in range(3):
        await make_user(f"guess{i}@example.com")
    wrong = {"password": "guess-guess"}
    assert (
        await api_post(workers[0], LOGIN, {"email": "guess0@example.com", **wrong}, HOME)
    ).status_code == 422
    assert (
        await form_post(workers[1], "/users/login", {"email": "guess1@example.com", **wrong}, HOME)
    ).status_code == 422
    assert (
        await api_post(workers[1], LOGIN, {"email": "guess2@example.com", **wrong}, HOME)
    ).status_code == 422
    right = {"email": "guess0@example.com", "password": "secret-pass-1"}
    await assert_limited(await api_post(workers[0], LOGIN, right, HOME))
    assert (await api_post(workers[0], LOGIN, right, CAFE)).status_code == 200


@pytest.mark.parametrize("limits", [{"login_max_failures_per_account": 3}])
async def test_api_login_failures_per_account_count_on_every_worker(workers):
    await make_user("rahul@example.com")
    wrong = {"email": "rahul@example.com", "password": "guess-guess"}
    for i in range(3):
        peer = (f"198.51.100.{i + 1}", 1)
        assert (await api_post(workers[i % 2], LOGIN, wrong, peer)).status_code == 422
    right = {"email": "rahul@example.com", "password": "secret-pass-1"}
    await assert_limited(await api_post(workers[1], LOGIN, right, ("198.51.100.99", 1)))


@pytest.mark.parametrize("limits", [{"registrations_per_ip_per_hour": 2}])
async def test_api_registrations_per_address_are_one_budget_with_the_website(workers):
    made = await api_post(workers[0], REGISTER, profile("a0@example.com"), HOME)
    assert made.status_code == 201
    by_form = await form_post(workers[1], "/users/register", profile("a1@example.com"), HOME)
    assert by_form.status_code == 303
    await assert_limited(await api_post(workers[1], REGISTER, profile("a2@example.com"), HOME))
    assert not await User.filter(email="a2@example.com").exists()
    assert (
        await api_post(workers[0], REGISTER, profile("a2@example.com"), CAFE)
    ).status_code == 201


async def two_trips() -> list[Any]:
    departure = clock.now() + timedelta(days=2)
    return [await make_trip(departure + timedelta(hours=i), rows=3) for i in range(2)]


def hold_body(trip: Any, seat: Any) -> dict[str, Any]:
    return {"schedule_id": trip.id, "seat_ids": [seat.id], "from_stop": 0, "to_stop": 2}


@pytest.mark.parametrize("limits", [{"holds_per_account_per_hour": 3}])
async def test_api_holds_per_account_are_one_budget_with_the_website(workers):
    user = await make_user("asha@example.com")
    token = {"Authorization": f"Bearer {token_for(workers[0], user)}"}
    trip_a, trip_b = await two_trips()
    seats_a, seats_b = await schedule_seats(trip_a), await schedule_seats(trip_b)
    assert (
        await api_post(workers[0], CREATE, hold_body(trip_a, seats_a[0]), HOME, **token)
    ).status_code == 201
    assert (
        await api_post(workers[1], CREATE, hold_body(trip_b, seats_b[0]), CAFE, **token)
    ).status_code == 201
    # the website's form, signed in as the same account, on the other worker
    browser = workers[1].test_client()
    page = await browser.get("/users/login", scope_base={"client": CAFE})
    csrf = CSRF_RE.search(await page.get_data(as_text=True))
    assert csrf
    signed_in = await browser.post(
        "/users/login",
        form={
            "email": "asha@example.com",
            "password": "secret-pass-1",
            "csrf_token": csrf.group(1),
        },
        scope_base={"client": CAFE},
    )
    assert signed_in.status_code == 303
    trip_page = await browser.get(f"/schedules/{trip_b.id}", scope_base={"client": CAFE})
    csrf = CSRF_RE.search(await trip_page.get_data(as_text=True))
    assert csrf
    by_form = await browser.post(
        "/reservations",
        form={
            "schedule_id": str(trip_b.id),
            "from_stop": "0",
            "to_stop": "2",
            "seat_ids": str(seats_b[1].id),
            "csrf_token": csrf.group(1),
        },
        scope_base={"client": CAFE},
    )
    assert by_form.status_code == 303
    body = await assert_limited(
        await api_post(workers[0], CREATE, hold_body(trip_a, seats_a[1]), HOME, **token)
    )
    assert "a lot of holds" in body["detail"]
    assert await Reservation.all().count() == 3


@pytest.mark.parametrize("limits", [{"holds_per_ip_per_hour": 2, "max_active_holds_per_ip": 0}])
async def test_api_holds_per_address_count_on_every_worker(workers):
    trip, _ = await two_trips()
    seats = await schedule_seats(trip)
    users = [await make_user() for _ in range(3)]
    for i in range(2):
        token = {"Authorization": f"Bearer {token_for(workers[i], users[i])}"}
        answer = await api_post(workers[i], CREATE, hold_body(trip, seats[i]), HOME, **token)
        assert answer.status_code == 201
    token = {"Authorization": f"Bearer {token_for(workers[0], users[2])}"}
    await assert_limited(
        await api_post(workers[0], CREATE, hold_body(trip, seats[2]), HOME, **token)
    )
    assert await Reservation.all().count() == 2
    assert (
        await api_post(workers[1], CREATE, hold_body(trip, seats[2]), CAFE, **token)
    ).status_code == 201


async def test_a_revoked_token_holds_nothing(workers):
    """The hold checks the token's session itself (no user query first): a token from before
    a logout or a password change is a 401 invalid_token, and nothing is held."""
    trip, _ = await two_trips()
    seats = await schedule_seats(trip)
    user = await make_user()
    token = {"Authorization": f"Bearer {token_for(workers[0], user)}"}
    user.session_version += 1
    await user.save(update_fields=["session_version"])
    refused = await api_post(workers[0], CREATE, hold_body(trip, seats[0]), HOME, **token)
    assert refused.status_code == 401
    assert (await problem_of(refused))["code"] == "invalid_token"
    assert await Reservation.all().count() == 0


PAY = "/api/v1/payments/initiate"


async def api_hold(app: Quart, user: Any, trip: Any, seat: Any, peer: Any) -> dict[str, Any]:
    token = {"Authorization": f"Bearer {token_for(app, user)}"}
    made = await api_post(app, CREATE, hold_body(trip, seat), peer, **token)
    assert made.status_code == 201
    return await made.get_json()


async def api_pay(app: Quart, user: Any, hold: dict[str, Any], peer: Any) -> Any:
    token = {"Authorization": f"Bearer {token_for(app, user)}"}
    body = {
        "reservation_id": hold["id"],
        "payment_method": "upi",
        "amount": hold["total_amount"],
    }
    return await api_post(app, PAY, body, peer, **token)


@pytest.mark.parametrize("limits", [{"payments_per_account_per_hour": 2}])
async def test_api_payments_per_account_count_on_every_worker(workers):
    trip, _ = await two_trips()
    seats = await schedule_seats(trip)
    user = await make_user()
    hold = await api_hold(workers[0], user, trip, seats[0], HOME)
    assert (await api_pay(workers[0], user, hold, HOME)).status_code == 201
    assert (await api_pay(workers[1], user, hold, CAFE)).status_code == 201
    body = await assert_limited(await api_pay(workers[0], user, hold, ("192.0.2.7", 1)))
    assert "a lot of payments" in body["detail"]
    assert await Payment.all().count() == 2


@pytest.mark.parametrize("limits", [{"payments_per_ip_per_hour": 2}])
async def test_api_payments_per_address_count_on_every_worker(workers):
    trip, _ = await two_trips()
    seats = await schedule_seats(trip)
    users = [await make_user() for _ in range(2)]
    holds = [await api_hold(workers[i], users[i], trip, seats[i], HOME) for i in range(2)]
    assert (await api_pay(workers[0], users[0], holds[0], HOME)).status_code == 201
    assert (await api_pay(workers[1], users[1], holds[1], HOME)).status_code == 201
    await assert_limited(await api_pay(workers[1], users[1], holds[1], HOME))
    assert await Payment.all().count() == 2
    assert (await api_pay(workers[0], users[1], holds[1], CAFE)).status_code == 201
