"""Payment outcomes: what a gateway's verdict means for the payment, the hold and the seats.

- Gateway outcomes arrive through `receive_webhook` (the inbox: one row per gateway event id,
  so a replay changes nothing) or a verified browser return; both apply the outcome under the
  payment's row lock, so racing them yields one booking.
- A success for a hold that is still live converts its allocations into a booking in the same
  transaction; for a hold that ran out, the same seats are re-secured if still free on that
  segment, otherwise the payment is refunded automatically (invariant 4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from domain import (
    audit,
    availability,
    bookings,
    events,
    holds,
    locking,
    notifications,
    public_ids,
    refunds,
    ticket_tokens,
)
from domain.checkout import (
    CheckoutConfig,
    CheckoutInput,
    PassengerInput,
    checkout_details,
    payment_info,
    quote,
)
from domain.enums import (
    AllocationKind,
    BookingStatus,
    Gender,
    PaymentMethod,
    PaymentStatus,
    ReservationStatus,
    ScheduleStatus,
)
from domain.errors import (
    AlreadyBooked,
    Forbidden,
    HoldExpired,
    NotFound,
    PaymentNotFound,
    PriceChanged,
    TripDeparted,
)
from domain.inventory import load_trip
from domain.models import (
    Booking,
    Passenger,
    Payment,
    Reservation,
    ScheduleSeat,
    SeatAllocation,
    User,
)
from domain.payments import counter
from domain.payments.base import ClientStep, GatewayEvent, ReturnKind, ReturnLinks
from domain.payments.registry import Gateways
from domain.tickets import issue_ticket

SETTLED = {
    PaymentStatus.SUCCEEDED,
    PaymentStatus.REFUND_PENDING,
    PaymentStatus.REFUNDED,
    PaymentStatus.FLAGGED,
}


async def receive_webhook(
    gateway_name: str,
    headers: dict[str, str],
    body: bytes,
    *,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
) -> Payment | None:
    """Verify, record and apply a gateway notification. Raises InvalidSignature (400)."""
    gateway = gateways.get(gateway_name)
    event = gateway.parse_webhook(headers, body)
    if event is None:
        return None
    return await apply_event(gateway_name, event, gateways=gateways, config=config, now=now)


async def apply_event(
    gateway_name: str,
    event: GatewayEvent,
    *,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
) -> Payment | None:
    async with locking.transaction() as conn:
        rows = await conn.execute_query_dict(
            """
            INSERT INTO payment_events (gateway, event_id, event_type, payload, received_at)
            VALUES ($1, $2, $3, $4::jsonb, $5)
            ON CONFLICT (gateway, event_id) DO NOTHING
            RETURNING id
            """,
            [gateway_name, event.event_id, event.event_type, _json(event.payload), now],
        )
        if not rows:
            return None  # a replay or a duplicate delivery: acknowledged, nothing changes
        inbox_id = rows[0]["id"]
        payment = (
            await Payment.filter(gateway=gateway_name, gateway_reference=event.gateway_reference)
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if payment is None:
            await audit.record(
                "payment.unmatched_event",
                now=now,
                data={
                    "gateway": gateway_name,
                    "event_id": event.event_id,
                    "reference": event.gateway_reference,
                },
                using_db=conn,
            )
            return None
        await _apply_outcome(
            conn,
            payment,
            succeeded=event.succeeded,
            amount=event.amount,
            currency=event.currency,
            reason=event.failure_reason,
            source=event.event_id,
            config=config,
            now=now,
        )
        await conn.execute_query(
            "UPDATE payment_events SET payment_id = $1, processed_at = $2 WHERE id = $3",
            [payment.id, now, inbox_id],
        )
    if payment.status == PaymentStatus.REFUND_PENDING:
        await refunds.send_payment_refunds(payment.id, gateways=gateways, now=now)
        await payment.refresh_from_db()
    return payment


async def apply_return(
    payment_ref: str,
    *,
    succeeded: bool,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
) -> Payment:
    """The payer's browser came back with an outcome the gateway adapter verified."""
    if not public_ids.looks_like(payment_ref, public_ids.PAYMENT):
        raise PaymentNotFound()
    async with locking.transaction() as conn:
        payment = (
            await Payment.filter(public_id=payment_ref).select_for_update().using_db(conn).first()
        )
        if payment is None:
            raise PaymentNotFound()
        await _apply_outcome(
            conn,
            payment,
            succeeded=succeeded,
            amount=payment.amount,
            currency=payment.currency,
            reason="" if succeeded else "Declined by the payer",
            source="browser-return",
            config=config,
            now=now,
        )
    if payment.status == PaymentStatus.REFUND_PENDING:
        await refunds.send_payment_refunds(payment.id, gateways=gateways, now=now)
        await payment.refresh_from_db()
    return payment


@dataclass(frozen=True)
class PaymentReturn:
    """Where a payer's way back from a gateway leaves them."""

    payment: Payment
    booking: Booking | None  # the booking it paid for, once it has
    client_step: ClientStep | None = None  # still to pay in the gateway's script on our page

    @property
    def booked(self) -> bool:
        return self.payment.status == PaymentStatus.SUCCEEDED and self.booking is not None


async def payment_return(
    viewer: User | None,
    payment_ref: str,
    values: Mapping[str, str],
    *,
    links: Callable[[Payment], ReturnLinks],
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
) -> PaymentReturn:
    """The payer's browser is back from the payment's gateway with `values` (a return's
    query string or a gateway script's post): the gateway's adapter reads them
    (`Gateway.read_return`) and a verified outcome is applied as a webhook's would be.

    `viewer` is the signed-in payer (or an admin): someone else's payment is
    PaymentNotFound. None is a post from the gateway's script, where only the signature
    vouches: a verified outcome is applied, and no client step is handed out. `links` gives
    our addresses for a client step (the caller's URLs for this payment)."""
    if viewer is None:
        payment = await bookings.payment_by_ref(payment_ref)
    else:
        payment = await bookings.get_payment(viewer, payment_ref)
    try:
        gateway = gateways.get(payment.gateway)
    except NotFound:  # a gateway switched off since: its webhooks no longer count either
        return PaymentReturn(payment, await bookings.booking_of(payment))
    outcome = gateway.read_return(payment_info(payment), values, links=links(payment))
    if outcome.kind is ReturnKind.CLIENT_STEP:
        if viewer is not None and payment.status == PaymentStatus.PENDING:
            if outcome.reference != payment.gateway_reference:
                raise PaymentNotFound()  # the values name another checkout
            return PaymentReturn(payment, None, outcome.client_step)
    elif outcome.verified:
        payment = await apply_return(
            payment.public_id,
            succeeded=outcome.kind is ReturnKind.SUCCEEDED,
            gateways=gateways,
            config=config,
            now=now,
        )
    return PaymentReturn(payment, await bookings.booking_of(payment))


@dataclass(frozen=True)
class CounterSale:
    """Money an operator took in person for a hold (an agent or counter booking).
    `passengers` as at checkout (empty: the account holder travels on every seat);
    contact details default to the holder's account."""

    reservation_ref: str
    amount: Decimal  # what was received: must be the hold's total
    method: PaymentMethod = PaymentMethod.CASH
    passengers: tuple[PassengerInput, ...] = ()
    contact_email: str | None = None
    contact_phone: str | None = None
    note: str = ""


COUNTER_ONLY_ADMINS = "Only an operator (an admin) can record money taken at the counter."


async def settle_at_counter(
    admin: User,
    sale: CounterSale,
    *,
    config: CheckoutConfig,
    now: datetime,
    ip: str | None = None,
) -> Payment:
    """Confirm a live hold whose money an admin received outside any gateway: a succeeded
    Payment (gateway "counter") is recorded and fulfilled by the same path as a gateway's
    success (`_apply_outcome`: booking, ticket, confirmation mail, seat events), in one
    transaction with its audit rows. The hold must still be live, its trip on sale, and
    the amount received exactly the hold's total (PriceChanged otherwise); a hold already
    booked is AlreadyBooked. The booking belongs to the hold's customer."""
    if not admin.is_admin:
        raise Forbidden(COUNTER_ONLY_ADMINS)
    reservation = await holds.get_reservation(admin, sale.reservation_ref)
    holder = await User.get(id=reservation.user_id)
    key = public_ids.new("cnt")  # the payment's idempotency key and "gateway" reference
    current = await quote(reservation)
    details = checkout_details(
        CheckoutInput(
            passengers=list(sale.passengers),
            contact_email=holder.email if sale.contact_email is None else sale.contact_email,
            contact_phone=(
                holder.phone_number if sale.contact_phone is None else sale.contact_phone
            ),
            method=sale.method,
            quoted_total=sale.amount,
            idempotency_key=key,
            holder_travels=not sale.passengers,
        ),
        current.seats,
        holder,
    )
    async with locking.transaction() as conn:
        locked = (
            await Reservation.filter(id=reservation.id).select_for_update().using_db(conn).first()
        )
        assert locked is not None
        if locked.status == ReservationStatus.CONVERTED:
            raise AlreadyBooked()
        if locked.status != ReservationStatus.ACTIVE or locked.expires_at <= now:
            raise HoldExpired()
        if sale.amount != current.total:
            raise PriceChanged(
                f"The total of this hold is {current.total} {current.currency}, not "
                f"{sale.amount}. Record the amount due.",
                quoted=str(sale.amount),
                total=str(current.total),
                currency=current.currency,
            )
        unsellable = await _why_unsellable(conn, locked, now)
        if unsellable is not None:
            raise TripDeparted(unsellable.detail)
        payment = await Payment.create(
            user_id=holder.id,
            reservation=locked,
            gateway=counter.NAME,
            method=sale.method,
            amount=current.total,
            currency=current.currency,
            status=PaymentStatus.PENDING,
            idempotency_key=key,
            gateway_reference=key,
            checkout_data={
                **details,
                "boarding_point_id": locked.boarding_point_id,
                "dropping_point_id": locked.dropping_point_id,
                "received_by": admin.id,
                "note": sale.note[:255],
            },
            created_at=now,
            updated_at=now,
            using_db=conn,
        )
        await audit.record(
            "payment.received_at_counter",
            now=now,
            actor=admin,
            subject=payment,
            ip=ip,
            data={
                "method": sale.method.value,
                "amount": str(current.total),
                "currency": current.currency,
                "reservation_id": locked.id,
                "customer_id": holder.id,
                "note": sale.note[:255],
            },
            using_db=conn,
        )
        await _apply_outcome(
            conn,
            payment,
            succeeded=True,
            amount=current.total,
            currency=current.currency,
            reason="",
            source=f"counter:{admin.id}",
            config=config,
            now=now,
        )
    return payment


async def _apply_outcome(
    conn: BaseDBAsyncClient,
    payment: Payment,
    *,
    succeeded: bool,
    amount: Decimal,
    currency: str,
    reason: str,
    source: str,
    config: CheckoutConfig,
    now: datetime,
) -> None:
    """Apply an outcome to a locked payment, once: a settled payment ignores later news.

    Captured money ends in exactly one of two places (invariant 4): a booking, or a refund
    (`refund_pending` with its Refund row, sent after this transaction and retried until the
    gateway takes it).
    """
    if payment.status in SETTLED:
        return
    payment.updated_at = now
    if not succeeded:
        if payment.status != PaymentStatus.FAILED:
            payment.status = PaymentStatus.FAILED
            payment.failure_reason = (reason or "The payment did not go through.")[:255]
            await payment.save(
                update_fields=["status", "failure_reason", "updated_at"], using_db=conn
            )
            await audit.record(
                "payment.failed",
                now=now,
                subject=payment,
                data={"reason": payment.failure_reason, "source": source},
                using_db=conn,
            )
        return
    # What the gateway says it took is what we owe back if we cannot use it.
    payment.checkout_data = {
        **payment.checkout_data,
        "captured": {"amount": str(amount), "currency": currency.upper()},
    }
    if amount != payment.amount or currency.upper() != payment.currency.upper():
        # The gateway's figure does not match what the customer was charged for: no
        # booking from it (the gateway's figure is itself suspect), and no money kept.
        await audit.record(
            "payment.amount_mismatched",
            now=now,
            subject=payment,
            using_db=conn,
            data={
                "reported_amount": str(amount),
                "reported_currency": currency,
                "expected_amount": str(payment.amount),
                "expected_currency": payment.currency,
                "source": source,
            },
        )
        await _refund_due(
            conn,
            payment,
            REFUND_MISMATCH,
            f"The gateway reported {amount} {currency.upper()}, expected {payment.amount} "
            f"{payment.currency}.",
            config=config,
            now=now,
        )
        return
    payment.status = PaymentStatus.SUCCEEDED
    await audit.record(
        "payment.succeeded",
        now=now,
        subject=payment,
        using_db=conn,
        data={"amount": str(amount), "currency": currency, "source": source},
    )
    outcome = await _fulfil(conn, payment, config=config, now=now)
    if isinstance(outcome, Unfulfillable):
        await _refund_due(conn, payment, outcome, outcome.detail, config=config, now=now)
        return
    payment.booking = outcome
    await payment.save(
        update_fields=["status", "failure_reason", "booking_id", "checkout_data", "updated_at"],
        using_db=conn,
    )


@dataclass(frozen=True)
class Unfulfillable:
    """Why captured money cannot become a booking: it is refunded in full."""

    code: str  # for the audit trail and the console
    reason: str  # for the customer's email: one sentence
    detail: str = ""


REFUND_SEATS_TAKEN = Unfulfillable(
    "seats_taken",
    "your seat hold had run out and the seats were taken by someone else in the meantime.",
    "The seats were no longer free when the payment arrived.",
)
REFUND_DUPLICATE = Unfulfillable(
    "already_paid",
    "these seats had already been paid for by another payment of yours.",
    "The hold was already paid by another payment.",
)
REFUND_TRIP_CANCELLED = Unfulfillable(
    "trip_cancelled",
    "the operator cancelled this trip before your payment reached us.",
    "The trip was cancelled before the payment arrived.",
)
REFUND_TRIP_DEPARTED = Unfulfillable(
    "trip_departed",
    "the bus had already left your boarding stop when your payment reached us.",
    "The trip had departed before the payment arrived.",
)
REFUND_MISMATCH = Unfulfillable(
    "amount_mismatch",
    "the payment provider reported a different amount than the one you were charged for, "
    "so we could not confirm a booking from it.",
)


async def _refund_due(
    conn: BaseDBAsyncClient,
    payment: Payment,
    why: Unfulfillable,
    detail: str,
    *,
    config: CheckoutConfig,
    now: datetime,
) -> None:
    """Record the full refund of captured money (sent after commit, retried until the
    gateway accepts it) and tell the customer, in the same transaction."""
    payment.status = PaymentStatus.REFUND_PENDING
    payment.failure_reason = (detail or why.reason)[:255]
    await payment.save(
        update_fields=["status", "failure_reason", "checkout_data", "updated_at"],
        using_db=conn,
    )
    amount, currency = refunds.captured(payment)
    await refunds.request_refund(
        conn,
        payment,
        amount=amount,
        currency=currency,
        code=why.code,
        reason=payment.failure_reason,
        now=now,
    )
    await notifications.queue_refund_notice(
        conn,
        payment,
        reason=why.reason,
        amount=amount,
        currency=currency,
        config=config,
        now=now,
    )


async def _why_unsellable(
    conn: BaseDBAsyncClient, reservation: Reservation, now: datetime
) -> Unfulfillable | None:
    """Whether the hold's trip can still be sold to this payer. The trip row is locked
    FOR SHARE: an operator cancelling the trip (FOR UPDATE) either finishes first, and this
    payment is refunded, or waits until this booking exists, and then refunds it with the
    others."""
    await conn.execute_query(
        "SELECT 1 FROM schedules WHERE id = $1 FOR SHARE", [reservation.schedule_id]
    )
    trip = await load_trip(reservation.schedule_id, using_db=conn)
    if trip.schedule.status != ScheduleStatus.SCHEDULED:
        return REFUND_TRIP_CANCELLED
    if trip.stop(reservation.from_seq).arrives_at <= now:
        return REFUND_TRIP_DEPARTED
    return None


# The allocations in the way of re-securing a late-paid hold's seats ($2) on its segment:
# active and overlapping, with `live` from the availability rule (the others are expired
# holds, given up here as a new hold would).
IN_THE_WAY_SQL = f"""
    SELECT a.reservation_id, {availability.live_sql("a", "r", "$5")} AS live
    FROM seat_allocations a LEFT JOIN reservations r ON r.id = a.reservation_id
    WHERE a.schedule_id = $1 AND a.schedule_seat_id = ANY($2::int[])
      AND {availability.overlapping_sql("a", "$3", "$4")}
"""


async def _fulfil(
    conn: BaseDBAsyncClient, payment: Payment, *, config: CheckoutConfig, now: datetime
) -> Booking | Unfulfillable:
    """Turn the paid hold into a booking, or say why it cannot be (then it is refunded)."""
    reservation = (
        await Reservation.filter(id=payment.reservation_id)
        .select_for_update()
        .using_db(conn)
        .first()
    )
    if reservation is None or reservation.status == ReservationStatus.CONVERTED:
        return REFUND_DUPLICATE  # another payment already bought these seats
    unsellable = await _why_unsellable(conn, reservation, now)
    if unsellable is not None:
        if reservation.status == ReservationStatus.ACTIVE:
            await holds.end_reservations(
                conn,
                [reservation],
                ReservationStatus.RELEASED,
                now,
                data={"reason": unsellable.detail},
            )
        return unsellable
    allocations = await SeatAllocation.filter(reservation_id=reservation.id).using_db(conn)
    schedule_seat_ids = sorted({a.schedule_seat_id for a in allocations})
    live = reservation.status == ReservationStatus.ACTIVE and reservation.expires_at > now
    # Lock the seats as a hold does (same order), so nobody takes them while we decide.
    inventory = (
        await ScheduleSeat.filter(schedule_id=reservation.schedule_id, id__in=schedule_seat_ids)
        .order_by("id")
        .select_for_update()
        .using_db(conn)
    )
    if not live:
        if reservation.status == ReservationStatus.ACTIVE:
            await holds.end_reservations(conn, [reservation], ReservationStatus.EXPIRED, now)
        in_the_way = await conn.execute_query_dict(
            IN_THE_WAY_SQL,
            [
                reservation.schedule_id,
                schedule_seat_ids,
                reservation.from_seq,
                reservation.to_seq,
                now,
            ],
        )
        if any(row["live"] for row in in_the_way) or any(s.is_blocked for s in inventory):
            return REFUND_SEATS_TAKEN
        # Each expired hold once, however many of these seats it had.
        stale = (
            await Reservation.filter(
                id__in=sorted({row["reservation_id"] for row in in_the_way if not row["live"]}),
                status=ReservationStatus.ACTIVE,
            )
            .order_by("id")
            .select_for_update()
            .using_db(conn)
        )
        await holds.end_reservations(conn, stale, ReservationStatus.EXPIRED, now)
    booking = await _create_booking(conn, payment, reservation, now)
    if live:
        await (
            SeatAllocation.filter(reservation_id=reservation.id, active=True)
            .using_db(conn)
            .update(kind=AllocationKind.BOOKING, booking_id=booking.id)
        )
    else:
        await SeatAllocation.bulk_create(
            [
                SeatAllocation(
                    schedule_id=reservation.schedule_id,
                    schedule_seat_id=schedule_seat_id,
                    from_seq=reservation.from_seq,
                    to_seq=reservation.to_seq,
                    kind=AllocationKind.BOOKING,
                    booking=booking,
                    created_at=now,
                )
                for schedule_seat_id in schedule_seat_ids
            ],
            using_db=conn,
        )
        await audit.record(
            "booking.seats_resecured",
            now=now,
            subject=booking,
            using_db=conn,
            data={"reservation_id": reservation.id},
        )
    reservation.status = ReservationStatus.CONVERTED
    reservation.ended_at = now
    await reservation.save(update_fields=["status", "ended_at"], using_db=conn)
    await audit.record(
        "reservation.converted",
        now=now,
        subject=reservation,
        using_db=conn,
        data={"booking": booking.reference},
    )
    ticket = await issue_ticket(conn, booking, config=config, now=now)
    await notifications.queue_booking_confirmation(conn, booking, ticket, config=config, now=now)
    await events.announce(conn, reservation.schedule_id, [s.id for s in inventory], "booked")
    return booking


async def _create_booking(
    conn: BaseDBAsyncClient, payment: Payment, reservation: Reservation, now: datetime
) -> Booking:
    data = payment.checkout_data
    for _ in range(5):
        reference = ticket_tokens.booking_reference()
        if not await Booking.filter(reference=reference).using_db(conn).exists():
            break
    booking = await Booking.create(
        reference=reference,
        user_id=payment.user_id,
        schedule_id=reservation.schedule_id,
        reservation=reservation,
        from_seq=reservation.from_seq,
        to_seq=reservation.to_seq,
        boarding_point_id=data.get("boarding_point_id"),
        dropping_point_id=data.get("dropping_point_id"),
        status=BookingStatus.CONFIRMED,
        total_amount=payment.amount,
        currency=payment.currency,
        contact_email=data["contact_email"],
        contact_phone=data["contact_phone"],
        created_at=now,
        using_db=conn,
    )
    await Passenger.bulk_create(
        [
            Passenger(
                booking=booking,
                seat_id=p["bus_seat_id"],
                name=p["name"],
                age=p["age"],
                gender=Gender(p["gender"]),
                fare=Decimal(p["fare"]),
            )
            for p in data["passengers"]
        ],
        using_db=conn,
    )
    await audit.record(
        "booking.confirmed",
        now=now,
        subject=booking,
        using_db=conn,
        actor=await User.get(id=payment.user_id, using_db=conn),
        data={
            "reference": booking.reference,
            "payment_id": payment.id,
            "amount": str(payment.amount),
            "seats": [p["seat"] for p in data["passengers"]],
        },
    )
    return booking


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, default=str)
