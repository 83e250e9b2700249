"""Indexes for the lookups that run on every hold, cancel, expiry and payment.

Without them the hold-limit count walked every active hold on the platform to find one
customer's, and ending a hold (cancel, expiry, release, payment) scanned the whole
`seat_allocations` table, which only grows, to find the hold's seats.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEXES = {
    # hold limits (per customer, per trip) and "My holds"
    "reservations_active_by_user": "reservations (user_id, schedule_id) WHERE status = 'active'",
    # a hold's seats: cancel, expiry, release, payment, the hold page
    "seat_allocations_by_reservation": "seat_allocations (reservation_id)",
    # a booking's seats: cancellations
    "seat_allocations_by_booking": "seat_allocations (booking_id) WHERE booking_id IS NOT NULL",
    # "My bookings"
    "bookings_by_user": "bookings (user_id, created_at)",
    # a hold's payments: checkout, late money
    "payments_by_reservation": "payments (reservation_id)",
}


class Migration(migrations.Migration):
    dependencies = [("busbook", "0004_cancellation_payment")]

    operations = [
        ops.RunSQL(f"CREATE INDEX {name} ON {target}", reverse_sql=f"DROP INDEX {name}")
        for name, target in INDEXES.items()
    ]
