"""Accounts through HTTP: register, log in and out, profiles, passwords, CSRF, rate limits."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from domain.models import ActivityLog, User
from domain.settings import PROJECT_ROOT
from tests import factories


async def test_register_signs_in_and_audits(client, auth):
    response = await auth.register()
    assert response.status_code == 303
    user = await User.get(email="priya@example.com")
    assert user.password_hash.startswith("$argon2")
    assert user.phone_number == "+919876543210"
    page = await client.get(f"/users/{user.id}/profile")
    assert page.status_code == 200
    assert "priya@example.com" in await page.get_data(as_text=True)
    assert await ActivityLog.filter(action="user.registered", actor_id=user.id).count() == 1


async def test_cookies_are_http_only_and_same_site(auth):
    response = await auth.register()
    cookies = response.headers.get_all("Set-Cookie")
    auth_cookie = next(c for c in cookies if c.startswith("busbook_auth="))
    assert "HttpOnly" in auth_cookie
    assert "SameSite=Lax" in auth_cookie


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"password": "short"}, "password", "at least 8 characters"),
        ({"email": "not-an-email"}, "email", "Enter an email address"),
        ({"phone_number": "12ab"}, "phone_number", "10 to 15 digits"),
        ({"first_name": ""}, "first_name", "Enter your first name"),
    ],
)
async def test_register_rejects_bad_input_next_to_the_field(auth, fields, field, message):
    response = await auth.register(**fields)
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert f'id="f-{field}-error"' in html
    assert message in html
    assert f'aria-describedby="f-{field}-error"' in html or "f-" + field + "-hint f-" in html
    assert await User.all().count() == 0


async def test_duplicate_email_is_refused_case_insensitively(client, auth):
    await auth.register()
    await auth.logout()
    response = await auth.register(email="PRIYA@Example.com", password="short")
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert "already exists" in html and "at least 8 characters" in html  # all at once
    assert await User.all().count() == 1


async def test_login_logout_and_wrong_password(client, auth):
    await factories.make_user("rahul@example.com", "right-password")
    wrong = await auth.login("rahul@example.com", "wrong-password")
    assert wrong.status_code == 422
    assert "do not match" in await wrong.get_data(as_text=True)
    unknown = await auth.login("nobody@example.com", "whatever-123")
    assert unknown.status_code == 422

    ok = await auth.login("Rahul@Example.com", "right-password")
    assert ok.status_code == 303
    user = await User.get(email="rahul@example.com")
    assert (await client.get(f"/users/{user.id}/profile")).status_code == 200

    assert (await auth.logout()).status_code == 303
    after = await client.get(f"/users/{user.id}/profile")
    assert after.status_code == 302
    assert after.headers["Location"].startswith("/users/login?next=")


async def test_logout_revokes_the_old_cookie(app, auth):
    await factories.make_user("rahul@example.com", "right-password")
    await auth.login("rahul@example.com", "right-password")
    user = await User.get(email="rahul@example.com")
    stolen = auth.client.cookie_jar  # what a thief copied before the logout
    saved = [(c.name, c.value) for c in stolen]
    await auth.logout()
    thief = app.test_client()
    for name, value in saved:
        thief.set_cookie("localhost", name, value)
    assert (await thief.get(f"/users/{user.id}/profile")).status_code == 302


async def test_login_redirects_back_to_a_local_page_only(auth):
    await factories.make_user("rahul@example.com", "right-password")
    token = await auth.csrf()
    data = {"email": "rahul@example.com", "password": "right-password", "csrf_token": token}
    local = await auth.client.post("/users/login", form={**data, "next": "/schedules/7?from=0"})
    assert local.headers["Location"] == "/schedules/7?from=0"
    await auth.logout()
    token = await auth.csrf()
    evil = await auth.client.post(
        "/users/login", form={**data, "csrf_token": token, "next": "https://evil.example/"}
    )
    assert evil.headers["Location"] == "/"


async def test_repeated_failures_are_rate_limited(auth, settings):
    await factories.make_user("rahul@example.com", "right-password")
    for _ in range(settings.login_max_failures):
        assert (await auth.login("rahul@example.com", "nope-nope")).status_code == 422
    blocked = await auth.login("rahul@example.com", "right-password")
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in await blocked.get_data(as_text=True)


async def test_csrf_token_is_required_for_unsafe_methods(client, auth):
    await factories.make_user("rahul@example.com", "right-password")
    missing = await client.post(
        "/users/login", form={"email": "rahul@example.com", "password": "right-password"}
    )
    assert missing.status_code == 403
    assert "expired" in await missing.get_data(as_text=True)
    await auth.csrf()
    forged = await client.post(
        "/users/login",
        form={"email": "rahul@example.com", "password": "right-password", "csrf_token": "forged"},
    )
    assert forged.status_code == 403
    token = await auth.csrf()
    cross_site = await client.post(
        "/users/login",
        form={"email": "rahul@example.com", "password": "right-password", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    header = await client.post(
        "/users/login",
        form={"email": "rahul@example.com", "password": "right-password"},
        headers={"X-CSRF-Token": token, "Origin": "http://localhost"},
    )
    assert header.status_code == 303
    assert await ActivityLog.filter(action="user.logged_in").count() == 1


async def test_a_customer_cannot_open_another_profile_but_an_admin_can(app, auth):
    other = await factories.make_user("other@example.com")
    await auth.register()
    me = await User.get(email="priya@example.com")
    response = await auth.client.get(f"/users/{other.id}/profile")
    assert response.status_code == 403
    assert "only see your own profile" in await response.get_data(as_text=True)
    edit = await auth.post(
        f"/users/{other.id}/profile",
        {
            "email": "x@example.com",
            "first_name": "X",
            "last_name": "Y",
            "phone_number": "9800000000",
        },
    )
    assert edit.status_code == 403
    assert (await User.get(id=other.id)).email == "other@example.com"

    await factories.make_user("admin@example.com", "admin-password", admin=True)
    admin = type(auth)(app.test_client())
    await admin.login("admin@example.com", "admin-password")
    for user_id in (other.id, me.id):
        assert (await admin.client.get(f"/users/{user_id}/profile")).status_code == 200
    assert (await admin.client.get("/users/99999/profile")).status_code == 404


async def test_edit_profile(auth):
    await auth.register()
    me = await User.get(email="priya@example.com")
    response = await auth.post(
        f"/users/{me.id}/profile",
        {
            "email": "priya.s@example.com",
            "first_name": "Priya",
            "last_name": "S",
            "phone_number": "+91 98765 43211",
            "email_password": "secret-pass-1",
        },
    )
    assert response.status_code == 303
    me = await User.get(id=me.id)
    assert (me.email, me.last_name, me.phone_number) == (
        "priya.s@example.com",
        "S",
        "+919876543211",
    )
    assert await ActivityLog.filter(action="user.profile_updated").count() == 1

    await factories.make_user("taken@example.com")
    clash = await auth.post(
        f"/users/{me.id}/profile",
        {
            "email": "taken@example.com",
            "first_name": "Priya",
            "last_name": "S",
            "phone_number": "+919876543211",
            "email_password": "secret-pass-1",
        },
    )
    assert clash.status_code == 422
    assert "Another account already uses this email" in await clash.get_data(as_text=True)
    assert (await User.get(id=me.id)).email == "priya.s@example.com"


async def test_change_password_revokes_other_sessions(app, auth):
    await auth.register()
    me = await User.get(email="priya@example.com")
    other_device = type(auth)(app.test_client())
    await other_device.login()

    wrong = await auth.post(
        f"/users/{me.id}/password", {"current_password": "nope", "new_password": "brand-new-pass"}
    )
    assert wrong.status_code == 422
    assert "not your current password" in await wrong.get_data(as_text=True)

    ok = await auth.post(
        f"/users/{me.id}/password",
        {"current_password": "secret-pass-1", "new_password": "brand-new-pass"},
    )
    assert ok.status_code == 303
    assert (await auth.client.get(f"/users/{me.id}/profile")).status_code == 200
    assert (await other_device.client.get(f"/users/{me.id}/profile")).status_code == 302
    await auth.logout()
    assert (await auth.login(password="brand-new-pass")).status_code == 303


async def test_create_admin_command(database_url):
    """`busbook create-admin EMAIL` in its own process, as an operator runs it."""
    env = {**os.environ, "DATABASE_URL": database_url, "BUSBOOK_ADMIN_PASSWORD": "boss-pass-123"}
    await factories.make_user("rahul@example.com")
    for email, expected in (
        ("boss@example.com", "boss@example.com is now an admin (new account)"),
        ("rahul@example.com", "rahul@example.com is an admin"),
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "app.py",
            "create-admin",
            email,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output = (await process.communicate())[0].decode()
        assert process.returncode == 0, output
        assert expected in output
        assert (await User.get(email=email)).is_admin
    assert await ActivityLog.filter(action="user.promoted_admin").count() == 1


async def test_registering_lands_on_a_welcome_said_once(client, auth):
    response = await auth.register(first_name="Meera")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    landing = await (await client.get("/")).get_data(as_text=True)
    assert "Welcome, Meera — your account is ready." in landing
    assert 'role="status"' in landing
    again = await (await client.get("/")).get_data(as_text=True)
    assert "your account is ready" not in again


async def test_registering_goes_on_to_next_with_the_welcome(client, auth):
    response = await auth.register(next="/bookings")
    assert response.headers["Location"] == "/bookings"
    page = await (await client.get("/bookings")).get_data(as_text=True)
    assert "Welcome, Priya — your account is ready." in page


async def test_a_taken_email_links_to_the_login_with_the_email(client, auth):
    await auth.register()
    await auth.logout()
    response = await auth.register(email="priya@example.com", next="/bookings")
    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert (
        "An account with this email already exists. "
        '<a href="/users/login?email=priya@example.com&amp;next=/bookings">Log in instead?</a>'
    ) in html
    assert 'name="next" value="/bookings"' in html  # the detour survives the refusal
    login = await (await client.get("/users/login?email=priya%40example.com")).get_data(
        as_text=True
    )
    assert 'name="email" type="email" value="priya@example.com"' in login


async def test_a_wrong_login_links_to_registering_with_the_email(client, auth):
    response = await auth.login("new@example.com", "some-password")
    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert (
        "That email and password do not match an account. "
        '<a href="/users/register?email=new@example.com">Create an account instead?</a>'
    ) in html
    register = await (await client.get("/users/register?email=new%40example.com")).get_data(
        as_text=True
    )
    assert 'name="email" type="email" value="new@example.com"' in register
    # A prefill is only text in a value: markup in it is escaped, not run.
    odd = await client.get('/users/login?email="><script>x</script>')
    assert "<script>x</script>" not in await odd.get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password", "messages"),
    [
        ("", "", {"email": "Enter your email.", "password": "Enter your password."}),
        ("priya@example.com", "", {"password": "Enter your password."}),
        ("  ", "secret-pass-1", {"email": "Enter your email."}),
    ],
)
async def test_an_incomplete_login_names_the_missing_fields_and_keeps_the_email(
    auth, email, password, messages
):
    await factories.make_user("priya@example.com", "secret-pass-1")
    response = await auth.login(email, password)
    html = await response.get_data(as_text=True)
    assert response.status_code == 422
    assert "do not match" not in html
    for field, message in messages.items():
        assert f'<p class="field__error" id="f-{field}-error">{message}</p>' in html
    for field in {"email", "password"} - messages.keys():
        assert f'id="f-{field}-error"' not in html
    assert f'name="email" type="email" value="{email}"' in html
    assert await ActivityLog.filter(action="user.login_failed").count() == 0  # no attempt
