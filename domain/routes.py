"""Routes: the ordered stops of a route (city, minutes and km from the origin, boarding and
dropping points), their bounds, and saving a route without breaking sold segments."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q

from domain import audit, events, inventory, keyset, locking
from domain.enums import BookingStatus, ReservationStatus
from domain.errors import RouteInUse, RouteNotFound, ValidationFailed
from domain.models import Booking, City, Operator, Reservation, Route, RouteStop, StopPoint, User


@dataclass(frozen=True)
class StopLine:
    """One stop of a route, in travel order: its city, minutes and km from the origin and
    its boarding/dropping points (none: one point, "<City> bus stand")."""

    city: str
    minutes: int
    km: int
    points: list[str]


# Bounds of a route: a real one has a few dozen stops and runs for days at most; the
# bounds keep a typo (or 20,000 lines) from becoming minutes of work or a column overflow.
MAX_STOPS = 60
MAX_MINUTES = 14 * 24 * 60
MAX_KM = 20_000
CITY_MAX = 80  # City.name
POINT_MAX = 120  # StopPoint.name


def check_stops(stops: list[StopLine]) -> list[StopLine]:
    """The stops of a route, tidied (city names title-cased, spaces collapsed, a default
    point), or ValidationFailed naming each problem's stop: `stops[3].minutes`,
    `stops[0].city`, `stops` for the list as a whole."""
    if len(stops) > MAX_STOPS:
        raise ValidationFailed({"stops": f"A route can have at most {MAX_STOPS} stops."})
    errors: dict[str, str] = {}
    tidy: list[StopLine] = []
    for index, stop in enumerate(stops):
        path = f"stops[{index}]"
        city = " ".join(stop.city.split())
        points = [" ".join(p.split()) for p in stop.points if p.strip()]
        if not city:
            errors[f"{path}.city"] = "Write City | minutes | km | points."
            continue
        if not (0 <= stop.minutes <= MAX_MINUTES and 0 <= stop.km <= MAX_KM):
            field = "minutes" if not 0 <= stop.minutes <= MAX_MINUTES else "km"
            errors[f"{path}.{field}"] = (
                f"At most {MAX_MINUTES} minutes and {MAX_KM} km from the origin."
            )
            continue
        if len(city) > CITY_MAX or any(len(p) > POINT_MAX for p in points):
            field = "city" if len(city) > CITY_MAX else "points"
            errors[f"{path}.{field}"] = (
                f"City names can have at most {CITY_MAX} characters, boarding points {POINT_MAX}."
            )
            continue
        tidy.append(StopLine(city.title(), stop.minutes, stop.km, points or [f"{city} bus stand"]))
    if not errors and len(tidy) < 2:
        errors["stops"] = "A route needs at least two stops."
    if not errors:
        if tidy[0].minutes != 0 or tidy[0].km != 0:
            errors["stops[0].minutes"] = "The first stop is the origin: 0 minutes and 0 km."
        for index, (before, after) in enumerate(itertools.pairwise(tidy), 1):
            if after.minutes <= before.minutes or after.km <= before.km:
                errors[f"stops[{index}].minutes"] = (
                    f"Must come later and farther than {before.city}: stops are in travel order."
                )
        if len({s.city for s in tidy}) != len(tidy):
            errors["stops"] = "A city can appear only once on a route."
    if errors:
        raise ValidationFailed(errors)
    return tidy


async def save_route(
    admin: User,
    route_id: int | None,
    code: str,
    name: str,
    stops: list[StopLine],
    *,
    now: datetime,
) -> Route:
    """Create a route, or replace an existing route's stops. A route with holds or bookings
    keeps its stops' number and order (their segments refer to them); only times, distances
    and points may change then."""
    errors: dict[str, str] = {}
    code = code.strip().upper()
    if not code:
        errors["code"] = "Give the route a short code, e.g. MUM-PUN."
    try:
        stops = check_stops(stops)
    except ValidationFailed as exc:
        errors |= exc.errors
    if errors:
        raise ValidationFailed(errors)
    clash = await Route.filter(code=code).exclude(id=route_id or 0).exists()
    if clash:
        raise ValidationFailed({"code": "Another route already uses this code."})
    operator = await Operator.first() or await Operator.create(name="Busbook Operator")
    async with locking.transaction() as conn:
        if route_id is None:
            route = await Route.create(
                code=code, name=name.strip() or code, operator=operator, using_db=conn
            )
            current: list[RouteStop] = []
        else:
            found = await Route.filter(id=route_id).select_for_update().using_db(conn).first()
            if found is None:
                raise RouteNotFound()
            route = found
            current = list(
                await RouteStop.filter(route=route)
                .order_by("seq")
                .using_db(conn)
                .prefetch_related("city")
            )
            in_use = (
                await Reservation.filter(
                    schedule__route_id=route.id, status=ReservationStatus.ACTIVE
                )
                .using_db(conn)
                .exists()
                or await Booking.filter(
                    schedule__route_id=route.id,
                    status__in=[BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED],
                )
                .using_db(conn)
                .exists()
            )
            same_stops = [s.city.name for s in current] == [s.city for s in stops]
            if in_use and not same_stops:
                raise RouteInUse()
            route.code, route.name = code, name.strip() or route.name
            await route.save(update_fields=["code", "name"], using_db=conn)
        for seq, line in enumerate(stops):
            city, _ = await City.get_or_create(name=line.city, using_db=conn)
            if seq < len(current) and current[seq].city_id == city.id:  # type: ignore[attr-defined]
                stop = current[seq]
                stop.minutes_from_origin, stop.km_from_origin = line.minutes, line.km
                await stop.save(using_db=conn)
                # Keep points that holds or bookings refer to; drop the others not listed.
                for point in await StopPoint.filter(stop=stop).using_db(conn):
                    if point.name in line.points:
                        continue
                    used = (
                        await Reservation.filter(
                            Q(boarding_point_id=point.id) | Q(dropping_point_id=point.id)
                        )
                        .using_db(conn)
                        .exists()
                        or await Booking.filter(
                            Q(boarding_point_id=point.id) | Q(dropping_point_id=point.id)
                        )
                        .using_db(conn)
                        .exists()
                    )
                    if not used:
                        await point.delete(using_db=conn)
            else:
                if seq < len(current):
                    await current[seq].delete(using_db=conn)
                stop = await RouteStop.create(
                    route=route,
                    seq=seq,
                    city=city,
                    minutes_from_origin=line.minutes,
                    km_from_origin=line.km,
                    using_db=conn,
                )
            existing = {p.name for p in await StopPoint.filter(stop=stop).using_db(conn)}
            for offset, point_name in enumerate(line.points):
                if point_name in existing:
                    continue
                await StopPoint.create(
                    stop=stop,
                    name=point_name[:120],
                    minutes_offset=offset * 10,
                    is_boarding=seq < len(stops) - 1,
                    is_dropping=seq > 0,
                    using_db=conn,
                )
        for extra in current[len(stops) :]:
            await extra.delete(using_db=conn)
        await audit.record(
            "route.saved",
            now=now,
            actor=admin,
            subject=route,
            using_db=conn,
            data={"code": code, "stops": [s.city for s in stops]},
        )
        # Every process (this one included) drops its cached copy once this commits.
        await events.announce_route_changed(conn, route.id)
    inventory.forget_route(route.id)  # here at once: the next page is this admin's redirect
    return route


async def list_routes(*, after: str | None = None, limit: int | None = None) -> list[Route]:
    """Routes by code, with their stops and points; `after` is the last code already seen."""
    query = Route.all().order_by("code")
    if after is not None:
        query = query.filter(code__gt=after)
    if limit is not None:
        query = query.limit(limit)
    return await query.prefetch_related("stops", "stops__city", "stops__points")


async def route_page(window: keyset.Window) -> keyset.Page[Route]:
    """One page of routes by code (unique), with their stops and points."""
    return await keyset.read_page(
        Route.all(), ("code",), window, "stops", "stops__city", "stops__points"
    )


async def get_route(route_id: int) -> Route:
    route = await Route.get_or_none(id=route_id).prefetch_related(
        "stops", "stops__city", "stops__points"
    )
    if route is None:
        raise RouteNotFound()
    return route
