"""Hundreds of customers grab overlapping seats and segments of one trip at the same moment.

Each attempt is its own transaction on its own pooled connection. Afterwards SQL proves that
no seat is held twice on overlapping stops, that every success got exactly its seats, and
that every loser was told 409 (taken or busy) and nobody got anything else.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import connections

from domain import holds
from domain.errors import Busy, SeatsUnavailable
from domain.holds import HoldPolicy, HoldRequest
from domain.models import SeatAllocation
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
ROUTE = [("Mumbai", 0, 0), ("Lonavala", 120, 83), ("Pune", 210, 148), ("Satara", 330, 260)]
ATTEMPTS = 240


async def test_concurrent_holds_never_double_sell_a_seat_segment():
    route = await factories.make_route(ROUTE)
    trip = await factories.make_trip(NOW + timedelta(days=1), route=route, rows=2)  # 8 seats
    seats = await factories.schedule_seats(trip)
    users = await factories.make_users(ATTEMPTS)
    rng = random.Random(20261125)
    policy = HoldPolicy(lock_timeout_ms=5000)
    requests = []
    for _ in users:
        first = rng.randrange(0, 3)
        last = rng.randrange(first + 1, 4)
        chosen = rng.sample(seats[:5], rng.randint(1, 3))  # crowd onto a few seats
        requests.append(HoldRequest(trip.id, first, last, tuple(s.id for s in chosen)))

    async def attempt(user, request):
        try:
            return await holds.hold_seats(user, request, now=NOW, policy=policy)
        except (SeatsUnavailable, Busy) as exc:
            assert exc.status == 409
            return exc

    outcomes = await asyncio.gather(
        *(attempt(u, r) for u, r in zip(users, requests, strict=True)), return_exceptions=True
    )
    unexpected = [
        o
        for o in outcomes
        if isinstance(o, BaseException) and not isinstance(o, SeatsUnavailable | Busy)
    ]
    assert unexpected == [], unexpected[:3]
    wins = [
        (o, r) for o, r in zip(outcomes, requests, strict=True) if not isinstance(o, BaseException)
    ]
    losses = [o for o in outcomes if isinstance(o, SeatsUnavailable | Busy)]
    assert wins and losses
    assert len(wins) + len(losses) == ATTEMPTS

    conn = connections.get("default")
    overlaps = await conn.execute_query_dict(
        """
        SELECT count(*) AS n FROM seat_allocations a JOIN seat_allocations b
          ON a.id < b.id AND a.schedule_id = b.schedule_id
         AND a.schedule_seat_id = b.schedule_seat_id
         AND a.active AND b.active AND a.stops && b.stops
        """
    )
    assert overlaps[0]["n"] == 0

    for reservation, request in wins:
        allocations = await SeatAllocation.filter(reservation_id=reservation.id, active=True)
        assert sorted(a.schedule_seat_id for a in allocations) == sorted(request.schedule_seat_ids)
        assert {(a.from_seq, a.to_seq) for a in allocations} == {(request.from_seq, request.to_seq)}
    total = await SeatAllocation.filter(active=True).count()
    assert total == sum(len(r.schedule_seat_ids) for _, r in wins)
    rows = await conn.execute_query_dict(
        "SELECT count(*) AS n FROM activity_logs WHERE action = 'reservation.created'"
    )
    assert rows[0]["n"] == len(wins)
