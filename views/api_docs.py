"""The JSON API's interactive documentation at /docs: swagger-ui, vendored under
static/vendor/swagger-ui/ (no CDN), reading the app's own /openapi.json, with no online
validator. The page is static HTML plus one external script (static/js/api-docs.js), so
the site's Content-Security-Policy (no inline script or style) holds here too. Anyone may
read it; trying an operation needs the caller's own bearer token."""

from __future__ import annotations

from quart import Blueprint, render_template
from quart.typing import ResponseReturnValue
from quart_schema import hide

blueprint = Blueprint("api_docs", __name__)


@blueprint.get("/docs")
@hide  # an HTML page, not an API operation
async def show_api_docs() -> ResponseReturnValue:
    return await render_template("pages/api_docs.html")
