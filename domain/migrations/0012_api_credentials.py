"""The JSON API's own credentials (issue 11): refresh tokens (opaque, stored as their
SHA-256, grouped in families that rotate) and admin API keys (stored as their SHA-256,
found by a non-secret prefix). Both tables are new, so the way back drops them.
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("busbook", "0011_idempotency_keys")]

    initial = False

    operations = [
        ops.CreateModel(
            name="RefreshToken",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refresh_tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("family", fields.CharField(max_length=32)),
                ("token_hash", fields.CharField(max_length=64, unique=True)),
                ("session_version", fields.IntField()),
                ("issued_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "revoked_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("revoked_reason", fields.CharField(default="", max_length=32)),
                ("ip", fields.CharField(null=True, max_length=64)),
            ],
            options={"table": "refresh_tokens", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ApiKey",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(max_length=80)),
                ("prefix", fields.CharField(max_length=16, unique=True)),
                ("secret_hash", fields.CharField(max_length=64)),
                (
                    "created_by",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="created_by_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="api_keys",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "last_used_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "revoked_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "revoked_by",
                    fields.ForeignKeyField(
                        "busbook.User",
                        source_field="revoked_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
            ],
            options={"table": "api_keys", "app": "busbook", "pk_attr": "id"},
            bases=["Model"],
        ),
        # Reuse revokes a family; logout revokes a user's tokens that are still open.
        ops.RunSQL(
            "CREATE INDEX refresh_tokens_family ON refresh_tokens (family)",
            reverse_sql="DROP INDEX refresh_tokens_family",
        ),
        ops.RunSQL(
            "CREATE INDEX refresh_tokens_open_by_user ON refresh_tokens (user_id) "
            "WHERE revoked_at IS NULL",
            reverse_sql="DROP INDEX refresh_tokens_open_by_user",
        ),
    ]
