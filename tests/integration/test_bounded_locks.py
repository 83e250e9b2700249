"""A row another transaction keeps locked makes a domain change answer "busy, try again"
within the bounded wait (domain/locking.py), not after the 15 s statement timeout, and
leaves the data as it was."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from domain import holds, locking
from domain.enums import ReservationStatus
from domain.errors import RecordBusy
from domain.models import Reservation
from tests import factories

pytestmark = pytest.mark.usefixtures("db")
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


async def test_a_locked_hold_is_busy_within_the_bounded_wait(database_url: str) -> None:
    schedule = await factories.make_trip(NOW + timedelta(days=1), rows=2)
    seat = (await factories.schedule_seats(schedule))[0]
    user = await factories.make_user()
    admin = await factories.make_user(admin=True)
    allocation = await factories.hold(
        schedule, seat, 0, 1, user=user, expires_at=NOW + timedelta(minutes=10)
    )
    reservation = await Reservation.get(id=allocation.reservation_id)  # type: ignore[attr-defined]
    other = await asyncpg.connect(database_url)
    try:
        locker = other.transaction()
        await locker.start()
        await other.execute("SELECT 1 FROM reservations WHERE id = $1 FOR UPDATE", reservation.id)
        started = time.monotonic()
        with pytest.raises(RecordBusy) as refused:
            await holds.release_hold(admin, reservation.public_id, "stuck", now=NOW)
        waited = time.monotonic() - started
        assert waited < locking.LOCK_WAIT.total_seconds() + 2
        assert refused.value.code == "busy"
        assert "try again" in refused.value.message
        await locker.rollback()
    finally:
        await other.close()
    unchanged = await Reservation.get(id=reservation.id)
    assert unchanged.status == ReservationStatus.ACTIVE


async def test_the_wait_is_set_for_the_transaction_only() -> None:
    async with locking.transaction(timedelta(milliseconds=250)) as conn:
        rows = await conn.execute_query_dict("SHOW lock_timeout")
        assert rows[0]["lock_timeout"] == "250ms"
    async with locking.transaction() as conn:
        rows = await conn.execute_query_dict("SHOW lock_timeout")
        assert rows[0]["lock_timeout"] == "2s"


def test_lock_errors_are_recognised_raw_or_wrapped() -> None:
    assert locking.is_lock_error(asyncpg.exceptions.DeadlockDetectedError("deadlock detected"))
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = asyncpg.exceptions.LockNotAvailableError("lock timeout")
    assert locking.is_lock_error(wrapped)
    assert not locking.is_lock_error(ValueError("no"))
