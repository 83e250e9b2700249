"""Checkout: from a hold to a paid booking with a ticket, never losing money or a seat.

- `start_checkout` re-quotes the hold, records a pending Payment under the form's idempotency
  key (a double click starts one payment), extends the hold once by a grace period and asks
  the gateway for its checkout page.
- Gateway outcomes arrive through `receive_webhook` (the inbox: one row per gateway event id,
  so a replay changes nothing) or a verified browser return; both apply the outcome under the
  payment's row lock, so racing them yields one booking.
- A success for a hold that is still live converts its allocations into a booking in the same
  transaction; for a hold that ran out, the same seats are re-secured if still free on that
  segment, otherwise the payment is refunded automatically (invariant 4).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from domain import audit, events, holds, mail, public_ids, tickets
from domain.accounts import EMAIL_RE, PHONE_RE, normalise_email, normalise_phone
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
    BookingNotFound,
    HoldExpired,
    PaymentNotFound,
    PriceChanged,
    ReservationNotFound,
    TicketNotFound,
    TripDeparted,
    ValidationFailed,
)
from domain.inventory import Trip, load_trip
from domain.models import (
    Booking,
    Passenger,
    Payment,
    Reservation,
    ScheduleSeat,
    SeatAllocation,
    Ticket,
    User,
)
from domain.payments.base import Gateway, GatewayError, GatewayEvent, PaymentInfo
from domain.payments.registry import Gateways

log = logging.getLogger(__name__)
SETTLED = {
    PaymentStatus.SUCCEEDED,
    PaymentStatus.REFUND_PENDING,
    PaymentStatus.REFUNDED,
    PaymentStatus.FLAGGED,
}


@dataclass(frozen=True)
class CheckoutConfig:
    secret: str
    public_base_url: str
    grace: timedelta = timedelta(minutes=10)
    link_valid_after_arrival: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class PassengerInput:
    schedule_seat_id: int
    name: str
    age: str
    gender: str


@dataclass(frozen=True)
class CheckoutInput:
    passengers: list[PassengerInput]
    contact_email: str
    contact_phone: str
    method: str
    quoted_total: str
    idempotency_key: str


@dataclass(frozen=True)
class Quote:
    seats: list[holds.HeldSeat]
    total: Decimal
    currency: str


async def quote(reservation: Reservation) -> Quote:
    """The amount a hold costs now (the page shows it; checkout charges exactly it)."""
    seats = await holds.reservation_seats(reservation)
    return Quote(seats, sum((s.fare for s in seats), Decimal(0)), reservation.currency)


def _validate(data: CheckoutInput, seats: list[holds.HeldSeat]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    by_seat = {p.schedule_seat_id: p for p in data.passengers}
    passengers = []
    for held in seats:
        seat_id = held.schedule_seat.id
        given = by_seat.get(seat_id)
        prefix = f"passenger-{seat_id}"
        name = " ".join((given.name if given else "").split())
        if not name:
            errors[f"{prefix}-name"] = f"Enter the name of the passenger in seat {held.number}."
        elif len(name) > 120:
            errors[f"{prefix}-name"] = "Names can be at most 120 characters."
        age_raw = (given.age if given else "").strip()
        age = int(age_raw) if age_raw.isdigit() else -1
        if not 1 <= age <= 120:
            errors[f"{prefix}-age"] = "Enter an age between 1 and 120."
        gender = (given.gender if given else "").strip().lower()
        if gender not in {g.value for g in Gender}:
            errors[f"{prefix}-gender"] = "Choose female, male or other."
        passengers.append(
            {
                "schedule_seat_id": seat_id,
                "seat_id": held.schedule_seat.seat_id,
                "seat": held.number,
                "name": name,
                "age": age,
                "gender": gender,
                "fare": str(held.fare),
            }
        )
    if set(by_seat) - {h.schedule_seat.id for h in seats}:
        errors[""] = "Passenger details do not match the seats of this hold. Please reload."
    email = normalise_email(data.contact_email)
    if not EMAIL_RE.match(email):
        errors["contact_email"] = "Enter the email address for the ticket."
    phone = normalise_phone(data.contact_phone)
    if not PHONE_RE.match(phone):
        errors["contact_phone"] = "Enter a phone number of 10 to 15 digits."
    if data.method not in {m.value for m in PaymentMethod}:
        errors["method"] = "Choose how you want to pay."
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", data.idempotency_key):
        errors[""] = "This form is out of date. Please reload the page and try again."
    if errors:
        raise ValidationFailed(errors)
    return {"passengers": passengers, "contact_email": email, "contact_phone": phone}


def payment_info(payment: Payment, description: str = "", email: str = "") -> PaymentInfo:
    return PaymentInfo(
        payment_id=payment.id,
        amount=payment.amount,
        currency=payment.currency,
        method=PaymentMethod(payment.method),
        description=description or f"Busbook payment {payment.id}",
        customer_email=email or str(payment.checkout_data.get("contact_email", "")),
        idempotency_key=payment.idempotency_key,
        gateway_reference=payment.gateway_reference,
        public_id=payment.public_id,
    )


async def start_checkout(
    user: User,
    reservation_ref: str,
    data: CheckoutInput,
    *,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
    ip: str | None = None,
) -> Payment:
    """Record the payment and get the gateway's checkout page (`payment.checkout_url`)."""
    reservation = await holds.get_reservation(user, reservation_ref)
    if reservation.user_id != user.id:
        raise ReservationNotFound()
    existing = await Payment.get_or_none(idempotency_key=data.idempotency_key)
    if existing is not None:
        if existing.user_id != user.id:
            raise ValidationFailed({"": "This form is out of date. Please reload the page."})
        if _never_reached_gateway(existing):
            return await _resume_checkout(user, existing, reservation, gateways, config, now)
        return existing  # the same form sent twice: one payment
    current = await quote(reservation)
    details = _validate(data, current.seats)
    try:
        quoted = Decimal(data.quoted_total)
    except InvalidOperation as exc:
        raise ValidationFailed({"": "This form is out of date. Please reload the page."}) from exc
    gateway = gateways.for_method(PaymentMethod(data.method))
    trip = await load_trip(reservation.schedule_id)
    if trip.schedule.status != ScheduleStatus.SCHEDULED:
        raise TripDeparted("This trip was cancelled by the operator. Please pick another bus.")
    if trip.stop(reservation.from_seq).arrives_at <= now:
        raise TripDeparted()
    description = f"{trip.schedule.route.name}, {len(current.seats)} seat(s)"
    try:
        async with in_transaction() as conn:
            locked = (
                await Reservation.filter(id=reservation.id)
                .select_for_update()
                .using_db(conn)
                .first()
            )
            assert locked is not None
            if locked.status != ReservationStatus.ACTIVE or locked.expires_at <= now:
                raise HoldExpired()
            if quoted != current.total:
                raise PriceChanged(
                    f"The price of these seats changed from {quoted} to {current.total} "
                    f"{current.currency}. Please check the new total and pay again."
                )
            payment = await Payment.create(
                user=user,
                reservation=locked,
                gateway=gateway.name,
                method=PaymentMethod(data.method),
                amount=current.total,
                currency=current.currency,
                status=PaymentStatus.PENDING,
                idempotency_key=data.idempotency_key,
                checkout_data={
                    **details,
                    "boarding_point_id": locked.boarding_point_id,
                    "dropping_point_id": locked.dropping_point_id,
                },
                created_at=now,
                updated_at=now,
                using_db=conn,
            )
            if not locked.grace_applied:
                # Paying takes a while: the hold is extended once, so a payer at the
                # gateway does not lose the seats halfway.
                locked.expires_at = max(locked.expires_at, now) + config.grace
                locked.grace_applied = True
                await locked.save(update_fields=["expires_at", "grace_applied"], using_db=conn)
                await audit.record(
                    "reservation.extended",
                    now=now,
                    actor=user,
                    subject=locked,
                    data={"expires_at": locked.expires_at.isoformat()},
                    using_db=conn,
                )
            await audit.record(
                "payment.started",
                now=now,
                actor=user,
                subject=payment,
                ip=ip,
                data={
                    "gateway": gateway.name,
                    "method": data.method,
                    "amount": str(current.total),
                    "reservation_id": locked.id,
                },
                using_db=conn,
            )
    except IntegrityError:
        # The same idempotency key raced in from a second click: use the first payment.
        existing = await Payment.get_or_none(idempotency_key=data.idempotency_key, user=user)
        if existing is None:
            raise
        return existing
    return await _open_at_gateway(
        user,
        payment,
        reservation.public_id,
        gateway,
        description,
        details["contact_email"],
        config,
        now,
    )


def _never_reached_gateway(payment: Payment) -> bool:
    """A pending payment without a checkout page: it was recorded, but the process stopped
    (database outage, worker killed) before the gateway's answer was stored. No payer has
    seen a checkout page for it, so no money can have moved."""
    return payment.status == PaymentStatus.PENDING and not payment.checkout_url


async def _resume_checkout(
    user: User,
    payment: Payment,
    reservation: Reservation,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
) -> Payment:
    """The same form sent again after an interrupted start: finish that start (the payment
    keeps its idempotency key, so a real gateway hands back the same checkout session)."""
    if reservation.status != ReservationStatus.ACTIVE or reservation.expires_at <= now:
        raise HoldExpired()
    gateway = gateways.get(payment.gateway)
    trip = await load_trip(reservation.schedule_id)
    seats = len(payment.checkout_data.get("passengers", ()))
    description = f"{trip.schedule.route.name}, {seats} seat(s)"
    email = str(payment.checkout_data.get("contact_email", ""))
    return await _open_at_gateway(
        user, payment, reservation.public_id, gateway, description, email, config, now
    )


async def _open_at_gateway(
    user: User,
    payment: Payment,
    reservation_ref: str,
    gateway: Gateway,
    description: str,
    email: str,
    config: CheckoutConfig,
    now: datetime,
) -> Payment:
    """Ask the gateway for its checkout page and store where it is. If this process stops
    between the two, the payment stays pending without a page, and the same form sent
    again comes back here (`_resume_checkout`)."""
    base = config.public_base_url
    try:
        start = await gateway.start_checkout(
            payment_info(payment, description, email),
            return_url=f"{base}/payments/{payment.public_id}/return",
            cancel_url=f"{base}/reservations/{reservation_ref}",
        )
    except GatewayError as exc:
        async with in_transaction() as conn:
            await (
                Payment.filter(id=payment.id)
                .using_db(conn)
                .update(
                    status=PaymentStatus.FAILED, failure_reason=exc.message[:255], updated_at=now
                )
            )
            await audit.record(
                "payment.failed",
                now=now,
                actor=user,
                subject=payment,
                data={"reason": exc.message},
                using_db=conn,
            )
        raise
    payment.gateway_reference = start.gateway_reference
    payment.checkout_url = start.redirect_url
    payment.updated_at = now
    await payment.save(update_fields=["gateway_reference", "checkout_url", "updated_at"])
    return payment


# ------------------------------------------------------------------ outcomes from gateways


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
    async with in_transaction() as conn:
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
        await refund_payment(payment.id, gateways=gateways, config=config, now=now)
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
    async with in_transaction() as conn:
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
        await refund_payment(payment.id, gateways=gateways, config=config, now=now)
        await payment.refresh_from_db()
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
    (`refund_pending`, sent after this transaction and retried until the gateway takes it).
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
    """Mark captured money for a full refund (sent after commit, retried until the gateway
    accepts it) and tell the customer, in the same transaction."""
    payment.status = PaymentStatus.REFUND_PENDING
    payment.failure_reason = (detail or why.reason)[:255]
    payment.next_refund_at = now
    await payment.save(
        update_fields=[
            "status",
            "failure_reason",
            "checkout_data",
            "next_refund_at",
            "updated_at",
        ],
        using_db=conn,
    )
    amount, currency = captured(payment)
    await audit.record(
        "payment.refund_due",
        now=now,
        subject=payment,
        using_db=conn,
        data={
            "reason": payment.failure_reason,
            "code": why.code,
            "amount": str(amount),
            "currency": currency,
        },
    )
    await mail.queue_email(
        to=str(payment.checkout_data.get("contact_email", "")),
        subject="Your Busbook payment is being refunded",
        text=(
            f"We received your payment, but {why.reason}\n\n"
            f"We are refunding {amount} {currency} in full to the same payment method. "
            "Depending on your bank this takes 5-7 working days.\n\n"
            "We are sorry. You can search for another bus at "
            f"{config.public_base_url}/\n"
        ),
        now=now,
        using_db=conn,
    )


def captured(payment: Payment) -> tuple[Decimal, str]:
    """The amount and currency the gateway reported capturing (the charged figures when it
    never said)."""
    data = payment.checkout_data.get("captured") or {}
    try:
        amount = Decimal(str(data.get("amount", payment.amount)))
    except InvalidOperation:
        amount = payment.amount
    currency = str(data.get("currency") or payment.currency).upper()
    return amount, currency


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
    seat_ids = sorted({a.seat_id for a in allocations})
    live = reservation.status == ReservationStatus.ACTIVE and reservation.expires_at > now
    # Lock the seats as a hold does (same order), so nobody takes them while we decide.
    inventory = (
        await ScheduleSeat.filter(schedule_id=reservation.schedule_id, seat_id__in=seat_ids)
        .order_by("id")
        .select_for_update()
        .using_db(conn)
    )
    if not live:
        if reservation.status == ReservationStatus.ACTIVE:
            await holds.end_reservations(conn, [reservation], ReservationStatus.EXPIRED, now)
        taken = (
            await SeatAllocation.filter(
                schedule_id=reservation.schedule_id,
                seat_id__in=seat_ids,
                active=True,
                from_seq__lt=reservation.to_seq,
                to_seq__gt=reservation.from_seq,
            )
            .using_db(conn)
            .prefetch_related("reservation")
        )
        live_holders = [
            a
            for a in taken
            if a.kind == AllocationKind.BOOKING
            or (a.reservation is not None and a.reservation.expires_at > now)
        ]
        if live_holders or any(s.is_blocked for s in inventory):
            return REFUND_SEATS_TAKEN
        stale = [a.reservation for a in taken if a.reservation is not None]
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
                    seat_id=seat_id,
                    from_seq=reservation.from_seq,
                    to_seq=reservation.to_seq,
                    kind=AllocationKind.BOOKING,
                    booking=booking,
                    created_at=now,
                )
                for seat_id in seat_ids
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
    await _queue_confirmation(conn, booking, ticket, config=config, now=now)
    await events.announce(conn, reservation.schedule_id, [s.id for s in inventory], "booked")
    return booking


async def _create_booking(
    conn: BaseDBAsyncClient, payment: Payment, reservation: Reservation, now: datetime
) -> Booking:
    data = payment.checkout_data
    for _ in range(5):
        reference = tickets.booking_reference()
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
                seat_id=p["seat_id"],
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


async def issue_ticket(
    conn: BaseDBAsyncClient, booking: Booking, *, config: CheckoutConfig, now: datetime
) -> Ticket:
    number = tickets.ticket_number()
    ticket = await Ticket.create(
        number=number,
        booking=booking,
        qr_token=tickets.qr_token(
            config.secret,
            ticket_number=number,
            booking_reference=booking.reference,
            schedule_id=booking.schedule_id,
        ),
        issued_at=now,
        using_db=conn,
    )
    await audit.record(
        "ticket.issued",
        now=now,
        subject=ticket,
        using_db=conn,
        data={"booking": booking.reference, "number": number},
    )
    return ticket


async def ticket_link(
    ticket: Ticket, booking: Booking, *, config: CheckoutConfig, trip: Trip | None = None
) -> str:
    """The signed, expiring download link that goes into emails (no login needed)."""
    trip = trip or await load_trip(booking.schedule_id)
    expires = trip.stop(booking.to_seq).arrives_at + config.link_valid_after_arrival
    token = tickets.download_token(config.secret, ticket.number, expires_at=expires)
    return f"{config.public_base_url}/tickets/{ticket.number}/download?token={token}"


async def _queue_confirmation(
    conn: BaseDBAsyncClient,
    booking: Booking,
    ticket: Ticket,
    *,
    config: CheckoutConfig,
    now: datetime,
) -> None:
    trip = await load_trip(booking.schedule_id)
    origin, destination = trip.stop(booking.from_seq), trip.stop(booking.to_seq)
    link = await ticket_link(ticket, booking, config=config, trip=trip)
    await mail.queue_email(
        to=booking.contact_email,
        subject=f"Your Busbook ticket {booking.reference}: {origin.city} to {destination.city}",
        text=(
            f"Your booking {booking.reference} is confirmed.\n\n"
            f"{trip.schedule.route.name}\n"
            f"From {origin.city}: {origin.arrives_at:%a %d %b %Y %H:%M} UTC\n"
            f"To {destination.city}: {destination.arrives_at:%a %d %b %Y %H:%M} UTC\n"
            f"Ticket {ticket.number}, total {booking.total_amount} {booking.currency}\n\n"
            f"Download your ticket (PDF, no login needed):\n{link}\n\n"
            f"Your booking: {config.public_base_url}/bookings/{booking.reference}\n"
        ),
        now=now,
        using_db=conn,
    )


# --------------------------------------------------------------------------------- refunds


REFUND_BACKOFF = (timedelta(minutes=1), timedelta(hours=1))  # first retry, longest wait
REFUND_ATTEMPTS_BEFORE_ALERT = 5  # then the console shows it as failing
REFUND_LEASE = timedelta(minutes=5)  # an attempt in flight is not started again meanwhile


def next_refund_attempt(attempts: int, now: datetime) -> datetime:
    """Exponential backoff between refund attempts, capped: 1, 2, 4 … 60 minutes."""
    first, longest = REFUND_BACKOFF
    wait: timedelta = min(first * 2 ** min(max(attempts - 1, 0), 16), longest)
    return now + wait


async def refund_payment(
    payment_id: int,
    *,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
) -> Payment:
    """Send the full refund of captured money we could not honour (what the gateway said it
    took); retried with backoff until the gateway agrees. Every attempt is audited.

    The attempt is claimed first (`next_refund_at` moves a lease ahead), so the retry loops
    of several processes and an operator's "refund now" never send it twice at once; the
    gateway's idempotency key is the same for every attempt of one payment's refund."""
    async with in_transaction() as conn:
        claimed = await conn.execute_query_dict(
            """
            UPDATE payments SET next_refund_at = $2
            WHERE id = $1 AND status = 'refund_pending'
              AND (next_refund_at IS NULL OR next_refund_at <= $3)
            RETURNING id
            """,
            [payment_id, now + REFUND_LEASE, now],
        )
    payment = await Payment.get(id=payment_id)
    if not claimed:
        return payment  # settled, not due yet, or another process is sending it
    amount, currency = captured(payment)
    info = replace(payment_info(payment), amount=amount, currency=currency)
    gateway = gateways.get(payment.gateway)
    try:
        reference = await gateway.refund(info, amount, reason=f"payment-{payment.id}-refund")
    except GatewayError as exc:
        async with in_transaction() as conn:
            locked = await Payment.filter(id=payment_id).select_for_update().using_db(conn).first()
            assert locked is not None
            locked.refund_attempts += 1
            locked.next_refund_at = next_refund_attempt(locked.refund_attempts, now)
            locked.updated_at = now
            await locked.save(
                update_fields=["refund_attempts", "next_refund_at", "updated_at"], using_db=conn
            )
            await audit.record(
                "payment.refund_failed",
                now=now,
                subject=locked,
                using_db=conn,
                data={
                    "error": exc.message,
                    "attempts": locked.refund_attempts,
                    "next_attempt_at": locked.next_refund_at.isoformat(),
                },
            )
        return locked
    async with in_transaction() as conn:
        locked = await Payment.filter(id=payment_id).select_for_update().using_db(conn).first()
        assert locked is not None
        if locked.status == PaymentStatus.REFUND_PENDING:
            locked.status = PaymentStatus.REFUNDED
            locked.refunded_amount = amount
            locked.refund_attempts += 1
            locked.next_refund_at = None
            locked.updated_at = now
            await locked.save(
                update_fields=[
                    "status",
                    "refunded_amount",
                    "refund_attempts",
                    "next_refund_at",
                    "updated_at",
                ],
                using_db=conn,
            )
            await audit.record(
                "payment.refunded",
                now=now,
                subject=locked,
                using_db=conn,
                data={
                    "refund_reference": reference,
                    "amount": str(amount),
                    "currency": currency,
                },
            )
        payment = locked
    return payment


async def retry_refunds(*, gateways: Gateways, config: CheckoutConfig, now: datetime) -> int:
    """Refunds that are due (first attempts and retries whose backoff has passed)."""
    due = await Payment.filter(
        Q(next_refund_at__isnull=True) | Q(next_refund_at__lte=now),
        status=PaymentStatus.REFUND_PENDING,
    ).order_by("id")
    done = 0
    for payment_id in (p.id for p in due):
        payment = await refund_payment(payment_id, gateways=gateways, config=config, now=now)
        done += payment.status == PaymentStatus.REFUNDED
    return done


# ---------------------------------------------------------------------------------- reading


async def get_payment(viewer: User, payment_ref: str) -> Payment:
    """The viewer's own payment (admins see any), by its public id."""
    payment = await payment_by_ref(payment_ref)
    if payment.user_id != viewer.id and not viewer.is_admin:
        raise PaymentNotFound()
    return payment


async def payment_by_ref(payment_ref: str) -> Payment:
    """A payment by its public id, for callers the gateway's signature vouches for."""
    if not public_ids.looks_like(payment_ref, public_ids.PAYMENT):
        raise PaymentNotFound()
    payment = await Payment.get_or_none(public_id=payment_ref).prefetch_related("reservation")
    if payment is None:
        raise PaymentNotFound()
    return payment


async def booking_of(payment: Payment) -> Booking | None:
    return await Booking.get_or_none(id=payment.booking_id) if payment.booking_id else None


REFERENCE_MAX = 12  # Booking.reference
TICKET_NUMBER_MAX = 20  # Ticket.number


async def get_booking(viewer: User | None, reference: str) -> Booking:
    reference = reference.strip().upper()
    if len(reference) > REFERENCE_MAX:  # no such booking (Tortoise would refuse the filter)
        raise BookingNotFound()
    booking = await Booking.get_or_none(reference=reference).prefetch_related(
        "passengers",
        "passengers__seat",
        "tickets",
        "boarding_point",
        "dropping_point",
        "payments",
        "cancellations",
    )
    if booking is None or viewer is None or (booking.user_id != viewer.id and not viewer.is_admin):
        raise BookingNotFound()
    return booking


@dataclass(frozen=True)
class TicketView:
    ticket: Ticket
    booking: Booking


async def get_ticket(viewer: User | None, number: str) -> TicketView:
    """A ticket its owner (or an admin) may see; anyone else gets a 404."""
    ticket = await _ticket(number)
    if ticket is None:
        raise TicketNotFound()
    booking = await get_booking(viewer, (await ticket.booking).reference)
    return TicketView(ticket, booking)


async def _ticket(number: str) -> Ticket | None:
    number = number.strip().upper()
    if len(number) > TICKET_NUMBER_MAX:
        return None
    return await Ticket.get_or_none(number=number)


async def ticket_by_number(number: str) -> TicketView:
    """For a holder of a signed link: no login, the link itself is the permission."""
    ticket = await _ticket(number)
    if ticket is None:
        raise TicketNotFound()
    booking = await Booking.get(id=ticket.booking_id).prefetch_related(
        "passengers", "passengers__seat", "boarding_point", "dropping_point"
    )
    return TicketView(ticket, booking)


async def list_bookings(user: User, now: datetime) -> tuple[list[Booking], list[Booking]]:
    """(upcoming, past) bookings of a customer, nearest first."""
    bookings = (
        await Booking.filter(user_id=user.id)
        .prefetch_related("schedule", "schedule__route")
        .order_by("schedule__departure_at")
    )
    upcoming = [b for b in bookings if b.schedule.arrival_at > now]
    past = [b for b in bookings if b.schedule.arrival_at <= now][::-1]
    return upcoming, past


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, default=str)
