"""Grow a demo database to N times its trips and seats, with the history a real operator
keeps (issue 13): the demo's own timetable (`busbook seed-demo`, 14 days ahead) repeated
into the past, N - 1 fortnights of departed trips, each with its inventory, and half of every
departed trip's seats taken in the proportions of a year's traffic: a third expired holds, a
third cancelled bookings, a third bookings that travelled (their allocations stay active),
four seats to a hold or a booking, each with its audit row.

Plain SQL in one transaction, so 100x (about 24,000 trips and 900,000 seats) builds in well
under a minute; used by bench/scale.py and by the query-plan tests at 10x
(tests/integration/test_query_plans.py).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

FORTNIGHT_DAYS = 14
SEATS_PER_CHUNK = 4

# Every trip the demo sells now, copied k fortnights back (k = 1 .. factor - 1).
_PAST_TRIPS = """
INSERT INTO schedules (route_id, bus_id, departure_at, arrival_at, base_fare, currency, status,
  created_at)
SELECT s.route_id, s.bus_id, s.departure_at - make_interval(days => $2 * k),
       s.arrival_at - make_interval(days => $2 * k), s.base_fare, s.currency, 'scheduled',
       s.departure_at - make_interval(days => $2 * k + 30)
FROM schedules s, generate_series(1, $1 - 1) AS k
WHERE s.departure_at > $3
"""
_INVENTORY = """
INSERT INTO schedule_seats (schedule_id, seat_id, is_blocked, blocked_reason)
SELECT s.id, seat.id, false, ''
FROM schedules s JOIN seats seat ON seat.bus_id = s.bus_id
WHERE NOT EXISTS (SELECT 1 FROM schedule_seats x WHERE x.schedule_id = s.id)
"""
# Half the seats of each departed trip with no allocation yet, four to a chunk; the chunk's
# kind (0: expired hold, 1: cancelled booking, 2: booking that travelled) by its number.
_CHUNKS = """
CREATE TEMP TABLE grow_chunks ON COMMIT DROP AS
SELECT schedule_id, schedule_seat_id, chunk, chunk % 3 AS kind, departure_at, last_seq
FROM (
  SELECT ss.schedule_id, ss.id AS schedule_seat_id, s.departure_at,
         (SELECT max(seq) FROM route_stops WHERE route_id = s.route_id) AS last_seq,
         row_number() OVER (PARTITION BY ss.schedule_id ORDER BY ss.id) - 1 AS n
  FROM schedule_seats ss JOIN schedules s ON s.id = ss.schedule_id
  WHERE s.departure_at < $1
    AND NOT EXISTS (SELECT 1 FROM seat_allocations a WHERE a.schedule_id = s.id)
) seats, LATERAL (SELECT n / 2 / $2 AS chunk) c
WHERE n % 2 = 0
"""
_HOLDS = """
INSERT INTO reservations (public_id, user_id, schedule_id, from_seq, to_seq, status,
  total_amount, currency, expires_at, grace_applied, created_at, seat_count)
SELECT 'rsv_grow' || schedule_id || 'x' || chunk, $1, schedule_id, 0, max(last_seq),
  CASE WHEN kind = 0 THEN 'expired' ELSE 'converted' END, 500 * count(*), 'INR',
  min(departure_at) - interval '2 days' + interval '15 minutes', false,
  min(departure_at) - interval '2 days', count(*)
FROM grow_chunks GROUP BY schedule_id, chunk, kind
"""
_BOOKINGS = """
INSERT INTO bookings (reference, user_id, schedule_id, reservation_id, from_seq, to_seq,
  status, total_amount, currency, contact_email, contact_phone, created_at)
SELECT 'G' || lpad(to_hex(r.id), 10, '0'), r.user_id, r.schedule_id, r.id, r.from_seq,
  r.to_seq, CASE WHEN g.kind = 1 THEN 'cancelled' ELSE 'completed' END, r.total_amount,
  r.currency, 'history@busbook.local', '+919800000000', r.created_at + interval '5 minutes'
FROM reservations r
JOIN (SELECT DISTINCT schedule_id, chunk, kind FROM grow_chunks WHERE kind > 0) g
  ON r.public_id = 'rsv_grow' || g.schedule_id || 'x' || g.chunk
"""
_ALLOCATIONS = """
INSERT INTO seat_allocations (schedule_id, schedule_seat_id, from_seq, to_seq, kind,
  reservation_id, booking_id, active, created_at, released_at)
SELECT g.schedule_id, g.schedule_seat_id, 0, g.last_seq,
  CASE WHEN g.kind = 0 THEN 'hold' ELSE 'booking' END, r.id, b.id, g.kind = 2, r.created_at,
  CASE WHEN g.kind = 2 THEN NULL ELSE r.expires_at END
FROM grow_chunks g
JOIN reservations r ON r.public_id = 'rsv_grow' || g.schedule_id || 'x' || g.chunk
LEFT JOIN bookings b ON b.reservation_id = r.id
"""
_AUDIT = """
INSERT INTO activity_logs (action, subject_type, subject_id, data, created_at, actor_id)
SELECT 'reservation.created', 'Reservation', r.public_id, '{"history": true}'::jsonb,
  r.created_at, r.user_id
FROM reservations r WHERE r.public_id LIKE 'rsv_grow%'
  AND NOT EXISTS (SELECT 1 FROM activity_logs l
                  WHERE l.subject_type = 'Reservation' AND l.subject_id = r.public_id)
"""


async def grow(conn: asyncpg.Connection, factor: int, *, now: datetime) -> dict[str, int]:
    """Grow the seeded demo database behind `conn` to `factor` times its trips, with the
    history described above; returns the row counts of the large tables after it."""
    if factor < 1:
        raise ValueError("factor must be at least 1")
    async with conn.transaction():
        if factor > 1:
            await conn.execute(_PAST_TRIPS, factor, FORTNIGHT_DAYS, now)
            await conn.execute(_INVENTORY)
        owner = await conn.fetchval("SELECT min(id) FROM users")
        await conn.execute(_CHUNKS, now, SEATS_PER_CHUNK)
        await conn.execute(_HOLDS, owner)
        await conn.execute(_BOOKINGS)
        await conn.execute(_ALLOCATIONS)
        await conn.execute(_AUDIT)
    await conn.execute("ANALYZE")
    return await counts(conn)


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    tables = ("schedules", "schedule_seats", "seat_allocations", "reservations", "bookings")
    return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables}
