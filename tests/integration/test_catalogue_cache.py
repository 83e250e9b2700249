"""Cached routes and buses across processes: one edited in one process is read fresh by every
other process on its next trip load, not after the cache's 30 s."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import pytest

from domain import database, inventory
from domain.events import SeatBroker
from domain.settings import PROJECT_ROOT
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

# Another worker: its own interpreter, its own connections, its own cache.
EDIT_IN_ANOTHER_PROCESS = """
import asyncio, sys
from datetime import UTC, datetime

from domain import database, routes
from domain.models import Route, User
from views.forms import stop_lines


async def main(url, route_id, admin_id, stops):
    await database.init(url, pool_size=2)
    try:
        route = await Route.get(id=int(route_id))
        admin = await User.get(id=int(admin_id))
        await routes.save_route(
            admin, route.id, route.code, route.name, stop_lines(stops), now=datetime.now(UTC)
        )
    finally:
        await database.close()


asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_route_edited_in_another_process_is_read_fresh_here(database_url):
    broker = SeatBroker(database.asyncpg_dsn(database_url))
    await broker.start()
    try:
        admin = await factories.make_user(admin=True)
        trip = await factories.make_trip(datetime.now(UTC) + timedelta(days=1), rows=2)
        before = await inventory.load_trip(trip.id)  # cached in this process from now on
        assert [(s.city, s.km) for s in before.stops] == [
            ("Mumbai", 0),
            ("Lonavala", 83),
            ("Pune", 148),
        ]
        stops = "Mumbai | 0 | 0\nLonavala | 125 | 90\nPune | 215 | 150"
        edit = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            EDIT_IN_ANOTHER_PROCESS,
            database_url,
            str(trip.route_id),
            str(admin.id),
            stops,
            cwd=PROJECT_ROOT,
        )
        assert await edit.wait() == 0
        # The edit committed; its announcement reaches this process's listener within
        # moments (allow one second, far below the 30 s the cache would otherwise keep).
        for _ in range(20):
            after = await inventory.load_trip(trip.id)
            if after.stops[1].km != 83:
                break
            await asyncio.sleep(0.05)
        assert [(s.city, s.km) for s in after.stops] == [
            ("Mumbai", 0),
            ("Lonavala", 90),
            ("Pune", 150),
        ]
        assert after.segment_fare(inventory.Segment(0, 1)) != before.segment_fare(
            inventory.Segment(0, 1)
        )
    finally:
        await broker.stop()


RENAME_BUS_IN_ANOTHER_PROCESS = """
import asyncio, sys
from datetime import UTC, datetime

from domain import database, fleet
from domain.models import Bus, User


async def main(url, bus_id, admin_id):
    await database.init(url, pool_size=2)
    try:
        bus = await Bus.get(id=int(bus_id))
        admin = await User.get(id=int(admin_id))
        layout = fleet.LayoutInput(
            "Renamed elsewhere", "MH-99-XX-0001", bus.kind, not bus.is_ac,
            bus.rows, bus.columns, bus.aisle_after,
        )
        await fleet.update_bus(admin, bus.id, layout, now=datetime.now(UTC))
    finally:
        await database.close()


asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_bus_changed_in_another_process_is_read_fresh_here(database_url):
    broker = SeatBroker(database.asyncpg_dsn(database_url))
    await broker.start()
    try:
        admin = await factories.make_user(admin=True)
        trip = await factories.make_trip(datetime.now(UTC) + timedelta(days=1), rows=2)
        before = await inventory.load_trip(trip.id)  # cached in this process from now on
        assert before.schedule.bus.name == "Test seater"
        edit = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RENAME_BUS_IN_ANOTHER_PROCESS,
            database_url,
            str(trip.bus_id),
            str(admin.id),
            cwd=PROJECT_ROOT,
        )
        assert await edit.wait() == 0
        for _ in range(20):
            after = await inventory.load_trip(trip.id)
            if after.schedule.bus.name != "Test seater":
                break
            await asyncio.sleep(0.05)
        assert (after.schedule.bus.name, after.schedule.bus.registration) == (
            "Renamed elsewhere",
            "MH-99-XX-0001",
        )
        assert after.schedule.bus.is_ac is False
    finally:
        await broker.stop()
