"""Seat holds: take seats for one segment for a while, give them back, let them expire.

A hold is row state written in one short transaction (never a lock kept for 15 minutes):
lock the requested inventory rows in id order, release overlapping holds that have already
expired, check, insert the allocations (the exclusion constraint is the last guard), write
the audit row and `pg_notify`. Expiry needs no sweeper to take effect: every read treats
`expires_at <= now` as free; `expire_holds` only tidies up and announces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import attempts, audit, availability, events, locking, public_ids
from domain.accounts import SessionClaim
from domain.attempts import address_group
from domain.enums import Deck, ReservationStatus, ScheduleStatus, SeatPosition, SeatType
from domain.errors import (
    Busy,
    HoldLimitReached,
    ReservationNotFound,
    ScheduleNotFound,
    SeatsUnavailable,
    SignedOut,
    TripDeparted,
    ValidationFailed,
)
from domain.inventory import Segment, Trip, check_segment, load_trip, trip_from_row
from domain.models import Reservation, ScheduleSeat, Seat, SeatAllocation, User
from domain.pricing import seat_fare


@dataclass(frozen=True)
class HoldPolicy:
    hold_minutes: float = 15
    max_seats: int = 6
    max_holds_per_trip: int = 2
    max_active_holds: int = 5
    # Per address as well as per account: throwaway accounts from one place cannot take a
    # whole bus (MAX_ACTIVE_HOLDS_PER_IP, MAX_HELD_SEATS_PER_IP_PER_TRIP).
    max_active_holds_per_ip: int = 10  # 0: no per-address limits (a proxy hides addresses)
    max_seats_per_ip_per_trip: int = 12
    # How many holds one account and one address may make an hour, whether or not they are
    # still active (HOLDS_PER_ACCOUNT_PER_HOUR, HOLDS_PER_IP_PER_HOUR; 0: off): holding and
    # letting go in a loop keeps seats out of sale although the active-hold limits hold.
    holds_per_account_per_hour: int = 30
    holds_per_ip_per_hour: int = 120

    @property
    def rate_limits(self) -> attempts.RateLimits:
        return attempts.RateLimits(self.holds_per_account_per_hour, self.holds_per_ip_per_hour)

    @property
    def limits_addresses(self) -> bool:
        return self.max_active_holds_per_ip > 0 and self.max_seats_per_ip_per_trip > 0

    lock_timeout_ms: int = 2000

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.hold_minutes)


@dataclass(frozen=True)
class HoldRequest:
    """What to hold: `from_seq`/`to_seq` are stop sequence numbers (None: the route's
    first or last stop, as `inventory.check_segment` reads them)."""

    schedule_id: int
    from_seq: int | None
    to_seq: int | None
    schedule_seat_ids: tuple[int, ...]
    boarding_point_id: int | None = None
    dropping_point_id: int | None = None
    # The public id of one of the customer's earlier holds whose typed checkout form
    # (passengers, contact) the new hold starts from: "hold these seats again".
    draft_from: str | None = None


def _exclusion_violation(exc: BaseException) -> bool:
    return "seat_allocations_one_holder_per_segment" in str(exc) or any(
        isinstance(e, asyncpg.exceptions.ExclusionViolationError)
        for e in (exc, exc.__cause__, exc.__context__)
    )


def _check_request(request: HoldRequest, policy: HoldPolicy) -> None:
    ids = request.schedule_seat_ids
    if not ids:
        raise ValidationFailed({"seat_ids": "Pick at least one seat to hold."})
    if len(set(ids)) != len(ids):
        raise ValidationFailed({"seat_ids": "Each seat can be picked only once."})
    if len(ids) > policy.max_seats:
        raise ValidationFailed(
            {"seat_ids": f"You can hold at most {policy.max_seats} seats at a time."}
        )


def _check_trip(trip: Trip, request: HoldRequest, now: datetime) -> Segment:
    segment = check_segment(trip, request.from_seq, request.to_seq)
    if trip.schedule.status != ScheduleStatus.SCHEDULED:
        raise TripDeparted("This trip was cancelled by the operator. Please pick another bus.")
    if trip.stop(segment.from_seq).arrives_at <= now:
        raise TripDeparted()
    errors: dict[str, str] = {}
    for field, point_id, seq, flag in (
        ("boarding_point_id", request.boarding_point_id, segment.from_seq, "is_boarding"),
        ("dropping_point_id", request.dropping_point_id, segment.to_seq, "is_dropping"),
    ):
        if point_id is None:
            continue
        stop = trip.stop(seq)
        if not any(p.id == point_id and getattr(p, flag) for p in stop.points):
            kind = "boarding" if flag == "is_boarding" else "dropping"
            errors[field] = f"Pick a {kind} point in {stop.city}."
    if errors:
        raise ValidationFailed(errors)
    return segment


async def end_reservations(
    conn: BaseDBAsyncClient,
    reservations: Sequence[Reservation],
    status: ReservationStatus,
    now: datetime,
    *,
    actor: User | None = None,
    data: dict[str, object] | None = None,
) -> None:
    """End locked, active reservations: free their seats, audit, announce."""
    for reservation in reservations:
        reservation.status = status
        reservation.ended_at = now
        await reservation.save(update_fields=["status", "ended_at"], using_db=conn)
        held = SeatAllocation.filter(reservation_id=reservation.id, active=True).using_db(conn)
        inventory_ids = [a.schedule_seat_id for a in await held]
        await held.update(active=False, released_at=now)
        await audit.record(
            f"reservation.{status.value}",
            now=now,
            actor=actor,
            subject=reservation,
            data={"seat_ids": sorted(inventory_ids), **(data or {})},
            using_db=conn,
        )
        await events.announce(
            conn,
            reservation.schedule_id,
            inventory_ids,
            status.value,
        )


# The hold transaction: BEGIN, three statements, COMMIT. Each statement is a round trip
# taken while rows are locked, so the work is folded into as few as keep the order right:
# the customer's row before the seats (one customer's holds are taken one at a time, so the
# limits hold even for a double-clicked form), the seats in id order, and only then, in a
# later statement with a fresh snapshot, the allocations that overlap them.

# 1. Set this transaction's lock timeout (set_config in the select list runs before the
#    row is locked), lock the customer if their login cookie still holds (the session
#    version: this is the request's only check of it), then (the EXISTS is evaluated once,
#    before the first seat) lock the seats asked for in id order; read the trip alongside.
#    Before the customer, holds from one address ($6, when per-address limits are on) take
#    turns on an advisory lock for the rest of the transaction, so that many fresh accounts
#    sending at the same instant cannot all pass the per-address count (a NAT's holds queue
#    for a few milliseconds each).
#    One row per seat found, or one row with null seat columns, or none for an unknown
#    trip; `picked_signed_in` is false when the cookie no longer holds.
LOCK_SQL = """
    WITH address AS MATERIALIZED (
        SELECT set_config('lock_timeout', $4, true) AS lock_timeout,
               CASE WHEN $6::text IS NOT NULL
                    THEN pg_advisory_xact_lock(hashtextextended($6::text, 9))::text END AS lock
    ), customer AS MATERIALIZED (
        SELECT (SELECT lock_timeout FROM address) AS lock_timeout
        FROM users WHERE id = $1 AND session_version = $5 AND is_active
        FOR UPDATE
    ), picked AS MATERIALIZED (
        SELECT ss.id, ss.is_blocked, ss.blocked_reason, ss.seat_id, s.bus_id, s.number,
               s.deck, s."row" AS seat_row, s."column" AS seat_column, s.seat_type,
               s.position, s.price_factor
        FROM schedule_seats ss JOIN seats s ON s.id = ss.seat_id
        WHERE ss.schedule_id = $2 AND ss.id = ANY($3::int[])
          AND EXISTS (SELECT FROM customer)
        ORDER BY ss.id
        FOR UPDATE OF ss
    )
    SELECT picked.id AS picked_id,
           picked.is_blocked AS picked_is_blocked, picked.number AS picked_number,
           picked.price_factor AS picked_price_factor,
           picked.blocked_reason AS picked_blocked_reason, picked.seat_id AS picked_seat_id,
           picked.bus_id AS picked_bus_id, picked.deck AS picked_deck,
           picked.seat_row AS picked_seat_row, picked.seat_column AS picked_seat_column,
           picked.seat_type AS picked_seat_type, picked.position AS picked_position,
           EXISTS (SELECT FROM customer) AS picked_signed_in, trip.*
    FROM schedules trip LEFT JOIN picked ON true
    WHERE trip.id = $2
    ORDER BY picked.id
"""
PICKED = (
    "id",
    "is_blocked",
    "number",
    "price_factor",
    # the rest of the seat, so that a hold can answer with its seats without reading them
    "blocked_reason",
    "seat_id",
    "bus_id",
    "deck",
    "seat_row",
    "seat_column",
    "seat_type",
    "position",
)


def split_lock_rows(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """LOCK_SQL's answer (asyncpg records or dicts) as (the trip's schedules row, the locked
    seats in id order); SignedOut when the customer's session no longer holds."""
    if not rows[0]["picked_signed_in"]:
        raise SignedOut()
    trip = {k: v for k, v in rows[0].items() if not k.startswith("picked_")}
    seats = [
        {name: row[f"picked_{name}"] for name in PICKED}
        for row in rows
        if row["picked_id"] is not None
    ]
    return trip, seats


# 3. The customer's live holds and those from the same address (for the limits) and the
#    allocations in the way, in one answer: the first row always carries the counts;
#    overlap columns are null when free. No address ($7 null): no per-address counts.
#    The allocations in the way are the active ones overlapping the segment, with `live`
#    from the availability rule: the others are expired holds to release first.
CHECK_SQL = f"""
    WITH mine AS (
        SELECT count(*) FILTER (WHERE schedule_id = $1) AS on_trip, count(*) AS in_all
        FROM reservations WHERE user_id = $5 AND status = 'active' AND expires_at > $6
    ), from_ip AS (
        SELECT count(*) AS ip_holds,
               coalesce(sum(seat_count) FILTER (WHERE schedule_id = $1), 0) AS ip_seats_on_trip
        FROM reservations WHERE ip = $7 AND status = 'active' AND expires_at > $6
    ), overlapping AS (
        SELECT a.schedule_seat_id, a.kind, a.reservation_id, r.user_id, r.status,
               {availability.live_sql("a", "r", "$6")} AS live,
               r.from_seq, r.to_seq, r.boarding_point_id, r.dropping_point_id
        FROM seat_allocations a LEFT JOIN reservations r ON r.id = a.reservation_id
        WHERE a.schedule_id = $1 AND a.schedule_seat_id = ANY($2::int[])
          AND {availability.overlapping_sql("a", "$3", "$4")}
    )
    SELECT mine.on_trip, mine.in_all, from_ip.ip_holds, from_ip.ip_seats_on_trip, overlapping.*
    FROM mine CROSS JOIN from_ip LEFT JOIN overlapping ON true
"""
# 4. The reservation, its allocations (the exclusion constraint is the last guard), the
#    audit row and the seat event, in one statement.
INSERT_HOLD_SQL = f"""
    WITH reservation AS (
        INSERT INTO reservations (user_id, schedule_id, from_seq, to_seq, boarding_point_id,
            dropping_point_id, status, total_amount, currency, expires_at, grace_applied,
            created_at, ip, seat_count)
        VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, false, $10, $16,
                cardinality($11::int[]))
        RETURNING id, public_id
    ), allocations AS (
        INSERT INTO seat_allocations (schedule_id, schedule_seat_id, from_seq, to_seq, kind,
            reservation_id, active, created_at)
        SELECT $2, schedule_seat_id, $3, $4, 'hold', reservation.id, true, $10
        FROM reservation, unnest($11::int[]) AS schedule_seat_id
    ), audit AS (
        INSERT INTO activity_logs ({audit.COLUMNS})
        SELECT $1, 'reservation.created', 'Reservation', reservation.id::text,
               $12::jsonb || jsonb_build_object('reservation_id', reservation.id), $13, $10
        FROM reservation
    )
    SELECT reservation.id, reservation.public_id, pg_notify($14, $15) FROM reservation
"""


# A new hold takes over what was typed on one of the same customer's earlier holds.
COPY_DRAFT_SQL = """
    UPDATE reservations SET checkout_draft = earlier.checkout_draft
    FROM reservations earlier
    WHERE reservations.id = $1 AND earlier.public_id = $2 AND earlier.user_id = $3
"""


async def _fetch(conn: BaseDBAsyncClient, sql: str, *args: object) -> list[Any]:
    """Rows of one hot-path statement, straight from the transaction's asyncpg connection:
    Tortoise's per-query wrapping (exception translation, logging, rows copied into dicts)
    costs a measurable share of a hold. asyncpg errors are handled by hold_seats."""
    async with conn.acquire_connection() as raw:
        return list(await raw.fetch(sql, *args))


def hold_parameters(
    *,
    user_id: int,
    schedule_id: int,
    segment: Segment,
    boarding_point_id: int | None,
    dropping_point_id: int | None,
    total: Decimal,
    currency: str,
    expires_at: datetime,
    now: datetime,
    schedule_seat_ids: list[int],
    numbers: list[str],
    ip: str | None,
) -> list[object]:
    """The parameters of INSERT_HOLD_SQL (bench/holds.py sends the same statement). The
    audit row keeps the address itself, the reservation what the per-address limits count."""
    data = {
        "schedule_id": schedule_id,
        "seat_ids": schedule_seat_ids,
        "seats": numbers,
        "from_seq": segment.from_seq,
        "to_seq": segment.to_seq,
        "total": str(total),
        "expires_at": expires_at.isoformat(),
    }
    (payload,) = events.payloads(schedule_id, schedule_seat_ids, "held")
    return [
        user_id,
        schedule_id,
        segment.from_seq,
        segment.to_seq,
        boarding_point_id,
        dropping_point_id,
        total,
        currency,
        expires_at,
        now,
        schedule_seat_ids,
        audit.encode(data),
        ip,
        events.CHANNEL,
        payload,
        address_group(ip),
    ]


@dataclass(frozen=True)
class Hold:
    """A hold just taken, with its seats and their fares (from the rows the hold locked:
    no second read), for a client that shows them at once (the API's answer)."""

    reservation: Reservation
    seats: list[HeldSeat]
    trip: Trip | None = None  # the trip as the hold read it (its stops and points)


async def hold_seats(
    customer: User | SessionClaim,
    request: HoldRequest,
    *,
    now: datetime,
    policy: HoldPolicy = HoldPolicy(),
    ip: str | None = None,
) -> Reservation:
    """Hold seats for the customer on one segment (take_hold), the reservation only."""
    hold = await take_hold(customer, request, now=now, policy=policy, ip=ip)
    return hold.reservation


def _held_seats(schedule_id: int, seats: list[dict[str, Any]], fare: Decimal) -> list[HeldSeat]:
    """The locked seats' rows as the models a hold's seats are read as (seat prefetched)."""
    held = []
    for row in seats:
        seat = Seat._init_from_db(
            id=row["seat_id"],
            bus_id=row["bus_id"],
            number=row["number"],
            deck=Deck(row["deck"]),
            row=row["seat_row"],
            column=row["seat_column"],
            seat_type=SeatType(row["seat_type"]),
            position=SeatPosition(row["position"]),
            price_factor=row["price_factor"],
        )
        inventory = ScheduleSeat._init_from_db(
            id=row["id"],
            schedule_id=schedule_id,
            seat_id=row["seat_id"],
            is_blocked=row["is_blocked"],
            blocked_reason=row["blocked_reason"],
        )
        inventory.seat = seat
        held.append(HeldSeat(inventory, seat_fare(fare, row["price_factor"])))
    return held


async def take_hold(
    customer: User | SessionClaim,
    request: HoldRequest,
    *,
    now: datetime,
    policy: HoldPolicy = HoldPolicy(),
    ip: str | None = None,
) -> Hold:
    """Hold seats for the customer on one segment, or raise a DomainError saying why not.

    `customer` is a loaded user or what their login cookie claims: the hold's first
    statement checks the session either way (SignedOut when it no longer holds). The
    transaction is written in plain SQL on one connection: it is the hottest path of the
    product, and every statement runs while the seats are locked."""
    claim = SessionClaim.of(customer) if isinstance(customer, User) else customer
    user_id = claim.user_id
    group = address_group(ip)  # what the per-address limits count (an IPv6 /64)
    _check_request(request, policy)
    # Counted before the transaction and kept whatever its outcome (a refused hold was work
    # too); one statement for both counters, in every worker the same rows.
    await attempts.reserve(
        policy.rate_limits.limits("hold", user_id, ip),
        now=now,
        message="You have made a lot of holds in a short time.",
    )
    wanted = sorted(request.schedule_seat_ids)
    try:
        async with in_transaction() as conn:
            rows = await _fetch(
                conn,
                LOCK_SQL,
                user_id,
                request.schedule_id,
                wanted,
                f"{int(policy.lock_timeout_ms)}ms",
                claim.session_version,
                group if policy.limits_addresses else None,
            )
            if not rows:
                raise ScheduleNotFound()
            row, seats = split_lock_rows(rows)
            trip = await trip_from_row(row, using_db=conn)
            segment = _check_trip(trip, request, now)
            if len(seats) != len(wanted):
                raise ValidationFailed(
                    {"seat_ids": "Some of those seats are not on this bus. Please pick again."}
                )
            blocked = [s["number"] for s in seats if s["is_blocked"]]
            if blocked:
                raise SeatsUnavailable(blocked, blocked=True)
            number_of = {s["id"]: s["number"] for s in seats}
            checked = await _fetch(
                conn,
                CHECK_SQL,
                request.schedule_id,
                wanted,
                segment.from_seq,
                segment.to_seq,
                user_id,
                now,
                group if policy.limits_addresses else None,  # null: nothing to count
            )
            counts = checked[0]
            overlapping = [a for a in checked if a["schedule_seat_id"] is not None]
            stale_ids = sorted({a["reservation_id"] for a in overlapping if not a["live"]})
            if stale_ids:
                # Holds that expired but were not swept yet give their seats up right here.
                # SKIP LOCKED: a stale hold locked elsewhere is being swept or paid for
                # right now; its seats count as taken until that finishes.
                stale = (
                    await Reservation.filter(
                        id__in=stale_ids, status=ReservationStatus.ACTIVE, expires_at__lte=now
                    )
                    .order_by("id")
                    .select_for_update(skip_locked=True)
                    .using_db(conn)
                )
                await end_reservations(conn, stale, ReservationStatus.EXPIRED, now)
                ended = {r.id for r in stale}
                overlapping = [a for a in overlapping if a["reservation_id"] not in ended]
            if overlapping:
                existing = await _same_hold(conn, overlapping, user_id, request, segment, wanted)
                if existing is not None:  # the same form sent twice: one hold, not two
                    return Hold(existing, await reservation_seats(existing), trip)
                raise SeatsUnavailable(
                    sorted({number_of[a["schedule_seat_id"]] for a in overlapping}, key=_natural)
                )
            _check_limits(counts, len(wanted), policy)
            fare = trip.segment_fare(segment)
            total = sum((seat_fare(fare, s["price_factor"]) for s in seats), Decimal(0))
            total = total.quantize(Decimal("0.01"))  # as the column keeps it
            expires_at = now + policy.duration
            inserted = await _fetch(
                conn,
                INSERT_HOLD_SQL,
                *hold_parameters(
                    user_id=user_id,
                    schedule_id=request.schedule_id,
                    segment=segment,
                    boarding_point_id=request.boarding_point_id,
                    dropping_point_id=request.dropping_point_id,
                    total=total,
                    currency=trip.schedule.currency,
                    expires_at=expires_at,
                    now=now,
                    schedule_seat_ids=wanted,
                    numbers=[s["number"] for s in seats],
                    ip=ip,
                ),
            )
            if request.draft_from and public_ids.looks_like(
                request.draft_from, public_ids.RESERVATION
            ):
                await _fetch(conn, COPY_DRAFT_SQL, inserted[0]["id"], request.draft_from, user_id)
            reservation = Reservation(
                id=inserted[0]["id"],
                public_id=inserted[0]["public_id"],
                user_id=user_id,
                schedule_id=request.schedule_id,
                from_seq=segment.from_seq,
                to_seq=segment.to_seq,
                boarding_point_id=request.boarding_point_id,
                dropping_point_id=request.dropping_point_id,
                status=ReservationStatus.ACTIVE,
                total_amount=total,
                currency=trip.schedule.currency,
                expires_at=expires_at,
                grace_applied=False,
                created_at=now,
                ip=group,
                seat_count=len(wanted),
            )
            reservation._saved_in_db = True
            held = _held_seats(request.schedule_id, seats, fare)
    except (IntegrityError, OperationalError, asyncpg.PostgresError) as exc:
        names = await _numbers(wanted)
        if locking.is_lock_error(exc):
            raise Busy(names) from exc
        if _exclusion_violation(exc):
            raise SeatsUnavailable(names) from exc
        raise
    return Hold(reservation, held, trip)


def _natural(number: str) -> tuple[str, int]:
    prefix = number.rstrip("0123456789")
    digits = number[len(prefix) :]
    return prefix, int(digits) if digits else 0


async def _same_hold(
    conn: BaseDBAsyncClient,
    overlapping: list[dict[str, Any]],
    user_id: int,
    request: HoldRequest,
    segment: Segment,
    schedule_seat_ids: list[int],
) -> Reservation | None:
    """The customer's own live hold of exactly these seats, segment and points: the same
    form sent twice. Anything less exact is a conflict like any other."""
    reservations = {a["reservation_id"] for a in overlapping}
    if len(reservations) != 1 or None in reservations:
        return None
    row = overlapping[0]
    if (
        row["user_id"] != user_id
        or row["status"] != ReservationStatus.ACTIVE.value
        or (row["from_seq"], row["to_seq"]) != (segment.from_seq, segment.to_seq)
        or row["boarding_point_id"] != request.boarding_point_id
        or row["dropping_point_id"] != request.dropping_point_id
    ):
        return None
    held = await SeatAllocation.filter(reservation_id=row["reservation_id"], active=True).using_db(
        conn
    )
    if {a.schedule_seat_id for a in held} != set(schedule_seat_ids):
        return None
    return await Reservation.get(id=row["reservation_id"], using_db=conn)


async def _numbers(schedule_seat_ids: list[int]) -> list[str]:
    seats = await ScheduleSeat.filter(id__in=schedule_seat_ids).prefetch_related("seat")
    return sorted((s.seat.number for s in seats), key=_natural)


def _check_limits(counts: Mapping[str, Any], seats: int, policy: HoldPolicy) -> None:
    """The limits, from CHECK_SQL's counts: per customer (on this trip, in all) and per
    address (holds in all, seats on this trip)."""
    if counts["on_trip"] >= policy.max_holds_per_trip:
        raise HoldLimitReached(
            f"You already have {policy.max_holds_per_trip} holds on this trip. Finish or "
            "cancel one of them (see “My holds”) before holding more seats.",
            limit="holds_per_trip",
            max=policy.max_holds_per_trip,
        )
    if counts["in_all"] >= policy.max_active_holds:
        raise HoldLimitReached(
            f"You already have {policy.max_active_holds} active holds. Finish or cancel one "
            "(see “My holds”) before holding more seats.",
            limit="active_holds",
            max=policy.max_active_holds,
        )
    if policy.limits_addresses and (
        counts["ip_holds"] >= policy.max_active_holds_per_ip
        or counts["ip_seats_on_trip"] + seats > policy.max_seats_per_ip_per_trip
    ):
        raise HoldLimitReached(
            "Many seats are already held from your network. Finish or cancel a hold, or "
            "try again when a hold ends.",
            limit="per_address",
            max=policy.max_active_holds_per_ip,
        )


async def get_reservation(viewer: User, public_id: str) -> Reservation:
    """The viewer's own reservation (admins see any), by its public id. Someone else's is a
    404, not a 403."""
    if not public_ids.looks_like(public_id, public_ids.RESERVATION):
        raise ReservationNotFound()
    reservation = await Reservation.get_or_none(public_id=public_id).prefetch_related(
        "boarding_point", "dropping_point"
    )
    if reservation is None or (reservation.user_id != viewer.id and not viewer.is_admin):
        raise ReservationNotFound()
    return reservation


@dataclass(frozen=True)
class HeldSeat:
    schedule_seat: ScheduleSeat
    fare: Decimal

    @property
    def number(self) -> str:
        return self.schedule_seat.seat.number


async def reservation_seats(reservation: Reservation) -> list[HeldSeat]:
    """The seats of a hold with each seat's fare on the hold's segment."""
    return (await seats_of_holds([reservation]))[reservation.id]


async def seats_of_holds(reservations: Sequence[Reservation]) -> dict[int, list[HeldSeat]]:
    """The seats of several holds (by reservation id), each with its fare on its hold's
    segment, in a fixed number of queries however many holds there are (a page of a list)."""
    ids = [r.id for r in reservations]
    allocations = await SeatAllocation.filter(reservation_id__in=ids).values_list(
        "reservation_id", "schedule_seat_id"
    )
    seats = {
        s.id: s
        for s in await ScheduleSeat.filter(
            id__in=sorted({seat_id for _, seat_id in allocations})
        ).prefetch_related("seat")
    }
    trips = {
        schedule_id: await load_trip(schedule_id)
        for schedule_id in sorted({r.schedule_id for r in reservations})
    }
    by_reservation: dict[int, list[ScheduleSeat]] = {r.id: [] for r in reservations}
    for reservation_id, seat_id in allocations:
        by_reservation[reservation_id].append(seats[seat_id])
    out: dict[int, list[HeldSeat]] = {}
    for reservation in reservations:
        trip = trips[reservation.schedule_id]
        fare = trip.segment_fare(Segment(reservation.from_seq, reservation.to_seq))
        held = [
            HeldSeat(s, seat_fare(fare, s.seat.price_factor))
            for s in by_reservation[reservation.id]
        ]
        out[reservation.id] = sorted(held, key=lambda h: _natural(h.number))
    return out


def current_status(reservation: Reservation, now: datetime) -> ReservationStatus:
    """A hold's status as of `now`: an active hold whose time is up is expired for everyone
    at once, whether or not the sweeper has marked it yet (invariant 2)."""
    if reservation.status == ReservationStatus.ACTIVE and reservation.expires_at <= now:
        return ReservationStatus.EXPIRED
    return ReservationStatus(reservation.status)


async def active_holds(
    user: User,
    now: datetime,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[Reservation]:
    """The customer's live holds, soonest to expire first (then by public id). A list page
    passes the last row's `(expires_at, public_id)` as `after` and reads `limit` rows from
    there (a position a client may read: it names no internal id)."""
    query = Reservation.filter(user_id=user.id, status=ReservationStatus.ACTIVE, expires_at__gt=now)
    if after is not None:
        expires_at, public_id = after
        query = query.filter(
            Q(expires_at__gt=expires_at) | Q(expires_at=expires_at, public_id__gt=public_id)
        )
    query = query.order_by("expires_at", "public_id")
    if limit is not None:
        query = query.limit(limit)
    return await query.prefetch_related("schedule", "schedule__route")


async def cancel_hold(
    user: User, public_id: str, *, now: datetime, ip: str | None = None
) -> Reservation:
    """The customer gives the seats back. Cancelling an ended hold changes nothing."""
    found = await get_reservation(user, public_id)
    async with locking.transaction() as conn:
        reservation = (
            await Reservation.filter(id=found.id).select_for_update().using_db(conn).first()
        )
        if reservation is None:
            raise ReservationNotFound()
        if reservation.status != ReservationStatus.ACTIVE:
            return reservation
        status = (
            ReservationStatus.EXPIRED
            if reservation.expires_at <= now
            else ReservationStatus.CANCELLED
        )
        await end_reservations(
            conn, [reservation], status, now, actor=user, data={"ip": ip} if ip else None
        )
    return reservation


async def release_hold(
    admin: User | None, public_id: str, reason: str, *, now: datetime
) -> Reservation:
    """An operator frees a stuck hold; the reason goes into the audit trail."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed({"reason": "Say why you release this hold."})
    if not public_ids.looks_like(public_id, public_ids.RESERVATION):
        raise ReservationNotFound()
    async with locking.transaction() as conn:
        reservation = (
            await Reservation.filter(public_id=public_id).select_for_update().using_db(conn).first()
        )
        if reservation is None:
            raise ReservationNotFound()
        if reservation.status == ReservationStatus.ACTIVE:
            await end_reservations(
                conn,
                [reservation],
                ReservationStatus.RELEASED,
                now,
                actor=admin,
                data={"reason": reason},
            )
    return reservation


async def expire_holds(now: datetime, *, batch: int = 200) -> int:
    """Mark holds whose time is up as expired and announce their seats. Safe to run twice
    and in many processes at once: rows are taken with FOR UPDATE SKIP LOCKED and re-checked
    under the lock."""
    total = 0
    while True:
        async with in_transaction() as conn:
            due = (
                await Reservation.filter(status=ReservationStatus.ACTIVE, expires_at__lte=now)
                .order_by("expires_at", "id")
                .limit(batch)
                .select_for_update(skip_locked=True)
                .using_db(conn)
            )
            await end_reservations(conn, due, ReservationStatus.EXPIRED, now)
        total += len(due)
        if len(due) < batch:
            return total
