"""What the customer typed on a hold's checkout form (passengers, contact, payment method),
kept on the hold so that it survives a declined payment, any refused checkout and an
expired hold held again (domain.checkout.CheckoutDraft). Nullable: holds without a draft
read as an empty form, and the way back drops the column.
"""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("busbook", "0012_api_credentials")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Reservation",
            name="checkout_draft",
            field=fields.JSONField(
                null=True,
                encoder=functools.partial(dumps, separators=(",", ":")),
                decoder=loads,
            ),
        ),
    ]
