"""Finding trips: city suggestions and the search over route segments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from tortoise import connections

from domain import availability
from domain.enums import BusKind
from domain.errors import ValidationFailed
from domain.models import City
from domain.pricing import seat_fare, segment_fare


class SortKey(StrEnum):
    DEPARTURE = "departure"
    FARE = "fare"
    SEATS = "seats"


class TimeWindow(StrEnum):
    EARLY = "early"  # 00:00-06:00
    MORNING = "morning"  # 06:00-12:00
    AFTERNOON = "afternoon"  # 12:00-18:00
    NIGHT = "night"  # 18:00-24:00

    @property
    def hours(self) -> tuple[int, int]:
        return {
            TimeWindow.EARLY: (0, 6),
            TimeWindow.MORNING: (6, 12),
            TimeWindow.AFTERNOON: (12, 18),
            TimeWindow.NIGHT: (18, 24),
        }[self]


@dataclass(frozen=True)
class SearchQuery:
    origin: City
    destination: City
    day: date


@dataclass(frozen=True)
class SearchFilters:
    ac: frozenset[bool] = frozenset()  # empty = any
    kinds: frozenset[BusKind] = frozenset()
    windows: frozenset[TimeWindow] = frozenset()
    sort: SortKey = SortKey.DEPARTURE


@dataclass(frozen=True)
class TripResult:
    schedule_id: int
    route_name: str
    operator: str
    bus_name: str
    bus_registration: str
    bus_kind: BusKind
    is_ac: bool
    from_seq: int
    to_seq: int
    origin_city: str
    destination_city: str
    departs_at: datetime
    arrives_at: datetime
    fare: Decimal
    fare_max: Decimal
    currency: str
    seats_free: int
    seats_total: int
    distance_km: int  # of the searched segment

    @property
    def duration(self) -> timedelta:
        return self.arrives_at - self.departs_at

    @property
    def bus_type(self) -> str:
        return f"{'AC' if self.is_ac else 'Non-AC'} {self.bus_kind.value.title()}"


async def suggest_cities(prefix: str, limit: int = 8) -> list[City]:
    prefix = prefix.strip()
    if not prefix:
        return []
    return await City.filter(name__istartswith=prefix).order_by("name").limit(limit)


async def all_cities() -> list[City]:
    return await City.all().order_by("name")


async def find_city(name: str) -> City | None:
    name = " ".join(name.split())
    return await City.get_or_none(name__iexact=name) if name else None


async def search_query(
    origin: str, destination: str, day: date | None, *, now: datetime, tz: ZoneInfo
) -> SearchQuery:
    """The search for trips between two cities (by name, as typed) on a day; errors name
    `origin_city`, `destination_city` and `date` (None: not given)."""
    errors: dict[str, str] = {}
    origin_city = await find_city(origin)
    destination_city = await find_city(destination)
    if not origin.strip():
        errors["origin_city"] = "Enter the city you are leaving from."
    elif origin_city is None:
        errors["origin_city"] = f"We don't serve “{origin.strip()}” yet. Pick a city from the list."
    if not destination.strip():
        errors["destination_city"] = "Enter the city you are going to."
    elif destination_city is None:
        errors["destination_city"] = (
            f"We don't serve “{destination.strip()}” yet. Pick a city from the list."
        )
    if origin_city and destination_city and origin_city.id == destination_city.id:
        errors["destination_city"] = "Pick a destination different from where you leave."
    if day is None:
        errors["date"] = "Enter the travel date as YYYY-MM-DD."
    elif day < now.astimezone(tz).date():
        errors["date"] = "That date is in the past. Pick today or a later day."
    if errors:
        raise ValidationFailed(errors)
    assert origin_city and destination_city and day
    return SearchQuery(origin_city, destination_city, day)


def free_seats_sql(schedule: str, from_seq: str, to_seq: str, now: str) -> str:
    """Seats still free on [from_seq, to_seq) at `now` (SQL expressions): not blocked, and
    not taken by the availability rule (an expired hold is free, invariant 2)."""
    taken = availability.taken_sql("a", "r", now=now, from_seq=from_seq, to_seq=to_seq)
    return f"""
    SELECT count(*) FROM schedule_seats ss
    WHERE ss.schedule_id = {schedule} AND NOT ss.is_blocked
      AND NOT EXISTS (
        SELECT 1 FROM seat_allocations a
        LEFT JOIN reservations r ON r.id = a.reservation_id
        WHERE a.schedule_id = ss.schedule_id AND a.schedule_seat_id = ss.id AND {taken}
      )
    """


# The day window is written on `s.departure_at` itself, shifted by the origin stop's offset
# (the same instants as `departure_at + offset` in the window): with the route's stops as the
# outer side, the index on (route_id, departure_at) reads only the trips leaving in the
# window, never the route's past trips (tests/integration/test_query_plans.py).
SEARCH_SQL = f"""
    SELECT DISTINCT ON (s.id)
        s.id AS schedule_id, s.base_fare, s.currency, r.name AS route_name,
        op.name AS operator, b.name AS bus_name, b.registration AS bus_registration,
        b.kind AS bus_kind, b.is_ac,
        o.seq AS from_seq, d.seq AS to_seq, o.km_from_origin AS from_km,
        d.km_from_origin AS to_km,
        (SELECT max(km_from_origin) FROM route_stops WHERE route_id = s.route_id) AS route_km,
        s.departure_at + make_interval(mins => o.minutes_from_origin) AS departs_at,
        s.departure_at + make_interval(mins => d.minutes_from_origin) AS arrives_at,
        (SELECT min(price_factor) FROM seats WHERE bus_id = b.id) AS factor_min,
        (SELECT max(price_factor) FROM seats WHERE bus_id = b.id) AS factor_max,
        (SELECT count(*) FROM schedule_seats WHERE schedule_id = s.id) AS seats_total,
        ({free_seats_sql(schedule="s.id", from_seq="o.seq", to_seq="d.seq", now="$5")})
            AS seats_free
    FROM schedules s
    JOIN routes r ON r.id = s.route_id AND r.is_active
    JOIN buses b ON b.id = s.bus_id
    JOIN operators op ON op.id = b.operator_id
    JOIN route_stops o ON o.route_id = s.route_id AND o.city_id = $1
    JOIN route_stops d ON d.route_id = s.route_id AND d.city_id = $2 AND d.seq > o.seq
    WHERE s.status = 'scheduled'
      AND s.departure_at >= $3::timestamptz - make_interval(mins => o.minutes_from_origin)
      AND s.departure_at < $4::timestamptz - make_interval(mins => o.minutes_from_origin)
      AND s.departure_at > $5::timestamptz - make_interval(mins => o.minutes_from_origin)
    ORDER BY s.id, o.seq, d.seq
"""


async def search_trips(
    query: SearchQuery, filters: SearchFilters, *, now: datetime, tz: ZoneInfo
) -> list[TripResult]:
    """Trips that stop in the origin city and later in the destination city, leaving the
    origin on `query.day` (operator's time zone) and not yet departed."""
    start = datetime.combine(query.day, time(0), tz)
    end = start + timedelta(days=1)
    rows = await connections.get("default").execute_query_dict(
        SEARCH_SQL, [query.origin.id, query.destination.id, start, end, now]
    )
    results = []
    for row in rows:
        segment = segment_fare(row["base_fare"], row["route_km"], row["from_km"], row["to_km"])
        results.append(
            TripResult(
                schedule_id=row["schedule_id"],
                route_name=row["route_name"],
                operator=row["operator"],
                bus_name=row["bus_name"],
                bus_registration=row["bus_registration"],
                bus_kind=BusKind(row["bus_kind"]),
                is_ac=row["is_ac"],
                from_seq=row["from_seq"],
                to_seq=row["to_seq"],
                origin_city=query.origin.name,
                destination_city=query.destination.name,
                departs_at=row["departs_at"],
                arrives_at=row["arrives_at"],
                fare=seat_fare(segment, row["factor_min"] or Decimal(1)),
                fare_max=seat_fare(segment, row["factor_max"] or Decimal(1)),
                currency=row["currency"],
                seats_free=row["seats_free"],
                seats_total=row["seats_total"],
                distance_km=row["to_km"] - row["from_km"],
            )
        )
    return sort_and_filter(results, filters, tz)


def sort_and_filter(
    results: list[TripResult], filters: SearchFilters, tz: ZoneInfo
) -> list[TripResult]:
    def keep(trip: TripResult) -> bool:
        if filters.ac and trip.is_ac not in filters.ac:
            return False
        if filters.kinds and trip.bus_kind not in filters.kinds:
            return False
        if filters.windows:
            hour = trip.departs_at.astimezone(tz).hour
            return any(lo <= hour < hi for lo, hi in (w.hours for w in filters.windows))
        return True

    kept = [trip for trip in results if keep(trip)]
    if filters.sort is SortKey.FARE:
        kept.sort(key=lambda t: (t.fare, t.departs_at))
    elif filters.sort is SortKey.SEATS:
        kept.sort(key=lambda t: (-t.seats_free, t.departs_at))
    else:
        kept.sort(key=lambda t: (t.departs_at, t.fare))
    return kept


# ------------------------------------------------------------------ when nothing matches

NEAREST_DATES = 3

# The trips of SEARCH_SQL's city pair that are on sale (scheduled, not yet left the origin),
# by the day they leave the origin in the operator's calendar. $6..$8 are the filters (NULL:
# any), so a date offered for the filters the passenger chose does show a bus.
PAIR_DAYS_SQL = """
    SELECT (s.departure_at + make_interval(mins => o.minutes_from_origin)) AT TIME ZONE $4
        AS local_departure, b.is_ac, b.kind
    FROM schedules s
    JOIN routes r ON r.id = s.route_id AND r.is_active
    JOIN buses b ON b.id = s.bus_id
    JOIN route_stops o ON o.route_id = s.route_id AND o.city_id = $1
    JOIN route_stops d ON d.route_id = s.route_id AND d.city_id = $2 AND d.seq > o.seq
    WHERE s.status = 'scheduled'
      AND s.departure_at > $3::timestamptz - make_interval(mins => o.minutes_from_origin)
"""
SALES_SQL = f"""
    WITH pair AS ({PAIR_DAYS_SQL})
    SELECT
      (SELECT max(local_departure)::date FROM pair) AS sold_until,
      ARRAY(
        SELECT day FROM (
          SELECT DISTINCT local_departure::date AS day FROM pair
          WHERE ($6::boolean[] IS NULL OR is_ac = ANY($6::boolean[]))
            AND ($7::text[] IS NULL OR kind = ANY($7::text[]))
            AND ($8::int[] IS NULL OR extract(hour FROM local_departure)::int = ANY($8::int[]))
        ) days
        ORDER BY abs(day - $5::date), day
        LIMIT {NEAREST_DATES}
      ) AS nearest
"""


@dataclass(frozen=True)
class SearchResult:
    """What a search answers: the trips, and when there are none, how far ahead trips
    between the two cities are on sale and the days nearest the one asked for that have a
    trip matching the same filters (in date order)."""

    query: SearchQuery
    trips: list[TripResult]
    sold_until: date | None = None  # None: trips were found, or none is on sale at all
    nearest_dates: tuple[date, ...] = ()

    @property
    def beyond_sales(self) -> bool:
        """The day asked for is later than the last trip on sale."""
        return self.sold_until is not None and self.query.day > self.sold_until


async def search(
    query: SearchQuery, filters: SearchFilters, *, now: datetime, tz: ZoneInfo
) -> SearchResult:
    """The one call behind the search page and the API search: `search_trips`, and when
    nothing matches, the sales horizon and the nearest days with trips. There is no setting
    for how far ahead trips are sold: the timetable is, so the horizon is the day the
    pair's latest scheduled trip leaves."""
    trips = await search_trips(query, filters, now=now, tz=tz)
    if trips:
        return SearchResult(query, trips)
    hours = sorted({h for w in filters.windows for h in range(*w.hours)})
    rows = await connections.get("default").execute_query_dict(
        SALES_SQL,
        [
            query.origin.id,
            query.destination.id,
            now,
            tz.key,
            query.day,
            sorted(filters.ac) or None,
            sorted(k.value for k in filters.kinds) or None,
            hours or None,
        ],
    )
    row = rows[0]
    return SearchResult(
        query, trips, sold_until=row["sold_until"], nearest_dates=tuple(sorted(row["nearest"]))
    )
