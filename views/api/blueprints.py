"""Every API resource's blueprint, made the same way: mounted at /api/v1, CORS for the
origins in CORS_ORIGINS only (quart-cors reads them from the app's config per request, set
by `register_api`), and `no-store` on every answer to a caller with credentials."""

from __future__ import annotations

from quart import Blueprint, Response, request
from quart_cors import cors

PREFIX = "/api/v1"


def api_blueprint(name: str, import_name: str) -> Blueprint:
    blueprint = Blueprint(f"api_{name}", import_name, url_prefix=PREFIX)
    cors(
        blueprint,
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        expose_headers=["Location", "Retry-After", "Idempotent-Replayed", "Link"],
        max_age=600,
    )
    blueprint.after_request(_personal_answers_are_not_cached)
    return blueprint


async def _personal_answers_are_not_cached(response: Response) -> Response:
    if "Authorization" in request.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
