"""Cancelling a trip is a saga that never strands a paid booking on the cancelled trip.

Found from outside (issue 9): a customer cancelling a seat at the moment the operator
cancelled the trip made the operator's run stop with a 409 after marking the trip
cancelled; the other bookings stayed paid with valid tickets, and "already cancelled" refused
every second try.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from app import create_app
from domain import cancellations, refunds, trip_cancellation
from domain.enums import BookingStatus, ScheduleStatus
from domain.models import (
    ActivityLog,
    Booking,
    Cancellation,
    Passenger,
    Schedule,
    Ticket,
    TripCancellation,
)
from domain.payments.registry import Gateways
from tests import factories
from tests.conftest import make_settings
from tests.integration.test_cancellations import CONFIG, NOW, buy
from tests.integration.test_cancellations import gateways as gateways
from tests.integration.test_cancellations import simulator as simulator
from tests.integrity import assert_integrity

pytestmark = pytest.mark.usefixtures("db")


async def two_bookings(gateways, simulator):
    first_user, first, first_passengers = await buy(gateways, simulator, 2)
    trip = await Schedule.get(id=first.schedule_id)
    _, second, _ = await buy(gateways, simulator, 2, trip=trip, skip=2)
    return trip, first_user, first, first_passengers, second


@pytest.mark.parametrize("rounds", [6])
async def test_a_customer_cancelling_a_seat_meanwhile_never_stops_the_refunds(
    gateways, simulator, rounds
):
    admin = await factories.make_user(admin=True)
    for _ in range(rounds):
        trip, user, first, passengers, second = await two_bookings(gateways, simulator)
        await asyncio.gather(
            cancellations.cancel_booking(
                user, first, [passengers[0].id], now=NOW, gateways=gateways, config=CONFIG
            ),
            factories.cancel_trip_and_finish(
                admin, trip.id, "flood", now=NOW, gateways=gateways, config=CONFIG
            ),
            return_exceptions=True,
        )
        # A booking the race made fail is finished by a later pass of the worker.
        await trip_cancellation.finish_cancelled_trips(
            now=NOW + timedelta(minutes=2), gateways=gateways, config=CONFIG
        )
        live = await Booking.filter(
            schedule_id=trip.id,
            status__in=[BookingStatus.CONFIRMED, BookingStatus.PARTIALLY_CANCELLED],
        ).count()
        assert live == 0
        assert not await Ticket.filter(booking__schedule_id=trip.id, status="valid").exists()
        # The seat the customer cancelled follows the policy if that came first, and is
        # free if the trip was already cancelled; everything else goes back in full.
        second_refund = sum(c.refund_amount for c in await Cancellation.filter(booking=second))
        assert second_refund == second.total_amount
        by_operator = await Cancellation.filter(booking=first, actor_id=admin.id)
        assert sum(c.fee for c in by_operator) == Decimal(0)
        assert {p for c in await Cancellation.filter(booking=first) for p in c.passenger_ids} == {
            p.id for p in passengers
        }
        await assert_integrity()


async def test_running_it_again_finishes_a_cancellation_that_stopped_halfway(gateways, simulator):
    trip, _user, first, _passengers, second = await two_bookings(gateways, simulator)
    # An earlier run marked the trip cancelled and then died (worker killed, outage).
    await Schedule.filter(id=trip.id).update(status=ScheduleStatus.CANCELLED)
    admin = await factories.make_user(admin=True)
    asked = await trip_cancellation.cancel_trip(admin, trip.id, "breakdown", now=NOW)
    (done,) = await trip_cancellation.finish_cancelled_trips(
        now=NOW, gateways=gateways, config=CONFIG
    )
    assert (done.refunded, done.failed, asked.resumed) == (2, 0, True)
    for booking in (first, second):
        await booking.refresh_from_db()
        assert booking.status == BookingStatus.CANCELLED
    assert len(simulator.refunds) == 2
    with pytest.raises(cancellations.Conflict, match="every booking on it was refunded"):
        await trip_cancellation.cancel_trip(admin, trip.id, "breakdown", now=NOW)
    assert len(simulator.refunds) == 2  # nobody refunded twice
    await assert_integrity()


@pytest.mark.breaks_integrity  # one seat stays booked on the trip marked cancelled
async def test_a_seat_on_a_cancelled_trip_is_refunded_in_full_whoever_cancels_it(
    gateways, simulator
):
    user, booking, passengers = await buy(gateways, simulator, 2)
    await Schedule.filter(id=booking.schedule_id).update(status=ScheduleStatus.CANCELLED)
    quote = await cancellations.quote_refund(booking, [passengers[0].id], now=NOW)
    assert quote.operator_cancelled and quote.fee == Decimal(0)
    cancellation = await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=NOW, gateways=gateways, config=CONFIG
    )
    assert cancellation.fee == Decimal(0)
    assert cancellation.refund_amount == passengers[0].fare
    assert await Passenger.filter(booking=booking, status="active").count() == 1
    assert await ActivityLog.filter(action="booking.partially_cancelled").exists()


@pytest.mark.breaks_integrity  # the trip is left cancelled with a live booking on purpose
async def test_nothing_left_to_cancel_is_said_plainly(gateways, simulator):
    user, booking, _ = await buy(gateways, simulator, 1)
    await cancellations.cancel_booking(
        user, booking, None, now=NOW, gateways=gateways, config=CONFIG
    )
    with pytest.raises(cancellations.NothingToCancel):
        await cancellations.cancel_booking(
            user, booking, None, now=NOW, gateways=gateways, config=CONFIG
        )
    await Schedule.filter(id=booking.schedule_id).update(status=ScheduleStatus.CANCELLED)
    _, other, _ = await buy(gateways, simulator, 1)
    assert other.id


# -- off the request (issue 10, defect 2): the operator's request marks the trip cancelled
# and returns; the worker finishes its bookings, per booking, retried when one fails.


async def test_the_operators_cancellation_returns_before_the_bookings_are_processed(
    gateways, simulator
):
    trip, _user, first, _passengers, second = await two_bookings(gateways, simulator)
    admin = await factories.make_user(admin=True)
    asked = await trip_cancellation.cancel_trip(admin, trip.id, "breakdown", now=NOW)
    assert not asked.resumed
    assert (await Schedule.get(id=trip.id)).status == ScheduleStatus.CANCELLED
    log = await ActivityLog.get(action="schedule.cancelled")
    assert log.actor_id == admin.id and log.data == {"reason": "breakdown"}
    # Nothing is refunded yet: that is the worker's job.
    assert await Booking.filter(schedule_id=trip.id, status=BookingStatus.CONFIRMED).count() == 2
    assert simulator.refunds == [] and not await Cancellation.exists()
    waiting = await trip_cancellation.trip_progress(trip.id)
    assert (waiting.bookings, waiting.refunded, waiting.queued) == (2, 0, 2)
    assert not waiting.complete
    assert waiting.summary == "Cancelled: 0 of 2 bookings refunded, 2 being cancelled."

    (done,) = await trip_cancellation.finish_cancelled_trips(
        now=NOW, gateways=gateways, config=CONFIG
    )
    assert (done.refunded, done.failed, done.finished) == (2, 0, True)
    for booking in (first, second):
        await booking.refresh_from_db()
        assert booking.status == BookingStatus.CANCELLED
    finished = await trip_cancellation.trip_progress(trip.id)
    assert finished.complete and finished.summary == "Cancelled: 2 of 2 bookings refunded."
    assert (await TripCancellation.get(schedule_id=trip.id)).finished_at == NOW
    # A finished trip is not worked on again.
    later = NOW + timedelta(hours=1)
    assert (
        await trip_cancellation.finish_cancelled_trips(now=later, gateways=gateways, config=CONFIG)
        == []
    )
    await assert_integrity()


async def test_a_booking_that_cannot_be_cancelled_now_is_finished_on_a_later_pass(
    gateways, simulator
):
    trip, _user, first, _passengers, second = await two_bookings(gateways, simulator)
    admin = await factories.make_user(admin=True)
    await trip_cancellation.cancel_trip(admin, trip.id, "flood", now=NOW)
    locked, release = asyncio.Event(), asyncio.Event()

    async def customer_busy_with_the_first_booking() -> None:
        async with in_transaction() as conn:
            await conn.execute_query("SELECT id FROM bookings WHERE id = $1 FOR UPDATE", [first.id])
            locked.set()
            await release.wait()

    busy = asyncio.create_task(customer_busy_with_the_first_booking())
    await locked.wait()
    try:
        (done,) = await trip_cancellation.finish_cancelled_trips(
            now=NOW, gateways=gateways, config=CONFIG
        )
    finally:
        release.set()
        await busy
    assert (done.refunded, done.failed, done.finished) == (1, 1, False)
    await first.refresh_from_db()
    await second.refresh_from_db()
    assert (first.status, second.status) == (BookingStatus.CONFIRMED, BookingStatus.CANCELLED)
    progress = await trip_cancellation.trip_progress(trip.id)
    assert (progress.bookings, progress.refunded, progress.waiting) == (2, 1, 1)
    assert progress.summary == "Cancelled: 1 of 2 bookings refunded, 1 waiting to retry."
    assert await ActivityLog.filter(action="schedule.cancellation_incomplete").count() == 1
    # Not due again before its retry time; then the rest is finished.
    soon = NOW + timedelta(seconds=30)
    assert (
        await trip_cancellation.finish_cancelled_trips(now=soon, gateways=gateways, config=CONFIG)
        == []
    )
    (again,) = await trip_cancellation.finish_cancelled_trips(
        now=NOW + trip_cancellation.RETRY_AFTER, gateways=gateways, config=CONFIG
    )
    assert (again.refunded, again.failed, again.finished) == (1, 0, True)
    await first.refresh_from_db()
    assert first.status == BookingStatus.CANCELLED
    assert (await trip_cancellation.trip_progress(trip.id)).complete
    assert len(simulator.refunds) == 2
    await assert_integrity()


async def test_progress_counts_refunds_the_gateway_has_not_taken_yet(gateways, simulator):
    trip, _user, _first, _passengers, _second = await two_bookings(gateways, simulator)
    admin = await factories.make_user(admin=True)
    simulator.fail_refunds = True
    await factories.cancel_trip_and_finish(
        admin, trip.id, "strike", now=NOW, gateways=gateways, config=CONFIG
    )
    progress = await trip_cancellation.trip_progress(trip.id)
    assert (progress.refunded, progress.refunds_on_their_way) == (0, 2)
    assert not progress.complete
    assert progress.summary == "Cancelled: 0 of 2 bookings refunded, 2 refund(s) on their way."
    await assert_integrity()  # owed, and on its way: nothing kept
    simulator.fail_refunds = False
    await refunds.retry_refunds(gateways=gateways, now=NOW + timedelta(minutes=1))
    progress = await trip_cancellation.trip_progress(trip.id)
    assert progress.complete and progress.refunded == 2


async def test_the_app_finishes_cancelled_trips_in_the_background(database_url, simulator):
    gateways = Gateways([simulator])
    trip, *_ = await two_bookings(gateways, simulator)
    admin = await factories.make_user(admin=True)
    await trip_cancellation.cancel_trip(admin, trip.id, "breakdown", now=datetime.now(UTC))
    app = create_app(
        make_settings(database_url, sweep_seconds=0.2), manage_database=False, background_tasks=True
    )
    async with app.test_app():
        for _ in range(300):  # up to 30 s on a loaded machine; usually well under 1 s
            # Complete means cancelled *and* refunded: the refunds go out after the
            # cancellations commit, so waiting for the bookings alone raced them.
            if (await trip_cancellation.trip_progress(trip.id)).complete:
                break
            await asyncio.sleep(0.1)
    assert await Booking.filter(schedule_id=trip.id, status=BookingStatus.CANCELLED).count() == 2
    assert (await trip_cancellation.trip_progress(trip.id)).complete
    await assert_integrity()
