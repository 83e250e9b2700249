"""The console's API keys page over HTTP: create one (the secret is on that page only),
list them with their last use, revoke one; CSRF as on every console form."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from domain import api_keys
from domain.errors import ApiKeyRevoked
from domain.models import ActivityLog, ApiKey
from tests import factories
from tests.conftest import AuthActions

SECRET_RE = re.compile(r'id="new-key-secret" value="(bbk_[^"]+)"')


@pytest.fixture
async def admin(app, auth) -> AuthActions:
    await factories.make_user("ops@example.com", "ops-password-1", admin=True)
    actions = type(auth)(app.test_client())
    await actions.login("ops@example.com", "ops-password-1")
    return actions


async def test_create_shows_the_secret_once_and_it_works(admin: AuthActions):
    listing = await admin.client.get("/admin/api-keys")
    page = await listing.get_data(as_text=True)
    assert listing.status_code == 200 and "No API keys yet." in page
    assert listing.headers["Cache-Control"] == "no-store"
    # The console's menu leads here.
    assert 'href="/admin/api-keys"' in await (await admin.client.get("/admin")).get_data(
        as_text=True
    )

    created = await admin.post("/admin/api-keys", {"name": "Partner X sync"})
    body = await created.get_data(as_text=True)
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    secret = html.unescape(SECRET_RE.search(body)[1])
    assert "only time it is shown" in body
    key = await ApiKey.get()
    assert key.name == "Partner X sync" and secret.startswith(f"bbk_{key.prefix}_")
    user = await api_keys.authenticate_api_key(secret, now=datetime.now(UTC))
    assert user.email == "ops@example.com"

    # The list shows the prefix and the last use, never the secret again.
    again = await (await admin.client.get("/admin/api-keys")).get_data(as_text=True)
    assert secret not in again and f"bbk_{key.prefix}_…" in again
    assert "Partner X sync" in again and "never" not in again
    log = await ActivityLog.get(action="api_key.created")
    assert log.data["name"] == "Partner X sync"


async def test_a_bad_name_is_refused_next_to_its_field(admin: AuthActions):
    refused = await admin.post("/admin/api-keys", {"name": "   "})
    body = await refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="f-name-error"' in body and "Name the key" in body
    assert "new-key-secret" not in body
    assert not await ApiKey.exists()


async def test_revoke_stops_the_key_and_the_list_says_so(admin: AuthActions):
    await admin.post("/admin/api-keys", {"name": "Nightly export"})
    key = await ApiKey.get()
    page = await (await admin.client.get("/admin/api-keys")).get_data(as_text=True)
    assert f'action="/admin/api-keys/{key.id}/revoke"' in page
    done = await admin.post(f"/admin/api-keys/{key.id}/revoke", {})
    assert done.status_code == 303
    listing = await admin.client.get(done.headers["Location"])
    text = await listing.get_data(as_text=True)
    assert "is revoked" in text and "revoked " in text and "by ops@example.com" in text
    assert f'action="/admin/api-keys/{key.id}/revoke"' not in text
    assert (await ApiKey.get(id=key.id)).revoked_at is not None
    assert await ActivityLog.filter(action="api_key.revoked").count() == 1
    missing = await admin.post(f"/admin/api-keys/{key.id + 99}/revoke", {})
    assert missing.status_code == 404


async def test_the_forms_need_their_csrf_token(admin: AuthActions):
    no_token = await admin.client.post("/admin/api-keys", form={"name": "Sneaky"})
    assert no_token.status_code == 403
    assert not await ApiKey.exists()
    await admin.post("/admin/api-keys", {"name": "Real"})
    key = await ApiKey.get()
    forged = await admin.client.post(
        f"/admin/api-keys/{key.id}/revoke",
        form={"csrf_token": await admin.csrf()},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert (await ApiKey.get(id=key.id)).revoked_at is None


async def test_the_last_use_shows_in_the_list(admin: AuthActions, settings):
    created = await admin.post("/admin/api-keys", {"name": "Poller"})
    secret = html.unescape(SECRET_RE.search(await created.get_data(as_text=True))[1])
    row_re = re.compile(r'<tr id="api-key-\d+">(.*?)</tr>', re.S)
    page = await (await admin.client.get("/admin/api-keys")).get_data(as_text=True)
    assert "never" in row_re.search(page)[1]
    used_at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    await api_keys.authenticate_api_key(secret, now=used_at)
    page = await (await admin.client.get("/admin/api-keys")).get_data(as_text=True)
    row = row_re.search(page)[1]
    assert "never" not in row
    assert html.escape(settings.formatter.datetime(used_at)) in row
    # Revoked from elsewhere: the key stops working and the row says so.
    other = await factories.make_user(admin=True)
    await api_keys.revoke_api_key(other, (await ApiKey.get()).id, now=used_at)
    with pytest.raises(ApiKeyRevoked):
        await api_keys.authenticate_api_key(secret, now=used_at)
    row = row_re.search(await (await admin.client.get("/admin/api-keys")).get_data(as_text=True))[1]
    assert f"by {other.email}" in row and "Revoke" not in row
