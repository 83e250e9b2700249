"""Checkout: from a hold to a payment at the gateway, never charging a price nobody saw.

`start_checkout` re-quotes the hold, records a pending Payment under the form's idempotency
key (a double click starts one payment), extends the hold once by a grace period and asks
the gateway for its checkout page. A start interrupted before the gateway's answer was
stored is finished by the same form sent again. What the gateway then reports is applied by
`domain.payment_outcomes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain import audit, holds, locking
from domain.accounts import EMAIL_RE, PHONE_RE, normalise_email, normalise_phone
from domain.enums import (
    Gender,
    PaymentMethod,
    PaymentStatus,
    ReservationStatus,
    ScheduleStatus,
)
from domain.errors import (
    HoldExpired,
    PriceChanged,
    ReservationNotFound,
    TripDeparted,
    ValidationFailed,
)
from domain.formatting import Formatter
from domain.inventory import load_trip
from domain.models import Payment, Reservation, User
from domain.payments.base import Gateway, GatewayError, PaymentInfo
from domain.payments.registry import Gateways


@dataclass(frozen=True)
class CheckoutConfig:
    secret: str
    public_base_url: str
    grace: timedelta = timedelta(minutes=10)
    link_valid_after_arrival: timedelta = timedelta(days=30)
    # How the customer's mails write times and money: as the pages do (TIMEZONE, CURRENCY).
    formatter: Formatter = field(default_factory=Formatter.default)


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
                "bus_seat_id": held.schedule_seat.seat_id,
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
        async with locking.transaction() as conn:
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
