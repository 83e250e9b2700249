"""Quart blueprints: parse the request, call the domain, render a page or a partial.

`register_views` wires them into an app whose `Services` (views/services.py) are installed.
"""

from __future__ import annotations

from quart import Quart

from views import auth, csrf, errors, forms, rendering, security
from views.proxies import TrustedProxies
from views.services import services_of


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
        simulator,
        trips,
    )

    services = services_of(app)
    # Forwarded headers count only from the proxies TRUSTED_PROXIES names (views/proxies.py).
    app.asgi_app = TrustedProxies(app.asgi_app, services.settings.proxy_trust)  # type: ignore[method-assign,assignment]
    forms.install_converters(app.url_map)
    auth.quart_auth.init_app(app)
    app.before_request(forms.refuse_unreadable)
    app.before_request(auth.load_user)
    app.before_request(csrf.check_csrf)
    app.after_request(security.security_headers)
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
    rendering.keep_hooks_on_the_loop(app)
    errors.register_error_pages(app)
