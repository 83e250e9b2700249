"""Quart blueprints: parse the request, call the domain, render a page or a partial."""

from __future__ import annotations

import inspect
import logging
from datetime import timedelta

from quart import Quart, make_response
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from domain.errors import DomainError
from views import forms, web

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
}
MESSAGES = {
    404: "We could not find that page. Check the address, or start again from the search.",
    405: "This page does not accept that kind of request.",
    500: "We could not finish that request. Nothing was changed; please try again in a moment.",
}


async def error_page(status: int, message: str) -> ResponseReturnValue:
    return await web.render(
        "pages/error.html",
        "partials/_error.html",
        status=status,
        title=TITLES.get(status, "Something is not right"),
        message=message,
        code=status,
    )


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
        bookings,
        cancellations,
        checkout,
        holds,
        live,
        pages,
        trips,
    )

    forms.install_converters(app.url_map)
    web.auth.init_app(app)
    app.before_request(forms.refuse_unreadable)
    app.before_request(web.load_user)
    app.before_request(web.check_csrf)
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
    _keep_hooks_on_the_loop(app)

    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> ResponseReturnValue:
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
        log.exception("unhandled error", exc_info=error)
        return await error_page(500, MESSAGES[500])
