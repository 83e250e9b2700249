"""Cancelling a whole trip: the operator closes it, its holds are released and every
booking on it is refunded in full, one at a time, resumably."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from domain import audit, cancellations, database, holds, locking
from domain.checkout import CheckoutConfig
from domain.enums import BookingStatus, ReservationStatus, ScheduleStatus
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.models import Booking, Reservation, Schedule, User
from domain.payments.registry import Gateways

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TripCancellation:
    """What one run of `cancel_trip` did: bookings refunded now, and the ones that could not
    be done this time (run it again to finish them)."""

    refunded: int
    failed: int
    resumed: bool  # the trip was already cancelled: this run finished earlier work


async def cancel_trip(
    admin: User,
    schedule_id: int,
    reason: str,
    *,
    now: datetime,
    gateways: Gateways,
    config: CheckoutConfig,
) -> TripCancellation:
    """The operator cancels a trip: seats closed, holds released, every booking refunded in
    full and its passengers emailed.

    A saga: the trip is marked cancelled first (from then on no payment can become a
    booking on it), then each hold and each booking is ended in its own transaction. One
    that fails (a customer cancelling a seat at the same moment, a lock that times out) is
    counted and the rest go on; running it again on the cancelled trip finishes what is
    left, and refunds nobody twice."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed({"reason": "Say why the trip is cancelled; passengers are told."})
    async with locking.transaction() as conn:
        schedule = await Schedule.filter(id=schedule_id).select_for_update().using_db(conn).first()
        if schedule is None:
            raise NotFound("We could not find that trip.")
        resumed = schedule.status == ScheduleStatus.CANCELLED
        if not resumed:
            if schedule.departure_at <= now:
                raise Conflict("This trip has already left and cannot be cancelled.")
            schedule.status = ScheduleStatus.CANCELLED
            await schedule.save(update_fields=["status"], using_db=conn)
            await audit.record(
                "schedule.cancelled",
                now=now,
                actor=admin,
                subject=schedule,
                data={"reason": reason},
                using_db=conn,
            )
    failed = 0
    holds_ended = 0
    for reservation in await Reservation.filter(
        schedule_id=schedule_id, status=ReservationStatus.ACTIVE
    ):
        try:
            await holds.release_hold(
                admin, reservation.public_id, f"Trip cancelled: {reason}", now=now
            )
            holds_ended += 1
        except Exception as exc:
            if database.is_outage(exc):
                raise
            log.exception("cancel trip %s: hold %s not released", schedule_id, reservation.id)
            failed += 1
    refunded = 0
    for booking in await Booking.filter(
        schedule_id=schedule_id,
        status__in=[BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED],
    ):
        try:
            await cancellations.cancel_booking(
                admin,
                booking,
                None,  # every seat still active when the booking is locked
                now=now,
                gateways=gateways,
                config=config,
                reason=f"Trip cancelled by the operator: {reason}",
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
    if resumed and not (refunded or failed or holds_ended):
        raise Conflict("This trip is already cancelled and every booking on it was refunded.")
    if failed:
        await audit.record(
            "schedule.cancellation_incomplete",
            now=now,
            actor=admin,
            subject=schedule,
            data={"refunded": refunded, "failed": failed},
        )
    return TripCancellation(refunded, failed, resumed)
