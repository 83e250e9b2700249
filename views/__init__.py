"""Quart blueprints: parse the request, call the domain, render a page or a partial."""

from __future__ import annotations

import inspect
import logging
from datetime import timedelta

from quart import Quart, g, make_response
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from domain import accounts as accounts_domain
from domain import database
from domain.errors import DomainError, ServiceUnavailable
from views import forms, web
from views.proxies import TrustedProxies

log = logging.getLogger(__name__)

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
        return await web.render(
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
    g.pop("deferred_claim", None)
    g.user = None
    response = await make_response(await error_page(error.status, error.message))
    response.headers["Retry-After"] = str(error.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def _keep_hooks_on_the_loop(app: Quart) -> None:
    """Quart runs every synchronous hook in a worker thread, on every request that reaches
    it. Two synchronous context processors come with the libraries, for every rendered
    page: Flask's blueprint default (it reads Flask's request globals, which are always
    empty under Quart) and quart-auth's `current_user` (templates use `viewer`, from
    `web.template_globals`, instead). Drop them; ours are coroutines."""
    for processors in app.template_context_processors.values():
        processors[:] = [p for p in processors if inspect.iscoroutinefunction(p)]


def register_views(app: Quart) -> None:
    from views import (
        accounts,
        admin,
        admin_payments,
        bookings,
        cancellations,
        checkout,
        holds,
        live,
        pages,
        trips,
    )

    # Forwarded headers count only from the proxies TRUSTED_PROXIES names (views/proxies.py).
    app.asgi_app = TrustedProxies(app.asgi_app, app.config["BUSBOOK"].proxy_trust)  # type: ignore[method-assign,assignment]
    forms.install_converters(app.url_map)
    web.auth.init_app(app)
    app.before_request(forms.refuse_unreadable)
    app.before_request(web.load_user)
    app.before_request(web.check_csrf)
    app.after_request(web.security_headers)
    accounts_domain.set_hash_concurrency(app.config["BUSBOOK"].password_hash_concurrency)
    app.context_processor(web.template_globals)
    app.jinja_env.filters.update(
        datetime=web.format_datetime,
        date=web.format_date,
        time=web.format_time,
        duration=web.format_duration,
        money=web.format_money,
        shortdate=web.format_short_date,
        isodate=web.format_iso_date,
        minutes=web.format_minutes,
    )
    # Globals, not context: imported macros (partials/_macros.html) see globals only.
    app.jinja_env.globals.update(
        timedelta=timedelta,
        csrf_token=web.csrf_token,
        csrf_field=web.CSRF_FIELD,
        seat_html=web.seat_html,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    app.register_blueprint(pages.blueprint)
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(trips.blueprint)
    app.register_blueprint(holds.blueprint)
    app.register_blueprint(live.blueprint)
    app.register_blueprint(checkout.blueprint)
    app.register_blueprint(bookings.blueprint)
    app.register_blueprint(cancellations.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(admin_payments.blueprint)
    _keep_hooks_on_the_loop(app)

    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> ResponseReturnValue:
        if isinstance(error, ServiceUnavailable):
            return await unavailable_page(error)
        return await error_page(error.status, error.message)

    @app.errorhandler(HTTPException)
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

    @app.errorhandler(Exception)
    async def unexpected_error(error: Exception) -> ResponseReturnValue:
        if database.is_outage(error):
            # One line, not a traceback per request: an outage is not a bug, and a stopped
            # database would otherwise flood the log.
            log.warning("database unavailable: %s: %s", type(error).__name__, error)
            return await unavailable_page(ServiceUnavailable())
        log.exception("unhandled error", exc_info=error)
        return await error_page(500, MESSAGES[500])
