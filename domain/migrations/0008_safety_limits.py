"""Safety limits (issue 9): exact attempt counters for logins, password checks and
registrations, and the address a hold came from (per-IP hold limits).

`seat_count` is filled in for holds made before it existed, so the seats-per-IP limit and
any report can rely on it.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("busbook", "0007_public_ids")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AttemptCounter",
            fields=[
                (
                    "key",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=80),
                ),
                ("window_started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("window_seconds", fields.IntField()),
                ("count", fields.IntField(default=0)),
            ],
            options={
                "table": "attempt_counters",
                "app": "busbook",
                "pk_attr": "key",
                "table_description": (
                    "One brute-force or abuse counter (domain/attempts.py): attempts under "
                    "`key` since"
                ),
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="Reservation",
            name="ip",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name="Reservation",
            name="seat_count",
            field=fields.SmallIntField(default=0),
        ),
        # a database default too: the hold's own INSERT (domain/holds.py) and older
        # processes during a rolling deploy insert without naming the column
        ops.RunSQL(
            "ALTER TABLE reservations ALTER COLUMN seat_count SET DEFAULT 0",
            reverse_sql="ALTER TABLE reservations ALTER COLUMN seat_count DROP DEFAULT",
        ),
        ops.RunSQL(
            """
            UPDATE reservations r SET seat_count = (
                SELECT count(*) FROM seat_allocations a WHERE a.reservation_id = r.id
            )
            """,
            reverse_sql="SELECT 1",
        ),
        # the per-address hold limits (domain/holds.py CHECK_SQL)
        ops.RunSQL(
            "CREATE INDEX reservations_active_by_ip ON reservations (ip, schedule_id) "
            "WHERE status = 'active' AND ip IS NOT NULL",
            reverse_sql="DROP INDEX reservations_active_by_ip",
        ),
    ]
