import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from domain.enums import PaymentStatus


class Migration(migrations.Migration):
    dependencies = [("busbook", "0002_seat_allocation_exclusion")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="Payment",
            name="status",
            field=fields.CharEnumField(
                default=PaymentStatus.CREATED,
                description="CREATED: created\nPENDING: pending\nSUCCEEDED: succeeded\nFAILED: failed\nFLAGGED: flagged\nREFUND_PENDING: refund_pending\nREFUNDED: refunded",
                enum_type=PaymentStatus,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="Payment",
            name="checkout_data",
            field=fields.JSONField(
                default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AddField(
            model_name="Payment",
            name="checkout_url",
            field=fields.CharField(null=True, max_length=1000),
        ),
        ops.AddIndex(
            model_name="Payment",
            index=Index(fields=["gateway", "gateway_reference"]),
        ),
        ops.AddIndex(
            model_name="Payment",
            index=Index(fields=["status"]),
        ),
    ]
