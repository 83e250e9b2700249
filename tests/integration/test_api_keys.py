"""Admin API keys (domain/api_keys.py): shown once and stored hashed, authenticate as the
admin who made them while they are an active admin, revocable, last use noted at most once
a minute; every create and revoke is in the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import api_keys
from domain.enums import UserRole
from domain.errors import (
    ApiKeyInvalid,
    ApiKeyNotFound,
    ApiKeyRevoked,
    Forbidden,
    ValidationFailed,
)
from domain.models import ActivityLog, ApiKey, User
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


async def test_a_key_is_shown_once_stored_hashed_and_authenticates_its_admin() -> None:
    admin = await factories.make_user(admin=True, now=NOW)
    key, secret = await api_keys.create_api_key(admin, "  Partner X  ", now=NOW, ip="198.51.100.7")
    assert secret.startswith(f"bbk_{key.prefix}_") and len(key.prefix) == 12
    stored = await ApiKey.get(id=key.id)
    assert stored.name == "Partner X" and stored.created_by_id == admin.id
    assert stored.secret_hash == api_keys.hash_key(secret)
    assert secret not in str(await ApiKey.all().values())
    log = await ActivityLog.get(action="api_key.created")
    assert log.actor_id == admin.id and log.data == {"name": "Partner X", "prefix": key.prefix}
    assert secret not in str(log.data) and log.ip == "198.51.100.7"

    who = await api_keys.authenticate_api_key(secret, now=NOW)
    assert who.id == admin.id and who.is_admin
    # Two keys never share a secret or a prefix.
    other, other_secret = await api_keys.create_api_key(admin, "Partner Y", now=NOW)
    assert other.prefix != key.prefix and other_secret != secret


async def test_wrong_keys_are_refused() -> None:
    admin = await factories.make_user(admin=True, now=NOW)
    key, secret = await api_keys.create_api_key(admin, "Script", now=NOW)
    wrong_secret = secret[:-2] + ("AA" if not secret.endswith("AA") else "BB")
    unknown_prefix = f"bbk_{'0' * 12}_{secret.split('_', 2)[2]}"
    for bogus in ("", "bbk_", "Bearer " + secret, secret + "\x00", wrong_secret, unknown_prefix):
        with pytest.raises(ApiKeyInvalid) as refused:
            await api_keys.authenticate_api_key(bogus, now=NOW)
        assert (refused.value.status, refused.value.code) == (401, "api_key_invalid")
    assert (await ApiKey.get(id=key.id)).last_used_at is None


async def test_revoked_keys_and_keys_of_former_admins_stop_working() -> None:
    admin = await factories.make_user(admin=True, now=NOW)
    colleague = await factories.make_user(admin=True, now=NOW)
    key, secret = await api_keys.create_api_key(admin, "Nightly export", now=NOW)
    revoked = await api_keys.revoke_api_key(colleague, key.id, now=NOW + timedelta(hours=1))
    assert revoked.revoked_at == NOW + timedelta(hours=1) and revoked.revoked_by_id == colleague.id
    with pytest.raises(ApiKeyRevoked) as refused:
        await api_keys.authenticate_api_key(secret, now=NOW + timedelta(hours=2))
    assert (refused.value.status, refused.value.code) == (401, "api_key_revoked")
    # Revoking again changes nothing and writes no second audit row.
    await api_keys.revoke_api_key(admin, key.id, now=NOW + timedelta(hours=3))
    assert (await ApiKey.get(id=key.id)).revoked_by_id == colleague.id
    logs = await ActivityLog.filter(action="api_key.revoked")
    assert [(log.actor_id, log.subject_id) for log in logs] == [(colleague.id, str(key.id))]
    with pytest.raises(ApiKeyNotFound):
        await api_keys.revoke_api_key(admin, key.id + 1000, now=NOW)

    # A key stops when its admin is demoted or their account is closed.
    _, second = await api_keys.create_api_key(admin, "Partner feed", now=NOW)
    await api_keys.authenticate_api_key(second, now=NOW)
    await User.filter(id=admin.id).update(role=UserRole.CUSTOMER)
    with pytest.raises(ApiKeyRevoked):
        await api_keys.authenticate_api_key(second, now=NOW)
    await User.filter(id=admin.id).update(role=UserRole.ADMIN, is_active=False)
    with pytest.raises(ApiKeyRevoked):
        await api_keys.authenticate_api_key(second, now=NOW)


async def test_last_use_is_written_at_most_once_a_minute() -> None:
    admin = await factories.make_user(admin=True, now=NOW)
    key, secret = await api_keys.create_api_key(admin, "Poller", now=NOW)
    await api_keys.authenticate_api_key(secret, now=NOW + timedelta(seconds=5))
    assert (await ApiKey.get(id=key.id)).last_used_at == NOW + timedelta(seconds=5)
    await api_keys.authenticate_api_key(secret, now=NOW + timedelta(seconds=50))
    assert (await ApiKey.get(id=key.id)).last_used_at == NOW + timedelta(seconds=5)
    await api_keys.authenticate_api_key(secret, now=NOW + timedelta(seconds=65))
    assert (await ApiKey.get(id=key.id)).last_used_at == NOW + timedelta(seconds=65)
    assert not await ActivityLog.filter(action__startswith="api_key.used").exists()


async def test_only_active_admins_manage_keys_and_names_are_checked() -> None:
    customer = await factories.make_user(now=NOW)
    admin = await factories.make_user(admin=True, now=NOW)
    with pytest.raises(Forbidden):
        await api_keys.create_api_key(customer, "Mine", now=NOW)
    key, _ = await api_keys.create_api_key(admin, "Ops", now=NOW)
    with pytest.raises(Forbidden):
        await api_keys.revoke_api_key(customer, key.id, now=NOW)
    for name, problem in (("   ", "Name the key"), ("x" * 81, "at most 80"), ("a\nb", "control")):
        with pytest.raises(ValidationFailed) as invalid:
            await api_keys.create_api_key(admin, name, now=NOW)
        assert problem in invalid.value.errors["name"]
    assert await ApiKey.all().count() == 1


async def test_keys_are_listed_newest_first_with_who_made_and_revoked_them() -> None:
    admin = await factories.make_user(admin=True, now=NOW)
    old, _ = await api_keys.create_api_key(admin, "Old", now=NOW)
    await api_keys.create_api_key(admin, "New", now=NOW + timedelta(days=1))
    await api_keys.revoke_api_key(admin, old.id, now=NOW + timedelta(days=2))
    listed = await api_keys.list_api_keys()
    assert [k.name for k in listed] == ["New", "Old"]
    assert listed[0].created_by.email == admin.email and not listed[0].is_revoked
    assert listed[1].is_revoked and listed[1].revoked_by.email == admin.email
