"""API access tokens: short-lived JWTs (PyJWT, HS256 only) that say who is calling.

A token carries `sub` (the user id), `sv` (the user's session version: logging out
everywhere or changing the password bumps it, which revokes every token issued before),
`jti`, `iat` and `exp`. Reading one checks the signature, the algorithm, the audience and
the expiry; whether the session version still holds is the database's answer
(`accounts.session_user`), asked by the caller once per request.

Refresh tokens are not JWTs: they are opaque, stored hashed and rotated
(domain/refresh_tokens.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from domain.accounts import SessionClaim
from domain.errors import InvalidToken
from domain.models import User

ALGORITHM = "HS256"
AUDIENCE = "busbook-api"
LEEWAY = timedelta(seconds=5)  # clocks of two workers may differ by a little


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int  # seconds
    jti: str


@dataclass(frozen=True)
class AccessClaim:
    user_id: int
    session_version: int
    jti: str
    expires_at: datetime

    @property
    def session(self) -> SessionClaim:
        return SessionClaim(self.user_id, self.session_version)


def issue_access_token(user: User, *, secret: str, now: datetime, minutes: int) -> AccessToken:
    jti = secrets.token_urlsafe(12)
    lifetime = timedelta(minutes=minutes)
    payload = {
        "sub": str(user.id),
        "sv": user.session_version,
        "jti": jti,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    token = jwt.encode(payload, secret, algorithm=ALGORITHM)
    return AccessToken(token=token, expires_in=int(lifetime.total_seconds()), jti=jti)


def read_access_token(token: str, *, secret: str, now: datetime) -> AccessClaim:
    """The claim of a well-signed, unexpired token; `InvalidToken` for anything else. The
    expiry is checked against `now` (the app's clock), not the machine's."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            # Both times are checked against `now` below: PyJWT would compare them with the
            # machine's clock, and refuse a token issued by an app whose clock runs ahead.
            options={
                "require": ["exp", "iat", "sub", "jti"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
        expires = int(payload["exp"])
        issued = int(payload["iat"])
        user_id = int(payload["sub"])
        version = int(payload["sv"])
        jti = str(payload["jti"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken() from exc
    if expires + LEEWAY.total_seconds() < now.timestamp():
        raise InvalidToken("Your access token has expired. Refresh it or log in again.")
    if issued - LEEWAY.total_seconds() > now.timestamp():
        raise InvalidToken("This access token is not valid yet.")
    return AccessClaim(
        user_id=user_id,
        session_version=version,
        jti=jti,
        expires_at=datetime.fromtimestamp(expires, tz=now.tzinfo),
    )
