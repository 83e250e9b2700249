"""Refresh tokens (domain/refresh_tokens.py) on the real database: stored hashed, rotated on
every use, a reused one revokes its whole family, two uses racing on separate connections
let exactly one through, expiry, and logout (here or anywhere) ends every sign-in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from domain import accounts, refresh_tokens
from domain.errors import (
    RecordBusy,
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
)
from domain.models import ActivityLog, RefreshToken, User
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
DAYS = 30


async def actions() -> list[str]:
    return [log.action for log in await ActivityLog.all().order_by("id")]


async def test_a_token_is_stored_only_as_its_hash_and_audited() -> None:
    user = await factories.make_user(now=NOW)
    token, row = await refresh_tokens.issue(user, now=NOW, days=DAYS, ip="203.0.113.5")
    assert len(token) >= 43
    stored = await RefreshToken.get(id=row.id)
    assert stored.token_hash == refresh_tokens.hash_token(token) != token
    assert stored.expires_at == NOW + timedelta(days=DAYS)
    assert stored.session_version == user.session_version
    log = await ActivityLog.get(action="refresh_token.issued")
    assert (log.actor_id, log.subject_type) == (user.id, "RefreshToken")
    assert log.subject_id == str(row.id)
    assert token not in str(log.data) and stored.token_hash not in str(log.data)


async def test_rotation_swaps_the_token_for_the_next_of_its_family() -> None:
    user = await factories.make_user(now=NOW)
    first, row = await refresh_tokens.issue(user, now=NOW, days=DAYS)
    later = NOW + timedelta(days=1)
    who, second = await refresh_tokens.rotate(first, now=later, days=DAYS)
    assert who.id == user.id and second != first
    old = await RefreshToken.get(id=row.id)
    new = await RefreshToken.get(token_hash=refresh_tokens.hash_token(second))
    assert old.used_at == later and old.revoked_at is None
    assert new.family == old.family and new.expires_at == later + timedelta(days=DAYS)
    # The new one rotates in turn.
    _, third = await refresh_tokens.rotate(second, now=later, days=DAYS)
    assert third not in (first, second)
    assert (await actions()).count("refresh_token.rotated") == 2


async def test_a_reused_token_revokes_the_whole_family() -> None:
    user = await factories.make_user(now=NOW)
    first, _ = await refresh_tokens.issue(user, now=NOW, days=DAYS)
    _, second = await refresh_tokens.rotate(first, now=NOW, days=DAYS)
    other_device, _ = await refresh_tokens.issue(user, now=NOW, days=DAYS)

    with pytest.raises(RefreshTokenReused) as reused:
        await refresh_tokens.rotate(first, now=NOW + timedelta(minutes=5), days=DAYS)
    assert (reused.value.status, reused.value.code) == (401, "refresh_token_reused")
    # The newer token of the family is dead too, even though it was never used ...
    with pytest.raises(RefreshTokenRevoked):
        await refresh_tokens.rotate(second, now=NOW + timedelta(minutes=6), days=DAYS)
    family = await RefreshToken.filter(token_hash=refresh_tokens.hash_token(second)).first()
    assert family is not None
    rows = await RefreshToken.filter(family=family.family)
    assert all(r.revoked_at == NOW + timedelta(minutes=5) for r in rows)
    assert {r.revoked_reason for r in rows} == {"reuse"}
    # ... and so is the reused one, again; another sign-in of the same user is not touched.
    with pytest.raises(RefreshTokenRevoked):
        await refresh_tokens.rotate(first, now=NOW + timedelta(minutes=7), days=DAYS)
    await refresh_tokens.rotate(other_device, now=NOW + timedelta(minutes=7), days=DAYS)
    log = await ActivityLog.get(action="refresh_token.reuse_detected")
    assert log.actor_id == user.id and log.data["family"] == family.family


async def test_two_uses_racing_let_exactly_one_through() -> None:
    """Each rotation runs on its own pooled connection; the row lock orders them, so the
    second sees the token used: a reuse, which revokes the family the first just extended
    (a client refreshes one request at a time)."""
    user = await factories.make_user(now=NOW)
    for round_ in range(5):
        token, _ = await refresh_tokens.issue(user, now=NOW, days=DAYS)
        results = await asyncio.gather(
            *(refresh_tokens.rotate(token, now=NOW, days=DAYS) for _ in range(4)),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, tuple)]
        lost = [r for r in results if not isinstance(r, tuple)]
        assert len(won) == 1, (round_, results)
        # The first to come after the winner finds the token used (a reuse: the family is
        # revoked); the rest find it revoked by then.
        refused = RefreshTokenReused | RefreshTokenRevoked | RecordBusy
        assert len(lost) == 3 and all(isinstance(r, refused) for r in lost), results
        assert any(isinstance(r, RefreshTokenReused) for r in lost)
        issued = await RefreshToken.filter(
            family=(await RefreshToken.get(token_hash=refresh_tokens.hash_token(token))).family
        )
        assert len(issued) == 2  # the presented token and one successor, never more
        with pytest.raises(RefreshTokenRevoked):
            await refresh_tokens.rotate(won[0][1], now=NOW, days=DAYS)


async def test_expired_and_unknown_tokens_are_refused() -> None:
    user = await factories.make_user(now=NOW)
    token, row = await refresh_tokens.issue(user, now=NOW, days=1)
    with pytest.raises(RefreshTokenExpired) as expired:
        await refresh_tokens.rotate(token, now=NOW + timedelta(days=1), days=1)
    assert (expired.value.status, expired.value.code) == (401, "refresh_token_expired")
    assert (await RefreshToken.get(id=row.id)).used_at is None  # nothing changed
    for bogus in ("", "x" * 500, "not-a-token", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(RefreshTokenInvalid) as invalid:
            await refresh_tokens.rotate(bogus, now=NOW, days=1)
        assert invalid.value.code == "refresh_token_invalid"


async def test_logout_ends_every_sign_in_and_bumps_the_session_version() -> None:
    user = await factories.make_user(now=NOW)
    phone, _ = await refresh_tokens.issue(user, now=NOW, days=DAYS)
    laptop, _ = await refresh_tokens.issue(user, now=NOW, days=DAYS)
    version = user.session_version
    # With the refresh token alone (the access token has run out).
    who = await refresh_tokens.revoke_for_logout(phone, now=NOW, ip="203.0.113.5")
    assert who is not None and who.id == user.id
    assert (await User.get(id=user.id)).session_version == version + 1
    for token in (phone, laptop):
        with pytest.raises(RefreshTokenRevoked):
            await refresh_tokens.rotate(token, now=NOW, days=DAYS)
    assert set(await RefreshToken.all().values_list("revoked_reason", flat=True)) == {"logout"}
    log = await ActivityLog.get(action="user.logged_out")
    assert log.data == {"via": "api", "revoked_families": 2} and log.ip == "203.0.113.5"
    # A dead token logs no one out again; an unknown one is refused.
    assert await refresh_tokens.revoke_for_logout(phone, now=NOW) is None
    assert (await User.get(id=user.id)).session_version == version + 1
    with pytest.raises(RefreshTokenInvalid):
        await refresh_tokens.revoke_for_logout("nope", now=NOW)
    # With the user (the access token's holder).
    again, _ = await refresh_tokens.issue(await User.get(id=user.id), now=NOW, days=DAYS)
    await refresh_tokens.revoke_for_logout(await User.get(id=user.id), now=NOW)
    with pytest.raises(RefreshTokenRevoked):
        await refresh_tokens.rotate(again, now=NOW, days=DAYS)


async def test_a_password_change_or_a_browser_logout_ends_api_sign_ins_too() -> None:
    user = await factories.make_user(now=NOW)
    token, row = await refresh_tokens.issue(user, now=NOW, days=DAYS)
    await accounts.change_password(
        user, "secret-pass-1", "another-pass-2", now=NOW, limits=accounts.LoginLimits()
    )
    with pytest.raises(RefreshTokenRevoked):
        await refresh_tokens.rotate(token, now=NOW, days=DAYS)
    assert (await RefreshToken.get(id=row.id)).revoked_reason == "session_ended"

    fresh = await User.get(id=user.id)
    token, _ = await refresh_tokens.issue(fresh, now=NOW, days=DAYS)
    await accounts.log_out(fresh, now=NOW)
    with pytest.raises(RefreshTokenRevoked):
        await refresh_tokens.rotate(token, now=NOW, days=DAYS)


async def test_a_closed_account_cannot_refresh() -> None:
    user = await factories.make_user(now=NOW)
    token, _ = await refresh_tokens.issue(user, now=NOW, days=DAYS)
    await User.filter(id=user.id).update(is_active=False)
    with pytest.raises(RefreshTokenRevoked):
        await refresh_tokens.rotate(token, now=NOW, days=DAYS)
