"""Quart blueprints: parse the request, call the domain, render a page or a partial.

`register_views` wires them into an app whose `Services` (views/services.py) are installed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart

from views import assets, auth, compression, csrf, errors, forms, rendering, security
from views.api import problems as api_problems
from views.api import register_api
from views.proxies import TrustedProxies
from views.services import services_of


def register_views(app: Quart) -> None:
    from views import (
        accounts,
        admin,
        admin_api_keys,
        admin_payments,
        admin_refunds,
        api_docs,
        bookings,
        cancellations,
        checkout,
        holds,
        live,
        pages,
        simulator,
        trips,
    )

    services = services_of(app)
    # Forwarded headers count only from the proxies TRUSTED_PROXIES names (views/proxies.py).
    app.asgi_app = TrustedProxies(app.asgi_app, services.settings.proxy_trust)  # type: ignore[method-assign,assignment]
    forms.install_converters(app.url_map)
    auth.quart_auth.init_app(app)
    app.before_request(forms.refuse_unreadable)
    # The API never reads the login cookie, so it needs no CSRF token (views/api/auth.py).
    app.before_request(_not_under_api(auth.load_user))
    app.before_request(_not_under_api(csrf.check_csrf))
    # After-request hooks run last-registered first: compression sees the final headers.
    app.after_request(compression.compress_response)
    app.after_request(security.security_headers)
    assets.install_assets(app)
    rendering.install_templates(app, services)

    app.register_blueprint(pages.blueprint)
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(trips.blueprint)
    app.register_blueprint(holds.blueprint)
    app.register_blueprint(live.blueprint)
    app.register_blueprint(checkout.blueprint)
    app.register_blueprint(simulator.blueprint)
    app.register_blueprint(bookings.blueprint)
    app.register_blueprint(cancellations.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(admin_payments.blueprint)
    app.register_blueprint(admin_refunds.blueprint)
    app.register_blueprint(admin_api_keys.blueprint)
    app.register_blueprint(api_docs.blueprint)
    register_api(app)
    rendering.keep_hooks_on_the_loop(app)
    errors.register_error_pages(app)
    # Under /api every failure is a problem document, wherever it was raised (an unknown
    # path or a wrong method has no blueprint, so this dispatches on the path).
    for error_class, html_handler in list(app.error_handler_spec[None][None].items()):
        app.register_error_handler(error_class, _by_path(html_handler))


def _not_under_api(hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    async def html_only() -> None:
        if not api_problems.is_api_request():
            await hook()

    html_only.__name__ = hook.__name__
    return html_only


def _by_path(html_handler: Callable[[Any], Any]) -> Callable[[Any], Awaitable[Any]]:
    async def handle(error: Any) -> Any:
        if api_problems.is_api_request():
            return await api_problems.handle(error)
        return await html_handler(error)

    return handle
