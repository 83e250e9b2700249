"""The sweeper as it really runs: a lifespan task of the app, and `busbook sweep` for cron."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta

from app import create_app
from domain import holds
from domain.enums import ReservationStatus
from domain.holds import HoldRequest
from domain.models import ActivityLog, Reservation
from domain.settings import PROJECT_ROOT
from tests import factories
from tests.conftest import make_settings


async def make_expired_hold(minutes_ago: float = 1) -> Reservation:
    now = datetime.now().astimezone()
    trip = await factories.make_trip(now + timedelta(days=1), rows=1)
    seats = await factories.schedule_seats(trip)
    user = await factories.make_user()
    started = now - timedelta(minutes=15 + minutes_ago)
    return await holds.hold_seats(user, HoldRequest(trip.id, 0, 2, (seats[0].id,)), now=started)


async def test_the_app_sweeps_expired_holds_in_the_background(database_url):
    reservation = await make_expired_hold()
    app = create_app(
        make_settings(database_url, sweep_seconds=0.2), manage_database=False, background_tasks=True
    )
    async with app.test_app():
        for _ in range(50):
            await reservation.refresh_from_db()
            if reservation.status == ReservationStatus.EXPIRED:
                break
            await asyncio.sleep(0.1)
    assert reservation.status == ReservationStatus.EXPIRED
    assert await ActivityLog.filter(action="reservation.expired").count() == 1


async def test_busbook_sweep_command(database_url):
    await make_expired_hold()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "app.py",
        "sweep",
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    assert "1 holds expired." in output
    assert await Reservation.filter(status=ReservationStatus.EXPIRED).count() == 1
