"""Payments needing attention: every unfinished payment is listed with its history, and an
operator can refund it or record how it was settled, with a reason, audited."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from domain import payment_review, refunds
from domain.enums import PaymentStatus, RefundState
from domain.errors import Conflict, ValidationFailed
from domain.models import ActivityLog, Booking, Payment, Refund
from tests import factories
from tests.integration.test_checkout import NOW, deliver, start
from tests.integration.test_checkout import gateways as gateways
from tests.integration.test_checkout import held as held
from tests.integration.test_checkout import simulator as simulator

pytestmark = pytest.mark.usefixtures("db")


async def test_money_the_gateway_will_not_refund_is_listed_first_and_refunded_by_hand(
    held, gateways, simulator
):
    stale = await start(held, gateways)  # a payer who never came back
    simulator.fail_refunds = True
    mismatched = await start(held, gateways)
    await deliver(simulator, gateways, mismatched, amount=Decimal("1.00"))
    cases = await payment_review.payments_needing_attention(NOW + timedelta(hours=1))
    assert [c.payment.id for c in cases] == [mismatched.id, stale.id]
    first, second = cases
    assert first.payment.status == PaymentStatus.REFUND_PENDING and first.urgent
    assert first.captured_amount == Decimal("1.00")
    assert {"payment.started", "payment.amount_mismatched", "refund.failed"} <= {
        log.action for log in first.history
    }
    assert len(first.events) == 1
    assert "No word from the gateway for 60 minutes" in second.problem

    admin = await factories.make_user(admin=True)
    with pytest.raises(ValidationFailed):
        await payment_review.refund_by_operator(
            admin, mismatched.public_id, "  ", gateways=gateways, now=NOW
        )
    simulator.fail_refunds = False
    refunded = await payment_review.refund_by_operator(
        admin,
        mismatched.public_id,
        "customer called, gateway fixed",
        gateways=gateways,
        now=NOW,
    )
    assert refunded.status == PaymentStatus.REFUNDED
    assert refunded.refunded_amount == Decimal("1.00")
    # The refund already on its way (refused so far) is sent now: no second refund.
    asked = await ActivityLog.get(action="refund.expedited")
    assert asked.actor_id == admin.id and asked.data["reason"] == "customer called, gateway fixed"
    with pytest.raises(Conflict):
        await payment_review.refund_by_operator(
            admin, mismatched.public_id, "again", gateways=gateways, now=NOW
        )


async def test_closing_a_stale_payment_still_lets_late_money_be_applied(held, gateways, simulator):
    payment = await start(held, gateways)
    admin = await factories.make_user(admin=True)
    closed = await payment_review.resolve_payment(
        admin, payment.public_id, "payer abandoned the gateway page", now=NOW
    )
    assert closed.status == PaymentStatus.FAILED
    log = await ActivityLog.get(action="payment.resolved")
    assert log.data == {
        "reason": "payer abandoned the gateway page",
        "outcome": "closed",
        "status": "failed",
    }
    assert log.actor_id == admin.id
    assert await payment_review.payments_needing_attention(NOW) == []
    # The gateway had taken the money after all: it still becomes the booking.
    paid = await deliver(simulator, gateways, payment)
    assert paid.status == PaymentStatus.SUCCEEDED
    assert await Booking.filter(id=paid.booking_id).exists()


async def test_money_refunded_outside_busbook_is_recorded_with_its_reason(
    held, gateways, simulator
):
    simulator.fail_refunds = True
    payment = await start(held, gateways)
    await deliver(simulator, gateways, payment, currency="USD")
    admin = await factories.make_user(admin=True)
    resolved = await payment_review.resolve_payment(
        admin, payment.public_id, "refunded by bank transfer, ticket 4411", now=NOW
    )
    assert resolved.status == PaymentStatus.REFUNDED
    assert resolved.refunded_amount == payment.amount
    closed = await Refund.get(payment_id=payment.id)
    assert closed.status == RefundState.CLOSED and closed.next_attempt_at is None
    # The retry loop leaves it alone from now on.
    simulator.fail_refunds = False
    await refunds.retry_refunds(gateways=gateways, now=NOW + timedelta(hours=2))
    assert simulator.refunds == []
    with pytest.raises(Conflict):
        await payment_review.resolve_payment(admin, payment.public_id, "twice", now=NOW)


async def test_a_legacy_flagged_payment_is_listed_and_refundable(held, gateways, simulator):
    payment = await start(held, gateways)
    await Payment.filter(id=payment.id).update(status=PaymentStatus.FLAGGED)
    (case,) = await payment_review.payments_needing_attention(NOW)
    assert case.urgent and case.can_refund
    admin = await factories.make_user(admin=True)
    refunded = await payment_review.refund_by_operator(
        admin, payment.public_id, "old flagged payment", gateways=gateways, now=NOW
    )
    assert refunded.status == PaymentStatus.REFUNDED


async def test_an_operator_and_the_retry_loops_refund_once(held, gateways, simulator):
    simulator.fail_refunds = True
    payment = await start(held, gateways)
    await deliver(simulator, gateways, payment, amount=Decimal("5.00"))
    simulator.fail_refunds = False
    admin = await factories.make_user(admin=True)
    later = NOW + timedelta(hours=2)
    await asyncio.gather(
        payment_review.refund_by_operator(
            admin, payment.public_id, "now please", gateways=gateways, now=later
        ),
        refunds.retry_refunds(gateways=gateways, now=later),
        refunds.retry_refunds(gateways=gateways, now=later),
    )
    assert [amount for _, amount in simulator.refunds] == [Decimal("5.00")]
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.REFUNDED
