"""Invariant 1 in the database: a seat is never allocated twice on overlapping stops.

`stops` is generated from (from_seq, to_seq) so the ORM keeps writing plain integers, and the
exclusion constraint (btree_gist for the `=` parts) refuses any overlapping active pair.
Adjacent segments ([0,1) and [1,2)) do not overlap, so a seat can be sold twice on one trip.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("busbook", "0001_initial")]

    operations = [
        ops.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS btree_gist",
            reverse_sql="SELECT 1",
        ),
        ops.RunSQL(
            """
            ALTER TABLE seat_allocations
                ADD CONSTRAINT seat_allocations_segment_valid CHECK (from_seq < to_seq),
                ADD COLUMN stops int4range
                    GENERATED ALWAYS AS (int4range(from_seq, to_seq)) STORED,
                ADD CONSTRAINT seat_allocations_one_holder_per_segment
                    EXCLUDE USING gist (schedule_id WITH =, seat_id WITH =, stops WITH &&)
                    WHERE (active),
                ADD CONSTRAINT seat_allocations_owner CHECK (
                    (kind = 'hold' AND reservation_id IS NOT NULL)
                    OR (kind = 'booking' AND booking_id IS NOT NULL)
                )
            """,
            reverse_sql="""
            ALTER TABLE seat_allocations
                DROP CONSTRAINT seat_allocations_owner,
                DROP CONSTRAINT seat_allocations_one_holder_per_segment,
                DROP COLUMN stops,
                DROP CONSTRAINT seat_allocations_segment_valid
            """,
        ),
        ops.RunSQL(
            "CREATE INDEX seat_allocations_active_by_schedule "
            "ON seat_allocations (schedule_id) WHERE active",
            reverse_sql="DROP INDEX seat_allocations_active_by_schedule",
        ),
        ops.RunSQL(
            "CREATE INDEX route_stops_city ON route_stops (city_id, route_id, seq)",
            reverse_sql="DROP INDEX route_stops_city",
        ),
        ops.RunSQL(
            "CREATE INDEX cities_name_lower ON cities (lower(name) text_pattern_ops)",
            reverse_sql="DROP INDEX cities_name_lower",
        ),
    ]
