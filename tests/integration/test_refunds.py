"""The one refund path: a Refund row per refund, claimed before it is sent, sent with its
own idempotency key, and never lost between a claim and its settlement.

Found in review (issue 10, defect 3): the cancellations' refund retries ran in every
process without claiming rows, so two processes sent the same refund twice, and their
gateway idempotency key was derived from the free-text reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from tortoise.transactions import in_transaction

from domain import cancellations, refunds
from domain.enums import PaymentStatus, RefundState, RefundStatus
from domain.models import ActivityLog, Cancellation, Payment, Refund
from domain.payments.gateway_util import to_minor_units
from domain.payments.registry import Gateways
from tests.integration.test_cancellations import CONFIG, DEPARTURE, buy
from tests.integration.test_cancellations import simulator as simulator
from tests.integration.test_gateways import FakeAPI, stripe_gateway
from tests.integration.test_gateways import fake as fake
from tests.integration.test_gateways import fake_server as fake_server
from tests.integrity import assert_integrity

pytestmark = pytest.mark.usefixtures("db")
AT = DEPARTURE - timedelta(hours=100)  # 90% refund tier


async def stripe_bookings(fake: FakeAPI, simulator, count: int):
    """`count` paid bookings whose payments went through Stripe (the local fake)."""
    gateways = Gateways([simulator, stripe_gateway(fake.url)])
    bought = [await buy(gateways, simulator, 1) for _ in range(count)]
    for _, booking, _ in bought:
        await Payment.filter(booking_id=booking.id).update(
            gateway="stripe", gateway_reference=f"pi_3Q{booking.id:06d}"
        )
    return gateways, bought


async def cancel_while_stripe_refuses(fake: FakeAPI, gateways, bought) -> None:
    fake.fail(503, times=len(bought))  # every first attempt is refused
    for user, booking, passengers in bought:
        cancellation = await cancellations.cancel_booking(
            user, booking, [passengers[0].id], now=AT, gateways=gateways, config=CONFIG
        )
        assert cancellation.refund_status == RefundStatus.FAILED


async def test_two_retry_loops_send_each_due_refund_to_the_gateway_once(fake, simulator):
    gateways, bought = await stripe_bookings(fake, simulator, 4)
    await cancel_while_stripe_refuses(fake, gateways, bought)
    assert len(fake.of("POST", "/v1/refunds")) == 4  # the refused first attempts
    fake.requests.clear()
    due = AT + timedelta(minutes=1)
    # Two processes' retry loops wake up at the same moment.
    done = await asyncio.gather(
        refunds.retry_refunds(gateways=gateways, now=due),
        refunds.retry_refunds(gateways=gateways, now=due),
    )
    sent = fake.of("POST", "/v1/refunds")
    rows = await Refund.all().order_by("id")
    assert sum(done) == 4 and len(sent) == 4  # each refund reached Stripe exactly once
    assert sorted(r.headers["idempotency-key"] for r in sent) == sorted(
        f"refund-{r.public_id}" for r in rows
    )
    assert {r.status for r in rows} == {RefundState.SUCCEEDED}
    for cancellation in await Cancellation.all():
        assert cancellation.refund_status == RefundStatus.PROCESSED
    await assert_integrity()


async def test_the_idempotency_key_is_the_refunds_own_not_its_reason(fake, simulator):
    gateways, bought = await stripe_bookings(fake, simulator, 1)
    await cancel_while_stripe_refuses(fake, gateways, bought)
    refund = await Refund.get()
    assert refund.idempotency_key == f"refund-{refund.public_id}"
    # Whatever the reason says by the next attempt, the gateway sees the same refund.
    await Refund.filter(id=refund.id).update(reason="Customer asked again, see ticket 7")
    await refunds.retry_refunds(gateways=gateways, now=AT + timedelta(minutes=1))
    first, second = fake.of("POST", "/v1/refunds")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert second.headers["idempotency-key"] == refund.idempotency_key
    assert second.form["metadata[reason]"] == "Customer asked again, see ticket 7"


async def test_a_refund_whose_sender_died_is_sent_again_after_its_lease_with_the_same_key(
    fake, simulator
):
    gateways, bought = await stripe_bookings(fake, simulator, 1)
    await cancel_while_stripe_refuses(fake, gateways, bought)
    due = AT + timedelta(minutes=1)
    # The gateway takes the refund but answers slowly; the process dies meanwhile.
    fake.fail(200, {"id": "re_3Qslow", "object": "refund", "status": "succeeded"}, delay=1)
    sender = asyncio.create_task(refunds.retry_refunds(gateways=gateways, now=due))
    for _ in range(50):
        if len(fake.of("POST", "/v1/refunds")) == 2:
            break
        await asyncio.sleep(0.02)
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sender
    await asyncio.sleep(1.2)  # the slow answer is delivered to nobody
    refund = await Refund.get()
    assert refund.status == RefundState.PENDING  # still owed: the money is not lost
    await assert_integrity()
    # Within the lease nobody sends it again ...
    assert await refunds.retry_refunds(gateways=gateways, now=due + timedelta(minutes=1)) == 0
    assert len(fake.of("POST", "/v1/refunds")) == 2
    # ... after it, it goes again with the same key, so the gateway does not pay twice.
    later = due + refunds.REFUND_LEASE + timedelta(seconds=1)
    fake.replays[refund.idempotency_key] = (200, {"id": "re_3Qslow", "object": "refund"})
    assert await refunds.retry_refunds(gateways=gateways, now=later) == 1
    keys = [r.headers["idempotency-key"] for r in fake.of("POST", "/v1/refunds")]
    assert keys == [refund.idempotency_key] * 3
    await refund.refresh_from_db()
    assert refund.status == RefundState.SUCCEEDED and refund.gateway_refund_id == "re_3Qslow"
    await assert_integrity()


async def test_every_refund_speaks_one_audit_vocabulary(simulator):
    gateways = Gateways([simulator])
    user, booking, passengers = await buy(gateways, simulator, 2)
    simulator.fail_refunds = True
    cancellation = await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=AT, gateways=gateways, config=CONFIG
    )
    simulator.fail_refunds = False
    await refunds.retry_refunds(gateways=gateways, now=AT + timedelta(minutes=1))
    logs = await ActivityLog.filter(action__startswith="refund.").order_by("id")
    assert [log.action for log in logs] == ["refund.requested", "refund.failed", "refund.succeeded"]
    payment = await Payment.get(booking_id=booking.id)
    for log in logs:
        assert log.subject_type == "Refund"
        assert log.data["payment_id"] == payment.id
        assert log.data["cancellation_id"] == cancellation.id
    assert not await ActivityLog.filter(action__startswith="payment.refund").exists()
    assert payment.refunded_amount == cancellation.refund_amount
    assert payment.status == PaymentStatus.SUCCEEDED  # still the booking's payment


async def test_a_second_full_refund_of_one_payment_is_refused_by_the_database(simulator):
    from tortoise.exceptions import IntegrityError

    gateways = Gateways([simulator])
    _, booking, _ = await buy(gateways, simulator, 1)
    payment = await Payment.get(booking_id=booking.id)
    async with in_transaction() as conn:
        await refunds.request_refund(
            conn, payment, amount=Decimal(1), currency="INR", code="operator", reason="a", now=AT
        )
    with pytest.raises(IntegrityError):
        async with in_transaction() as conn:
            await refunds.request_refund(
                conn,
                payment,
                amount=Decimal(1),
                currency="INR",
                code="operator",
                reason="b",
                now=AT,
            )
    await Refund.all().delete()  # the test's stray refund: nothing owed on a live booking


class Rollback(Exception):
    pass


def old_key(payment_key: str, amount: Decimal, currency: str, reason: str) -> str:
    """The key the old code derived from the reason (gateway_util.refund_idempotency_key)."""
    minor = to_minor_units(amount, currency)
    return "refund-" + hashlib.sha256(f"{payment_key}|{minor}|{reason}".encode()).hexdigest()[:48]


async def test_the_migration_carries_every_refund_in_flight_over(simulator):
    """Migration 0010 on rows as the old code left them: a payment refund retrying, one
    done, a cancellation refund that failed and one processed."""
    migration = importlib.import_module("domain.migrations.0010_refunds")
    gateways = Gateways([simulator])
    user, booking, passengers = await buy(gateways, simulator, 2)
    cancellation = await cancellations.cancel_booking(
        user, booking, [passengers[0].id], now=AT, gateways=gateways, config=CONFIG
    )
    simulator.fail_refunds = True
    failed = await cancellations.cancel_booking(
        user, booking, [passengers[1].id], now=AT, gateways=gateways, config=CONFIG
    )
    _, other, _ = await buy(gateways, simulator, 1)
    owed = await Payment.get(booking_id=other.id)
    _, third, _ = await buy(gateways, simulator, 1)
    done = await Payment.get(booking_id=third.id)
    paid = await Payment.get(booking_id=booking.id)
    found = {}
    with pytest.raises(Rollback):
        async with in_transaction() as conn:
            await conn.execute_script(
                """
                DELETE FROM refunds;
                ALTER TABLE payments ADD COLUMN refund_attempts int NOT NULL DEFAULT 0,
                                     ADD COLUMN next_refund_at timestamptz;
                """
            )
            await conn.execute_query(
                "UPDATE payments SET status = 'refund_pending', booking_id = NULL, "
                "refund_attempts = 3, next_refund_at = $2 WHERE id = $1",
                [owed.id, AT],
            )
            await conn.execute_query(
                "UPDATE payments SET status = 'refunded', booking_id = NULL, "
                "refunded_amount = amount WHERE id = $1",
                [done.id],
            )
            for sql in (
                migration.BACKFILL_PAYMENT_REFUNDS,
                migration.BACKFILL_CANCELLATION_REFUNDS,
            ):
                await conn.execute_query(sql)
            for row in await conn.execute_query_dict("SELECT * FROM refunds"):
                found[(row["payment_id"], row["cancellation_id"])] = row
            raise Rollback()
    assert len(found) == 4
    retrying = found[(owed.id, None)]
    assert (retrying["status"], retrying["attempts"]) == ("pending", 3)
    assert retrying["next_attempt_at"] == AT and retrying["amount"] == owed.amount
    assert retrying["idempotency_key"] == old_key(
        owed.idempotency_key, owed.amount, "INR", f"payment-{owed.id}-refund"
    )
    assert found[(done.id, None)]["status"] == "succeeded"
    sent = found[(paid.id, cancellation.id)]
    assert sent["status"] == "succeeded" and sent["gateway_refund_id"].startswith("sim_rf_")
    pending = found[(paid.id, failed.id)]
    assert pending["status"] == "pending" and pending["attempts"] == 1
    assert pending["reason_code"] == "cancellation"
    assert pending["idempotency_key"] == old_key(
        paid.idempotency_key, failed.refund_amount, "INR", f"cancellation-{failed.id}"
    )
    assert all(r["public_id"].startswith("rfd_") for r in found.values())
