"""CSRF protection: a per-session token in every form (or the `X-CSRF-Token` header htmx
sends) and a same-origin `Origin` on every unsafe method."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from quart import current_app, request, session
from werkzeug.exceptions import Forbidden

from views.services import services

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
CSRF_MESSAGE = "This form has expired or was sent from another site. Reload the page and try again."

P = ParamSpec("P")
R = TypeVar("R")


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return str(token)


def own_origins() -> set[str]:
    """This request's own origin (as the trusted proxies forwarded it) and the configured
    PUBLIC_BASE_URL's: a browser on either is on this site."""
    public = urlsplit(services().settings.public_base_url)
    return {
        f"{request.scheme}://{request.host}".lower(),
        f"{public.scheme}://{public.netloc}".lower(),
    }


async def check_csrf() -> None:
    """Unsafe methods need a same-origin Origin (when sent) and the session's token."""
    if request.method in SAFE_METHODS:
        return
    if request.routing_exception is not None:
        return  # no such route or method (404/405): nothing to protect, let that answer
    endpoint = request.endpoint or ""
    view = current_app.view_functions.get(endpoint)
    if view is not None and getattr(view, "csrf_exempt", False):
        return
    await verify_csrf()


def check_origin() -> None:
    """A browser's `Origin`, when it sends one, must be this site's."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.rstrip("/").lower() not in own_origins():
        raise Forbidden(CSRF_MESSAGE)


async def verify_csrf() -> None:
    """The check itself, for a view that is exempt from the hook only when it has another
    proof (a hosted payment page opened from its signed address)."""
    check_origin()
    expected_token = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form
        sent = form.get(CSRF_FIELD)
    if not expected_token or not sent:
        raise Forbidden(CSRF_MESSAGE)
    # bytes: compare_digest raises TypeError on a non-ASCII str (csrf_token=² was a 500)
    if not hmac.compare_digest(str(expected_token).encode(), sent.encode()):
        raise Forbidden(CSRF_MESSAGE)


def csrf_exempt(view: Callable[P, R]) -> Callable[P, R]:
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view
