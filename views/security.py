"""Security headers on every response: the Content-Security-Policy (widened per response
with `allow_in_csp`), nosniff, framing, Referrer-Policy, HSTS under https, and `no-store`
on personal pages."""

from __future__ import annotations

from quart import Response, g, request

from views.auth import session_claim
from views.services import services

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
    return request.scheme in ("https", "wss") or services().settings.secure_cookies


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
