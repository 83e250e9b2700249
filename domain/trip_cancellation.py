"""Cancelling a whole trip: the operator closes it at once, and a worker ends its holds and
refunds every booking in full off the request, one at a time, resumably.

- `cancel_trip` (the operator's request) marks the trip cancelled in one transaction, with
  its audit row and a `TripCancellation` row saying who, why and that a pass is due. From
  then on no payment can become a booking on the trip (payment_outcomes reads the trip
  FOR SHARE and refunds instead).
- `finish_cancelled_trips` (every app process runs it in the background) claims due trip
  cancellations with SKIP LOCKED and a lease, then releases each hold and cancels each
  booking in its own transaction. One that fails (a customer cancelling the same seat at
  that moment, a lock that times out) is counted and the rest go on; the trip is due again
  a minute later, until nothing live is left on it.
- `cancellation_preview` is what the operator confirms first: the trip, how many bookings
  and passengers it refunds, and how much in all.
- `progress` says how far each cancelled trip has got, from the bookings, refunds and
  holds themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain import audit, cancellations, database, holds, locking
from domain.checkout import CheckoutConfig
from domain.enums import BookingStatus, PassengerStatus, ReservationStatus, ScheduleStatus
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.models import Booking, Passenger, Reservation, Schedule, TripCancellation, User
from domain.payments.registry import Gateways

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=1)  # a pass that left work behind is tried again after this
LEASE = timedelta(minutes=10)  # a pass in progress is not claimed by another process
LIVE_BOOKINGS = (BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED)


@dataclass(frozen=True)
class CancelRequest:
    """What the operator's request did: the trip is (now) cancelled; `resumed` when it was
    already, and the worker was asked to finish what is left now."""

    schedule_id: int
    resumed: bool


@dataclass(frozen=True)
class TripPass:
    """What one pass over a cancelled trip did."""

    schedule_id: int
    refunded: int  # bookings cancelled and refunded in full this pass
    holds_released: int
    failed: int  # holds or bookings that could not be ended this pass
    finished: bool  # nothing live is left on the trip


async def _has_live_work(schedule_id: int) -> bool:
    return (
        await Booking.filter(schedule_id=schedule_id, status__in=LIVE_BOOKINGS).exists()
        or await Reservation.filter(
            schedule_id=schedule_id, status=ReservationStatus.ACTIVE
        ).exists()
    )


@dataclass(frozen=True)
class CancelPreview:
    """What cancelling a trip would do now, for the operator to confirm: the bookings still
    live on it are refunded in full (every active passenger's fare) and its holds released.
    `resuming` when the trip is cancelled already and this finishes what is left."""

    schedule: Schedule  # with its route and bus
    bookings: int
    passengers: int
    refund_total: Decimal
    currency: str
    holds: int
    resuming: bool


DEPARTED = "This trip has already left and cannot be cancelled."
ALL_DONE = "This trip is already cancelled and every booking on it was refunded."


async def cancellation_preview(schedule_id: int, *, now: datetime) -> CancelPreview:
    """The confirmation step of `cancel_trip`, read-only, with the same refusals."""
    schedule = await Schedule.get_or_none(id=schedule_id).prefetch_related("route", "bus")
    if schedule is None:
        raise NotFound("We could not find that trip.")
    resuming = schedule.status == ScheduleStatus.CANCELLED
    if not resuming and schedule.departure_at <= now:
        raise Conflict(DEPARTED)
    if resuming and not await _has_live_work(schedule_id):
        raise Conflict(ALL_DONE)
    passengers = await Passenger.filter(
        booking__schedule_id=schedule_id,
        booking__status__in=LIVE_BOOKINGS,
        status=PassengerStatus.ACTIVE,
    ).values_list("booking_id", "fare")
    holds_count = await Reservation.filter(
        schedule_id=schedule_id, status=ReservationStatus.ACTIVE, expires_at__gt=now
    ).count()
    return CancelPreview(
        schedule=schedule,
        bookings=len({booking_id for booking_id, _ in passengers}),
        passengers=len(passengers),
        refund_total=sum((Decimal(fare) for _, fare in passengers), Decimal(0)),
        currency=schedule.currency,
        holds=holds_count,
        resuming=resuming,
    )


async def cancel_trip(
    admin: User, schedule_id: int, reason: str, *, now: datetime
) -> CancelRequest:
    """The operator cancels a trip: it is closed to sales at once, and the background
    worker releases its holds and refunds every booking in full (passengers are emailed).

    On a trip cancelled already, with bookings or holds still live on it (an earlier pass
    failed for some), the worker is asked to finish them now."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed({"reason": "Say why the trip is cancelled; passengers are told."})
    async with locking.transaction() as conn:
        schedule = await Schedule.filter(id=schedule_id).select_for_update().using_db(conn).first()
        if schedule is None:
            raise NotFound("We could not find that trip.")
        if schedule.status != ScheduleStatus.CANCELLED:
            if schedule.departure_at <= now:
                raise Conflict(DEPARTED)
            schedule.status = ScheduleStatus.CANCELLED
            await schedule.save(update_fields=["status"], using_db=conn)
            await _start_passes(schedule, admin, reason, now, conn)
            await audit.record(
                "schedule.cancelled",
                now=now,
                actor=admin,
                subject=schedule,
                data={"reason": reason},
                using_db=conn,
            )
            return CancelRequest(schedule_id, resumed=False)
        if not await _has_live_work(schedule_id):
            raise Conflict(ALL_DONE)
        row = await TripCancellation.filter(schedule_id=schedule_id).using_db(conn).first()
        if row is None:  # cancelled by other means (or before trip cancellations had a row)
            await _start_passes(schedule, admin, reason, now, conn)
        else:
            row.next_pass_at = now
            row.finished_at = None
            await row.save(update_fields=["next_pass_at", "finished_at"], using_db=conn)
        await audit.record(
            "schedule.cancellation_resumed",
            now=now,
            actor=admin,
            subject=schedule,
            data={"reason": reason},
            using_db=conn,
        )
    return CancelRequest(schedule_id, resumed=True)


async def _start_passes(
    schedule: Schedule, admin: User, reason: str, now: datetime, conn: BaseDBAsyncClient
) -> None:
    """The row the worker's passes run from, due at once."""
    await TripCancellation.create(
        schedule=schedule,
        actor=admin,
        reason=reason[:255],
        requested_at=now,
        next_pass_at=now,
        using_db=conn,
    )


async def _claim(now: datetime, batch: int) -> list[TripCancellation]:
    """Due trip cancellations for this process (skip-locked, then leased)."""
    return await locking.claim(
        TripCancellation.filter(finished_at__isnull=True, next_pass_at__lte=now),
        due_field="next_pass_at",
        lease_until=now + LEASE,
        batch=batch,
    )


async def finish_cancelled_trips(
    *, now: datetime, gateways: Gateways, config: CheckoutConfig, batch: int = 5
) -> list[TripPass]:
    """The worker's pass: finish every due cancelled trip (see the module docstring)."""
    return [
        await _pass(row, now=now, gateways=gateways, config=config)
        for row in await _claim(now, batch)
    ]


async def _pass(
    row: TripCancellation, *, now: datetime, gateways: Gateways, config: CheckoutConfig
) -> TripPass:
    schedule_id = row.schedule_id
    actor = await User.get_or_none(id=row.actor_id) if row.actor_id else None
    failed = 0
    holds_ended = 0
    for reservation in await Reservation.filter(
        schedule_id=schedule_id, status=ReservationStatus.ACTIVE
    ).order_by("id"):
        try:
            await holds.release_hold(
                actor, reservation.public_id, f"Trip cancelled: {row.reason}", now=now
            )
            holds_ended += 1
        except Exception as exc:
            if database.is_outage(exc):
                raise
            log.exception("cancel trip %s: hold %s not released", schedule_id, reservation.id)
            failed += 1
    refunded = 0
    for booking in await Booking.filter(schedule_id=schedule_id, status__in=LIVE_BOOKINGS).order_by(
        "id"
    ):
        try:
            await cancellations.cancel_booking(
                actor,
                booking,
                None,  # every seat still active when the booking is locked
                now=now,
                gateways=gateways,
                config=config,
                reason=f"Trip cancelled by the operator: {row.reason}",
                full_refund=True,
            )
            refunded += 1
        except cancellations.NothingToCancel:
            continue  # its last seats were cancelled a moment ago (in full: trip cancelled)
        except Exception as exc:
            if database.is_outage(exc):
                raise
            log.exception("cancel trip %s: booking %s not refunded", schedule_id, booking.id)
            failed += 1
    finished = not await _has_live_work(schedule_id)
    async with in_transaction() as conn:
        await (
            TripCancellation.filter(id=row.id)
            .using_db(conn)
            .update(
                passes=row.passes + 1,
                last_failures=failed,
                next_pass_at=None if finished else now + RETRY_AFTER,
                finished_at=now if finished else None,
            )
        )
        await audit.record(
            "schedule.cancellation_finished" if finished else "schedule.cancellation_incomplete",
            now=now,
            subject_ref=("Schedule", schedule_id),
            using_db=conn,
            data={"refunded": refunded, "holds_released": holds_ended, "failed": failed},
        )
    return TripPass(schedule_id, refunded, holds_ended, failed, finished)


@dataclass(frozen=True)
class Progress:
    """How far a cancelled trip's refunds have got, counted from the data."""

    schedule_id: int
    bookings: int  # live when the trip was cancelled
    refunded: int  # cancelled, and every refund of it taken by the gateway
    refunds_on_their_way: int  # cancelled, a refund still pending at the gateway
    waiting: int  # still live after a pass (failed, retried shortly)
    queued: int  # still live, no pass yet
    holds: int  # active holds still on the trip
    next_pass_at: datetime | None

    @property
    def complete(self) -> bool:
        return not (self.waiting or self.queued or self.holds or self.refunds_on_their_way)

    @property
    def summary(self) -> str:
        if not self.bookings:
            head = "Cancelled: no bookings to refund"
        else:
            head = f"Cancelled: {self.refunded} of {self.bookings} bookings refunded"
        parts = [head]
        if self.refunds_on_their_way:
            parts.append(f"{self.refunds_on_their_way} refund(s) on their way")
        if self.queued:
            parts.append(f"{self.queued} being cancelled")
        if self.waiting:
            parts.append(f"{self.waiting} waiting to retry")
        if self.holds:
            parts.append(f"{self.holds} hold(s) to release")
        return ", ".join(parts) + "."


PROGRESS_SQL = """
SELECT tc.schedule_id, tc.passes, tc.next_pass_at,
       count(b.id) AS bookings,
       count(b.id) FILTER (WHERE b.live AND tc.passes > 0) AS waiting,
       count(b.id) FILTER (WHERE b.live AND tc.passes = 0) AS queued,
       count(b.id) FILTER (WHERE NOT b.live AND b.refund_pending) AS on_their_way,
       count(b.id) FILTER (WHERE NOT b.live AND NOT b.refund_pending) AS refunded,
       (SELECT count(*) FROM reservations r
         WHERE r.schedule_id = tc.schedule_id AND r.status = 'active') AS holds
FROM trip_cancellations tc
LEFT JOIN LATERAL (
    SELECT bk.id,
           bk.status IN ('confirmed', 'partially_cancelled') AS live,
           EXISTS (SELECT 1 FROM cancellations c JOIN refunds f ON f.cancellation_id = c.id
                    WHERE c.booking_id = bk.id AND c.created_at >= tc.requested_at
                      AND f.status = 'pending') AS refund_pending
    FROM bookings bk
    WHERE bk.schedule_id = tc.schedule_id
      AND (bk.status IN ('confirmed', 'partially_cancelled')
           OR EXISTS (SELECT 1 FROM cancellations c
                       WHERE c.booking_id = bk.id AND c.created_at >= tc.requested_at))
) b ON true
WHERE tc.schedule_id = ANY($1::int[])
GROUP BY tc.id
"""


async def progress(schedule_ids: Sequence[int]) -> dict[int, Progress]:
    """The progress of each of these trips that has a cancellation."""
    if not schedule_ids:
        return {}
    rows = await connections.get("default").execute_query_dict(PROGRESS_SQL, [list(schedule_ids)])
    return {
        r["schedule_id"]: Progress(
            schedule_id=r["schedule_id"],
            bookings=int(r["bookings"]),
            refunded=int(r["refunded"]),
            refunds_on_their_way=int(r["on_their_way"]),
            waiting=int(r["waiting"]),
            queued=int(r["queued"]),
            holds=int(r["holds"]),
            next_pass_at=r["next_pass_at"],
        )
        for r in rows
    }


async def trip_progress(schedule_id: int) -> Progress:
    """One cancelled trip's progress (NotFound for a trip that is not cancelled)."""
    found = (await progress([schedule_id])).get(schedule_id)
    if found is None:
        raise NotFound("That trip is not cancelled.")
    return found
