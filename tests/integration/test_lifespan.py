"""What the app runs beside its requests starts with it and stops with it (app.py `running`)."""

from __future__ import annotations

import asyncio

from app import create_app
from tests.conftest import make_settings
from views.services import services_of

BACKGROUND = {"pdf-warm-up", "hold-sweeper", "mail-outbox", "refund-retries", "trip-cancellations"}
BROKER = {"seat-broker-listen", "seat-broker-dispatch"}


def running_tasks() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if not t.done()}


async def test_every_background_task_started_with_the_app_is_stopped_with_it(database_url):
    app = create_app(make_settings(database_url), manage_database=False, background_tasks=True)
    before = running_tasks()
    async with app.test_app():
        assert services_of(app).broker.listening
        assert running_tasks() - before >= BACKGROUND | BROKER
    assert not running_tasks() & (BACKGROUND | BROKER)


async def test_without_background_tasks_only_the_broker_runs(database_url):
    app = create_app(make_settings(database_url), manage_database=False, background_tasks=False)
    async with app.test_app():
        started = running_tasks()
        assert started >= BROKER
        assert not started & BACKGROUND
    assert not running_tasks() & BROKER
