"""Accounts over the API, through HTTP: register, log in, use the access token, refresh,
reuse a refresh token (its sign-in ends), log out (every token dies), the access token's
expiry on the app's clock, the login and registration limits, the profile rules, and admin
API keys as credentials."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient

from domain import api_keys, clock
from domain.enums import UserRole
from domain.models import ActivityLog, ApiKey, User
from tests import factories
from tests.api.conftest import problem_of
from tests.conftest import make_settings
from views import services as services_module

# The authorization matrix's table (tests/api/test_authorization_matrix.py).
ACCESS = [
    ("POST", "/api/v1/users/register", "guest"),
    ("POST", "/api/v1/users/login", "guest"),
    ("POST", "/api/v1/users/refresh", "guest"),
    ("POST", "/api/v1/users/logout", "guest"),
    ("GET", "/api/v1/users/{id}/profile", "user"),
    ("PUT", "/api/v1/users/{id}/profile", "user"),
]

REGISTER = {
    "email": "asha@example.com",
    "password": "a long passphrase",
    "first_name": "Asha",
    "last_name": "Rao",
    "phone_number": "+91 98765 43210",
}
LOGIN = {"email": "asha@example.com", "password": "a long passphrase"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_clock(app: Quart) -> Callable[[datetime], None]:
    """Run the app on a clock the test moves."""
    quart = getattr(app, "app", app)
    moment = {"now": clock.now()}
    svc = services_module.services_of(quart)
    services_module.install(quart, dataclasses.replace(svc, clock=lambda: moment["now"]))

    def move(to: datetime) -> None:
        moment["now"] = to

    return move


async def refresh(api: QuartClient, token: str) -> Any:
    return await api.post("/api/v1/users/refresh", json={"refresh_token": token})


async def register_and_log_in(api: QuartClient, **fields: str) -> dict[str, Any]:
    created = await api.post("/api/v1/users/register", json=REGISTER | fields)
    assert created.status_code == 201, await created.get_data(as_text=True)
    login = {"email": (REGISTER | fields)["email"], "password": REGISTER["password"]}
    response = await api.post("/api/v1/users/login", json=login)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def test_register_log_in_refresh_reuse_and_log_out(api: QuartClient, db: str) -> None:
    created = await api.post("/api/v1/users/register", json=REGISTER)
    assert created.status_code == 201
    user = await created.get_json()
    assert set(user) == {
        "id",
        "email",
        "first_name",
        "last_name",
        "role",
        "is_active",
        "created_at",
    }
    assert (user["email"], user["role"], user["is_active"]) == (REGISTER["email"], "customer", True)
    assert created.headers["Location"] == f"/api/v1/users/{user['id']}/profile"
    again = await api.post("/api/v1/users/register", json=REGISTER)
    assert again.status_code == 422
    assert [e["field"] for e in (await problem_of(again))["errors"]] == ["email"]

    wrong = await api.post("/api/v1/users/login", json=LOGIN | {"password": "not it at all"})
    assert wrong.status_code == 422
    assert (await problem_of(wrong))["code"] == "invalid_credentials"

    response = await api.post("/api/v1/users/login", json=LOGIN)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    first = await response.get_json()
    assert first["token_type"] == "bearer" and first["user_id"] == user["id"]
    assert first["expires_in"] == 15 * 60
    profile_path = f"/api/v1/users/{user['id']}/profile"
    profile = await api.get(profile_path, headers=bearer(first["access_token"]))
    assert profile.status_code == 200
    assert (await profile.get_json())["phone_number"] == "+919876543210"

    # Refresh: a new pair; the new access token works.
    refreshed = await refresh(api, first["refresh_token"])
    assert refreshed.status_code == 200
    assert refreshed.headers["Cache-Control"] == "no-store"
    second = await refreshed.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await api.get(profile_path, headers=bearer(second["access_token"]))).status_code == 200

    # The old refresh token again: a reuse. Its sign-in ends, the newer token dies with it.
    reused = await refresh(api, first["refresh_token"])
    assert reused.status_code == 401
    assert (await problem_of(reused))["code"] == "refresh_token_reused"
    assert reused.headers["WWW-Authenticate"].startswith("Bearer")
    newer = await refresh(api, second["refresh_token"])
    assert newer.status_code == 401
    assert (await problem_of(newer))["code"] == "refresh_token_revoked"
    assert await ActivityLog.filter(action="refresh_token.reuse_detected").count() == 1

    # A new sign-in, then log out: its access token and refresh token stop at once.
    third = await (await api.post("/api/v1/users/login", json=LOGIN)).get_json()
    out = await api.post("/api/v1/users/logout", headers=bearer(third["access_token"]))
    assert out.status_code == 204
    dead = await api.get(profile_path, headers=bearer(third["access_token"]))
    assert dead.status_code == 401
    assert (await problem_of(dead))["code"] == "invalid_token"
    gone = await refresh(api, third["refresh_token"])
    assert (await problem_of(gone))["code"] == "refresh_token_revoked"


async def test_the_access_token_expires_on_the_apps_clock(app: Quart, api: QuartClient, db: str):
    move = set_clock(app)
    start = clock.now()
    move(start)
    tokens = await register_and_log_in(api)
    path = f"/api/v1/users/{tokens['user_id']}/profile"
    move(start + timedelta(minutes=14))
    assert (await api.get(path, headers=bearer(tokens["access_token"]))).status_code == 200
    move(start + timedelta(minutes=16))
    expired = await api.get(path, headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401
    assert "expired" in (await problem_of(expired))["detail"]
    # The refresh token still works, and its access token lasts 15 minutes from now.
    fresh = await (await refresh(api, tokens["refresh_token"])).get_json()
    assert (await api.get(path, headers=bearer(fresh["access_token"]))).status_code == 200
    # Thirty days on, the refresh token has expired too.
    move(start + timedelta(days=31))
    late = await refresh(api, fresh["refresh_token"])
    assert (await problem_of(late))["code"] == "refresh_token_expired"


async def test_log_out_with_the_refresh_token_alone(api: QuartClient, db: str) -> None:
    tokens = await register_and_log_in(api)
    nothing = await api.post("/api/v1/users/logout")
    assert nothing.status_code == 401
    assert (await problem_of(nothing))["code"] == "authentication_required"
    bogus = await api.post("/api/v1/users/logout", json={"refresh_token": "nope"})
    assert (await problem_of(bogus))["code"] == "refresh_token_invalid"

    body = {"refresh_token": tokens["refresh_token"]}
    assert (await api.post("/api/v1/users/logout", json=body)).status_code == 204
    path = f"/api/v1/users/{tokens['user_id']}/profile"
    assert (await api.get(path, headers=bearer(tokens["access_token"]))).status_code == 401
    # Once more with the same, now dead token: nothing left to do, still a success.
    assert (await api.post("/api/v1/users/logout", json=body)).status_code == 204
    assert await ActivityLog.filter(action="user.logged_out").count() == 1


async def test_a_browser_log_out_ends_the_api_sign_in(app: Quart, api: QuartClient, auth, db):
    tokens = await register_and_log_in(api)
    await auth.login(LOGIN["email"], LOGIN["password"])
    await auth.logout()
    response = await refresh(api, tokens["refresh_token"])
    assert (await problem_of(response))["code"] == "refresh_token_revoked"


async def test_login_failures_are_limited_with_retry_after(api: QuartClient, db: str) -> None:
    await api.post("/api/v1/users/register", json=REGISTER)
    for _ in range(5):
        wrong = await api.post("/api/v1/users/login", json=LOGIN | {"password": "guess-guess"})
        assert wrong.status_code == 422
    refused = await api.post("/api/v1/users/login", json=LOGIN)
    assert refused.status_code == 429
    assert (await problem_of(refused))["code"] == "too_many_attempts"
    assert int(refused.headers["Retry-After"]) > 0


@pytest.fixture
async def strict_app(database_url: str):
    from app import create_app

    settings = make_settings(database_url, registrations_per_ip_per_hour=2)
    application = create_app(settings, manage_database=False, background_tasks=False)
    async with application.test_app() as test_app:
        yield test_app


async def test_registrations_per_address_are_limited(strict_app: Quart, db: str) -> None:
    api = strict_app.test_client()
    for n in range(2):
        made = await api.post("/api/v1/users/register", json=REGISTER | {"email": f"a{n}@ex.com"})
        assert made.status_code == 201
    refused = await api.post("/api/v1/users/register", json=REGISTER | {"email": "a9@ex.com"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"]
    assert not await User.filter(email="a9@ex.com").exists()


async def test_register_replays_for_the_same_idempotency_key(api: QuartClient, db: str) -> None:
    headers = {"Idempotency-Key": "signup-1"}
    first = await api.post("/api/v1/users/register", json=REGISTER, headers=headers)
    again = await api.post("/api/v1/users/register", json=REGISTER, headers=headers)
    assert first.status_code == again.status_code == 201
    assert await first.get_json() == await again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await User.filter(email="asha@example.com").count() == 1


async def test_profiles_are_their_owners_and_admins(app: Quart, api: QuartClient, db: str):
    mine = await register_and_log_in(api)
    theirs = await register_and_log_in(api, email="other@example.com")
    await factories.make_user("ops@example.com", "ops-password-1", admin=True)
    admin = await (
        await api.post(
            "/api/v1/users/login", json={"email": "ops@example.com", "password": "ops-password-1"}
        )
    ).get_json()
    own = f"/api/v1/users/{mine['user_id']}/profile"
    other = f"/api/v1/users/{theirs['user_id']}/profile"
    missing = f"/api/v1/users/{theirs['user_id'] + 100}/profile"

    assert (await api.get(own)).status_code == 401
    assert (await api.get(own, headers=bearer(mine["access_token"]))).status_code == 200
    for path in (other, missing):  # existing or not: the same answer to a customer
        refused = await api.get(path, headers=bearer(mine["access_token"]))
        assert refused.status_code == 403
        assert (await problem_of(refused))["code"] == "forbidden"
    assert (await api.get(other, headers=bearer(admin["access_token"]))).status_code == 200
    not_there = await api.get(missing, headers=bearer(admin["access_token"]))
    assert (await problem_of(not_there))["code"] == "user_not_found"

    change = {
        "email": "asha@example.com",
        "first_name": "Asha",
        "last_name": "Rao-Iyer",
        "phone_number": "+919876500000",
    }
    saved = await api.put(own, json=change, headers=bearer(mine["access_token"]))
    assert saved.status_code == 200
    assert (await saved.get_json())["last_name"] == "Rao-Iyer"
    elsewhere = await api.put(other, json=change, headers=bearer(mine["access_token"]))
    assert elsewhere.status_code == 403
    # A new email needs the current password, named as this request names it.
    new_email = change | {"email": "asha.rao@example.com"}
    refused = await api.put(own, json=new_email, headers=bearer(mine["access_token"]))
    assert refused.status_code == 422
    assert [e["field"] for e in (await problem_of(refused))["errors"]] == ["current_password"]
    done = await api.put(
        own,
        json=new_email | {"current_password": REGISTER["password"]},
        headers=bearer(mine["access_token"]),
    )
    assert (await done.get_json())["email"] == "asha.rao@example.com"
    partial = await api.put(own, json={"first_name": "A"}, headers=bearer(mine["access_token"]))
    assert partial.status_code == 422


async def test_an_api_key_acts_as_its_admin(app: Quart, api: QuartClient, db: str) -> None:
    customer = await register_and_log_in(api)
    ops = await factories.make_user("ops@example.com", admin=True)
    key, secret = await api_keys.create_api_key(ops, "Partner sync", now=clock.now())
    path = f"/api/v1/users/{customer['user_id']}/profile"  # an admin may read any profile

    for headers in (bearer(secret), {"X-API-Key": secret}):
        response = await api.get(path, headers=headers)
        assert response.status_code == 200, await response.get_data(as_text=True)
        assert (await response.get_json())["email"] == "asha@example.com"
    assert (await ApiKey.get(id=key.id)).last_used_at is not None

    both = await api.get(path, headers=bearer(customer["access_token"]) | {"X-API-Key": secret})
    assert both.status_code == 401
    for wrong in (secret[:-3] + "xyz", "bbk_nonsense", "nonsense"):
        refused = await api.get(path, headers={"X-API-Key": wrong})
        assert (await problem_of(refused))["code"] == "api_key_invalid"
    # An API key is not a sign-in: it is revoked in the console, not logged out.
    assert (await api.post("/api/v1/users/logout", headers=bearer(secret))).status_code == 403

    await User.filter(id=ops.id).update(role=UserRole.CUSTOMER)
    demoted = await api.get(path, headers=bearer(secret))
    assert (await problem_of(demoted))["code"] == "api_key_revoked"
    await User.filter(id=ops.id).update(role=UserRole.ADMIN)
    await api_keys.revoke_api_key(ops, key.id, now=clock.now())
    revoked = await api.get(path, headers={"X-API-Key": secret})
    assert revoked.status_code == 401
    assert (await problem_of(revoked))["code"] == "api_key_revoked"


async def test_the_document_describes_the_users_endpoints(api: QuartClient, db: str) -> None:
    document = await (await api.get("/openapi.json")).get_json()
    paths = document["paths"]
    for path, method in (
        ("/api/v1/users/register", "post"),
        ("/api/v1/users/login", "post"),
        ("/api/v1/users/refresh", "post"),
        ("/api/v1/users/logout", "post"),
        ("/api/v1/users/{user_id}/profile", "get"),
        ("/api/v1/users/{user_id}/profile", "put"),
    ):
        assert method in paths[path], (path, method)
    assert paths["/api/v1/users/register"]["post"]["requestBody"]["required"] is True
    assert paths["/api/v1/users/logout"]["post"]["requestBody"]["required"] is False
    assert "201" in paths["/api/v1/users/register"]["post"]["responses"]
    profile = paths["/api/v1/users/{user_id}/profile"]["get"]
    assert {"bearer": []} in profile["security"] and {"api_key": []} in profile["security"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["api_key"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
