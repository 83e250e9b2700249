"""Page or fragment: `render` picks the template for the request, and the template
environment gets its filters (domain/formatting.py), globals and the seat markup cache."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import timedelta
from typing import Any

from markupsafe import Markup
from quart import Quart, current_app, make_response, render_template, request
from quart.typing import ResponseReturnValue

from domain import ticket_documents
from domain.booking_views import TicketDocument
from domain.errors import DomainError
from domain.inventory import SeatView
from views import auth, csrf
from views.services import Services


def is_htmx() -> bool:
    """An htmx swap: not a boosted link, nor a history restore (after Back, htmx asks a
    page it pushed to the address bar again and needs all of it)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and not headers.get("HX-Boosted")
        and not headers.get("HX-History-Restore-Request")
    )


async def render(
    page: str, partial: str | None = None, *, status: int = 200, **context: Any
) -> ResponseReturnValue:
    """The full page for a plain request; the partial alone for an htmx request."""
    template = partial if partial and is_htmx() else page
    return await render_template(template, **context), status


async def with_retry_after(page: ResponseReturnValue, error: DomainError) -> ResponseReturnValue:
    """The page, with `Retry-After` when the error says how long to wait (a rate limit):
    browsers show the page, scripts and proxies read the header."""
    response = await make_response(page)
    retry_after = error.data.get("retry_after")
    if isinstance(retry_after, int | float) and error.status in (429, 503):
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
    return response


async def template_globals() -> dict[str, Any]:
    return {"viewer": await auth.current_viewer()}


def install_templates(app: Quart, services: Services) -> None:
    """Filters from the one formatter (pages, PDF and mail write times and money alike),
    the globals the templates and imported macros use, and the context processor."""
    formatter = services.formatter
    app.context_processor(template_globals)
    app.jinja_env.filters.update(
        datetime=formatter.datetime,
        date=formatter.date,
        time=formatter.time,
        duration=formatter.duration,
        money=formatter.money,
        shortdate=formatter.short_date,
        isodate=formatter.iso_date,
        minutes=formatter.minutes,
    )
    # Globals, not context: imported macros (partials/_macros.html) see globals only.
    app.jinja_env.globals.update(
        timedelta=timedelta,
        csrf_token=csrf.csrf_token,
        csrf_field=csrf.CSRF_FIELD,
        seat_html=seat_html,
        settings=services.settings,  # the footer and the hold note (TIMEZONE, HOLD_MINUTES)
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def keep_hooks_on_the_loop(app: Quart) -> None:
    """Quart runs every synchronous hook in a worker thread, on every request that reaches
    it. Two synchronous context processors come with the libraries, for every rendered
    page: Flask's blueprint default (it reads Flask's request globals, which are always
    empty under Quart) and quart-auth's `current_user` (templates use `viewer`, from
    `template_globals`, instead). Drop them; ours are coroutines."""
    for processors in app.template_context_processors.values():
        processors[:] = [p for p in processors if inspect.iscoroutinefunction(p)]


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


async def ticket_pdf(document: TicketDocument) -> bytes:
    """The ticket's PDF (the website's download and the API's draw the same one)."""
    template = current_app.jinja_env.get_template("tickets/ticket_pdf.html")
    html = await template.render_async(
        **dataclasses.asdict(document), fonts_url=ticket_documents.FONTS_URL
    )
    return await ticket_documents.render_pdf_async(html)
