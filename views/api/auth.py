"""Who is calling the API: `Authorization: Bearer <access token>` (a JWT from
`POST /api/v1/users/login`, domain/api_tokens.py), checked against the database once per
request, so logout and password change revoke it at once. The login cookie is never read
under /api (the app skips that hook there), so API requests need no CSRF token.

`api_user()` is the caller or None (a guest); `require_api_user()` answers 401 for a guest;
`require_api_admin()` answers 403 for a customer. A view that needs a caller is marked with
`@needs("user")` or `@needs("admin")` so the OpenAPI document shows the bearer scheme (and
the API authorization matrix knows what to expect).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from quart import g, request
from quart_schema.openapi import QUART_SCHEMA_SECURITY_ATTRIBUTE

from domain import accounts, api_tokens
from domain.errors import AuthenticationRequired, Forbidden, InvalidToken
from domain.models import User
from views.services import services

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
Audience = Literal["user", "admin"]
NEEDS_ATTRIBUTE = "_api_needs"
BEARER = "bearer"
ADMIN_ONLY = "This needs an admin account."

_UNSET = object()


def needs(audience: Audience) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        setattr(view, NEEDS_ATTRIBUTE, audience)
        setattr(view, QUART_SCHEMA_SECURITY_ATTRIBUTE, [{BEARER: []}])
        return view

    return decorator


def bearer_token() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("Send the access token as 'Authorization: Bearer <token>'.")
    return token


async def user_for_token(token: str) -> User:
    svc = services()
    claim = api_tokens.read_access_token(token, secret=svc.settings.secret_key, now=svc.now())
    user = await accounts.session_user(claim.session)
    if user is None:
        raise InvalidToken(
            "This access token was revoked (logged out, password changed or account closed). "
            "Log in again."
        )
    return user


async def api_user() -> User | None:
    """The caller, or None for a guest. Bad credentials are a 401, never a guest."""
    cached = g.get("api_user", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[no-any-return]
    token = bearer_token()
    user = None if token is None else await user_for_token(token)
    g.api_user = user
    return user


async def require_api_user() -> User:
    user = await api_user()
    if user is None:
        raise AuthenticationRequired()
    return user


async def require_api_admin() -> User:
    user = await require_api_user()
    if not user.is_admin:
        raise Forbidden(ADMIN_ONLY)
    return user
