"""Indexes that serve the console's (and the API's) keyset lists in their order, so a page
far down a long list costs what the first one costs: the audit trail and the bookings the
newest first, payments by status then age, a route's trips by departure. (Trips by
departure and holds by state and expiry had theirs already.)
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = {
    "activity_logs_by_time": "activity_logs (created_at, id)",
    "bookings_by_time": "bookings (created_at, id)",
    "bookings_by_status_time": "bookings (status, created_at, id)",
    "payments_by_status_time": "payments (status, created_at, id)",
    "schedules_by_route_departure": "schedules (route_id, departure_at, id)",
    "api_keys_by_time": "api_keys (created_at, id)",
}


class Migration(migrations.Migration):
    dependencies = [("busbook", "0013_reservation_checkout_draft")]

    operations = [
        ops.RunSQL(f"CREATE INDEX {name} ON {target}", reverse_sql=f"DROP INDEX {name}")
        for name, target in INDEXES.items()
    ]
