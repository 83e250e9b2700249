"""One refund record for every refund (issue 10), and trip cancellations finished off the
request.

`refunds` replaces the two refund paths: the retry columns on payments (money that could
not become a booking) and the refund columns on cancellations, which stay as a mirror for
the pages. Every refund in flight or done is copied in, so nothing pending is lost: its
attempts, its backoff and, for the ones already tried, the gateway idempotency key the old
code derived (payment key, amount in minor units, "payment-<id>-refund" or
"cancellation-<id>"), so a retry of a refund whose answer was lost is still deduplicated
by the gateway. New refunds get `refund-<public id>`.

`trip_cancellations` holds what the worker needs to finish a cancelled trip (who, why,
when the next pass is due); cancelled trips get one from their `schedule.cancelled` audit
row, finished already when nothing is left on them.
"""

from typing import Any

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from domain.enums import RefundState

ZERO_DECIMAL = "'BIF','CLP','DJF','GNF','JPY','KMF','KRW','MGA','PYG','RWF','UGX','VND','VUV','XAF','XOF','XPF'"
THREE_DECIMAL = "'BHD','JOD','KWD','OMR','TND'"


def minor(amount: str, currency: str) -> str:
    """SQL for domain.payments.gateway_util.to_minor_units, as text."""
    return (
        f"(({amount}) * CASE WHEN upper({currency}) IN ({ZERO_DECIMAL}) THEN 1 "
        f"WHEN upper({currency}) IN ({THREE_DECIMAL}) THEN 1000 ELSE 100 END)::bigint::text"
    )


def legacy_key(payment_key: str, minor_amount: str, reason: str) -> str:
    """SQL for the old reason-derived key: refund- + 48 hex digits of
    sha256("<payment key>|<minor amount>|<reason>")."""
    text = f"{payment_key} || '|' || {minor_amount} || '|' || {reason}"
    return f"'refund-' || left(encode(sha256(convert_to({text}, 'UTF8')), 'hex'), 48)"


NEW_ID = "'rfd_' || replace(gen_random_uuid()::text, '-', '')"
CAPTURED = """
    LATERAL (SELECT
        coalesce((p.checkout_data->'captured'->>'amount')::numeric, p.amount) AS amount,
        upper(coalesce(nullif(p.checkout_data->'captured'->>'currency', ''), p.currency))
            AS currency) cap
"""
COLUMNS = """
    public_id, payment_id, cancellation_id, amount, currency, reason_code, reason, status,
    attempts, next_attempt_at, idempotency_key, gateway_refund_id, last_error,
    requested_by_id, created_at, settled_at
"""

# Money held for a refund of a payment that could not become a booking (or an operator's).
BACKFILL_PAYMENT_REFUNDS = f"""
INSERT INTO refunds ({COLUMNS})
SELECT {NEW_ID}, p.id, NULL,
       CASE WHEN p.status = 'refunded' AND p.refunded_amount > 0
            THEN p.refunded_amount ELSE cap.amount END,
       cap.currency,
       coalesce((SELECT l.data->>'code' FROM activity_logs l
                 WHERE l.subject_type = 'Payment' AND l.subject_id = p.id::text
                   AND l.action = 'payment.refund_due' ORDER BY l.id DESC LIMIT 1), 'operator'),
       left(p.failure_reason, 255),
       CASE WHEN p.status = 'refund_pending' THEN 'pending'
            WHEN p.failure_reason LIKE 'Refunded outside Busbook:%' THEN 'closed'
            ELSE 'succeeded' END,
       p.refund_attempts,
       CASE WHEN p.status = 'refund_pending' THEN coalesce(p.next_refund_at, p.updated_at) END,
       {legacy_key("p.idempotency_key", minor("cap.amount", "cap.currency"), "'payment-' || p.id || '-refund'")},
       (SELECT l.data->>'refund_reference' FROM activity_logs l
         WHERE l.subject_type = 'Payment' AND l.subject_id = p.id::text
           AND l.action = 'payment.refunded' ORDER BY l.id DESC LIMIT 1),
       '', NULL, p.updated_at,
       CASE WHEN p.status = 'refunded' THEN p.updated_at END
FROM payments p, {CAPTURED}
WHERE p.status IN ('refund_pending', 'refunded')
"""

# A cancellation's refund: pending, refused so far (failed) or sent (processed).
BACKFILL_CANCELLATION_REFUNDS = f"""
INSERT INTO refunds ({COLUMNS})
SELECT {NEW_ID}, p.id, c.id, c.refund_amount, upper(p.currency),
       CASE WHEN c.policy_tier LIKE 'Cancelled by the operator%' THEN 'trip_cancelled'
            ELSE 'cancellation' END,
       c.reason,
       CASE WHEN c.refund_status = 'processed' THEN 'succeeded' ELSE 'pending' END,
       c.refund_attempts,
       CASE WHEN c.refund_status = 'processed' THEN NULL ELSE c.created_at END,
       {legacy_key("p.idempotency_key", minor("c.refund_amount", "p.currency"), "'cancellation-' || c.id")},
       c.refund_reference, left(c.last_error, 255), c.actor_id, c.created_at, c.processed_at
FROM cancellations c JOIN payments p ON p.id = c.payment_id
WHERE c.refund_status IN ('pending', 'failed', 'processed')
"""

LIVE_WORK = """
    EXISTS (SELECT 1 FROM bookings b WHERE b.schedule_id = s.id
             AND b.status IN ('confirmed', 'partially_cancelled'))
    OR EXISTS (SELECT 1 FROM reservations r WHERE r.schedule_id = s.id AND r.status = 'active')
"""

BACKFILL_TRIP_CANCELLATIONS = f"""
INSERT INTO trip_cancellations
    (schedule_id, actor_id, reason, requested_at, next_pass_at, passes, last_failures,
     finished_at)
SELECT s.id, l.actor_id, left(coalesce(l.data->>'reason', 'Cancelled by the operator'), 255),
       coalesce(l.created_at, s.created_at),
       CASE WHEN {LIVE_WORK} THEN now() END, 0, 0,
       CASE WHEN {LIVE_WORK} THEN NULL ELSE now() END
FROM schedules s
LEFT JOIN LATERAL (
    SELECT actor_id, data, created_at FROM activity_logs
    WHERE action = 'schedule.cancelled' AND subject_type = 'Schedule'
      AND subject_id = s.id::text
    ORDER BY id DESC LIMIT 1
) l ON true
WHERE s.status = 'cancelled'
"""


class RemoveCountField(ops.RemoveField):
    """Dropping a NOT NULL counter: going back re-adds it with a database default, so the
    way back also works on a table that holds rows (a plain AddField adds the column
    NOT NULL without a default, which PostgreSQL refuses once payments exist)."""

    async def database_backward(
        self,
        app_label: str,
        old_state: Any,
        new_state: Any,
        state_editor: Any = None,
    ) -> None:
        if state_editor:
            await state_editor.client.execute_script(
                f'ALTER TABLE "payments" ADD COLUMN "{self.name}" INT NOT NULL DEFAULT 0'
            )


class Migration(migrations.Migration):
    dependencies = [("busbook", "0009_allocation_schedule_seat")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Refund",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("public_id", fields.CharField(max_length=36, unique=True)),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "busbook.Payment",
                        source_field="payment_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refunds",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "cancellation",
                    fields.OneToOneField(
                        "busbook.Cancellation",
                        source_field="cancellation_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="refund",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("amount", fields.DecimalField(max_digits=12, decimal_places=2)),
                ("currency", fields.CharField(max_length=3)),
                ("reason_code", fields.CharField(max_length=32)),
                ("reason", fields.CharField(default="", max_length=255)),
                (
                    "status",
                    fields.CharEnumField(
                        default=RefundState.PENDING,
                        description="PENDING: pending\nSUCCEEDED: succeeded\nCLOSED: closed",
                        enum_type=RefundState,
                        max_length=16,
                    ),
                ),
                ("attempts", fields.IntField(default=0)),
                (
                    "next_attempt_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("idempotency_key", fields.CharField(max_length=64, unique=True)),
                ("gateway_refund_id", fields.CharField(null=True, max_length=128)),
                ("last_error", fields.CharField(default="", max_length=255)),
                (
                    "requested_by",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="requested_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "settled_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "refunds",
                "app": "busbook",
                "indexes": [Index(fields=["status", "next_attempt_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TripCancellation",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "schedule",
                    fields.OneToOneField(
                        "busbook.Schedule",
                        source_field="schedule_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="cancellation",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "actor",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="actor_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("reason", fields.CharField(max_length=255)),
                ("requested_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "next_pass_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("passes", fields.IntField(default=0)),
                ("last_failures", fields.IntField(default=0)),
                (
                    "finished_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={"table": "trip_cancellations", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.RunSQL(
            f"ALTER TABLE refunds ALTER COLUMN public_id SET DEFAULT ({NEW_ID})",
            reverse_sql="ALTER TABLE refunds ALTER COLUMN public_id DROP DEFAULT",
        ),
        # At most one full refund per payment (a cancellation's refund is one per cancellation
        # by its unique column): a second one could only be a double refund.
        ops.RunSQL(
            "CREATE UNIQUE INDEX refunds_one_full_refund_per_payment ON refunds (payment_id) "
            "WHERE cancellation_id IS NULL",
            reverse_sql="DROP INDEX refunds_one_full_refund_per_payment",
        ),
        ops.RunSQL(
            "CREATE INDEX refunds_payment ON refunds (payment_id)",
            reverse_sql="DROP INDEX refunds_payment",
        ),
        ops.RunSQL(
            "CREATE INDEX trip_cancellations_due ON trip_cancellations (next_pass_at) "
            "WHERE finished_at IS NULL",
            reverse_sql="DROP INDEX trip_cancellations_due",
        ),
        ops.RunSQL(BACKFILL_PAYMENT_REFUNDS, reverse_sql="SELECT 1"),
        ops.RunSQL(BACKFILL_CANCELLATION_REFUNDS, reverse_sql="SELECT 1"),
        ops.RunSQL(BACKFILL_TRIP_CANCELLATIONS, reverse_sql="SELECT 1"),
        RemoveCountField(model_name="Payment", name="refund_attempts"),
        ops.RemoveField(model_name="Payment", name="next_refund_at"),
    ]
