"""Trips: search (guests welcome). The HTML search (views/trips.py) makes the same two
domain calls: `catalogue.search_query` then `catalogue.search_trips`."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field
from quart import Response

from domain import catalogue
from domain.catalogue import SearchFilters, SortKey, TripResult
from views.api.blueprints import api_blueprint
from views.api.io import query, reply, responds, tags
from views.api.schemas import Money, Out, Query, example
from views.services import services

blueprint = api_blueprint("schedules", __name__)
CITY_MAX = 80


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


@blueprint.get("/schedules/search")
@tags("schedules")
@responds(SearchResults)
@query(SearchArgs)
async def search_schedules(query: SearchArgs) -> Response:
    """Search trips between two cities on a day

    Trips that stop in `origin_city` and later in `destination_city`, leaving the origin on
    `date` (the operator's calendar) and not yet departed. Prices and free seats are for
    that segment. No account needed.
    """
    svc = services()
    search = await catalogue.search_query(
        query.origin_city, query.destination_city, query.date, now=svc.now(), tz=svc.tz
    )
    trips = await catalogue.search_trips(
        search, SearchFilters(sort=query.sort), now=svc.now(), tz=svc.tz
    )
    return reply(SearchResults(schedules=[ScheduleSummary.of(t) for t in trips]))
