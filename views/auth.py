"""Who is asking: the login cookie's claim, the signed-in user, `login_required`,
`require_user()`, and the same-site targets of the login redirect."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from quart import current_app, g, redirect, request, url_for
from quart_auth import AuthUser, QuartAuth, current_user
from werkzeug.exceptions import Unauthorized

from domain import accounts
from domain.models import User

P = ParamSpec("P")
R = TypeVar("R")

quart_auth = QuartAuth()


def client_ip() -> str | None:
    """The caller's address (as the trusted proxies forwarded it, views/proxies.py)."""
    return request.remote_addr


def auth_id_for(user: User) -> str:
    """The cookie carries the session version: bumping it revokes older cookies."""
    return f"{user.id}:{user.session_version}"


def auth_user_for(user: User) -> AuthUser:
    """What `quart_auth.login_user` stores in the cookie for this user."""
    return AuthUser(auth_id_for(user))


_NO_CLAIM = object()


def session_claim() -> accounts.SessionClaim | None:
    """Who the login cookie says this is (nothing checked against the database yet). Read
    once per request: the user lookup and the response headers both ask, and decoding the
    signed cookie is a measurable share of a hold."""
    cached = g.get("_session_claim", _NO_CLAIM)
    if cached is not _NO_CLAIM:
        return cached  # type: ignore[no-any-return]
    claim = None
    auth_id = current_user.auth_id
    if auth_id:
        try:
            user_id, version = (int(part) for part in auth_id.split(":", 1))
            claim = accounts.SessionClaim(user_id, version)
        except ValueError:
            claim = None
    g._session_claim = claim
    return claim


def forget_session_claim() -> None:
    """After signing in or out within a request, the cookie says something new."""
    g.pop("_session_claim", None)


def checks_session_itself(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view whose domain call verifies the login cookie in its own first statement
    (a hold locks the customer's row anyway): the request skips the separate user query,
    one database round trip less on the hottest path. Such a view reads
    `session_claim()`; anything it renders loads the user on demand (`current_viewer`)."""
    view.checks_session_itself = True  # type: ignore[attr-defined]
    return view


async def load_user() -> None:
    """Resolve the signed-in user once per request into g.user (None for guests)."""
    g.user = None
    claim = session_claim()
    if claim is None:
        return
    endpoint_view = current_app.view_functions.get(request.endpoint or "")
    if getattr(endpoint_view, "checks_session_itself", False):
        g.deferred_claim = claim
        return
    g.user = await accounts.session_user(claim)


def forget_viewer() -> None:
    """Show this response as signed out, without asking the database (the 503 page)."""
    g.pop("deferred_claim", None)
    g.user = None


async def current_viewer() -> User | None:
    """The signed-in user, loading it now if this view deferred the check."""
    claim = g.pop("deferred_claim", None)
    if claim is not None:
        g.user = await accounts.session_user(claim)
    return viewer()


def viewer() -> User | None:
    if "deferred_claim" in g:
        raise RuntimeError("this view checks the session itself: await current_viewer()")
    user: User | None = g.get("user")
    return user


SIGN_IN_MESSAGE = "Please log in to continue."


def require_user() -> User:
    """The signed-in user of a view that needs one. `login_required` has already sent a
    guest to the login page, so a guest reaching this is a 401, never a crash."""
    user = viewer()
    if user is None:
        raise Unauthorized(SIGN_IN_MESSAGE)
    return user


NEXT_MAX = 2048  # what safe_next accepts; a longer address comes back as its path alone


def login_url() -> str:
    target = request.full_path.rstrip("?") if request.method == "GET" else request.path
    if len(target) > NEXT_MAX:  # a huge query string would become a huge Location header
        target = request.path if len(request.path) <= NEXT_MAX else "/"
    return url_for("accounts.login", next=target)


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | Any]]:
    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Any:
        if viewer() is None:
            if request.headers.get("HX-Request"):
                return "", 401, {"HX-Redirect": login_url()}
            return redirect(login_url())
        return await view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirect targets after login or registration.

    Browsers parse a Location the WHATWG way, not like urlsplit: a backslash counts as a
    slash (`/\\evil.example` is `//evil.example`), tabs and newlines are removed anywhere
    (`/<TAB>/evil.example`), leading spaces and control characters are dropped. So the target
    must be one path starting with a single `/`, followed by neither `/` nor `\\`, with no
    backslash, whitespace or control character anywhere; everything else is refused."""
    if not target or len(target) > NEXT_MAX:
        return default
    # Checked once more percent-decoded, in case anything on the way decodes it again.
    for form in (target, unquote(target)):
        if form[0] != "/" or form[1:2] in ("/", "\\"):
            return default
        if "\\" in form or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in form):
            return default
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return default
    return target
