"""Every API resource's blueprint, made the same way: mounted at /api/v1, CORS for the
origins in CORS_ORIGINS only (quart-cors reads them from the app's config per request, set
by `register_api`), the caller checked before anything else for a view marked
`@needs("user")` or `@needs("admin")` (so a guest's bad body is a 401, not a 422, and a view
cannot forget the check), and `no-store` on every answer to a caller with credentials."""

from __future__ import annotations

from quart import Blueprint, Quart, Response, current_app, request
from quart_cors import cors
from werkzeug.routing import BaseConverter

from views.api.auth import (
    NEEDS_ATTRIBUTE,
    SESSION_CHECKED_ATTRIBUTE,
    api_session_claim,
    require_api_admin,
    require_api_user,
)

PREFIX = "/api/v1"


class PublicIdConverter(BaseConverter):
    """`<public_id:reservation_id>`: a public id's shape (`rsv_` and 32 hex digits,
    domain/public_ids.py). A word beside it (`/reservations/active`, `/create`) is then
    never taken for an id, so `Allow` and 405s name only that word's own methods."""

    regex = r"[a-z]{3}_[0-9a-f]{32}"
    pattern = "^[a-z]{3}_[0-9a-f]{32}$"


def install_converters(app: Quart) -> None:
    """Before any API blueprint is registered (its rules are compiled then)."""
    app.url_map.converters["public_id"] = PublicIdConverter


def api_blueprint(name: str, import_name: str) -> Blueprint:
    blueprint = Blueprint(f"api_{name}", import_name, url_prefix=PREFIX)
    cors(
        blueprint,
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        expose_headers=["Location", "Retry-After", "Idempotent-Replayed", "Link"],
        max_age=600,
    )
    blueprint.before_request(_check_caller)
    blueprint.after_request(_personal_answers_are_not_cached)
    return blueprint


async def _check_caller() -> None:
    if request.method == "OPTIONS" or request.endpoint is None:
        return  # a CORS preflight carries no credentials
    view = current_app.view_functions.get(request.endpoint)
    needs = getattr(view, NEEDS_ATTRIBUTE, None)
    if needs == "admin":
        await require_api_admin()
    elif needs == "user" and getattr(view, SESSION_CHECKED_ATTRIBUTE, False):
        await api_session_claim()  # a guest is a 401 here; the session, the domain's call
    elif needs == "user":
        await require_api_user()


async def _personal_answers_are_not_cached(response: Response) -> Response:
    if "Authorization" in request.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
