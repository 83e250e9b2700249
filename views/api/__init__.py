"""The JSON API under /api/v1: the same domain calls as the HTML views, for mobile apps,
partner sites and scripts. It never answers HTML.

Each module is one resource's blueprint (url_prefix /api/v1): parse (pydantic, views/api/io.py)
-> the one domain call the HTML view makes too -> serialise. `register_api` installs
quart-schema (the OpenAPI document at /openapi.json, views/api/openapi.py), CORS for the
configured origins, and the blueprints. Failures are problem details (views/api/problems.py);
the wiring in views/__init__.py sends every error under /api there.
"""

from __future__ import annotations

from quart import Quart
from quart_schema import QuartSchema

from views.api import (
    admin,
    admin_network,
    blueprints,
    bookings,
    live,
    payments,
    reservations,
    schedules,
    tickets,
    users,
)
from views.api.openapi import ApiOpenAPIProvider
from views.services import services_of

API_VERSION = "1.0.0"
BLUEPRINTS = (
    schedules.blueprint,
    reservations.blueprint,
    users.blueprint,
    live.blueprint,
    admin.blueprint,
    admin_network.blueprint,
    payments.blueprint,
    bookings.blueprint,
    tickets.blueprint,
)


def register_api(app: Quart) -> None:
    settings = services_of(app).settings
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={
            "title": "Busbook API",
            "version": API_VERSION,
            "description": (
                "Search trips, hold seats, pay, get tickets and cancel: the same rules as the "
                "Busbook website. Failures are RFC 9457 problem details with a stable `code`."
            ),
        },
        # Relative: the site that serves the document serves the API. The document stays the
        # same on every deployment (docs/openapi.json is the contract CI compares), and
        # /docs tries requests on its own origin (the CSP's connect-src 'self').
        servers=[{"url": "/", "description": "The Busbook site serving this document"}],
        security_schemes={
            "bearer": {"type": "http", "scheme": "bearer", "bearer_format": "JWT"},
            # An admin API key from the console; `Authorization: Bearer bbk_...` works too.
            "api_key": {"type": "apiKey", "in_": "header", "name": "X-API-Key"},
        },
        openapi_provider_class=ApiOpenAPIProvider,
    )
    # quart-cors reads the allowed origins from the config on each request (views/api/blueprints.py)
    app.config["QUART_CORS_ALLOW_ORIGIN"] = sorted(settings.cors_origins)
    blueprints.install_converters(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
