"""The integrity queries: what must hold after any test, fault or attack.

Each query returns the rows that break an invariant, so an empty result is the pass. Tests
call `integrity_violations()` (or `assert_integrity()`) at their end; the payment tests run
it after every test through an autouse fixture.
"""

from __future__ import annotations

from typing import Any

from tortoise import connections

# Name -> SQL returning offending rows.
QUERIES: dict[str, str] = {
    # Invariant 1 (the exclusion constraint enforces it on the inventory row; this proves it
    # from outside, for the bus seat the passengers would sit on).
    "overlapping allocations": """
        SELECT a.id AS first, b.id AS second, a.schedule_id, sa.seat_id AS bus_seat_id
        FROM seat_allocations a
        JOIN schedule_seats sa ON sa.id = a.schedule_seat_id
        JOIN seat_allocations b ON a.schedule_id = b.schedule_id AND a.id < b.id
        JOIN schedule_seats sb ON sb.id = b.schedule_seat_id
        WHERE sa.schedule_id = a.schedule_id AND sb.schedule_id = b.schedule_id
          AND sa.seat_id = sb.seat_id
          AND a.active AND b.active
          AND int4range(a.from_seq, a.to_seq) && int4range(b.from_seq, b.to_seq)
    """,
    # Invariant 4: money the gateway captured ends as a booking or a refund (a Refund row,
    # pending until the gateway takes it), and the refunds add up.
    "captured money without a booking": """
        SELECT id, status, amount FROM payments
        WHERE status = 'succeeded' AND booking_id IS NULL
    """,
    "captured money kept on hold (flagged)": """
        SELECT id, status, amount FROM payments WHERE status = 'flagged'
    """,
    "money owed back without a refund on its way": """
        SELECT p.id, p.status FROM payments p
        WHERE p.status = 'refund_pending' AND NOT EXISTS (
            SELECT 1 FROM refunds r WHERE r.payment_id = p.id AND r.status = 'pending')
    """,
    "a refunded payment without its refund": """
        SELECT p.id FROM payments p
        WHERE p.status = 'refunded' AND NOT EXISTS (
            SELECT 1 FROM refunds r WHERE r.payment_id = p.id AND r.cancellation_id IS NULL
               AND r.status IN ('succeeded', 'closed'))
    """,
    "a cancellation's refund without a refund record": """
        SELECT c.id, c.refund_status FROM cancellations c
        WHERE c.refund_status <> 'none' AND NOT EXISTS (
            SELECT 1 FROM refunds r WHERE r.cancellation_id = c.id AND r.amount = c.refund_amount)
    """,
    "a cancellation's refund status that disagrees with its refund": """
        SELECT c.id, c.refund_status, r.status FROM cancellations c
        JOIN refunds r ON r.cancellation_id = c.id
        WHERE (c.refund_status = 'processed') <> (r.status = 'succeeded')
    """,
    "refunded amount that disagrees with the refunds": """
        SELECT p.id, p.refunded_amount, coalesce(sum(r.amount), 0) AS refunds FROM payments p
        LEFT JOIN refunds r ON r.payment_id = p.id AND r.status IN ('succeeded', 'closed')
        GROUP BY p.id HAVING p.refunded_amount <> coalesce(sum(r.amount), 0)
    """,
    "more refunded than captured": """
        SELECT p.id, sum(r.amount) AS refunds FROM payments p JOIN refunds r ON r.payment_id = p.id
        GROUP BY p.id
        HAVING sum(r.amount) > coalesce((p.checkout_data->'captured'->>'amount')::numeric, p.amount)
    """,
    "a booking paid twice": """
        SELECT booking_id, count(*) AS payments FROM payments
        WHERE status = 'succeeded' AND booking_id IS NOT NULL
        GROUP BY booking_id HAVING count(*) > 1
    """,
    "a live booking on a cancelled trip": """
        SELECT b.id, b.reference FROM bookings b JOIN schedules s ON s.id = b.schedule_id
        WHERE s.status = 'cancelled' AND b.status IN ('confirmed', 'partially_cancelled')
    """,
    "a valid ticket of a cancelled trip": """
        SELECT t.id, t.number FROM tickets t
        JOIN bookings b ON b.id = t.booking_id JOIN schedules s ON s.id = b.schedule_id
        WHERE s.status = 'cancelled' AND t.status = 'valid'
    """,
    "a hold with two bookings": """
        SELECT reservation_id, count(*) AS bookings FROM bookings
        WHERE reservation_id IS NOT NULL GROUP BY reservation_id HAVING count(*) > 1
    """,
    "a hold converted without a booking": """
        SELECT r.id FROM reservations r LEFT JOIN bookings b ON b.reservation_id = r.id
        WHERE r.status = 'converted' AND b.id IS NULL
    """,
}


async def integrity_violations() -> dict[str, list[dict[str, Any]]]:
    conn = connections.get("default")
    found: dict[str, list[dict[str, Any]]] = {}
    for name, sql in QUERIES.items():
        rows = await conn.execute_query_dict(sql)
        if rows:
            found[name] = rows
    return found


async def assert_integrity() -> None:
    violations = await integrity_violations()
    assert not violations, f"integrity broken: {violations}"
