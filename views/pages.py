"""The home page (trip search form) and the health check."""

from __future__ import annotations

from quart import Blueprint, current_app, send_from_directory
from quart.typing import ResponseReturnValue

from domain import catalogue, database
from domain.errors import ServiceUnavailable
from views.rendering import render
from views.services import services

blueprint = Blueprint("pages", __name__)


@blueprint.get("/")
async def show_home() -> ResponseReturnValue:
    today = services().today()
    return await render(
        "pages/home.html",
        form={"date": today.isoformat()},
        errors={},
        today=today.isoformat(),
        all_cities=await catalogue.all_cities(),
    )


@blueprint.get("/favicon.ico")
async def favicon() -> ResponseReturnValue:
    """Browsers and bookmark tools ask for /favicon.ico whatever the page links."""
    response = await send_from_directory(
        current_app.static_folder or "static", "favicon.ico", mimetype="image/x-icon"
    )
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@blueprint.get("/healthz")
async def show_health() -> ResponseReturnValue:
    """200 when this process can reach PostgreSQL; 503 (with Retry-After) while it cannot,
    so a load balancer sends traffic elsewhere until the database is back."""
    try:
        await database.ping()
    except Exception as exc:
        if not database.is_outage(exc):
            raise
        retry = str(ServiceUnavailable.retry_after)
        return {"status": "unavailable", "database": "unreachable"}, 503, {"Retry-After": retry}
    return {"status": "ok"}
