"""Idempotency keys for the JSON API (issue 11): the first answer to a creating request,
kept for a day so a client that lost it can send the same request again safely."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("busbook", "0010_refunds")]

    initial = False

    operations = [
        ops.CreateModel(
            name="IdempotencyKey",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("scope", fields.CharField(max_length=80)),
                ("key", fields.CharField(max_length=255)),
                ("fingerprint", fields.CharField(max_length=64)),
                ("response_status", fields.SmallIntField(null=True)),
                ("response_body", fields.TextField(default="")),
                ("response_headers", fields.JSONField(default=dict)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "completed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "idempotency_keys",
                "app": "busbook",
                "unique_together": (("scope", "key"),),
                "indexes": [Index(fields=["expires_at"])],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
