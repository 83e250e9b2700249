"""The operators' console (role admin only): dashboard, holds, bookings, audit, boarding."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import holds, operations
from domain.errors import Forbidden, ValidationFailed
from views import web

blueprint = Blueprint("admin", __name__, url_prefix="/admin")
P = ParamSpec("P")
R = TypeVar("R")


def admin_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | Any]]:
    @wraps(view)
    @web.login_required
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Any:
        user = web.viewer()
        if user is None or not user.is_admin:
            raise Forbidden("This area is for Busbook operators only.")
        return await view(*args, **kwargs)

    return wrapper


@blueprint.get("")
@admin_required
async def dashboard() -> ResponseReturnValue:
    settings = web.settings()
    figures = await operations.dashboard(web.now(), settings.tz)
    peak_bookings = max((d.bookings for d in figures.days), default=0) or 1
    peak_revenue = max((d.revenue for d in figures.days), default=0) or 1
    return await web.render(
        "pages/admin/dashboard.html",
        "partials/_admin_dashboard.html",
        d=figures,
        peak_bookings=peak_bookings,
        peak_revenue=peak_revenue,
        now=web.now(),
    )


@blueprint.get("/reservations")
@admin_required
async def list_holds() -> ResponseReturnValue:
    search = request.args.get("q", "")
    reservations = await operations.active_holds(web.now(), search)
    return await web.render(
        "pages/admin/holds.html",
        reservations=reservations,
        q=search,
        now=web.now(),
        released=request.args.get("released"),
        errors={},
    )


@blueprint.post("/reservations/<int:reservation_id>/release")
@admin_required
async def release_hold(reservation_id: int) -> ResponseReturnValue:
    admin = web.viewer()
    assert admin is not None
    form = await request.form
    try:
        await holds.release_hold(admin, reservation_id, form.get("reason", ""), now=web.now())
    except ValidationFailed as exc:
        reservations = await operations.active_holds(web.now())
        return await web.render(
            "pages/admin/holds.html",
            status=exc.status,
            reservations=reservations,
            q="",
            now=web.now(),
            released=None,
            errors={reservation_id: exc.errors["reason"]},
        )
    return redirect(url_for("admin.list_holds", released=reservation_id), 303)


@blueprint.get("/bookings")
@admin_required
async def list_bookings() -> ResponseReturnValue:
    search = request.args.get("q", "")
    found = await operations.find_bookings(search)
    return await web.render("pages/admin/bookings.html", bookings=found, q=search)


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@blueprint.get("/activity-logs")
@admin_required
async def activity_logs() -> ResponseReturnValue:
    args = request.args
    filters = operations.LogFilter(
        actor=args.get("actor", ""),
        action=args.get("action", ""),
        subject_type=args.get("subject_type", ""),
        subject_id=args.get("subject_id", ""),
        since=_date(args.get("since")),
        until=_date(args.get("until")),
    )
    page = int(args["page"]) if args.get("page", "").isdigit() else 1
    rows, more = await operations.activity(filters, page, web.settings().tz)
    query = {k: v for k, v in args.items() if k != "page" and v}
    return await web.render(
        "pages/admin/activity.html",
        rows=rows,
        more=more,
        page_number=page,
        filters=filters,
        query=query,
    )


@blueprint.route("/boarding", methods=["GET", "POST"])
@admin_required
async def boarding() -> ResponseReturnValue:
    now = web.now()
    trips = await operations.boarding_trips(now)
    result, errors = None, {}
    schedule_id = request.args.get("schedule_id", "")
    if request.method == "POST":
        form = await request.form
        schedule_id = form.get("schedule_id", "")
        admin = web.viewer()
        assert admin is not None
        if not schedule_id.isdigit():
            errors["schedule_id"] = "Choose the bus you are boarding."
        else:
            try:
                result = await operations.board(
                    admin,
                    form.get("code", ""),
                    int(schedule_id),
                    secret=web.settings().secret_key,
                    now=now,
                    tz=web.settings().tz,
                )
            except ValidationFailed as exc:
                errors = exc.errors
    status = 422 if errors else 200
    return await web.render(
        "pages/admin/boarding.html",
        "partials/_boarding_result.html",
        status=status,
        trips=trips,
        result=result,
        errors=errors,
        schedule_id=schedule_id,
    )
