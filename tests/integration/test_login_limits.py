"""The brute-force limits against the real database: exact under concurrency, per account
and address, with a slower ceiling per account, and refusals that cost the owner nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from domain import accounts
from domain.accounts import LoginLimits
from domain.errors import InvalidCredentials, TooManyAttempts
from domain.models import ActivityLog
from tests import factories

NOW = datetime(2026, 12, 1, 9, 0).astimezone()
EMAIL = "rahul@example.com"


@pytest.fixture
async def owner(db):
    return await factories.make_user(EMAIL, "right-password")


async def _try(password, ip, limits, now=NOW):
    try:
        await accounts.authenticate(EMAIL, password, now=now, ip=ip, limits=limits)
    except (InvalidCredentials, TooManyAttempts) as exc:
        return type(exc)
    return "ok"


async def test_parallel_guesses_never_check_more_than_the_limit(owner):
    limits = LoginLimits(per_account_ip=5)
    outcomes = await asyncio.gather(
        *(_try(f"guess-{n}", "198.51.100.9", limits) for n in range(20))
    )
    assert outcomes.count(InvalidCredentials) == 5
    assert outcomes.count(TooManyAttempts) == 15
    assert await ActivityLog.filter(action="user.login_failed").count() == 5
    # the owner, from their own address, is not locked out
    assert await _try("right-password", "203.0.113.1", limits) == "ok"


async def test_parallel_guesses_from_many_addresses_stop_at_the_account_ceiling(owner):
    limits = LoginLimits(per_account_ip=5, per_account=7)
    outcomes = await asyncio.gather(
        *(_try(f"guess-{n}", f"198.51.100.{n}", limits) for n in range(16))
    )
    assert outcomes.count(InvalidCredentials) == 7
    assert outcomes.count(TooManyAttempts) == 9
    assert await _try("right-password", "203.0.113.1", limits) is TooManyAttempts
    # the ceiling is per hour
    assert await _try("right-password", "203.0.113.1", limits, NOW + timedelta(hours=1)) == "ok"


async def test_refused_attempts_do_not_count_towards_the_account_ceiling(owner):
    limits = LoginLimits(per_account_ip=5, per_account=8)
    for _ in range(5):
        assert await _try("guess", "198.51.100.9", limits) is InvalidCredentials
    for _ in range(10):  # the attacker keeps hammering: refused, and not counted
        assert await _try("guess", "198.51.100.9", limits) is TooManyAttempts
    assert await _try("right-password", "203.0.113.1", limits) == "ok"


async def test_the_right_password_forgives_earlier_typos_and_the_window_ends(owner):
    limits = LoginLimits(per_account_ip=3, window=timedelta(minutes=15))
    ip = "203.0.113.1"
    for _ in range(2):
        assert await _try("typo", ip, limits) is InvalidCredentials
    assert await _try("right-password", ip, limits) == "ok"
    for _ in range(3):
        assert await _try("typo", ip, limits) is InvalidCredentials
    assert await _try("right-password", ip, limits) is TooManyAttempts
    later = NOW + timedelta(minutes=15)
    assert await _try("right-password", ip, limits, later) == "ok"


async def test_unknown_emails_are_limited_like_known_ones(db):
    limits = LoginLimits(per_account_ip=2)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await accounts.authenticate(
                "nobody@example.com", "x", now=NOW, ip="1.2.3.4", limits=limits
            )
    with pytest.raises(TooManyAttempts):
        await accounts.authenticate("nobody@example.com", "x", now=NOW, ip="1.2.3.4", limits=limits)


async def test_every_account_from_one_address_has_a_ceiling(db):
    limits = LoginLimits(per_account_ip=5, per_ip=4)
    for n in range(4):
        with pytest.raises(InvalidCredentials):
            await accounts.authenticate(
                f"u{n}@example.com", "x", now=NOW, ip="1.2.3.4", limits=limits
            )
    with pytest.raises(TooManyAttempts):
        await accounts.authenticate("u9@example.com", "x", now=NOW, ip="1.2.3.4", limits=limits)
