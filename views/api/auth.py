"""Who is calling the API: `Authorization: Bearer <access token>` (a JWT from
`POST /api/v1/users/login`, domain/api_tokens.py), checked against the database once per
request, so logout and password change revoke it at once; or an admin API key made in the
console (`Authorization: Bearer bbk_...` or `X-API-Key: bbk_...`, domain/api_keys.py),
which acts as the admin who made it. The login cookie is never read
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

from domain import accounts, api_keys, api_tokens
from domain.errors import ApiKeyInvalid, AuthenticationRequired, Forbidden, InvalidToken
from domain.models import User
from views.services import services

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
Audience = Literal["user", "admin"]
NEEDS_ATTRIBUTE = "_api_needs"
SESSION_CHECKED_ATTRIBUTE = "_api_checks_session_itself"
BEARER = "bearer"
API_KEY = "api_key"  # the OpenAPI security scheme of the X-API-Key header
API_KEY_HEADER = "X-API-Key"
ADMIN_ONLY = "This needs an admin account."

_UNSET = object()
REVOKED = (
    "This access token was revoked (logged out, password changed or account closed). Log in again."
)


def checks_session_itself(view: F) -> F:
    """Mark a `needs("user")` view whose one domain call checks the caller's session itself
    (a hold's first statement does, as for the website's cookie, views/auth.py's namesake):
    before the view only the token is read (`api_session_claim`: present, well signed, not
    expired), and the per-request user query is saved on the hottest path."""
    setattr(view, SESSION_CHECKED_ATTRIBUTE, True)
    return view


def needs(audience: Audience) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        setattr(view, NEEDS_ATTRIBUTE, audience)
        setattr(view, QUART_SCHEMA_SECURITY_ATTRIBUTE, [{BEARER: []}, {API_KEY: []}])
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


def credential() -> str | None:
    """The caller's one credential: the bearer token or the X-API-Key header."""
    bearer = bearer_token()
    key = request.headers.get(API_KEY_HEADER)
    if key is None:
        return bearer
    if bearer is not None:
        raise InvalidToken("Send one credential: either Authorization or X-API-Key.")
    key = key.strip()
    if not api_keys.looks_like_key(key):
        raise ApiKeyInvalid()
    return key


def by_api_key() -> bool:
    """Whether this request's caller (api_user, already resolved) came with an API key."""
    return bool(g.get("api_key_caller", False))


async def user_for_token(token: str) -> User:
    svc = services()
    if api_keys.looks_like_key(token):
        g.api_key_caller = True
        return await api_keys.authenticate_api_key(token, now=svc.now())
    claim = api_tokens.read_access_token(token, secret=svc.settings.secret_key, now=svc.now())
    user = await accounts.session_user(claim.session)
    if user is None:
        raise InvalidToken(REVOKED)
    return user


async def api_user() -> User | None:
    """The caller, or None for a guest. Bad credentials are a 401, never a guest."""
    cached = g.get("api_user", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[no-any-return]
    token = credential()
    user = None if token is None else await user_for_token(token)
    g.api_user = user
    return user


async def api_session_claim() -> accounts.SessionClaim:
    """Who the caller's access token says it is, not yet checked against the database: for
    a view whose one domain call checks the session itself (a hold's first statement does,
    as it does for the website's login cookie) and raises SignedOut when it no longer
    holds; the view answers that as a revoked token. Saves the per-request user query on
    the hottest path. An API key, or a caller already looked up, goes the usual way."""
    cached = g.get("api_user", _UNSET)
    if isinstance(cached, User):
        return accounts.SessionClaim.of(cached)
    token = credential()
    if token is None:
        raise AuthenticationRequired()
    if api_keys.looks_like_key(token):
        return accounts.SessionClaim.of(await require_api_user())
    svc = services()
    claim = api_tokens.read_access_token(token, secret=svc.settings.secret_key, now=svc.now())
    return claim.session


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
