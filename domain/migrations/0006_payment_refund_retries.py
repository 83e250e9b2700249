"""Refunds of money that could not become a booking are retried with backoff and counted,
so the console can show the ones the gateway keeps refusing."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("busbook", "0005_hot_path_indexes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Payment",
            name="refund_attempts",
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name="Payment",
            name="next_refund_at",
            field=fields.DatetimeField(null=True),
        ),
    ]
