"""Account safety through HTTP: lockouts that spare the owner, new sessions at login and
logout, limits on password checks and registrations, the password for an email change."""

from __future__ import annotations

import pytest

from domain.models import User
from tests import factories
from tests.conftest import make_settings

ATTACKER = {"client": ("198.51.100.66", 40000)}
OWNER = {"client": ("203.0.113.5", 40001)}


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, registrations_per_ip_per_hour=2)


async def _login(auth, password, scope_base, email="rahul@example.com"):
    return await auth.post(
        "/users/login", {"email": email, "password": password}, scope_base=scope_base
    )


async def test_failures_from_one_address_do_not_lock_the_owner_out(app, auth, settings):
    await factories.make_user("rahul@example.com", "right-password")
    for _ in range(settings.login_max_failures):
        assert (await _login(auth, "nope-nope", ATTACKER)).status_code == 422
    refused = await _login(auth, "right-password", ATTACKER)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in await refused.get_data(as_text=True)

    owner = type(auth)(app.test_client())
    assert (await _login(owner, "right-password", OWNER)).status_code == 303


async def test_login_starts_a_new_session_and_csrf_token(auth):
    """Session fixation: a session or CSRF token known before the login is worthless after."""
    await factories.make_user("rahul@example.com", "right-password")
    before = await auth.csrf()
    planted = {c.name: c.value for c in auth.client.cookie_jar}["busbook_session"]
    response = await auth.client.post(
        "/users/login",
        form={"email": "rahul@example.com", "password": "right-password", "csrf_token": before},
    )
    assert response.status_code == 303
    after = {c.name: c.value for c in auth.client.cookie_jar}.get("busbook_session")
    assert after != planted
    stale = await auth.client.post("/users/logout", form={"csrf_token": before})
    assert stale.status_code == 403
    fresh = await auth.csrf("/")
    assert fresh != before
    assert (await auth.client.post("/users/logout", form={"csrf_token": fresh})).status_code == 303


async def test_logout_starts_a_new_session_and_csrf_token(auth):
    await factories.make_user("rahul@example.com", "right-password")
    await auth.login("rahul@example.com", "right-password")
    signed_in = await auth.csrf("/")
    assert (
        await auth.client.post("/users/logout", form={"csrf_token": signed_in})
    ).status_code == 303
    again = await auth.client.post(
        "/users/login",
        form={"email": "rahul@example.com", "password": "right-password", "csrf_token": signed_in},
    )
    assert again.status_code == 403
    assert await auth.csrf() != signed_in


async def test_wrong_current_passwords_are_limited(auth, settings):
    await auth.register()
    me = await User.get(email="priya@example.com")
    for _ in range(settings.password_check_max_failures):
        wrong = await auth.post(
            f"/users/{me.id}/password",
            {"current_password": "guess-guess", "new_password": "brand-new-pass"},
        )
        assert wrong.status_code == 422
    blocked = await auth.post(
        f"/users/{me.id}/password",
        {"current_password": "secret-pass-1", "new_password": "brand-new-pass"},
    )
    assert blocked.status_code == 429
    assert "Too many wrong passwords" in await blocked.get_data(as_text=True)
    assert (await User.get(id=me.id)).password_hash == me.password_hash


def _details(email, **extra):
    return {
        "email": email,
        "first_name": "Priya",
        "last_name": "Sharma",
        "phone_number": "+919876543210",
        **extra,
    }


async def test_changing_the_email_asks_for_the_password(auth):
    await auth.register()
    me = await User.get(email="priya@example.com")
    path = f"/users/{me.id}/profile"

    missing = await auth.post(path, _details("thief@example.com"))
    assert missing.status_code == 422
    assert "Enter your current password to change your email" in await missing.get_data(
        as_text=True
    )
    wrong = await auth.post(path, _details("thief@example.com", email_password="guess-guess"))
    assert wrong.status_code == 422
    assert "not your current password" in await wrong.get_data(as_text=True)
    assert (await User.get(id=me.id)).email == "priya@example.com"

    # other details need no password
    renamed = await auth.post(path, _details("priya@example.com", first_name="Pri"))
    assert renamed.status_code == 303
    moved = await auth.post(path, _details("priya.s@example.com", email_password="secret-pass-1"))
    assert moved.status_code == 303
    assert (await User.get(id=me.id)).email == "priya.s@example.com"


async def test_registrations_are_limited_per_address(app, settings):
    from tests.conftest import AuthActions

    def browser():
        return AuthActions(app.test_client())

    neighbour = {"client": ("198.51.100.20", 1)}
    # A form with mistakes does not use up the allowance.
    bad = await browser().post(
        "/users/register",
        {
            "email": "x@example.com",
            "password": "short",
            "first_name": "A",
            "last_name": "B",
            "phone_number": "+919800000001",
        },
        scope_base=neighbour,
    )
    assert bad.status_code == 422
    for n in range(settings.registrations_per_ip_per_hour):
        made = await browser().post(
            "/users/register",
            {
                "email": f"u{n}@example.com",
                "password": "secret-pass-1",
                "first_name": "A",
                "last_name": "B",
                "phone_number": "+919800000001",
            },
            scope_base=neighbour,
        )
        assert made.status_code == 303
    refused = await browser().post(
        "/users/register",
        {
            "email": "one-more@example.com",
            "password": "secret-pass-1",
            "first_name": "A",
            "last_name": "B",
            "phone_number": "+919800000001",
        },
        scope_base=neighbour,
    )
    assert refused.status_code == 429
    assert "Too many new accounts" in await refused.get_data(as_text=True)
    assert not await User.filter(email="one-more@example.com").exists()
    elsewhere = await browser().post(
        "/users/register",
        {
            "email": "one-more@example.com",
            "password": "secret-pass-1",
            "first_name": "A",
            "last_name": "B",
            "phone_number": "+919800000001",
        },
        scope_base={"client": ("203.0.113.77", 1)},
    )
    assert elsewhere.status_code == 303
