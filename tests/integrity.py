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
    # Invariant 4: money the gateway captured ends as a booking or a refund.
    "captured money without a booking": """
        SELECT id, status, amount FROM payments
        WHERE status = 'succeeded' AND booking_id IS NULL
    """,
    "captured money kept on hold (flagged)": """
        SELECT id, status, amount FROM payments WHERE status = 'flagged'
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
