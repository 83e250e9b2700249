"""The trip screen as one call: a trip, the chosen part of it, its seats as one viewer sees
them, the boarding and dropping points and the fare, as plain data (a view model).

The HTML trip page and seat-map partial render it; the JSON API serialises the same object.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from domain import inventory
from domain.enums import ScheduleStatus
from domain.errors import ValidationFailed
from domain.inventory import SeatMap, Segment, StopView, Trip
from domain.models import StopPoint, User


@dataclass(frozen=True)
class PointChoice:
    """A boarding or dropping point offered for the chosen segment, with its time."""

    id: int
    name: str
    landmark: str
    at: datetime


@dataclass(frozen=True)
class TripView:
    """The trip page's data. `segment` is None when the asked-for stops are not a part of
    this trip; `errors` then says why (keyed `from` and `to`), and nothing below it is set."""

    trip: Trip
    now: datetime
    segment: Segment | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    seat_map: SeatMap | None = None
    origin: StopView | None = None
    destination: StopView | None = None
    fare: Decimal | None = None  # per seat on the segment, before a seat's own factor
    departed: bool = False  # the bus has left the boarding stop: nothing can be held
    cancelled: bool = False  # the operator cancelled the trip: nothing can be held
    boarding_points: tuple[PointChoice, ...] = ()
    dropping_points: tuple[PointChoice, ...] = ()


def stop_points(stop: StopView, *, boarding: bool) -> tuple[PointChoice, ...]:
    """The boarding (or dropping) points of one stop of a trip, each with its time."""

    def offered(point: StopPoint) -> bool:
        return point.is_boarding if boarding else point.is_dropping

    return tuple(
        PointChoice(
            id=point.id,
            name=point.name,
            landmark=point.landmark,
            at=stop.arrives_at + timedelta(minutes=point.minutes_offset),
        )
        for point in stop.points
        if offered(point)
    )


def chosen_point(stop: StopView, point_id: int | None) -> PointChoice | None:
    """The boarding (or dropping) point a hold or booking chose at `stop`, with its time
    (the stop's time plus the point's offset); None when none was chosen."""
    for point in stop.points:
        if point.id == point_id:
            return PointChoice(
                id=point.id,
                name=point.name,
                landmark=point.landmark,
                at=stop.arrives_at + timedelta(minutes=point.minutes_offset),
            )
    return None


async def _viewer_id(viewer: User | Awaitable[User | None] | None) -> int | None:
    user = await viewer if inspect.isawaitable(viewer) else viewer
    return user.id if user is not None else None


async def trip_view(
    schedule_id: int,
    from_seq: int | None,
    to_seq: int | None,
    *,
    viewer: User | Awaitable[User | None] | None,
    now: datetime,
    problems: Mapping[str, str] | None = None,
) -> TripView:
    """The trip between stops `from_seq` and `to_seq` (None: the route's ends) as `viewer`
    sees it at `now`. `viewer` may be still loading (an awaitable): the trip, the viewer
    and the seat states are read at the same time, since the page also answers a refused
    hold, where every millisecond is someone waiting. `problems` are the caller's own
    findings about the stops it was given (e.g. not a number): the view then has the trip
    and those errors, and no segment. Raises ScheduleNotFound."""
    trip, viewer_id, states = await asyncio.gather(
        inventory.load_trip(schedule_id),
        _viewer_id(viewer),
        inventory.seat_states(schedule_id),
    )
    if problems:
        return TripView(trip=trip, now=now, errors=dict(problems))
    try:
        segment = inventory.check_segment(trip, from_seq, to_seq)
    except ValidationFailed as exc:
        return TripView(trip=trip, now=now, errors=exc.errors)
    seat_map = await inventory.seat_map(trip, segment, viewer_id=viewer_id, now=now, states=states)
    origin, destination = trip.stop(segment.from_seq), trip.stop(segment.to_seq)
    return TripView(
        trip=trip,
        now=now,
        segment=segment,
        seat_map=seat_map,
        origin=origin,
        destination=destination,
        fare=trip.segment_fare(segment),
        departed=origin.arrives_at <= now,
        cancelled=trip.schedule.status is ScheduleStatus.CANCELLED,
        boarding_points=stop_points(origin, boarding=True),
        dropping_points=stop_points(destination, boarding=False),
    )
