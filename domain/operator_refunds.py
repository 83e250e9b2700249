"""Refunds an operator gives by hand: money back on a booking whose seats the customer can
no longer cancel (the ticket boarded, the bus left), for a reason the operator types.

The refund goes through the one refund path (domain/refunds.py: a `Refund` row sent to the
payment's gateway, retried until it is taken). It hangs off a `Cancellation` row with no
seats, so the booking page, the cancellation page and the console list it with the other
refunds of the booking, and its state is mirrored there as for any cancellation. The seats
and the ticket stay as they are: the passenger travelled (or was at the door).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain import audit, locking, notifications, refunds
from domain.bookings import get_booking
from domain.checkout import CheckoutConfig
from domain.enums import PaymentStatus, RefundStatus
from domain.errors import Conflict, ValidationFailed
from domain.models import Booking, Cancellation, Payment, Refund, User
from domain.payments.registry import Gateways

OPERATOR_POLICY = "Refunded by the operator"
REASON_MAX = 255  # Cancellation.reason, Refund.reason


@dataclass(frozen=True)
class RefundForm:
    """The console's form: the booking, what was paid, refunded already and still refundable."""

    booking: Booking
    payment: Payment | None  # the payment that took the money (None: nothing was paid)
    paid: Decimal
    refunded: Decimal  # refunds made so far, sent or on their way
    refundable: Decimal
    refunds: list[Refund]


async def refund_form(admin: User, reference: str) -> RefundForm:
    """What the operator's refund form shows for booking `reference`."""
    booking = await get_booking(admin, reference)
    payment = await Payment.filter(booking_id=booking.id, status=PaymentStatus.SUCCEEDED).first()
    if payment is None:
        return RefundForm(booking, None, Decimal(0), Decimal(0), Decimal(0), [])
    paid, _ = refunds.captured(payment)
    done = await Refund.filter(payment_id=payment.id).order_by("created_at", "id")
    refunded = sum((r.amount for r in done), Decimal(0))
    return RefundForm(booking, payment, paid, refunded, max(paid - refunded, Decimal(0)), done)


def parse_amount(raw: str | None) -> Decimal:
    """An amount typed in the form: digits with at most two decimals, more than zero."""
    text = (raw or "").strip().replace(",", "")
    for symbol in ("₹", "INR", "Rs.", "Rs"):
        text = text.removeprefix(symbol).strip()
    whole, dot, cents = text.partition(".")
    if not (
        whole.isascii()
        and whole.isdigit()
        and len(whole) <= 9
        and (not dot or (cents.isascii() and cents.isdigit() and len(cents) <= 2))
    ):
        raise ValidationFailed({"amount": "Enter the amount to refund, like 450 or 450.50."})
    amount = Decimal(text)
    if amount <= 0:
        raise ValidationFailed({"amount": "Enter an amount of more than zero."})
    return amount


async def refund_by_operator(
    admin: User,
    reference: str,
    amount: Decimal,
    reason: str,
    *,
    gateways: Gateways,
    config: CheckoutConfig,
    now: datetime,
) -> Cancellation:
    """Refund `amount` of booking `reference` to the payer, for `reason`, whatever the
    cancellation policy says: in one transaction the seatless Cancellation, its Refund and
    the audit row `booking.refunded_by_operator`; then the refund is sent to the gateway.
    Never more than was paid, less what was refunded already."""
    reason = reason.strip()
    errors = {}
    if not reason:
        errors["reason"] = "Say why you refund this booking; the passenger is told."
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"Keep the reason under {REASON_MAX} characters."
    if errors:
        raise ValidationFailed(errors)
    booking = await get_booking(admin, reference)
    async with locking.transaction() as conn:
        # The payment first, as every writer of a payment and its refunds locks them.
        payment = (
            await Payment.filter(booking_id=booking.id, status=PaymentStatus.SUCCEEDED)
            .select_for_update()
            .using_db(conn)
            .first()
        )
        if payment is None:
            raise Conflict(
                "Nothing was paid online for this booking, so there is nothing to refund."
            )
        paid, currency = refunds.captured(payment)
        rows = await Refund.filter(payment_id=payment.id).using_db(conn)
        refundable = paid - sum((r.amount for r in rows), Decimal(0))
        if amount > refundable:
            raise ValidationFailed(
                {
                    "amount": (
                        f"At most {refundable:.2f} {currency} can still be refunded "
                        f"(paid {paid:.2f}, refunded {paid - refundable:.2f})."
                    )
                }
            )
        cancellation = await Cancellation.create(
            booking_id=booking.id,
            actor=admin,
            payment=payment,
            passenger_ids=[],
            policy_tier=OPERATOR_POLICY,
            fee=Decimal(0),
            refund_amount=amount,
            refund_status=RefundStatus.PENDING,
            reason=reason,
            created_at=now,
            using_db=conn,
        )
        refund = await refunds.request_refund(
            conn,
            payment,
            amount=amount,
            currency=currency,
            code=refunds.OPERATOR,
            reason=reason,
            now=now,
            cancellation=cancellation,
            actor=admin,
        )
        await audit.record(
            "booking.refunded_by_operator",
            now=now,
            actor=admin,
            subject=booking,
            using_db=conn,
            data={
                "cancellation_id": cancellation.id,
                "refund": refund.public_id,
                "amount": str(amount),
                "currency": currency,
                "reason": reason,
            },
        )
        await notifications.queue_operator_refund(
            conn, booking, cancellation, config=config, now=now
        )
    await refunds.send_refund(refund.id, gateways=gateways, now=now)
    await cancellation.refresh_from_db()
    return cancellation
