"""Non-guessable public ids for holds, payments and cancellations (issue 9): URLs showed
the integer keys, so a customer's first hold at /reservations/4 told how many came before.

Existing rows get theirs from the column default, which also serves rows inserted in plain
SQL (the hold); the ORM makes the same shape in Python (domain.public_ids).
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

TABLES = {
    "Reservation": ("reservations", "rsv"),
    "Payment": ("payments", "pay"),
    "Cancellation": ("cancellations", "cnl"),
}


class StateOnlyAddField(ops.AddField):
    """Record the field in the migration state; the RunSQL below makes the column (a
    NOT NULL column on a filled table needs its default first)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        return None


def _sql(table: str, prefix: str) -> str:
    return (
        f"ALTER TABLE {table} ADD COLUMN public_id varchar(36) NOT NULL "
        f"DEFAULT ('{prefix}_' || replace(gen_random_uuid()::text, '-', '')); "
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_public_id_key UNIQUE (public_id)"
    )


class Migration(migrations.Migration):
    dependencies = [("busbook", "0006_payment_refund_retries")]

    initial = False

    operations = [
        op
        for model, (table, prefix) in TABLES.items()
        for op in (
            StateOnlyAddField(
                model_name=model,
                name="public_id",
                field=fields.CharField(max_length=36, unique=True),
            ),
            ops.RunSQL(
                _sql(table, prefix),
                reverse_sql=f"ALTER TABLE {table} DROP COLUMN public_id",
            ),
        )
    ]
