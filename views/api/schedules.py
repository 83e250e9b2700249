"""Trips: search, one trip's details and its seat map (guests welcome), and generating a
trip's seats (admins). The HTML pages (views/trips.py, the console) make the same domain
calls: `catalogue.search_query` then `catalogue.search`; `trip_views.trip_view` for
the trip page and its seat map; `timetable.generate_seats` for the console's button."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Literal

from pydantic import Field
from quart import Response

from domain import catalogue, timetable, trip_views
from domain.catalogue import SearchFilters, SortKey, TripResult
from domain.enums import SeatStatus
from domain.errors import ValidationFailed
from domain.inventory import SeatView, StopView
from domain.trip_views import PointChoice, TripView
from views.api.auth import api_user, needs, require_api_admin
from views.api.blueprints import api_blueprint
from views.api.idempotency import idempotent
from views.api.io import query, reply, responds, tags
from views.api.schemas import Money, Out, Query, example
from views.services import services

blueprint = api_blueprint("schedules", __name__)
CITY_MAX = 80
STOP_MAX = 32767  # far beyond any route; keeps the number a plain small int

# The domain's seat statuses as the API names them (the words: the domain's
# `available` is `free`); the live seat WebSocket sends the same names.
SEAT_STATUS_NAMES: Mapping[SeatStatus, str] = {
    SeatStatus.AVAILABLE: "free",
    SeatStatus.HELD: "held",
    SeatStatus.MINE: "mine",
    SeatStatus.BOOKED: "booked",
    SeatStatus.BLOCKED: "blocked",
}
SeatStatusName = Literal["free", "held", "mine", "booked", "blocked"]
# The domain names a segment's stops `from` and `to` (the page's inputs); the API's
# query and bodies call them `from_stop` and `to_stop`.
SEGMENT_FIELDS = {"from": "from_stop", "to": "to_stop"}


def api_fields(error: ValidationFailed) -> ValidationFailed:
    """The domain's ValidationFailed with the API's field names for the segment's stops."""
    return ValidationFailed({SEGMENT_FIELDS.get(k, k): v for k, v in error.errors.items()})


class SearchArgs(Query):
    origin_city: str = Field(min_length=1, max_length=CITY_MAX, examples=["Mumbai"])
    destination_city: str = Field(min_length=1, max_length=CITY_MAX, examples=["Pune"])
    date: date
    sort: SortKey = SortKey.DEPARTURE


class BusOut(Out):
    bus_number: str = Field(description="The bus's registration.", examples=["MH-01-AB-1234"])
    bus_type: str = Field(examples=["AC Sleeper"])
    name: str = Field(examples=["Shivneri Volvo"])


class RouteOut(Out):
    origin_city: str
    destination_city: str
    distance_km: int = Field(description="Of the searched segment.")


class ScheduleSummary(Out):
    model_config = example(
        id=12,
        departure_datetime="2026-12-03T06:00:00+05:30",
        arrival_datetime="2026-12-03T09:30:00+05:30",
        base_price="450.00",
        max_price="600.00",
        currency="INR",
        available_seats=31,
        total_seats=40,
        from_stop=1,
        to_stop=3,
        operator="Sahyadri Travels",
        bus={"bus_number": "MH-01-AB-1234", "bus_type": "AC Seater", "name": "Volvo 9400"},
        route={"origin_city": "Mumbai", "destination_city": "Pune", "distance_km": 150},
    )

    id: int
    departure_datetime: datetime = Field(description="Leaves the searched origin city.")
    arrival_datetime: datetime = Field(description="Reaches the searched destination city.")
    base_price: Money = Field(description="The lowest seat fare for the searched segment.")
    max_price: Money
    currency: str
    available_seats: int = Field(description="Free for the whole searched segment.")
    total_seats: int
    from_stop: int = Field(description="Stop number to hold from (reservations/create).")
    to_stop: int
    operator: str
    bus: BusOut
    route: RouteOut

    @classmethod
    def of(cls, trip: TripResult) -> ScheduleSummary:
        return cls(
            id=trip.schedule_id,
            departure_datetime=trip.departs_at.astimezone(services().tz),
            arrival_datetime=trip.arrives_at.astimezone(services().tz),
            base_price=trip.fare,
            max_price=trip.fare_max,
            currency=trip.currency,
            available_seats=trip.seats_free,
            total_seats=trip.seats_total,
            from_stop=trip.from_seq,
            to_stop=trip.to_seq,
            operator=trip.operator,
            bus=BusOut(
                bus_number=trip.bus_registration, bus_type=trip.bus_type, name=trip.bus_name
            ),
            route=RouteOut(
                origin_city=trip.origin_city,
                destination_city=trip.destination_city,
                distance_km=trip.distance_km,
            ),
        )


class SearchResults(Out):
    schedules: list[ScheduleSummary]
    on_sale_until: date | None = Field(
        description="When `schedules` is empty: the last day (the operator's calendar) a "
        "trip between these cities leaves on sale, so a later `date` finds nothing yet; "
        "null when trips were found or none is on sale.",
        examples=["2026-12-16"],
    )
    nearest_dates: list[date] = Field(
        description="When `schedules` is empty: up to 3 days nearest `date` with a trip "
        "between these cities, in date order; empty otherwise.",
        examples=[["2026-12-03", "2026-12-04"]],
    )


@blueprint.get("/schedules/search")
@tags("schedules")
@responds(SearchResults)
@query(SearchArgs)
async def search_schedules(query: SearchArgs) -> Response:
    """Search trips between two cities on a day

    Trips that stop in `origin_city` and later in `destination_city`, leaving the origin on
    `date` (the operator's calendar) and not yet departed. Prices and free seats are for
    that segment. No account needed. When nothing matches, `on_sale_until` says how far
    ahead trips are sold and `nearest_dates` names the nearest days with trips.
    """
    svc = services()
    search = await catalogue.search_query(
        query.origin_city, query.destination_city, query.date, now=svc.now(), tz=svc.tz
    )
    found = await catalogue.search(search, SearchFilters(sort=query.sort), now=svc.now(), tz=svc.tz)
    return reply(
        SearchResults(
            schedules=[ScheduleSummary.of(t) for t in found.trips],
            on_sale_until=found.sold_until,
            nearest_dates=list(found.nearest_dates),
        )
    )


# ------------------------------------------------------------------ one trip and its seats


class SegmentArgs(Query):
    from_stop: int | None = Field(
        None,
        ge=0,
        le=STOP_MAX,
        description="Stop number where you get on (route.stops[].stop); default the first.",
    )
    to_stop: int | None = Field(
        None,
        ge=0,
        le=STOP_MAX,
        description="Stop number where you get off; default the last stop of the route.",
    )


async def _trip_view(schedule_id: int, args: SegmentArgs) -> TripView:
    """The trip page's one domain call, as the caller (a guest or a user) sees it."""
    view = await trip_views.trip_view(
        schedule_id, args.from_stop, args.to_stop, viewer=api_user(), now=services().now()
    )
    if view.segment is None:
        raise api_fields(ValidationFailed(dict(view.errors)))
    return view


class PointOut(Out):
    id: int = Field(description="Send as boarding_point_id / dropping_point_id.")
    name: str = Field(examples=["Dadar TT Circle"])
    landmark: str
    time: datetime = Field(description="When the bus is at this point.")

    @classmethod
    def of(cls, point: PointChoice) -> PointOut:
        return cls(
            id=point.id,
            name=point.name,
            landmark=point.landmark,
            time=point.at.astimezone(services().tz),
        )


class StopOut(Out):
    stop: int = Field(description="The stop's number on the route (from_stop / to_stop).")
    city: str
    arrival_datetime: datetime = Field(description="When the bus reaches this stop.")
    minutes: int = Field(description="Minutes after the trip's departure.")
    km: int = Field(description="Kilometres from the route's first stop.")
    boarding_points: list[PointOut]
    dropping_points: list[PointOut]

    @classmethod
    def of(cls, stop: StopView, departure: datetime) -> StopOut:
        return cls(
            stop=stop.seq,
            city=stop.city,
            arrival_datetime=stop.arrives_at.astimezone(services().tz),
            minutes=int((stop.arrives_at - departure).total_seconds() // 60),
            km=stop.km,
            boarding_points=[PointOut.of(p) for p in trip_views.stop_points(stop, boarding=True)],
            dropping_points=[PointOut.of(p) for p in trip_views.stop_points(stop, boarding=False)],
        )


class RouteDetailsOut(Out):
    name: str
    origin_city: str
    destination_city: str
    distance_km: int = Field(description="Of the whole route.")
    stops: list[StopOut]


class ScheduleDetails(Out):
    model_config = example(
        id=12,
        status="scheduled",
        departure_datetime="2026-12-03T06:00:00+05:30",
        arrival_datetime="2026-12-03T09:30:00+05:30",
        base_price="650.00",
        currency="INR",
        operator="Sahyadri Travels",
        bus={"bus_number": "MH-01-AB-1234", "bus_type": "AC Seater", "name": "Volvo 9400"},
        route={
            "name": "Mumbai - Lonavala - Pune",
            "origin_city": "Mumbai",
            "destination_city": "Pune",
            "distance_km": 148,
            "stops": [
                {
                    "stop": 0,
                    "city": "Mumbai",
                    "arrival_datetime": "2026-12-03T06:00:00+05:30",
                    "minutes": 0,
                    "km": 0,
                    "boarding_points": [
                        {
                            "id": 7,
                            "name": "Dadar TT Circle",
                            "landmark": "",
                            "time": "2026-12-03T06:00:00+05:30",
                        }
                    ],
                    "dropping_points": [],
                }
            ],
        },
        from_stop=0,
        to_stop=2,
        segment_price="650.00",
        available_seats=38,
        total_seats=40,
        departed=False,
        boarding_points=[
            {
                "id": 7,
                "name": "Dadar TT Circle",
                "landmark": "",
                "time": "2026-12-03T06:00:00+05:30",
            }
        ],
        dropping_points=[
            {"id": 9, "name": "Pune Station", "landmark": "", "time": "2026-12-03T09:30:00+05:30"}
        ],
    )

    id: int
    status: str = Field(description="scheduled, or cancelled by the operator.")
    departure_datetime: datetime = Field(description="Leaves the route's first stop.")
    arrival_datetime: datetime = Field(description="Reaches the route's last stop.")
    base_price: Money = Field(description="The fare for the whole route, before seat factors.")
    currency: str
    operator: str
    bus: BusOut
    route: RouteDetailsOut
    from_stop: int = Field(description="The segment these figures are for.")
    to_stop: int
    segment_price: Money = Field(
        description="The fare per seat for the segment, before each seat's own factor "
        "(seats/{id} lists each seat's price)."
    )
    available_seats: int = Field(description="Free for the whole segment.")
    total_seats: int
    departed: bool = Field(
        description="The bus has left from_stop: nothing can be held on this segment."
    )
    boarding_points: list[PointOut] = Field(description="At from_stop.")
    dropping_points: list[PointOut] = Field(description="At to_stop.")

    @classmethod
    def of(cls, view: TripView) -> ScheduleDetails:
        assert view.segment is not None and view.seat_map is not None and view.fare is not None
        trip, schedule = view.trip, view.trip.schedule
        tz = services().tz
        first, last = trip.stops[0], trip.stops[-1]
        return cls(
            id=schedule.id,
            status=schedule.status.value,
            departure_datetime=schedule.departure_at.astimezone(tz),
            arrival_datetime=last.arrives_at.astimezone(tz),
            base_price=schedule.base_fare,
            currency=schedule.currency,
            operator=schedule.bus.operator.name,
            bus=BusOut(
                bus_number=schedule.bus.registration,
                bus_type=schedule.bus.type_label,
                name=schedule.bus.name,
            ),
            route=RouteDetailsOut(
                name=schedule.route.name,
                origin_city=first.city,
                destination_city=last.city,
                distance_km=trip.route_km,
                stops=[StopOut.of(stop, schedule.departure_at) for stop in trip.stops],
            ),
            from_stop=view.segment.from_seq,
            to_stop=view.segment.to_seq,
            segment_price=view.fare,
            available_seats=view.seat_map.available,
            total_seats=len(view.seat_map.seats),
            departed=view.departed,
            boarding_points=[PointOut.of(p) for p in view.boarding_points],
            dropping_points=[PointOut.of(p) for p in view.dropping_points],
        )


@blueprint.get("/schedules/<int:schedule_id>/details")
@tags("schedules")
@responds(ScheduleDetails)
@query(SegmentArgs)
async def schedule_details(schedule_id: int, query: SegmentArgs) -> Response:
    """One trip: times, bus, route with every stop and its points, and the segment's fare

    The figures for a segment (`from_stop` to `to_stop`, stop numbers from `route.stops`;
    default the whole route): its fare, free seats, and the boarding and dropping points to
    choose from. No account needed; with a bearer token your own held seats are not counted
    as free.
    """
    return reply(ScheduleDetails.of(await _trip_view(schedule_id, query)))


class SeatOut(Out):
    id: int = Field(
        description="The seat on this trip: send it in reservations/create `seat_ids`; the "
        "live seat WebSocket names seats by it too."
    )
    seat_number: str = Field(examples=["L3"])
    seat_type: str = Field(description="seater or sleeper.")
    deck: str = Field(description="lower or upper.")
    row: int
    column: int
    position: str = Field(description="window, aisle or middle.")
    price: Money = Field(description="This seat's fare for the segment.")
    status: SeatStatusName = Field(
        description="free, held (by someone else), booked, blocked (not for sale), or mine "
        "(held by you; with a bearer token)."
    )

    @classmethod
    def of(cls, seat: SeatView) -> SeatOut:
        return cls(
            id=seat.schedule_seat_id,
            seat_number=seat.number,
            seat_type=seat.seat_type.value,
            deck=seat.deck.value,
            row=seat.row,
            column=seat.column,
            position=seat.position.value,
            price=seat.fare,
            status=SEAT_STATUS_NAMES[seat.status],  # type: ignore[arg-type]
        )


class SeatsOut(Out):
    model_config = example(
        schedule_id=12,
        from_stop=0,
        to_stop=2,
        currency="INR",
        available_seats=38,
        seats=[
            {
                "id": 481,
                "seat_number": "1",
                "seat_type": "seater",
                "deck": "lower",
                "row": 1,
                "column": 1,
                "position": "window",
                "price": "650.00",
                "status": "free",
            }
        ],
    )

    schedule_id: int
    from_stop: int
    to_stop: int
    currency: str
    available_seats: int
    seats: list[SeatOut]


@blueprint.get("/schedules/<int:schedule_id>/seats")
@tags("schedules")
@responds(SeatsOut)
@query(SegmentArgs)
async def schedule_seats(schedule_id: int, query: SegmentArgs) -> Response:
    """Every seat of a trip with its price and status for a segment

    The seat map as the trip page shows it, for `from_stop` to `to_stop` (default the whole
    route): a seat is free when nobody holds or booked it on any part of that segment. With
    a bearer token your own held seats are `mine`.
    """
    view = await _trip_view(schedule_id, query)
    assert view.segment is not None and view.seat_map is not None
    seats = view.seat_map.seats
    return reply(
        SeatsOut(
            schedule_id=schedule_id,
            from_stop=view.segment.from_seq,
            to_stop=view.segment.to_seq,
            currency=view.trip.schedule.currency,
            available_seats=view.seat_map.available,
            seats=[SeatOut.of(seats[seat_id]) for seat_id in sorted(seats)],
        )
    )


class GeneratedSeats(Out):
    model_config = example(schedule_id=12, created=40)

    schedule_id: int
    created: int = Field(
        description="Seats added from the bus layout now; 0 when the trip had them all."
    )


@blueprint.post("/schedules/<int:schedule_id>/generate-seats")
@needs("admin")
@idempotent
@tags("schedules", "admin")
@responds(GeneratedSeats)
async def generate_trip_seats(schedule_id: int) -> Response:
    """Create a trip's seats from its bus layout (admin)

    Adds the seats the trip is missing (a trip made before its bus's layout was complete);
    seats it has are kept, so calling it again changes nothing and answers `created: 0`. The
    console's "generate seats" button does the same. No request body.
    """
    admin = await require_api_admin()
    created = await timetable.generate_seats(admin, schedule_id, now=services().now())
    return reply(GeneratedSeats(schedule_id=schedule_id, created=created))
