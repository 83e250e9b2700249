"""Shared plumbing of the views: who is asking, CSRF, page-or-fragment rendering, formatting."""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from markupsafe import Markup
from quart import Response, current_app, g, redirect, render_template, request, session, url_for
from quart.typing import ResponseReturnValue
from quart_auth import AuthUser, QuartAuth, current_user
from werkzeug.exceptions import Forbidden

from domain import accounts, clock
from domain.inventory import SeatView
from domain.models import User
from domain.settings import Settings

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
CURRENCY_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£"}

P = ParamSpec("P")
R = TypeVar("R")


def settings() -> Settings:
    value: Settings = current_app.config["BUSBOOK"]
    return value


def client_ip() -> str | None:
    return request.remote_addr


def now() -> datetime:
    return clock.now()


# ------------------------------------------------------------------------------------ auth

auth = QuartAuth()


def auth_id_for(user: User) -> str:
    """The cookie carries the session version: bumping it revokes older cookies."""
    return f"{user.id}:{user.session_version}"


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


# ------------------------------------------------------------------------------------ CSRF


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return str(token)


def own_origins() -> set[str]:
    """This request's own origin (as the trusted proxies forwarded it) and the configured
    PUBLIC_BASE_URL's: a browser on either is on this site."""
    public = urlsplit(settings().public_base_url)
    return {
        f"{request.scheme}://{request.host}".lower(),
        f"{public.scheme}://{public.netloc}".lower(),
    }


CSRF_MESSAGE = "This form has expired or was sent from another site. Reload the page and try again."


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
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.rstrip("/").lower() not in own_origins():
        raise Forbidden(CSRF_MESSAGE)
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


# ------------------------------------------------------------------------------- rendering


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")


async def render(
    page: str, partial: str | None = None, *, status: int = 200, **context: Any
) -> ResponseReturnValue:
    """The full page for a plain request; the partial alone for an htmx request."""
    template = partial if partial and is_htmx() else page
    return await render_template(template, **context), status


# ------------------------------------------------------------------------------ formatting


def local(value: datetime) -> datetime:
    return value.astimezone(settings().tz)


def format_datetime(value: datetime) -> str:
    """Fri 27 Nov 2026, 06:00"""
    return local(value).strftime("%a %-d %b %Y, %H:%M")


def format_date(value: datetime) -> str:
    return local(value).strftime("%a %-d %b %Y")


def format_iso_date(value: datetime) -> str:
    return local(value).date().isoformat()


def format_short_date(value: datetime) -> str:
    return local(value).strftime("%-d %b")


def format_time(value: datetime) -> str:
    return local(value).strftime("%H:%M")


def format_duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def format_minutes(value: float) -> str:
    if value >= 1 and float(value).is_integer():
        return f"{int(value)} minute{'s' if value != 1 else ''}"
    return f"{round(value * 60)} seconds"


def format_money(value: Decimal | int, currency: str | None = None) -> str:
    code = currency or settings().currency
    symbol = CURRENCY_SYMBOLS.get(code, code + " ")
    amount = Decimal(value)
    text = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return f"{symbol}{text}"


async def template_globals() -> dict[str, Any]:
    return {"viewer": await current_viewer()}


# ------------------------------------------------------------------------ security headers

# No inline script or style anywhere: scripts and styles are static files, htmx's own
# indicator style is switched off (templates/base.html, htmx-config) and it may not eval.
CSP: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "frame-src": ("'none'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
}
CSP_EXTRA_KEY = "csp_extra"
# Pages about a person (their holds, bookings, tickets, payments, profile; the console):
# never kept by the browser's or a proxy's cache, also when reached by a signed link.
PERSONAL_PREFIXES = (
    "/users",
    "/reservations",
    "/bookings",
    "/tickets",
    "/cancellations",
    "/payments",
    "/admin",
)
HSTS = "max-age=31536000"


def allow_in_csp(**sources: tuple[str, ...]) -> None:
    """Widen this response's Content-Security-Policy (e.g. a gateway's script on its
    checkout page only): `allow_in_csp(script_src=("https://…",))`."""
    extra: dict[str, tuple[str, ...]] = g.setdefault(CSP_EXTRA_KEY, {})
    for name, values in sources.items():
        directive = name.replace("_", "-")
        extra[directive] = extra.get(directive, ()) + tuple(values)


def content_security_policy() -> str:
    policy = dict(CSP)
    for directive, values in g.get(CSP_EXTRA_KEY, {}).items():
        current = tuple(v for v in policy.get(directive, ()) if v != "'none'")
        policy[directive] = current + tuple(v for v in values if v not in current)
    return "; ".join(f"{name} {' '.join(values)}" for name, values in policy.items())


def served_over_https() -> bool:
    """The browser talks https: directly, or to a trusted proxy (views/proxies.py), or the
    site is configured as https (PUBLIC_BASE_URL)."""
    return request.scheme in ("https", "wss") or settings().secure_cookies


async def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if served_over_https():
        headers.setdefault("Strict-Transport-Security", HSTS)
    path = request.path
    if not path.startswith("/static/") and (
        session_claim() is not None or path.startswith(PERSONAL_PREFIXES)
    ):
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
        headers.pop("ETag", None)
        headers.pop("Last-Modified", None)
    return response


# -------------------------------------------------------------------------------- seats

_seats: dict[tuple[SeatView, bool], Markup] = {}
SEAT_MACRO_KEY = "busbook.seat_macro"


async def seat_html(seat: SeatView, checked: bool = False) -> Markup:
    """One seat of a seat map, from the macro in partials/_seat.html. A seat map has dozens
    of seats and every live update re-sends some; the same seat in the same state (number,
    fare, status, ticked or not: the whole key) is the same markup for everyone, so it is
    rendered once per process."""
    key = (seat, bool(checked))
    html = _seats.get(key)
    if html is None:
        macro = current_app.extensions.get(SEAT_MACRO_KEY)
        if macro is None:
            template = current_app.jinja_env.get_template("partials/_seat.html")
            macro = (await template.make_module_async()).seat_label  # type: ignore[attr-defined]
            current_app.extensions[SEAT_MACRO_KEY] = macro
        if len(_seats) > 50_000:
            _seats.clear()
        html = Markup(await macro(seat, bool(checked)))
        _seats[key] = html
    return html


__all__ = ["AuthUser", "auth"]
