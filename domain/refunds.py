"""Refunds: sending money back through the payment's gateway, and retrying until it agrees.

Two kinds, each retried by the app's refund loop: the full refund of captured money that
could not become a booking (`refund_payment`, on the payment row, with backoff), and the
policy refund of a cancellation (`process_refund`, on the cancellation row).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from tortoise.expressions import Q

from domain import audit, locking
from domain.checkout import CheckoutConfig, payment_info
from domain.enums import PaymentStatus, RefundStatus
from domain.models import Cancellation, Payment
from domain.payments.base import GatewayError
from domain.payments.registry import Gateways

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
    async with locking.transaction() as conn:
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
        async with locking.transaction() as conn:
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
    async with locking.transaction() as conn:
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


async def process_refund(cancellation_id: int, *, gateways: Gateways, now: datetime) -> None:
    """Send a pending (or failed) refund through the payment's gateway, once."""
    cancellation = await Cancellation.get(id=cancellation_id)
    if cancellation.refund_status not in {RefundStatus.PENDING, RefundStatus.FAILED}:
        return
    payment = await Payment.get(id=cancellation.payment_id)
    try:
        reference = await gateways.get(payment.gateway).refund(
            payment_info(payment),
            cancellation.refund_amount,
            reason=f"cancellation-{cancellation.id}",
        )
    except GatewayError as exc:
        async with locking.transaction() as conn:
            await (
                Cancellation.filter(id=cancellation.id)
                .using_db(conn)
                .update(
                    refund_status=RefundStatus.FAILED,
                    refund_attempts=cancellation.refund_attempts + 1,
                    last_error=exc.message[:255],
                )
            )
            await audit.record(
                "refund.failed",
                now=now,
                subject=cancellation,
                using_db=conn,
                data={"error": exc.message},
            )
        return
    async with locking.transaction() as conn:
        locked = (
            await Cancellation.filter(id=cancellation.id).select_for_update().using_db(conn).first()
        )
        assert locked is not None
        if locked.refund_status == RefundStatus.PROCESSED:
            return
        locked.refund_status = RefundStatus.PROCESSED
        locked.refund_reference = reference
        locked.refund_attempts += 1
        locked.processed_at = now
        await locked.save(using_db=conn)
        paid = await Payment.filter(id=payment.id).select_for_update().using_db(conn).first()
        assert paid is not None
        paid.refunded_amount = paid.refunded_amount + locked.refund_amount
        await paid.save(update_fields=["refunded_amount"], using_db=conn)
        await audit.record(
            "refund.processed",
            now=now,
            subject=locked,
            using_db=conn,
            data={"reference": reference, "amount": str(locked.refund_amount)},
        )


async def retry_failed_refunds(*, gateways: Gateways, now: datetime) -> int:
    due = await Cancellation.filter(
        refund_status__in=[RefundStatus.PENDING, RefundStatus.FAILED]
    ).order_by("id")
    for cancellation in due:
        await process_refund(cancellation.id, gateways=gateways, now=now)
    return await Cancellation.filter(
        id__in=[c.id for c in due], refund_status=RefundStatus.PROCESSED
    ).count()
