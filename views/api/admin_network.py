"""The network over JSON (admins only): routes, buses and the timetable, with the console's
rules (views/admin.py makes the same domain calls): routes.save_route with check_stops,
fleet.create_bus / update_bus with plan_layout, timetable.create_timetable (its trips and
their seats) / update_trip. The domain's field paths (`stops[2].minutes`, `aisle_after`,
`base_fare`) are this API's body paths."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from pydantic import AwareDatetime, Field
from quart import Response

from domain import fleet, keyset, routes, timetable
from domain.enums import BusKind, Deck, SeatPosition, SeatType
from domain.models import Bus, Route, Schedule, Seat
from views.api.admin import keyset_position, local_time
from views.api.auth import needs, require_api_admin
from views.api.blueprints import PREFIX, api_blueprint
from views.api.idempotency import idempotent
from views.api.io import json_body, query, reply, responds, tags
from views.api.pagination import PageQuery, decode_cursor, encode_cursor, next_link
from views.api.problems import ApiProblem
from views.api.schemas import Money, Out, Strict, example
from views.services import services

blueprint = api_blueprint("admin_network", __name__)
# Dates of a timetable within a sane window (date arithmetic overflows near 9999-12-31);
# the domain's own rules (not in the past, at most a year) apply within it.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
INT32_MAX = 2**31 - 1  # the id columns


def _text_after(cursor: str | None, key: str) -> str | None:
    position = decode_cursor(cursor)
    if position is None:
        return None
    value = position.get(key)
    if not isinstance(value, str):
        raise ApiProblem(
            422,
            "invalid_cursor",
            "This cursor belongs to another list. Use the `next_cursor` of this list's "
            "previous page, or leave it out to start from the first page.",
            errors=[{"field": "cursor", "message": "Not a cursor of this list."}],
        )
    return value


def _text_window(query: PageQuery, key: str) -> keyset.Window:
    after = _text_after(query.cursor, key)
    return keyset.Window(after=(after,) if after is not None else None, size=query.limit)


# ------------------------------------------------------------------------------ routes


class StopIn(Strict):
    city: str = Field(max_length=200, examples=["Lonavala"])
    minutes: int = Field(description="Minutes from the origin (the first stop: 0).")
    km: int = Field(description="Kilometres from the origin (the first stop: 0).")
    points: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Boarding/dropping points; none: one point, '<City> bus stand'.",
        examples=[["Lonavala bus stand", "Kumar Resort"]],
    )


class RouteIn(Strict):
    model_config = example(
        code="MUM-PUN",
        name="Mumbai - Pune",
        stops=[
            {"city": "Mumbai", "minutes": 0, "km": 0, "points": ["Dadar TT", "Sion"]},
            {"city": "Lonavala", "minutes": 100, "km": 85, "points": []},
            {"city": "Pune", "minutes": 180, "km": 150, "points": ["Swargate"]},
        ],
    )

    code: str = Field(max_length=20, description="Short and unique, e.g. MUM-PUN.")
    name: str = Field("", max_length=160, description="Empty: the code.")
    stops: list[StopIn] = Field(
        max_length=1000,
        description=f"In travel order, {routes.MAX_STOPS} at most. A route with holds or "
        "bookings keeps its cities and their order.",
    )

    def lines(self) -> list[routes.StopLine]:
        return [routes.StopLine(s.city, s.minutes, s.km, list(s.points)) for s in self.stops]


class StopOut(Out):
    seq: int = Field(description="The stop number (from_stop/to_stop of a hold).")
    city: str
    minutes: int
    km: int
    points: list[str]


class RouteOut(Out):
    model_config = example(
        id=3,
        code="MUM-PUN",
        name="Mumbai - Pune",
        is_active=True,
        stops=[
            {"seq": 0, "city": "Mumbai", "minutes": 0, "km": 0, "points": ["Dadar TT"]},
            {"seq": 1, "city": "Pune", "minutes": 180, "km": 150, "points": ["Swargate"]},
        ],
    )

    id: int
    code: str
    name: str
    is_active: bool
    stops: list[StopOut]

    @classmethod
    def of(cls, route: Route) -> RouteOut:
        return cls(
            id=route.id,
            code=route.code,
            name=route.name,
            is_active=route.is_active,
            stops=[
                StopOut(
                    seq=stop.seq,
                    city=stop.city.name,
                    minutes=stop.minutes_from_origin,
                    km=stop.km_from_origin,
                    points=[p.name for p in sorted(stop.points, key=lambda p: p.id)],
                )
                for stop in sorted(route.stops, key=lambda s: s.seq)
            ],
        )


class RoutePage(Out):
    routes: list[RouteOut]
    next_cursor: str | None
    next: str | None


@blueprint.get("/admin/routes")
@needs("admin")
@tags("admin")
@responds(RoutePage)
@query(PageQuery)
async def admin_routes(query: PageQuery) -> Response:
    """Routes with their stops

    By code, as in the console."""
    await require_api_admin()
    found = await routes.route_page(_text_window(query, "code"))
    page = found.rows
    cursor = encode_cursor({"code": page[-1].code}) if found.more_after and page else None
    return reply(
        RoutePage(routes=[RouteOut.of(r) for r in page], next_cursor=cursor, next=next_link(cursor))
    )


@blueprint.get("/admin/routes/<int:route_id>")
@needs("admin")
@tags("admin")
@responds(RouteOut)
async def admin_route(route_id: int) -> Response:
    """One route with its stops"""
    await require_api_admin()
    return reply(RouteOut.of(await routes.get_route(route_id)))


async def _saved_route(route_id: int | None, data: RouteIn) -> Route:
    admin = await require_api_admin()
    route = await routes.save_route(
        admin, route_id, data.code, data.name, data.lines(), now=services().now()
    )
    return await routes.get_route(route.id)


@blueprint.post("/admin/routes")
@needs("admin")
@idempotent
@tags("admin")
@responds(RouteOut, 201)
@json_body(RouteIn)
async def create_admin_route(data: RouteIn) -> Response:
    """Create a route

    Stops in travel order: the first is the origin (0 minutes, 0 km), each later and farther
    than the one before, a city once. Errors name the stop: `stops[2].minutes`."""
    route = await _saved_route(None, data)
    return reply(RouteOut.of(route), 201, {"Location": f"{PREFIX}/admin/routes/{route.id}"})


@blueprint.put("/admin/routes/<int:route_id>")
@needs("admin")
@tags("admin")
@responds(RouteOut)
@json_body(RouteIn)
async def update_admin_route(route_id: int, data: RouteIn) -> Response:
    """Replace a route's code, name and stops

    The same rules as creating one; a route with holds or bookings keeps its cities in the
    same order (409 `route_in_use`): times, distances and points may still change."""
    return reply(RouteOut.of(await _saved_route(route_id, data)))


# ------------------------------------------------------------------------------ buses


class BusIn(Strict):
    model_config = example(
        name="Volvo 9600 Sleeper",
        registration="MH-12-AB-4321",
        kind="sleeper",
        is_ac=True,
        rows=6,
        columns=3,
        aisle_after=1,
    )

    name: str = Field(max_length=120)
    registration: str = Field(max_length=20)
    kind: BusKind = BusKind.SEATER
    is_ac: bool = True
    rows: int = Field(description="Rows of seats (per deck), 1-20.")
    columns: int = Field(description="Seats across, 1-6.")
    aisle_after: int = Field(description="The aisle runs after this column (0: none).")
    operator_id: int | None = Field(
        default=None,
        ge=1,
        le=INT32_MAX,
        description="The bus's operator (as `operator_id` in the buses list). Omitted: "
        "unchanged on a PUT; on a new bus, the network's first operator.",
    )

    def layout(self) -> fleet.LayoutInput:
        return fleet.LayoutInput(
            name=self.name,
            registration=self.registration,
            kind=self.kind,
            is_ac=self.is_ac,
            rows=self.rows,
            columns=self.columns,
            aisle_after=self.aisle_after,
            operator_id=self.operator_id,
        )


class SeatOut(Out):
    number: str
    deck: Deck
    row: int
    column: int
    seat_type: SeatType
    position: SeatPosition
    price_factor: Decimal = Field(description="The seat's fare is the segment fare times this.")

    @classmethod
    def of(cls, seat: Seat) -> SeatOut:
        return cls(
            number=seat.number,
            deck=seat.deck,
            row=seat.row,
            column=seat.column,
            seat_type=seat.seat_type,
            position=seat.position,
            price_factor=seat.price_factor,
        )


class BusOut(Out):
    id: int
    registration: str
    name: str
    operator: str
    operator_id: int
    kind: BusKind
    is_ac: bool
    decks: int
    rows: int
    columns: int
    aisle_after: int

    @classmethod
    def fields_of(cls, bus: Bus) -> dict[str, object]:
        return {
            "id": bus.id,
            "registration": bus.registration,
            "name": bus.name,
            "operator": bus.operator.name,
            "operator_id": bus.operator_id,
            "kind": bus.kind,
            "is_ac": bus.is_ac,
            "decks": bus.decks,
            "rows": bus.rows,
            "columns": bus.columns,
            "aisle_after": bus.aisle_after,
        }


class BusDetail(BusOut):
    model_config = example(
        id=4,
        registration="MH-12-AB-4321",
        name="Volvo 9600 Sleeper",
        operator="Sahyadri Travels",
        operator_id=1,
        kind="sleeper",
        is_ac=True,
        decks=2,
        rows=6,
        columns=3,
        aisle_after=1,
        seats=[
            {
                "number": "L1",
                "deck": "lower",
                "row": 1,
                "column": 1,
                "seat_type": "sleeper",
                "position": "window",
                "price_factor": "1.10",
            }
        ],
    )

    seats: list[SeatOut] = Field(description="The layout: every seat, deck by deck, row by row.")


class BusPage(Out):
    buses: list[BusOut]
    next_cursor: str | None
    next: str | None


async def _bus_detail(bus_id: int) -> BusDetail:
    bus = await fleet.get_bus(bus_id)
    seats = await fleet.bus_layout(bus_id)
    return BusDetail(**BusOut.fields_of(bus), seats=[SeatOut.of(s) for s in seats])  # type: ignore[arg-type]


@blueprint.get("/admin/buses")
@needs("admin")
@tags("admin")
@responds(BusPage)
@query(PageQuery)
async def admin_buses(query: PageQuery) -> Response:
    """Buses

    By registration, as in the console; `GET /admin/buses/{id}` has the seat layout."""
    await require_api_admin()
    found = await fleet.bus_page(_text_window(query, "registration"))
    page = found.rows
    cursor = (
        encode_cursor({"registration": page[-1].registration})
        if found.more_after and page
        else None
    )
    return reply(
        BusPage(
            buses=[BusOut(**BusOut.fields_of(b)) for b in page],  # type: ignore[arg-type]
            next_cursor=cursor,
            next=next_link(cursor),
        )
    )


@blueprint.get("/admin/buses/<int:bus_id>")
@needs("admin")
@tags("admin")
@responds(BusDetail)
async def admin_bus(bus_id: int) -> Response:
    """One bus with its seat layout"""
    await require_api_admin()
    return reply(await _bus_detail(bus_id))


@blueprint.post("/admin/buses")
@needs("admin")
@idempotent
@tags("admin")
@responds(BusDetail, 201)
@json_body(BusIn)
async def create_admin_bus(data: BusIn) -> Response:
    """Add a bus and its seat layout

    A seater numbers its seats 1, 2, ... row by row; a sleeper has two decks, berths L1...
    below and U1... above. The layout editor's rules: 1-20 rows, 1-6 columns, the aisle
    between two columns."""
    admin = await require_api_admin()
    bus = await fleet.create_bus(admin, data.layout(), now=services().now())
    return reply(await _bus_detail(bus.id), 201, {"Location": f"{PREFIX}/admin/buses/{bus.id}"})


@blueprint.put("/admin/buses/<int:bus_id>")
@needs("admin")
@tags("admin")
@responds(BusDetail)
@json_body(BusIn)
async def update_admin_bus(bus_id: int, data: BusIn) -> Response:
    """Change a bus

    Name, registration and air conditioning at any time; the layout (kind, rows, columns,
    aisle) only while no trip has been scheduled on the bus (409 `bus_in_service`)."""
    admin = await require_api_admin()
    bus = (await fleet.update_bus(admin, bus_id, data.layout(), now=services().now())).bus
    return reply(await _bus_detail(bus.id))


# ------------------------------------------------------------------------------ timetable


class TimetableIn(Strict):
    model_config = example(
        route_id=3,
        bus_id=4,
        departure_time="06:30",
        first_day="2026-12-07",
        last_day="2026-12-31",
        weekdays=[0, 2, 4],
        base_fare="650.00",
    )

    route_id: int = Field(ge=1, le=INT32_MAX)
    bus_id: int = Field(ge=1, le=INT32_MAX)
    departure_time: time = Field(description="Local (operator's time zone), HH:MM.")
    first_day: date = Field(ge=FIRST_DAY, le=LAST_DAY)
    last_day: date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="null: only the first day."
    )
    weekdays: list[int] = Field(
        default_factory=lambda: list(range(7)),
        max_length=7,
        description="Monday 0 ... Sunday 6; default every day.",
    )
    base_fare: Money = Field(description="For the whole route.")

    def timetable(self) -> timetable.TimetableInput:
        return timetable.TimetableInput(
            route_id=self.route_id,
            bus_id=self.bus_id,
            departure_time=self.departure_time,
            first_day=self.first_day,
            last_day=self.last_day,
            weekdays=frozenset(self.weekdays),
            base_fare=self.base_fare,
        )


class TripChangeIn(Strict):
    model_config = example(departure_datetime="2026-12-07T07:00:00+05:30", base_fare="700.00")

    departure_datetime: AwareDatetime = Field(
        description="With its offset. Moves only while the trip has no holds or bookings."
    )
    base_fare: Money = Field(description="For the whole route; holds already made keep theirs.")


class TripRouteOut(Out):
    id: int
    code: str
    name: str


class TripBusOut(Out):
    id: int
    registration: str
    name: str


class TripOut(Out):
    model_config = example(
        id=120,
        status="scheduled",
        departure_datetime="2026-12-07T06:30:00+05:30",
        arrival_datetime="2026-12-07T09:30:00+05:30",
        base_fare="650.00",
        currency="INR",
        route={"id": 3, "code": "MUM-PUN", "name": "Mumbai - Pune"},
        bus={"id": 4, "registration": "MH-12-AB-4321", "name": "Volvo 9600 Sleeper"},
    )

    id: int = Field(description="The trip (schedule) id, as in schedules/{id}/details.")
    status: str
    departure_datetime: datetime
    arrival_datetime: datetime
    base_fare: Money
    currency: str
    route: TripRouteOut
    bus: TripBusOut

    @classmethod
    def of(cls, s: Schedule, route: Route, bus: Bus) -> TripOut:
        return cls(
            id=s.id,
            status=s.status.value,
            departure_datetime=local_time(s.departure_at),
            arrival_datetime=local_time(s.arrival_at),
            base_fare=s.base_fare,
            currency=s.currency,
            route=TripRouteOut(id=route.id, code=route.code, name=route.name),
            bus=TripBusOut(id=bus.id, registration=bus.registration, name=bus.name),
        )


class TripPage(Out):
    schedules: list[TripOut]
    next_cursor: str | None
    next: str | None


class CreatedTrips(Out):
    schedules: list[TripOut] = Field(description="The trips created, each with its seats.")


@blueprint.get("/admin/timetables")
@needs("admin")
@tags("admin")
@responds(TripPage)
@query(PageQuery)
async def admin_timetables(query: PageQuery) -> Response:
    """The timetable: trips from 12 hours ago on

    By departure, as on the console's trips page (cancelled trips included)."""
    await require_api_admin()
    found = await timetable.trip_page(
        services().now(),
        timetable.TripFilter(),
        keyset.Window(after=keyset_position(query.cursor, "departure_at", "id"), size=query.limit),
        services().tz,
    )
    page = found.rows
    cursor = (
        encode_cursor({"departure_at": page[-1].departure_at.isoformat(), "id": page[-1].id})
        if found.more_after and page
        else None
    )
    return reply(
        TripPage(
            schedules=[TripOut.of(s, s.route, s.bus) for s in page],
            next_cursor=cursor,
            next=next_link(cursor),
        )
    )


@blueprint.post("/admin/timetables")
@needs("admin")
@idempotent
@tags("admin")
@responds(CreatedTrips, 201)
@json_body(TimetableIn)
async def create_admin_timetable(data: TimetableIn) -> Response:
    """Publish a timetable: one trip, or trips on some weekdays between two dates

    Each trip gets its seat inventory from the bus's layout and is priced in the operator's
    currency. Days already past are left out; a bus already on the road then refuses the
    whole timetable (409, nothing created)."""
    admin = await require_api_admin()
    svc = services()
    created = await timetable.create_timetable(
        admin, data.timetable(), now=svc.now(), tz=svc.tz, currency=svc.settings.currency
    )
    route, bus = await routes.get_route(data.route_id), await fleet.get_bus(data.bus_id)
    return reply(CreatedTrips(schedules=[TripOut.of(s, route, bus) for s in created]), 201)


@blueprint.put("/admin/timetables/<int:schedule_id>")
@needs("admin")
@tags("admin")
@responds(TripOut)
@json_body(TripChangeIn)
async def update_admin_timetable(schedule_id: int, data: TripChangeIn) -> Response:
    """Change one trip of the timetable

    Its fare (for holds made from now on) and its departure (the arrival moves with it),
    which may move only while the trip has no active hold and no booking (409
    `trip_in_use`) and not onto another trip of the same bus. A cancelled or departed trip
    is not changed (409 `trip_closed`)."""
    admin = await require_api_admin()
    svc = services()
    change = timetable.TripChange(
        departure_datetime=data.departure_datetime, base_fare=data.base_fare
    )
    s = (await timetable.update_trip(admin, schedule_id, change, now=svc.now(), tz=svc.tz)).schedule
    route, bus = await routes.get_route(s.route_id), await fleet.get_bus(s.bus_id)
    return reply(TripOut.of(s, route, bus))
