"""Seats of a trip: the per-trip inventory, segments, and what each seat looks like to a viewer.

Whether a seat is taken is the one rule of domain/availability.py (an expired hold is free,
invariant 2); this module reads the seats' allocations and judges them with it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from domain import availability
from domain.availability import Segment as Segment  # callers import it from here too
from domain.enums import AllocationKind, Deck, ScheduleStatus, SeatPosition, SeatStatus, SeatType
from domain.errors import ScheduleNotFound, ValidationFailed
from domain.models import Bus, Route, RouteStop, Schedule, ScheduleSeat, Seat, StopPoint
from domain.pricing import seat_fare, segment_fare


@dataclass(frozen=True)
class StopView:
    seq: int
    city: str
    arrives_at: datetime
    km: int
    points: list[StopPoint]


@dataclass(frozen=True)
class SeatView:
    schedule_seat_id: int
    number: str
    deck: Deck
    row: int
    column: int
    seat_type: SeatType
    position: SeatPosition
    fare: Decimal
    status: SeatStatus
    two_decks: bool = False  # the bus has an upper deck: only then does a label name the deck

    @property
    def label(self) -> str:
        """What a screen reader says for the seat: "Seat 14, window" on a one-deck bus,
        "Lower berth L3, window" on a two-deck one."""
        kind = "berth" if self.seat_type is SeatType.SLEEPER else "seat"
        if self.two_decks:
            return f"{self.deck.value.title()} {kind} {self.number}, {self.position.value}"
        return f"{kind.title()} {self.number}, {self.position.value}"


@dataclass
class DeckView:
    deck: Deck
    rows: list[list[SeatView | None]]  # None is the aisle or an empty cell


@dataclass
class SeatMap:
    schedule_id: int
    segment: Segment
    decks: list[DeckView]
    aisle_after: int
    columns: int
    counts: dict[SeatStatus, int] = field(default_factory=dict)
    seats: dict[int, SeatView] = field(default_factory=dict)
    states: dict[int, SeatState] = field(default_factory=dict)

    @property
    def available(self) -> int:
        return self.counts.get(SeatStatus.AVAILABLE, 0)


@dataclass(frozen=True)
class Trip:
    schedule: Schedule
    stops: list[StopView]
    route_km: int

    @property
    def last_seq(self) -> int:
        return self.stops[-1].seq

    def stop(self, seq: int) -> StopView:
        return self.stops[seq]

    def segment_fare(self, segment: Segment) -> Decimal:
        return segment_fare(
            self.schedule.base_fare,
            self.route_km,
            self.stops[segment.from_seq].km,
            self.stops[segment.to_seq].km,
        )


# A route's stops and points and a bus's layout change only through the operator's console;
# trips read them on every page and every hold. Each process keeps them for a short while
# (the schedule row itself, with its fare and status, is always read fresh). An edit
# announces itself (`events.announce_route_changed`, delivered on commit), and every process's
# seat broker drops the entries at once; the time limit only bounds what a process misses
# while its LISTEN connection is down.
_TTL_SECONDS = 30.0
_cache: dict[tuple[str, int], tuple[float, Any]] = {}
_generation = 0  # bumped by every forget: a load that raced an edit is not kept


async def _cached(kind: str, key: int, load: Callable[[], Awaitable[Any]]) -> Any:
    stamp = time.monotonic()  # cache bookkeeping only, not a business clock
    hit = _cache.get((kind, key))
    if hit is not None and stamp - hit[0] < _TTL_SECONDS:
        return hit[1]
    generation = _generation
    value = await load()
    if generation == _generation:  # else it may have read the rows before the edit
        _cache[(kind, key)] = (stamp, value)
    return value


def forget_routes() -> None:
    """Drop every cached route and bus (tests reuse ids; the broker after a reconnect)."""
    global _generation
    _generation += 1
    _cache.clear()


def forget_route(route_id: int) -> None:
    """Drop a route's cached row and stops: it was edited (here or in another process)."""
    global _generation
    _generation += 1
    _cache.pop(("route", route_id), None)
    _cache.pop(("stops", route_id), None)


def forget_bus(bus_id: int) -> None:
    """Drop a bus's cached row and seats: it was edited (here or in another process)."""
    global _generation
    _generation += 1
    _cache.pop(("bus", bus_id), None)
    _cache.pop(("seats", bus_id), None)


async def load_trip(schedule_id: int, *, using_db: BaseDBAsyncClient | None = None) -> Trip:
    """A trip with its route's stops and points and its bus (those from the per-process
    cache, dropped on every edit); the schedule row, with its fare and status, is read
    fresh."""
    rows = await (using_db or connections.get("default")).execute_query_dict(
        "SELECT * FROM schedules WHERE id = $1", [schedule_id]
    )
    if not rows:
        raise ScheduleNotFound()
    return await trip_from_row(dict(rows[0]), using_db=using_db)


async def trip_from_row(row: dict[str, Any], *, using_db: BaseDBAsyncClient | None = None) -> Trip:
    """The trip of a `schedules` row read by the caller (one plain query: this runs on every
    hold), with its route, stops and bus from the per-process cache."""
    row["status"] = ScheduleStatus(row["status"])
    schedule = Schedule._init_from_db(**row)

    async def route() -> Route:
        return await Route.get(id=schedule.route_id, using_db=using_db).prefetch_related("operator")

    async def bus() -> Bus:
        return await Bus.get(id=schedule.bus_id, using_db=using_db).prefetch_related("operator")

    async def stops() -> list[RouteStop]:
        return list(
            await RouteStop.filter(route_id=schedule.route_id)
            .order_by("seq")
            .prefetch_related("city", "points")
            .using_db(using_db)
        )

    schedule.route = await _cached("route", schedule.route_id, route)
    schedule.bus = await _cached("bus", schedule.bus_id, bus)
    route_stops: list[RouteStop] = await _cached("stops", schedule.route_id, stops)
    views = [
        StopView(
            seq=stop.seq,
            city=stop.city.name,
            arrives_at=schedule.departure_at + _minutes(stop.minutes_from_origin),
            km=stop.km_from_origin,
            points=sorted(stop.points, key=lambda p: (p.minutes_offset, p.id)),
        )
        for stop in route_stops
    ]
    return Trip(schedule=schedule, stops=views, route_km=max((s.km for s in views), default=0))


def _minutes(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def check_segment(trip: Trip, from_seq: int | None, to_seq: int | None) -> Segment:
    """The segment [from_seq, to_seq) of a trip, by stop sequence numbers; the whole route
    when they are not given. Errors name `from` and `to`."""
    errors: dict[str, str] = {}
    from_seq = 0 if from_seq is None else from_seq
    to_seq = trip.last_seq if to_seq is None else to_seq
    if not 0 <= from_seq <= trip.last_seq:
        errors["from"] = "That boarding stop is not on this route."
    if not 0 <= to_seq <= trip.last_seq:
        errors["to"] = "That dropping stop is not on this route."
    if not errors and from_seq >= to_seq:
        errors["to"] = "The dropping stop must come after the boarding stop."
    if errors:
        raise ValidationFailed(errors)
    return Segment(from_seq, to_seq)


@dataclass(frozen=True)
class Occupancy(availability.AllocationFacts):
    """One active allocation of a seat, as far as a seat map needs to know."""

    user_id: int | None = None  # the hold's customer

    def takes(self, segment: Segment | None, now: datetime) -> bool:
        """The availability rule (domain/availability.py) for this allocation."""
        return availability.takes(self, segment, now)


@dataclass(frozen=True)
class SeatState:
    """Everything that decides a seat's status for any viewer, segment and moment."""

    schedule_seat_id: int
    is_blocked: bool
    occupancies: tuple[Occupancy, ...]
    bus_seat_id: int = 0  # the bus seat behind this inventory row (its number, its place)

    def status_for(self, segment: Segment, viewer_id: int | None, now: datetime) -> SeatStatus:
        """Blocked beats booked beats held; a hold whose `expires_at <= now` is free for
        everyone, whether or not the sweeper has run (invariant 2)."""
        if self.is_blocked:
            return SeatStatus.BLOCKED
        status = SeatStatus.AVAILABLE
        for occupancy in self.occupancies:
            if not occupancy.takes(segment, now):
                continue
            if occupancy.kind is AllocationKind.BOOKING:
                return SeatStatus.BOOKED
            if occupancy.user_id is not None and occupancy.user_id == viewer_id:
                status = SeatStatus.MINE if status is SeatStatus.AVAILABLE else status
            else:
                status = SeatStatus.HELD
        return status

    def next_expiry(self, now: datetime) -> datetime | None:
        times = [o.expires_at for o in self.occupancies if o.expires_at and o.expires_at > now]
        return min(times, default=None)


# Every active allocation of the trip's seats, on any segment and live or not: the states
# are judged later, for any segment and moment, by the Python side of the rule.
SEAT_STATE_SQL = f"""
    SELECT ss.id AS schedule_seat_id, ss.seat_id AS bus_seat_id, ss.is_blocked,
           a.from_seq, a.to_seq, a.kind, r.user_id, r.expires_at
    FROM schedule_seats ss
    LEFT JOIN seat_allocations a
      ON a.schedule_id = ss.schedule_id AND a.schedule_seat_id = ss.id
         AND {availability.overlapping_sql("a")}
    LEFT JOIN reservations r ON r.id = a.reservation_id
    WHERE ss.schedule_id = $1
"""


async def seat_states(
    schedule_id: int,
    schedule_seat_ids: list[int] | None = None,
    *,
    using_db: BaseDBAsyncClient | None = None,
) -> dict[int, SeatState]:
    """The current state of a trip's seats (or of some of them), for every segment."""
    sql = SEAT_STATE_SQL
    params: list[object] = [schedule_id]
    if schedule_seat_ids is not None:
        sql += " AND ss.id = ANY($2::int[])"
        params.append(schedule_seat_ids)
    conn = using_db or connections.get("default")
    blocked: dict[int, bool] = {}
    bus_seat_of: dict[int, int] = {}
    occupancies: dict[int, list[Occupancy]] = defaultdict(list)
    for row in await conn.execute_query_dict(sql, params):
        seat_id = row["schedule_seat_id"]
        blocked[seat_id] = row["is_blocked"]
        bus_seat_of[seat_id] = row["bus_seat_id"]
        if row["kind"] is not None:
            occupancies[seat_id].append(
                Occupancy(
                    from_seq=row["from_seq"],
                    to_seq=row["to_seq"],
                    kind=AllocationKind(row["kind"]),
                    active=True,
                    expires_at=row["expires_at"],
                    user_id=row["user_id"],
                )
            )
    return {
        seat_id: SeatState(
            seat_id, is_blocked, tuple(occupancies.get(seat_id, ())), bus_seat_of[seat_id]
        )
        for seat_id, is_blocked in blocked.items()
    }


async def bus_seats(bus_id: int) -> dict[int, Seat]:
    """A bus's seats by id. A layout is fixed once a trip uses the bus (fleet.update_bus),
    so it is kept per process like routes."""

    async def load() -> dict[int, Seat]:
        return {seat.id: seat for seat in await Seat.filter(bus_id=bus_id)}

    seats: dict[int, Seat] = await _cached("seats", bus_id, load)
    return seats


async def seat_map(
    trip: Trip,
    segment: Segment,
    *,
    viewer_id: int | None,
    now: datetime,
    states: dict[int, SeatState] | None = None,
) -> SeatMap:
    """The trip's seat map for one segment as `viewer_id` sees it; `states` when the caller
    has read them already (`seat_states`), e.g. at the same time as the trip."""
    bus = trip.schedule.bus
    if states is None:
        states = await seat_states(trip.schedule.id)
    layout = await bus_seats(bus.id)
    if any(state.bus_seat_id not in layout for state in states.values()):
        forget_routes()  # a seat newer than the cached layout: read it again
        layout = await bus_seats(bus.id)
    fare = trip.segment_fare(segment)
    two_decks = len({seat.deck for seat in layout.values()}) > 1
    grid: dict[Deck, list[list[SeatView | None]]] = {}
    counts: dict[SeatStatus, int] = defaultdict(int)
    seats: dict[int, SeatView] = {}
    for schedule_seat_id in sorted(states):
        state = states[schedule_seat_id]
        seat = layout[state.bus_seat_id]
        view = SeatView(
            schedule_seat_id=schedule_seat_id,
            number=seat.number,
            deck=seat.deck,
            row=seat.row,
            column=seat.column,
            seat_type=seat.seat_type,
            position=seat.position,
            fare=seat_fare(fare, seat.price_factor),
            status=state.status_for(segment, viewer_id, now),
            two_decks=two_decks,
        )
        seats[schedule_seat_id] = view
        counts[view.status] += 1
        rows = grid.setdefault(seat.deck, [[None] * bus.columns for _ in range(bus.rows)])
        if 1 <= seat.row <= bus.rows and 1 <= seat.column <= bus.columns:
            rows[seat.row - 1][seat.column - 1] = view
    decks = [DeckView(deck, grid[deck]) for deck in (Deck.LOWER, Deck.UPPER) if deck in grid]
    return SeatMap(
        schedule_id=trip.schedule.id,
        segment=segment,
        decks=decks,
        aisle_after=bus.aisle_after,
        columns=bus.columns,
        counts=dict(counts),
        seats=seats,
        states=states,
    )


async def generate_schedule_seats(
    schedule: Schedule, *, using_db: BaseDBAsyncClient | None = None
) -> int:
    """Create the trip's inventory rows from its bus layout; existing rows are kept."""
    bus_seat_ids = (
        await Seat.filter(bus_id=schedule.bus_id).using_db(using_db).values_list("id", flat=True)
    )
    existing = set(
        await ScheduleSeat.filter(schedule_id=schedule.id)
        .using_db(using_db)
        .values_list("seat_id", flat=True)
    )
    missing = [
        ScheduleSeat(schedule_id=schedule.id, seat_id=bus_seat_id)
        for bus_seat_id in bus_seat_ids
        if bus_seat_id not in existing
    ]
    if missing:
        await ScheduleSeat.bulk_create(missing, using_db=using_db)
    return len(missing)


async def changed_since(schedule_id: int, since: datetime, now: datetime) -> bool:
    """Did any seat of the trip change between `since` and `now` (a page's render time and
    its live stream's start)? Holds that expired in between count as changes."""
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT EXISTS (
            SELECT 1 FROM seat_allocations a
            LEFT JOIN reservations r ON r.id = a.reservation_id
            WHERE a.schedule_id = $1
              AND (a.created_at > $2 OR a.released_at > $2
                   OR (a.active AND r.expires_at > $2 AND r.expires_at <= $3))
        ) AS changed
        """,
        [schedule_id, since, now],
    )
    return bool(rows[0]["changed"])
