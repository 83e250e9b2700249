"""Behind a TLS proxy: forms post, the client's own address is used, but only when the
connection comes from a proxy TRUSTED_PROXIES names."""

from __future__ import annotations

import pytest
from quart import Quart

from app import create_app
from domain.models import ActivityLog
from tests import factories
from tests.conftest import CSRF_RE, make_settings

PROXY = ("10.0.0.5", 51000)
STRANGER = ("198.51.100.7", 51000)
PUBLIC = "https://busbook.example"


async def _app(database_url, **overrides):
    settings = make_settings(database_url, public_base_url=PUBLIC, **overrides)
    return create_app(settings, manage_database=False, background_tasks=False)


async def _log_in(app: Quart, peer, headers):
    client = app.test_client()
    page = await client.get("/users/login", scope_base={"client": peer}, headers=headers)
    token = CSRF_RE.search(await page.get_data(as_text=True)).group(1)
    return await client.post(
        "/users/login",
        form={"email": "rahul@example.com", "password": "right-password", "csrf_token": token},
        headers={**headers, "Origin": PUBLIC},
        scope_base={"client": peer},
    )


FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "busbook.example",
}


@pytest.mark.parametrize("trusted", ["10.0.0.0/8", "10.0.0.5", "1"])
async def test_a_trusted_proxy_forwards_scheme_host_and_client(database_url, trusted):
    await factories.make_user("rahul@example.com", "right-password")
    app = await _app(database_url, trusted_proxies=trusted)
    async with app.test_app():
        response = await _log_in(app, PROXY, FORWARDED)
    assert response.status_code == 303
    assert "Strict-Transport-Security" in response.headers
    logged = await ActivityLog.get(action="user.logged_in")
    assert logged.ip == "203.0.113.9"


async def test_forwarded_headers_from_anyone_else_are_ignored(database_url):
    await factories.make_user("rahul@example.com", "right-password")
    app = await _app(database_url, trusted_proxies="10.0.0.0/8")
    async with app.test_app():
        response = await _log_in(app, STRANGER, FORWARDED)
    # the Origin is the configured public one, so the form still posts
    assert response.status_code == 303
    logged = await ActivityLog.get(action="user.logged_in")
    assert logged.ip == STRANGER[0]


async def test_the_public_origin_is_accepted_and_others_are_not(database_url):
    await factories.make_user("rahul@example.com", "right-password")
    app = await _app(database_url)
    async with app.test_app():
        client = app.test_client()
        page = await client.get("/users/login")
        token = CSRF_RE.search(await page.get_data(as_text=True)).group(1)
        form = {"email": "rahul@example.com", "password": "right-password", "csrf_token": token}
        evil = await client.post(
            "/users/login", form=form, headers={"Origin": "https://evil.example"}
        )
        assert evil.status_code == 403
        # https://busbook.example.evil.example is not a prefix match either
        sneaky = await client.post(
            "/users/login", form=form, headers={"Origin": PUBLIC + ".evil.example"}
        )
        assert sneaky.status_code == 403
        ok = await client.post("/users/login", form=form, headers={"Origin": PUBLIC})
        assert ok.status_code == 303


async def test_the_login_limit_counts_the_client_not_the_proxy(database_url):
    await factories.make_user("rahul@example.com", "right-password")
    app = await _app(database_url, trusted_proxies="10.0.0.0/8", login_max_failures=2)
    async with app.test_app():
        client = app.test_client()
        attacker = {**FORWARDED, "X-Forwarded-For": "198.51.100.99"}
        for _ in range(2):
            page = await client.get("/users/login")
            token = CSRF_RE.search(await page.get_data(as_text=True)).group(1)
            wrong = await client.post(
                "/users/login",
                form={"email": "rahul@example.com", "password": "nope-nope", "csrf_token": token},
                headers={**attacker, "Origin": PUBLIC},
                scope_base={"client": PROXY},
            )
            assert wrong.status_code == 422
        # same proxy, another client: still gets in
        response = await _log_in(app, PROXY, FORWARDED)
    assert response.status_code == 303
