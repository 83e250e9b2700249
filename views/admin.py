"""The operators' console (role admin only): dashboard, holds, bookings, audit, boarding."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from quart import Blueprint, redirect, request, url_for
from quart.typing import ResponseReturnValue

from domain import fleet, holds, inventory, operations, routes, timetable, trip_cancellation
from domain.enums import BookingStatus, BusKind, ReservationStatus, ScheduleStatus
from domain.errors import Conflict, Forbidden, ValidationFailed
from views import auth, forms, paging
from views.rendering import is_htmx, render
from views.services import services

blueprint = Blueprint("admin", __name__, url_prefix="/admin")
SEARCH_MAX = 200  # a search box: longer than any email, name, phone or reference
REASON_MAX = 255
P = ParamSpec("P")
R = TypeVar("R")


def admin_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | Any]]:
    @wraps(view)
    @auth.login_required
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Any:
        if not auth.require_user().is_admin:
            raise Forbidden("This area is for Busbook operators only.")
        return await view(*args, **kwargs)

    return wrapper


@blueprint.get("")
@admin_required
async def dashboard() -> ResponseReturnValue:
    svc = services()
    figures = await operations.dashboard(svc.now(), svc.tz)
    peak_bookings = max((d.bookings for d in figures.days), default=0) or 1
    peak_revenue = max((d.revenue for d in figures.days), default=0) or 1
    return await render(
        "pages/admin/dashboard.html",
        "partials/_admin_dashboard.html",
        d=figures,
        peak_bookings=peak_bookings,
        peak_revenue=peak_revenue,
        now=svc.now(),
    )


HOLD_STATES = {
    ReservationStatus.ACTIVE: "Active",
    ReservationStatus.EXPIRED: "Expired",
    ReservationStatus.RELEASED: "Released by staff",
    ReservationStatus.CANCELLED: "Cancelled by the customer",
    ReservationStatus.CONVERTED: "Paid (now a booking)",
}
HOLD_KEY = (paging.moment, paging.whole)  # expires_at, id


async def _holds_page(
    *, status: int = 200, errors: dict[str, str] | None = None, released: str | None = None
) -> ResponseReturnValue:
    now = services().now()
    p = forms.Parser(request.args)
    filters = operations.HoldFilter(
        state=p.optional_choice("state", ReservationStatus, message="Choose a state shown.")
        or ReservationStatus.ACTIVE,
        schedule_id=p.optional_int("trip", lo=1, message="Choose a trip from the list."),
        search=p.text("q", max_len=SEARCH_MAX, label="The search"),
    )
    p.check()
    page = await operations.hold_page(now, filters, paging.window("holds", HOLD_KEY))
    return await render(
        "pages/admin/holds.html",
        "partials/_admin_holds.html",
        status=status,
        holds=page,
        holds_pager=paging.pager("holds", page),
        hold_filters=filters,
        hold_states=HOLD_STATES,
        hold_trips=await operations.trips_with_active_holds(now),
        now=now,
        released=released,
        errors=errors or {},
    )


@blueprint.get("/reservations")
@admin_required
async def list_holds() -> ResponseReturnValue:
    return await _holds_page(released=request.args.get("released"))


@blueprint.post("/reservations/<reservation_id>/release")
@admin_required
async def release_hold(reservation_id: str) -> ResponseReturnValue:
    admin = auth.require_user()
    form = await request.form
    try:
        reason = forms.text_field(
            form.get("reason"),
            name="reason",
            max_len=REASON_MAX,
            multiline=True,
            label="The reason",
        )
        await holds.release_hold(admin, reservation_id, reason, now=services().now())
    except ValidationFailed as exc:
        return await _holds_page(status=exc.status, errors={reservation_id: exc.errors["reason"]})
    return redirect(url_for("admin.list_holds", released=1), 303)


BOOKING_STATES = {
    BookingStatus.CONFIRMED: "Confirmed",
    BookingStatus.PARTIALLY_CANCELLED: "Partly cancelled",
    BookingStatus.CANCELLED: "Cancelled",
    BookingStatus.COMPLETED: "Completed",
}
BOOKING_KEY = (paging.moment, paging.whole)  # created_at, id


@blueprint.get("/bookings")
@admin_required
async def list_bookings() -> ResponseReturnValue:
    svc = services()
    p = forms.Parser(request.args)
    filters = operations.BookingFilter(
        search=p.text("q", max_len=SEARCH_MAX, label="The search"),
        status=p.optional_choice("status", BookingStatus, message="Choose a status shown."),
        travel_day=p.optional_date("date", today=svc.today()),
    )
    p.check()
    page = await operations.booking_page(filters, paging.window("bookings", BOOKING_KEY), svc.tz)
    return await render(
        "pages/admin/bookings.html",
        "partials/_admin_bookings.html",
        bookings=page,
        bookings_pager=paging.pager("bookings", page),
        booking_filters=filters,
        booking_states=BOOKING_STATES,
    )


LOG_KEY = (paging.moment, paging.whole)  # created_at, id


@blueprint.get("/activity-logs")
@admin_required
async def activity_logs() -> ResponseReturnValue:
    p = forms.Parser(request.args)
    today = services().today()
    filters = operations.LogFilter(  # bounded by ActivityLog's columns
        actor=p.text("actor", max_len=254, label="The actor"),
        action=p.text("action", max_len=64, label="The action"),
        subject_type=p.text("subject_type", max_len=32, label="The subject type"),
        subject_id=p.text("subject_id", max_len=64, label="The subject id"),
        since=p.optional_date("since", today=today),
        until=p.optional_date("until", today=today),
    )
    p.check()
    page = await operations.activity_page(
        filters, services().tz, paging.window("activity", LOG_KEY), describe=True
    )
    return await render(
        "pages/admin/activity.html",
        "partials/_admin_activity.html",
        rows=page,
        rows_pager=paging.pager("activity", page),
        filters=filters,
        subject_types=operations.SUBJECT_TYPES,
    )


@blueprint.route("/boarding", methods=["GET", "POST"])
@admin_required
async def boarding() -> ResponseReturnValue:
    now = services().now()
    trips = await operations.boarding_trips(now)
    result, errors = None, {}
    schedule_id = request.args.get("schedule_id", "")
    if request.method == "POST":
        form = await request.form
        schedule_id = form.get("schedule_id", "")
        admin = auth.require_user()
        trip_id = forms.int_or_none(schedule_id, lo=1)
        if trip_id is None:
            errors["schedule_id"] = "Choose the bus you are boarding."
        else:
            try:
                code = forms.text_field(
                    form.get("code"), name="code", max_len=512, label="The ticket code"
                )
                result = await operations.board(
                    admin,
                    code,
                    trip_id,
                    secret=services().settings.secret_key,
                    now=now,
                    tz=services().tz,
                )
            except ValidationFailed as exc:
                errors = exc.errors
    status = 422 if errors else 200
    return await render(
        "pages/admin/boarding.html",
        "partials/_boarding_result.html",
        status=status,
        trips=trips,
        result=result,
        errors=errors,
        schedule_id=schedule_id,
    )


# ------------------------------------------------------------------------------ network


# The bus form's layout fields, as its labels name them: the preview's errors say which
# field is wrong in the words the form uses.
LAYOUT_LABELS = {
    "kind": "Kind",
    "rows": "Rows (per deck)",
    "columns": "Seats per row",
    "aisle_after": "Aisle after seat",
}
NEW_BUS = {"rows": "10", "columns": "4", "aisle_after": "2", "kind": "seater", "is_ac": "on"}


def _layout_fields(p: forms.Parser, form: Any) -> tuple[BusKind, int, int, int] | None:
    """The layout fields in range (fleet.plan_layout checks them again, with the rules
    between fields); None with the errors in `p`."""
    kind = (
        p.choice("kind", BusKind, message="Choose seater or sleeper.")
        if form.get("kind")
        else BusKind.SEATER
    )
    rows, columns, aisle_after = (
        p.parse(field, forms.int_field, form.get(field, default), lo=lo, hi=hi)
        for field, default, (lo, hi) in (
            ("rows", "10", fleet.LAYOUT_BOUNDS["rows"]),
            ("columns", "4", fleet.LAYOUT_BOUNDS["columns"]),
            ("aisle_after", "2", fleet.LAYOUT_BOUNDS["aisle_after"]),
        )
    )
    if kind is None or rows is None or columns is None or aisle_after is None:
        return None
    return kind, rows, columns, aisle_after


def _layout_input(form: Any) -> fleet.LayoutInput:
    """The bus form as typed values."""
    p = forms.Parser(form)
    name = p.text("name", max_len=120, label="The name")
    registration = p.text("registration", max_len=20, label="The registration")
    operator_id = (
        p.int("operator_id", lo=1, message="Choose the bus's operator from the list.")
        if "operator_id" in form
        else None
    )
    layout = _layout_fields(p, form)
    p.check()
    assert layout is not None
    kind, rows, columns, aisle_after = layout
    return fleet.LayoutInput(
        name=name,
        registration=registration,
        kind=kind,
        is_ac=form.get("is_ac") == "on",
        rows=rows,
        columns=columns,
        aisle_after=aisle_after,
        operator_id=operator_id,
    )


async def _fleet_list() -> dict[str, Any]:
    page = await fleet.bus_page(paging.window("buses", (paging.text,)))
    return {"buses": page, "buses_pager": paging.pager("buses", page)}


def _preview(form: Any) -> tuple[fleet.Layout | None, dict[str, str]]:
    """The layout the form describes, or the layout fields' errors (the name, registration
    and operator do not stop the preview)."""
    p = forms.Parser(form)
    layout = _layout_fields(p, form)
    if layout is None:
        return None, p.errors
    kind, rows, columns, aisle_after = layout
    try:
        return fleet.plan_layout(
            fleet.LayoutInput("", "", kind, False, rows, columns, aisle_after)
        ), {}
    except ValidationFailed as exc:
        return None, exc.errors


async def _bus_page(
    form: Any,
    errors: dict[str, str],
    *,
    bus: Any = None,
    status: int = 200,
    message: str = "",
    error: str = "",
) -> ResponseReturnValue:
    """The bus form (a new bus on the fleet page, or one bus's editor) and its preview
    (which htmx refreshes from `preview_layout`, with the same partial)."""
    preview, layout_errors = _preview(form)
    context = {
        "form": form,
        "errors": {**layout_errors, **errors},
        "preview": preview,
        "preview_errors": layout_errors,
        "labels": LAYOUT_LABELS,
        "operators": await fleet.list_operators(),
        "bus": bus,
        "message": message,
        "error": error,
    }
    if bus is None:
        return await render(
            "pages/admin/buses.html",
            status=status,
            **await _fleet_list(),
            **context,
        )
    return await render("pages/admin/bus.html", status=status, **context)


@blueprint.get("/buses")
@admin_required
async def list_buses() -> ResponseReturnValue:
    # The form's own fields (the no-JavaScript "Preview" button), else a new bus's defaults.
    form = request.args if any(f in request.args for f in LAYOUT_LABELS) else NEW_BUS
    return await _bus_page(form, {})


@blueprint.get("/buses/preview")
@admin_required
async def preview_layout() -> ResponseReturnValue:
    """The layout preview for the bus form's fields (htmx asks as they are typed)."""
    preview, errors = _preview(request.args)
    return await render(
        "partials/_layout_preview.html",
        preview=preview,
        preview_errors=errors,
        labels=LAYOUT_LABELS,
    )


@blueprint.post("/buses")
@admin_required
async def create_bus() -> ResponseReturnValue:
    admin = auth.require_user()
    form = await request.form
    try:
        bus = await fleet.create_bus(admin, _layout_input(form), now=services().now())
    except ValidationFailed as exc:
        return await _bus_page(form, exc.errors, status=exc.status)
    return redirect(url_for("admin.edit_bus", bus_id=bus.id, saved="created"), 303)


def _bus_values(bus: Any) -> dict[str, str]:
    """A saved bus as the form shows it."""
    return {
        "name": bus.name,
        "registration": bus.registration,
        "operator_id": str(bus.operator_id),
        "kind": bus.kind.value,
        "is_ac": "on" if bus.is_ac else "",
        "rows": str(bus.rows),
        "columns": str(bus.columns),
        "aisle_after": str(bus.aisle_after),
    }


SAVED_MESSAGES = {
    "created": "Bus {registration} added. Change it here, or add another from the fleet page.",
    "changed": "Bus {registration} saved.",
    "unchanged": "Nothing to save: bus {registration} is as it was.",
}


@blueprint.get("/buses/<int:bus_id>")
@admin_required
async def edit_bus(bus_id: int) -> ResponseReturnValue:
    bus = await fleet.get_bus(bus_id)
    # The form's own fields (the no-JavaScript "Preview" button), else the saved bus.
    form = request.args if any(f in request.args for f in LAYOUT_LABELS) else _bus_values(bus)
    template = SAVED_MESSAGES.get(request.args.get("saved", ""), "")
    return await _bus_page(
        form, {}, bus=bus, message=template.format(registration=bus.registration)
    )


@blueprint.post("/buses/<int:bus_id>")
@admin_required
async def update_bus(bus_id: int) -> ResponseReturnValue:
    admin = auth.require_user()
    bus = await fleet.get_bus(bus_id)
    form = await request.form
    try:
        saved = await fleet.update_bus(admin, bus_id, _layout_input(form), now=services().now())
    except ValidationFailed as exc:
        return await _bus_page(form, exc.errors, bus=bus, status=exc.status)
    except Conflict as exc:
        return await _bus_page(form, {}, bus=bus, status=exc.status, error=exc.message)
    outcome = "changed" if saved.changed else "unchanged"
    return redirect(url_for("admin.edit_bus", bus_id=bus_id, saved=outcome), 303)


def _stops_text(route: Any) -> str:
    return "\n".join(
        f"{stop.city.name} | {stop.minutes_from_origin} | {stop.km_from_origin} | "
        + "; ".join(p.name for p in stop.points)
        for stop in sorted(route.stops, key=lambda s: s.seq)
    )


ROUTES_PAGE = 20  # each with its stops and an edit form


async def _routes_page(
    form: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 200,
    error: str = "",
    message: str = "",
) -> ResponseReturnValue:
    page = await routes.route_page(paging.window("routes", (paging.text,), ROUTES_PAGE))
    return await render(
        "pages/admin/routes.html",
        status=status,
        routes=page,
        routes_pager=paging.pager("routes", page),
        form=form,
        errors=errors,
        error=error,
        message=message,
        stops_text={r.id: _stops_text(r) for r in page.rows},
    )


@blueprint.get("/routes")
@admin_required
async def list_routes() -> ResponseReturnValue:
    return await _routes_page({}, {}, message=request.args.get("message", ""))


@blueprint.post("/routes")
@admin_required
async def save_route() -> ResponseReturnValue:
    admin = auth.require_user()
    form = await request.form
    values = {k: form.get(k, "") for k in ("route_id", "code", "name", "stops")}
    try:
        p = forms.Parser(form)
        route_id = p.optional_int("route_id", lo=1, message="Choose a route from the list.")
        code = p.text("code", max_len=20, label="The code")
        name = p.text("name", max_len=160, label="The name")
        stops = p.text(
            "stops",
            max_len=STOPS_TEXT_MAX,
            multiline=True,
            label=f"The list of stops (at most {routes.MAX_STOPS} lines)",
        )
        lines = p.parse("stops", forms.stop_lines, stops) if "stops" not in p.errors else None
        if "route_id" in p.errors:  # a hidden field: say it above the form
            p.errors[""] = p.errors.pop("route_id")
        p.check()
        assert lines is not None
        route = await routes.save_route(admin, route_id, code, name, lines, now=services().now())
    except ValidationFailed as exc:
        return await _routes_page(values, forms.stop_errors(exc.errors), status=exc.status)
    except Conflict as exc:
        return await _routes_page(values, {}, status=exc.status, error=exc.message)
    return redirect(url_for("admin.list_routes", message=f"Route {route.code} saved."), 303)


# routes.MAX_STOPS lines of `City | minutes | km | points`, each well under 300 characters.
STOPS_TEXT_MAX = routes.MAX_STOPS * 300


def _timetable_input(form: Any) -> timetable.TimetableInput:
    """The timetable form in range: dates within the sane window (a trip in 9999 is a
    typo, and overflows date arithmetic), a fare within the money column."""
    p = forms.Parser(form)
    today = services().today()
    route_id = p.int("route_id", lo=1, message="Choose a route.")
    bus_id = p.int("bus_id", lo=1, message="Choose a bus.")
    departs = p.time("departure_time", message="Enter the departure time as HH:MM.")
    first = p.date("first_day", today=today, message="Enter the dates as YYYY-MM-DD.")
    last = p.optional_date("last_day", today=today, message="Enter the dates as YYYY-MM-DD.")
    weekdays = p.int_list("weekdays", lo=0, hi=6, message="Choose days of the week.")
    fare = p.money(
        "base_fare",
        lo=Decimal("0.01"),
        hi=timetable.MAX_BASE_FARE,
        message="Enter the fare for the whole route, e.g. 650 (at most 10,000,000).",
    )
    p.check()
    assert route_id is not None and bus_id is not None and departs is not None
    assert first is not None and fare is not None
    return timetable.TimetableInput(
        route_id=route_id,
        bus_id=bus_id,
        departure_time=departs,
        first_day=first,
        last_day=last,
        weekdays=frozenset(weekdays),
        base_fare=fare,
    )


async def _trip_list() -> dict[str, Any]:
    """The trips list of the request's filters and page (the page and its htmx swap)."""
    svc = services()
    p = forms.Parser(request.args)
    filters = timetable.TripFilter(
        route_id=p.optional_int("route", lo=1, message="Choose a route from the list."),
        day=p.optional_date("date", today=svc.today()),
        status=p.optional_choice("status", ScheduleStatus, message="Choose a status shown."),
    )
    p.check()
    page = await timetable.trip_page(svc.now(), filters, paging.window("trips", TRIP_KEY), svc.tz)
    return {
        "trips": page,
        "trips_pager": paging.pager("trips", page),
        "trip_filters": filters,
        "progress": await trip_cancellation.progress(
            [s.id for s in page.rows if s.status == ScheduleStatus.CANCELLED]
        ),
    }


TRIP_KEY = (paging.moment, paging.whole)  # departure_at, id


async def _schedules_page(
    form: Any, errors: dict[str, str], *, status: int = 200, message: str = "", error: str = ""
) -> ResponseReturnValue:
    return await render(
        "pages/admin/schedules.html",
        "partials/_admin_trips.html",
        status=status,
        **await _trip_list(),
        routes=await routes.list_routes(),
        buses=await fleet.list_buses(),
        form=form,
        errors=errors,
        message=message,
        error=error,
    )


@blueprint.get("/schedules")
@admin_required
async def list_schedules() -> ResponseReturnValue:
    return await _schedules_page(
        {"weekdays": [str(i) for i in range(7)]}, {}, message=request.args.get("message", "")
    )


@blueprint.post("/schedules")
@admin_required
async def create_schedules() -> ResponseReturnValue:
    admin = auth.require_user()
    form = await request.form
    values = {**form.to_dict(), "weekdays": form.getlist("weekdays")}
    try:
        data = _timetable_input(form)
        svc = services()
        created = await timetable.create_timetable(
            admin, data, now=svc.now(), tz=svc.tz, currency=svc.settings.currency
        )
    except ValidationFailed as exc:
        return await _schedules_page(values, exc.errors, status=exc.status)
    except Conflict as exc:
        return await _schedules_page(values, {}, status=exc.status, error=exc.message)
    return redirect(
        url_for("admin.list_schedules", message=f"{len(created)} trip(s) created."), 303
    )


@blueprint.post("/schedules/<int:schedule_id>/generate-seats")
@admin_required
async def generate_seats(schedule_id: int) -> ResponseReturnValue:
    admin = auth.require_user()
    count = await timetable.generate_seats(admin, schedule_id, now=services().now())
    return redirect(
        url_for("admin.list_schedules", message=f"Trip #{schedule_id}: {count} seat(s) added."), 303
    )


async def _confirm_cancel_page(
    schedule_id: int, reason: str, errors: dict[str, str], *, status: int = 200
) -> ResponseReturnValue:
    """The step before a trip is cancelled: what it would do (bookings, passengers, the
    refund), the reason, and the button that does it. htmx puts the same partial in place
    of the trips page's form."""
    try:
        preview = await trip_cancellation.cancellation_preview(schedule_id, now=services().now())
    except Conflict as exc:
        if not is_htmx():
            return await _schedules_page({"weekdays": []}, {}, status=exc.status, error=exc.message)
        return await render(
            "partials/_trip_cancel_confirm.html",
            status=exc.status,
            schedule_id=schedule_id,
            preview=None,
            refused=exc.message,
        )
    return await render(
        "pages/admin/cancel_trip.html",
        "partials/_trip_cancel_confirm.html",
        status=status,
        schedule_id=schedule_id,
        preview=preview,
        reason=reason,
        errors=errors,
        refused="",
    )


@blueprint.post("/schedules/<int:schedule_id>/cancel")
@admin_required
async def cancel_trip(schedule_id: int) -> ResponseReturnValue:
    """Two steps: a POST without `confirm` only shows what cancelling would do (nothing
    changes); the confirmation's POST (`confirm=yes`, with the reason) cancels."""
    admin = auth.require_user()
    form = await request.form
    confirmed = form.get("confirm") == "yes"
    try:
        reason = forms.text_field(
            form.get("reason"),
            name="reason",
            max_len=REASON_MAX,
            multiline=True,
            label="The reason",
        )
        if not confirmed:
            return await _confirm_cancel_page(schedule_id, reason, {})
        done = await trip_cancellation.cancel_trip(admin, schedule_id, reason, now=services().now())
    except ValidationFailed as exc:
        return await _confirm_cancel_page(
            schedule_id, str(form.get("reason", ""))[:REASON_MAX], exc.errors, status=exc.status
        )
    except Conflict as exc:
        return await _schedules_page({"weekdays": []}, {}, status=exc.status, error=exc.message)
    return redirect(
        url_for(
            "admin.list_schedules",
            message=(
                f"Trip #{schedule_id}: "
                + (
                    "finishing the rest of its cancellation now."
                    if done.resumed
                    else "cancelled. Its holds are being released and every booking refunded "
                    "in full; the progress shows below."
                )
            ),
        ),
        303,
    )


@blueprint.get("/schedules/<int:schedule_id>/cancellation")
@admin_required
async def trip_cancellation_progress(schedule_id: int) -> ResponseReturnValue:
    """A cancelled trip's progress: the fragment htmx refreshes on the trips page while the
    refunds are under way (a plain request gets the whole trips page)."""
    found = await trip_cancellation.trip_progress(schedule_id)
    if not is_htmx():
        return await _schedules_page({"weekdays": [str(i) for i in range(7)]}, {})
    return await render("partials/_trip_cancellation.html", schedule_id=schedule_id, progress=found)


async def _trip_page(
    schedule_id: int,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    *,
    status: int = 200,
    error: str = "",
    message: str = "",
) -> ResponseReturnValue:
    svc = services()
    trip = await inventory.load_trip(schedule_id)
    segment = inventory.Segment(0, trip.last_seq)
    seat_map = await inventory.seat_map(trip, segment, viewer_id=None, now=svc.now())
    schedule = trip.schedule
    local = schedule.departure_at.astimezone(svc.tz)
    return await render(
        "pages/admin/schedule.html",
        status=status,
        trip=trip,
        seat_map=seat_map,
        error=error,
        message=message,
        # A trip still to leave, not cancelled, can change its departure and fare.
        editable=schedule.status == ScheduleStatus.SCHEDULED and schedule.departure_at > svc.now(),
        form=form
        or {
            "departure_date": local.date().isoformat(),
            "departure_time": local.strftime("%H:%M"),
            "base_fare": f"{schedule.base_fare:f}",
        },
        errors=errors or {},
    )


@blueprint.get("/schedules/<int:schedule_id>")
@admin_required
async def show_schedule(schedule_id: int) -> ResponseReturnValue:
    saved = {"changed": "Trip saved.", "unchanged": "Nothing to save: the trip is as it was."}
    return await _trip_page(
        schedule_id,
        error=request.args.get("error", ""),
        message=saved.get(request.args.get("saved", ""), ""),
    )


@blueprint.post("/schedules/<int:schedule_id>")
@admin_required
async def update_trip(schedule_id: int) -> ResponseReturnValue:
    """Change one trip's departure and fare (timetable.update_trip says when each may)."""
    admin = auth.require_user()
    svc = services()
    form = await request.form
    values = {k: str(form.get(k, "")) for k in ("departure_date", "departure_time", "base_fare")}
    try:
        p = forms.Parser(form)
        day = p.date("departure_date", today=svc.today(), message="Enter the date as YYYY-MM-DD.")
        departs = p.time("departure_time", message="Enter the departure time as HH:MM.")
        fare = p.money(
            "base_fare",
            lo=Decimal("0.01"),
            hi=timetable.MAX_BASE_FARE,
            message="Enter the fare for the whole route, e.g. 650 (at most 10,000,000).",
        )
        p.check()
        assert day is not None and departs is not None and fare is not None
        change = timetable.TripChange(
            departure_datetime=datetime.combine(day, departs, tzinfo=svc.tz), base_fare=fare
        )
        saved = await timetable.update_trip(admin, schedule_id, change, now=svc.now(), tz=svc.tz)
    except ValidationFailed as exc:
        errors = dict(exc.errors)
        if "departure_datetime" in errors:
            errors["departure_time"] = errors.pop("departure_datetime")
        return await _trip_page(schedule_id, values, errors, status=exc.status)
    except Conflict as exc:
        return await _trip_page(schedule_id, values, {}, status=exc.status, error=exc.message)
    outcome = "changed" if saved.changed else "unchanged"
    return redirect(url_for("admin.show_schedule", schedule_id=schedule_id, saved=outcome), 303)


@blueprint.post("/schedule-seats/<int:schedule_seat_id>/block")
@admin_required
async def block_seat(schedule_seat_id: int) -> ResponseReturnValue:
    admin = auth.require_user()
    form = await request.form
    blocked = form.get("blocked") == "1"
    reason = forms.text_field(form.get("reason"), name="reason", max_len=200, label="The reason")
    try:
        seat = await timetable.set_seat_blocked(
            admin, schedule_seat_id, blocked, reason, now=services().now()
        )
    except Conflict as exc:
        return redirect(
            url_for(
                "admin.show_schedule",
                schedule_id=forms.int_or_none(form.get("schedule_id"), lo=1) or 0,
                error=exc.message,
            ),
            303,
        )
    return redirect(url_for("admin.show_schedule", schedule_id=seat.schedule_id), 303)
