"""Error pages: a domain error, an HTTP error or a crash becomes a page (or a partial for
htmx) with a title and words a person understands; a database outage is the 503 page."""

from __future__ import annotations

import logging

from quart import Quart, make_response
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from domain import database
from domain.errors import DomainError, ServiceUnavailable
from views import auth
from views.rendering import render, with_retry_after

log = logging.getLogger("views")

TITLES = {
    400: "That request was not understood",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "That action is not available here",
    409: "That just changed",
    413: "That upload is too large",
    422: "Please check what you entered",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Busbook is briefly unavailable",
}
MESSAGES = {
    404: "We could not find that page. Check the address, or start again from the search.",
    405: "This page does not accept that kind of request.",
    500: "We could not finish that request. Nothing was changed; please try again in a moment.",
}


async def error_page(status: int, message: str) -> ResponseReturnValue:
    try:
        return await render(
            "pages/error.html",
            "partials/_error.html",
            status=status,
            title=TITLES.get(status, "Something is not right"),
            message=message,
            code=status,
        )
    except Exception as exc:
        # The page shows who is signed in, which a view that checks the session itself
        # (a hold) loads only now: during an outage that fails, and the answer is the 503.
        if not database.is_outage(exc) or status == 503:
            raise
        return await unavailable_page(ServiceUnavailable())


async def unavailable_page(error: ServiceUnavailable) -> ResponseReturnValue:
    """The 503 page of a database outage. It must not need the database itself: the viewer
    is not looked up (the page shows the signed-out header), and `Retry-After` tells clients,
    proxies and gateways (a webhook answered 503 is delivered again) when to come back."""
    auth.forget_viewer()
    response = await make_response(await error_page(error.status, error.message))
    response.headers["Retry-After"] = str(error.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


async def domain_error(error: DomainError) -> ResponseReturnValue:
    if isinstance(error, ServiceUnavailable):
        return await unavailable_page(error)
    return await with_retry_after(await error_page(error.status, error.message), error)


async def http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    description = error.description or ""
    message = MESSAGES.get(status) if description.startswith(("The ", "No ", "You ")) else None
    page = await error_page(status, message or description or TITLES.get(status, ""))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response = await make_response(page)
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response
    return page


async def unexpected_error(error: Exception) -> ResponseReturnValue:
    if database.is_outage(error):
        # One line, not a traceback per request: an outage is not a bug, and a stopped
        # database would otherwise flood the log.
        log.warning("database unavailable: %s: %s", type(error).__name__, error)
        return await unavailable_page(ServiceUnavailable())
    log.exception("unhandled error", exc_info=error)
    return await error_page(500, MESSAGES[500])


def register_error_pages(app: Quart) -> None:
    app.register_error_handler(DomainError, domain_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
