"""The home page (trip search form) and the health check."""

from __future__ import annotations

from quart import Blueprint
from quart.typing import ResponseReturnValue

from domain import catalogue, database
from views import web

blueprint = Blueprint("pages", __name__)


@blueprint.get("/")
async def show_home() -> ResponseReturnValue:
    today = web.local(web.now()).date()
    return await web.render(
        "pages/home.html",
        form={"date": today.isoformat()},
        errors={},
        today=today.isoformat(),
        all_cities=await catalogue.all_cities(),
    )


@blueprint.get("/healthz")
async def show_health() -> ResponseReturnValue:
    await database.ping()
    return {"status": "ok"}
