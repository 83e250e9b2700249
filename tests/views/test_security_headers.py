"""Security headers on every response; no-store on personal pages; templates that a strict
Content-Security-Policy lets through (the browser tests check the pages themselves)."""

from __future__ import annotations

import re
from pathlib import Path

from app import create_app
from domain.settings import PROJECT_ROOT
from tests import factories
from tests.conftest import make_settings
from views import security


async def test_every_response_carries_the_headers(client):
    for path in ("/", "/users/login", "/no-such-page", "/static/css/busbook.css", "/healthz"):
        response = await client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp
        assert "style-src 'self';" in csp
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response.headers  # plain http here


async def test_hsts_when_the_site_is_https(database_url):
    app = create_app(
        make_settings(database_url, public_base_url="https://busbook.example"),
        manage_database=False,
        background_tasks=False,
    )
    async with app.test_app():
        response = await app.test_client().get("/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_personal_pages_are_not_stored(client, auth):
    assert "no-store" not in (await client.get("/")).headers.get("Cache-Control", "")
    assert (await client.get("/users/login")).headers["Cache-Control"] == "no-store"
    await auth.register()
    for path in ("/", "/bookings", "/reservations"):
        assert (await client.get(path)).headers["Cache-Control"] == "no-store", path
    static = await client.get("/static/css/busbook.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")


async def test_the_admin_console_is_not_stored(app):
    await factories.make_user("admin@example.com", "admin-password", admin=True)
    from tests.conftest import AuthActions

    admin = AuthActions(app.test_client())
    await admin.login("admin@example.com", "admin-password")
    response = await admin.client.get("/admin")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


async def test_a_page_can_widen_its_own_policy_only(app):
    async with app.app.test_request_context("/payments/1"):
        security.allow_in_csp(
            script_src=("https://checkout.razorpay.com",), frame_src=("https://x",)
        )
        policy = security.content_security_policy()
    assert "script-src 'self' https://checkout.razorpay.com;" in policy
    assert "frame-src https://x;" in policy
    async with app.app.test_request_context("/"):
        assert "razorpay" not in security.content_security_policy()


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
EVENT_ATTRIBUTE = re.compile(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)
STYLE = re.compile(r"\sstyle\s*=|<style", re.IGNORECASE)


def _templates() -> list[Path]:
    # The ticket PDF is rendered by WeasyPrint, never served to a browser.
    return [p for p in (PROJECT_ROOT / "templates").rglob("*.html") if p.parent.name != "tickets"]


def test_templates_have_no_inline_script_handler_or_style():
    offenders = []
    for path in _templates():
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_ATTRIBUTE, STYLE):
            offenders += [f"{path.name}: {m.group(0)!r}" for m in pattern.finditer(text)]
    assert offenders == []
