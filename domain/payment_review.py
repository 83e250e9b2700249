"""Payments needing attention: the console's list of every payment not in a final state,
with its history, and the two things an operator can do about one (refund it, or record
how it was settled), each with a reason and an audit row.

A payment is final when it is a booking (`succeeded` with a booking), `failed` (no money
taken) or `refunded`. Everything else is either waiting for the payer or the gateway
(`created`, `pending`) or money we hold without a booking (`refund_pending`, the legacy
`flagged`, a `succeeded` without a booking), which must go back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from domain import audit, keyset, locking, public_ids, refunds
from domain.enums import PaymentStatus, RefundState
from domain.errors import Conflict, PaymentNotFound, ValidationFailed
from domain.models import ActivityLog, Payment, PaymentEvent, Refund, User
from domain.payments.registry import Gateways
from domain.refunds import REFUND_ATTEMPTS_BEFORE_ALERT, captured

WAITING = (PaymentStatus.CREATED, PaymentStatus.PENDING)  # no money known to be taken
HELD = (PaymentStatus.REFUND_PENDING, PaymentStatus.FLAGGED)  # money taken, not applied
STALE_AFTER = timedelta(minutes=30)  # a payer at the gateway for longer has given up
REASON_MAX = 255


@dataclass(frozen=True)
class PaymentCase:
    """One payment needing attention, as the console shows it."""

    payment: Payment
    problem: str  # one sentence: what is wrong
    urgent: bool  # money held without a booking, or a payer stuck for long
    captured_amount: Decimal
    captured_currency: str
    history: list[ActivityLog]  # the payment's and its refunds' audit rows
    events: list[PaymentEvent]
    refund: Refund | None  # the pending full refund, when there is one
    can_refund: bool
    settled: bool  # in a final state: nothing to do
    resolve_label: str  # what "resolve" records for this payment


def _unfinished() -> Q:
    return Q(status__in=[*WAITING, *HELD]) | Q(
        status=PaymentStatus.SUCCEEDED, booking_id__isnull=True
    )


def _holds_money(payment: Payment) -> bool:
    return payment.status in HELD or (
        payment.status == PaymentStatus.SUCCEEDED and payment.booking_id is None
    )


def _problem(payment: Payment, refund: Refund | None, now: datetime) -> tuple[str, bool]:
    if payment.status == PaymentStatus.REFUND_PENDING:
        attempts = refund.attempts if refund is not None else 0
        if attempts >= REFUND_ATTEMPTS_BEFORE_ALERT:
            return (
                f"Refund refused by the gateway {attempts} times; "
                f"still retrying. {payment.failure_reason}",
                True,
            )
        return f"Refund on its way. {payment.failure_reason}", attempts > 0
    if payment.status == PaymentStatus.FLAGGED:
        return f"Money held without a booking. {payment.failure_reason}", True
    if payment.status == PaymentStatus.SUCCEEDED:
        if payment.booking_id is not None:
            return "Paid: it is a booking.", False
        return "Paid, but no booking was made from it.", True
    if payment.status == PaymentStatus.FAILED:
        return f"Failed. {payment.failure_reason or ''}".strip(), False
    if payment.status == PaymentStatus.REFUNDED:
        return f"Refunded. {payment.failure_reason or ''}".strip(), False
    age = now - payment.created_at
    if age > STALE_AFTER:
        minutes = int(age.total_seconds() // 60)
        return (
            f"No word from the gateway for {minutes} minutes: the payer may have given up, "
            "or the gateway's notification was lost.",
            True,
        )
    return "The payer is at the gateway's page.", False


async def payments_needing_attention(now: datetime, limit: int = 100) -> list[PaymentCase]:
    """Every payment not in a final state, money held without a booking first."""
    payments = await Payment.filter(_unfinished()).order_by("created_at").limit(limit)
    cases = await _cases(list(payments), now)
    cases.sort(key=lambda c: (not _holds_money(c.payment), not c.urgent, c.payment.created_at))
    return cases


# The payments page's "Show" choices besides a plain status: the two kinds of payment
# needing attention, each its own list so money held comes first without a sort no index
# can serve.
MONEY_HELD = "money_held"  # money taken and not applied: refund or resolve it
WAITING_PAYER = "waiting"  # no answer from the gateway yet


@dataclass(frozen=True)
class PaymentFilter:
    show: str = MONEY_HELD  # MONEY_HELD, WAITING_PAYER or a PaymentStatus value
    gateway: str = ""


def _money_held() -> Q:
    return Q(status__in=list(HELD)) | Q(status=PaymentStatus.SUCCEEDED, booking_id__isnull=True)


async def payment_page(
    now: datetime, filters: PaymentFilter, window: keyset.Window
) -> keyset.Page[PaymentCase]:
    """One page of payments, each with its problem and history: those needing attention
    the oldest first, any other status the latest first."""
    if filters.show == MONEY_HELD:
        query, order = Payment.filter(_money_held()), ("created_at", "id")
    elif filters.show == WAITING_PAYER:
        query, order = Payment.filter(status__in=list(WAITING)), ("created_at", "id")
    else:
        query, order = Payment.filter(status=PaymentStatus(filters.show)), ("-created_at", "-id")
    if filters.gateway:
        query = query.filter(gateway=filters.gateway)
    page = await keyset.read_page(query, order, window)
    return page.with_rows(await _cases(page.rows, now))


async def _cases(payments: list[Payment], now: datetime) -> list[PaymentCase]:
    ids = [p.id for p in payments]
    own_refunds = await Refund.filter(payment_id__in=ids)
    refund_of = {str(r.id): r.payment_id for r in own_refunds}
    logs = await ActivityLog.filter(
        Q(subject_type="Payment", subject_id__in=[str(i) for i in ids])
        | Q(subject_type="Refund", subject_id__in=list(refund_of))
    )
    events = await PaymentEvent.filter(payment_id__in=ids).order_by("received_at")
    pending = {
        r.payment_id: r
        for r in own_refunds
        if r.status == RefundState.PENDING and r.cancellation_id is None
    }

    def about(log: ActivityLog, payment_id: int) -> bool:
        if log.subject_type == "Refund":
            return refund_of.get(log.subject_id) == payment_id
        return log.subject_id == str(payment_id)

    cases = []
    for payment in payments:
        refund = pending.get(payment.id)
        settled = not (payment.status in WAITING or _holds_money(payment))
        problem, urgent = _problem(payment, refund, now)
        amount, currency = captured(payment)
        cases.append(
            PaymentCase(
                payment=payment,
                problem=problem,
                urgent=urgent,
                captured_amount=amount,
                captured_currency=currency,
                history=sorted(
                    (log for log in logs if about(log, payment.id)),
                    key=lambda log: (log.created_at, log.id),
                ),
                events=[e for e in events if e.payment_id == payment.id],
                refund=refund,
                can_refund=bool(payment.gateway_reference) and not settled,
                settled=settled,
                resolve_label=(
                    "Record that it was refunded outside Busbook"
                    if _holds_money(payment)
                    else "Close it: no money was taken"
                ),
            )
        )
    return cases


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed({"reason": "Say why; the reason goes into the audit log."})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": f"Keep the reason under {REASON_MAX} characters."})
    return reason


async def _locked(conn: BaseDBAsyncClient, payment_ref: str) -> Payment:
    if not public_ids.looks_like(payment_ref, public_ids.PAYMENT):
        raise PaymentNotFound()
    payment = await Payment.filter(public_id=payment_ref).select_for_update().using_db(conn).first()
    if payment is None:
        raise PaymentNotFound()
    return payment


async def refund_by_operator(
    admin: User,
    payment_ref: str,
    reason: str,
    *,
    gateways: Gateways,
    now: datetime,
) -> Payment:
    """Send the full refund of a payment that holds (or may hold) money without a booking,
    now. A pending payment is refunded too (the gateway took the money and never told us);
    any later news from the gateway about it is then ignored. A refund already on its way
    (refused so far) is sent now instead of after its backoff: never a second refund."""
    reason = _reason(reason)
    async with locking.transaction() as conn:
        payment = await _locked(conn, payment_ref)
        if not (payment.status in WAITING or _holds_money(payment)):
            raise Conflict("This payment is already settled; there is nothing to refund.")
        if not payment.gateway_reference:
            raise Conflict(
                "This payment never reached the gateway, so there is nothing to refund. "
                "Close it instead."
            )
        refund = await refunds.pending_full_refund(conn, payment.id)
        if refund is not None:
            await refunds.expedite(conn, refund, actor=admin, reason=reason, now=now)
        else:
            payment.status = PaymentStatus.REFUND_PENDING
            payment.failure_reason = f"Refund requested by an operator: {reason}"[:255]
            payment.updated_at = now
            await payment.save(
                update_fields=["status", "failure_reason", "updated_at"], using_db=conn
            )
            amount, currency = captured(payment)
            await refunds.request_refund(
                conn,
                payment,
                amount=amount,
                currency=currency,
                code=refunds.OPERATOR,
                reason=reason,
                now=now,
                actor=admin,
            )
    await refunds.send_payment_refunds(payment.id, gateways=gateways, now=now)
    await payment.refresh_from_db()
    return payment


async def resolve_payment(admin: User, payment_ref: str, reason: str, *, now: datetime) -> Payment:
    """Record how a payment was settled outside Busbook: one that took no money is closed
    as failed; one holding money is marked refunded (the operator paid it back by other
    means). Either way the reason lands in the audit log."""
    reason = _reason(reason)
    async with locking.transaction() as conn:
        payment = await _locked(conn, payment_ref)
        if payment.status in WAITING:
            payment.status = PaymentStatus.FAILED
            payment.failure_reason = f"Closed by an operator: {reason}"[:255]
            outcome = "closed"
        elif _holds_money(payment):
            # The money went back by other means: its refund (made now if there was none)
            # is closed, so the retry loop leaves it and the payment counts it refunded.
            refund = await refunds.pending_full_refund(conn, payment.id)
            if refund is None:
                amount, currency = captured(payment)
                refund = await refunds.request_refund(
                    conn,
                    payment,
                    amount=amount,
                    currency=currency,
                    code=refunds.OPERATOR,
                    reason=reason,
                    now=now,
                    actor=admin,
                )
            await refunds.close(conn, refund, payment, actor=admin, reason=reason, now=now)
            payment.status = PaymentStatus.REFUNDED
            payment.failure_reason = f"Refunded outside Busbook: {reason}"[:255]
            outcome = "refunded_outside"
        else:
            raise Conflict("This payment is already settled.")
        payment.updated_at = now
        await payment.save(using_db=conn)
        await audit.record(
            "payment.resolved",
            now=now,
            actor=admin,
            subject=payment,
            using_db=conn,
            data={"reason": reason, "outcome": outcome, "status": payment.status.value},
        )
    return payment
