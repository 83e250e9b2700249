"""Signing in through the JSON API: one call per endpoint for the users views.

`log_in` checks the password (accounts.authenticate, with its brute-force limits) and hands
out a pair: a short-lived access token (domain/api_tokens.py) and the first refresh token of
a new family (domain/refresh_tokens.py). `refresh` rotates the refresh token and issues a
fresh access token with it; `log_out` ends every sign-in of the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import accounts, api_tokens, refresh_tokens
from domain.models import User

DEFAULT_LIMITS = accounts.LoginLimits()


@dataclass(frozen=True)
class TokenPolicy:
    """How tokens are made: the signing secret (SECRET_KEY), ACCESS_TOKEN_MINUTES and
    REFRESH_TOKEN_DAYS."""

    secret: str
    access_minutes: int = 15
    refresh_days: int = 30


@dataclass(frozen=True)
class TokenPair:
    user: User
    access: api_tokens.AccessToken
    refresh_token: str


def _access(user: User, policy: TokenPolicy, now: datetime) -> api_tokens.AccessToken:
    return api_tokens.issue_access_token(
        user, secret=policy.secret, now=now, minutes=policy.access_minutes
    )


async def log_in(
    email: str,
    password: str,
    *,
    policy: TokenPolicy,
    now: datetime,
    ip: str | None = None,
    limits: accounts.LoginLimits = DEFAULT_LIMITS,
) -> TokenPair:
    """A new sign-in: InvalidCredentials for a wrong email or password, TooManyAttempts
    (with `retry_after`) past the login limits, exactly as the website's login."""
    user = await accounts.authenticate(email, password, now=now, ip=ip, limits=limits)
    token, _ = await refresh_tokens.issue(user, now=now, days=policy.refresh_days, ip=ip)
    return TokenPair(user, _access(user, policy, now), token)


async def refresh(
    refresh_token: str, *, policy: TokenPolicy, now: datetime, ip: str | None = None
) -> TokenPair:
    """The next pair of a sign-in (refresh_tokens.rotate: a reused token ends it)."""
    user, token = await refresh_tokens.rotate(
        refresh_token, now=now, days=policy.refresh_days, ip=ip
    )
    return TokenPair(user, _access(user, policy, now), token)


async def log_out(credential: User | str, *, now: datetime, ip: str | None = None) -> User | None:
    """End every sign-in of the caller (the signed-in user, or a refresh token's owner):
    refresh_tokens.revoke_for_logout."""
    return await refresh_tokens.revoke_for_logout(credential, now=now, ip=ip)
