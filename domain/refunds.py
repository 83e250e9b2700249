"""Refunds: the one path money takes back to a payer, through the payment's gateway.

Every refund is a `Refund` row made by `request_refund` in the same transaction as its
cause: captured money that could not become a booking, a cancelled seat (customer or
operator), an operator's refund from the payments console, a cancelled trip. From then on
one function sends it (`send_refund`, right after the cause commits) and one loop retries
what is due (`retry_refunds`, run by every app process). Both go through `_claim`:

1. claim: in a short transaction take due rows with `FOR UPDATE SKIP LOCKED` and push
   `next_attempt_at` ahead by a lease, commit. Another process skips the locked rows while
   the claim runs and no longer sees them as due once it has committed;
2. send, outside any transaction, with the refund's own idempotency key
   (`refund-<public id>`), so a retry after a lost answer is deduplicated by the gateway
   whatever the reason text says;
3. settle, in one transaction with its audit row: `succeeded` (and the payment's
   `refunded_amount`, status and the cancellation's mirror columns follow), or the error
   and the next attempt (exponential backoff, capped at an hour; never given up: money we
   cannot keep goes back, and the console shows the ones the gateway keeps refusing).

Audit vocabulary (subject: the Refund; data: payment_id, cancellation_id, amount, currency):
`refund.requested` (created, with reason code and text), `refund.expedited` (an operator
asked to send a pending one now), `refund.failed` (an attempt refused: error, attempts,
next_attempt_at), `refund.succeeded` (gateway refund id), `refund.closed` (an operator
recorded that it was paid back outside Busbook).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from domain import audit, locking, public_ids
from domain.checkout import payment_info
from domain.enums import PaymentStatus, RefundState, RefundStatus
from domain.models import Cancellation, Payment, Refund, User
from domain.payments.base import GatewayError
from domain.payments.registry import Gateways

REFUND_BACKOFF = (timedelta(minutes=1), timedelta(hours=1))  # first retry, longest wait
REFUND_ATTEMPTS_BEFORE_ALERT = 5  # then the console shows it as failing
REFUND_LEASE = timedelta(minutes=5)  # a refund being sent is not claimed again meanwhile

# Why a refund exists (Refund.reason_code), besides payment_outcomes' Unfulfillable codes.
CANCELLATION = "cancellation"  # a customer or an operator cancelled seats
TRIP_CANCELLED = "trip_cancelled"  # the operator cancelled the trip
OPERATOR = "operator"  # an operator refunded a payment from the console


def next_refund_attempt(attempts: int, now: datetime) -> datetime:
    """Exponential backoff between refund attempts, capped: 1, 2, 4 … 60 minutes."""
    first, longest = REFUND_BACKOFF
    wait: timedelta = min(first * 2 ** min(max(attempts - 1, 0), 16), longest)
    return now + wait


def idempotency_key(refund_public_id: str) -> str:
    """The gateway's idempotency key for one refund: the same for every attempt, and
    different for every refund (Razorpay accepts letters, digits, - and _)."""
    return f"refund-{refund_public_id}"


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


def _data(refund: Refund, **more: Any) -> dict[str, Any]:
    return {
        "refund": refund.public_id,
        "payment_id": refund.payment_id,
        "cancellation_id": refund.cancellation_id,
        "amount": str(refund.amount),
        "currency": refund.currency,
        **more,
    }


async def request_refund(
    conn: BaseDBAsyncClient,
    payment: Payment,
    *,
    amount: Decimal,
    currency: str,
    code: str,
    reason: str,
    now: datetime,
    cancellation: Cancellation | None = None,
    actor: User | None = None,
) -> Refund:
    """Record a refund in the transaction of its cause (call `send_refund` after commit;
    the retry loop sends it otherwise). A payment has at most one full refund (one without
    a cancellation): the database refuses a second."""
    public_id = public_ids.new(public_ids.REFUND)
    refund = await Refund.create(
        public_id=public_id,
        payment_id=payment.id,
        cancellation=cancellation,
        amount=amount,
        currency=currency.upper(),
        reason_code=code,
        reason=reason[:255],
        status=RefundState.PENDING,
        next_attempt_at=now,
        idempotency_key=idempotency_key(public_id),
        requested_by=actor,
        created_at=now,
        using_db=conn,
    )
    await audit.record(
        "refund.requested",
        now=now,
        actor=actor,
        subject=refund,
        using_db=conn,
        data=_data(refund, code=code, reason=refund.reason),
    )
    return refund


async def expedite(
    conn: BaseDBAsyncClient, refund: Refund, *, actor: User, reason: str, now: datetime
) -> None:
    """An operator asks for a pending refund to be sent now (not after its backoff)."""
    refund.next_attempt_at = now
    await refund.save(update_fields=["next_attempt_at"], using_db=conn)
    await audit.record(
        "refund.expedited",
        now=now,
        actor=actor,
        subject=refund,
        using_db=conn,
        data=_data(refund, reason=reason),
    )


async def close(
    conn: BaseDBAsyncClient,
    refund: Refund,
    payment: Payment,
    *,
    actor: User,
    reason: str,
    now: datetime,
) -> None:
    """An operator paid it back outside Busbook: the refund is closed, the retry loop
    leaves it alone, and the payment counts it as refunded. `payment` is locked."""
    refund.status = RefundState.CLOSED
    refund.next_attempt_at = None
    refund.settled_at = now
    await refund.save(update_fields=["status", "next_attempt_at", "settled_at"], using_db=conn)
    payment.refunded_amount = payment.refunded_amount + refund.amount
    await audit.record(
        "refund.closed",
        now=now,
        actor=actor,
        subject=refund,
        using_db=conn,
        data=_data(refund, reason=reason),
    )


async def pending_full_refund(conn: BaseDBAsyncClient, payment_id: int) -> Refund | None:
    """The pending refund of a whole payment (not of a cancellation), if any."""
    return (
        await Refund.filter(
            payment_id=payment_id, cancellation_id__isnull=True, status=RefundState.PENDING
        )
        .using_db(conn)
        .first()
    )


async def _claim(
    now: datetime,
    *,
    refund_id: int | None = None,
    payment_id: int | None = None,
    batch: int = 50,
) -> list[Refund]:
    """Take due refunds for this process: locked rows are skipped, never waited for, and
    the lease keeps them from being due for anyone else until it runs out."""
    query = Refund.filter(status=RefundState.PENDING, next_attempt_at__lte=now)
    if refund_id is not None:
        query = query.filter(id=refund_id)
    if payment_id is not None:
        query = query.filter(payment_id=payment_id)
    return await locking.claim(
        query, due_field="next_attempt_at", lease_until=now + REFUND_LEASE, batch=batch
    )


async def _attempt(refund: Refund, *, gateways: Gateways, now: datetime) -> Refund:
    """Send one claimed refund and settle what the gateway said."""
    payment = await Payment.get(id=refund.payment_id)
    info = replace(payment_info(payment), amount=refund.amount, currency=refund.currency)
    reason = refund.reason or refund.reason_code
    try:
        reference = await gateways.get(payment.gateway).refund(
            info, refund.amount, idempotency_key=refund.idempotency_key, reason=reason
        )
    except GatewayError as exc:
        return await _settle_failure(refund.id, exc.message, now=now)
    return await _settle_success(refund, reference, now=now)


async def _settle_failure(refund_id: int, error: str, *, now: datetime) -> Refund:
    async with locking.transaction() as conn:
        refund = await Refund.filter(id=refund_id).select_for_update().using_db(conn).first()
        assert refund is not None
        if refund.status != RefundState.PENDING:
            return refund  # closed by an operator meanwhile
        refund.attempts += 1
        refund.next_attempt_at = next_refund_attempt(refund.attempts, now)
        refund.last_error = error[:255]
        await refund.save(
            update_fields=["attempts", "next_attempt_at", "last_error"], using_db=conn
        )
        if refund.cancellation_id is not None:
            await (
                Cancellation.filter(id=refund.cancellation_id)
                .using_db(conn)
                .update(
                    refund_status=RefundStatus.FAILED,
                    refund_attempts=refund.attempts,
                    last_error=refund.last_error,
                )
            )
        await audit.record(
            "refund.failed",
            now=now,
            subject=refund,
            using_db=conn,
            data=_data(
                refund,
                error=error,
                attempts=refund.attempts,
                next_attempt_at=refund.next_attempt_at.isoformat(),
            ),
        )
    return refund


async def _settle_success(claimed: Refund, reference: str, *, now: datetime) -> Refund:
    async with locking.transaction() as conn:
        # The payment first, as every other writer of a payment and its refunds locks them.
        payment = (
            await Payment.filter(id=claimed.payment_id).select_for_update().using_db(conn).first()
        )
        refund = await Refund.filter(id=claimed.id).select_for_update().using_db(conn).first()
        assert payment is not None and refund is not None
        if refund.status == RefundState.SUCCEEDED:
            return refund
        already_counted = refund.status == RefundState.CLOSED  # an operator closed it meanwhile
        refund.status = RefundState.SUCCEEDED
        refund.attempts += 1
        refund.next_attempt_at = None
        refund.gateway_refund_id = reference[:128]
        refund.settled_at = now
        refund.last_error = ""
        await refund.save(
            update_fields=[
                "status",
                "attempts",
                "next_attempt_at",
                "gateway_refund_id",
                "settled_at",
                "last_error",
            ],
            using_db=conn,
        )
        if not already_counted:
            payment.refunded_amount = payment.refunded_amount + refund.amount
        if refund.cancellation_id is None and payment.status == PaymentStatus.REFUND_PENDING:
            payment.status = PaymentStatus.REFUNDED
        payment.updated_at = now
        await payment.save(update_fields=["refunded_amount", "status", "updated_at"], using_db=conn)
        if refund.cancellation_id is not None:
            await (
                Cancellation.filter(id=refund.cancellation_id)
                .using_db(conn)
                .update(
                    refund_status=RefundStatus.PROCESSED,
                    refund_reference=refund.gateway_refund_id,
                    refund_attempts=refund.attempts,
                    processed_at=now,
                )
            )
        await audit.record(
            "refund.succeeded",
            now=now,
            subject=refund,
            using_db=conn,
            data=_data(
                refund,
                gateway_refund_id=refund.gateway_refund_id,
                attempts=refund.attempts,
                **({"after_closed": True} if already_counted else {}),
            ),
        )
    return refund


async def send_refund(refund_id: int, *, gateways: Gateways, now: datetime) -> Refund:
    """Send one refund now if it is due and nobody else is sending it; the refund as it
    stands afterwards."""
    for refund in await _claim(now, refund_id=refund_id):
        return await _attempt(refund, gateways=gateways, now=now)
    return await Refund.get(id=refund_id)


async def send_payment_refunds(payment_id: int, *, gateways: Gateways, now: datetime) -> None:
    """Send the due refunds of one payment (after the transaction that made them)."""
    for refund in await _claim(now, payment_id=payment_id):
        await _attempt(refund, gateways=gateways, now=now)


async def retry_refunds(*, gateways: Gateways, now: datetime, batch: int = 50) -> int:
    """The retry loop's pass: every refund that is due (first attempts that were not sent
    after their cause, and retries whose backoff has passed), each claimed so that any
    number of processes can run this at once. Returns how many the gateway took."""
    succeeded = 0
    for refund in await _claim(now, batch=batch):
        done = await _attempt(refund, gateways=gateways, now=now)
        succeeded += done.status == RefundState.SUCCEEDED
    return succeeded
