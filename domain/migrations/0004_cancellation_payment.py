from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("busbook", "0003_payment_checkout")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Cancellation",
            name="last_error",
            field=fields.CharField(default="", max_length=255),
        ),
        ops.AddField(
            model_name="Cancellation",
            name="payment",
            field=fields.ForeignKeyField(
                "busbook.Payment",
                source_field="payment_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="cancellations",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
    ]
