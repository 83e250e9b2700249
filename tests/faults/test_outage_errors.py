"""Which errors mean "the database is not there right now" (a 503 that fixes itself) and
which are bugs or bad requests (everything else keeps its own status)."""

from __future__ import annotations

import socket

import asyncpg
import pytest
from tortoise.exceptions import DBConnectionError, OperationalError

from domain import database


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wrapped(error: BaseException) -> OperationalError:
    try:
        try:
            raise error
        except BaseException as inner:
            raise OperationalError(inner) from inner
    except OperationalError as outer:
        return outer


async def test_a_refused_connection_is_an_outage():
    with pytest.raises(OSError) as refused:
        await asyncpg.connect(host="127.0.0.1", port=_closed_port(), user="x", timeout=5)
    assert database.is_outage(refused.value)


async def test_a_missing_socket_file_is_an_outage(tmp_path):
    with pytest.raises(OSError) as missing:
        await asyncpg.connect(host=str(tmp_path), user="x", timeout=5)
    assert database.is_outage(missing.value)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        DBConnectionError("Can't establish connection to database busbook"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_level_errors_are_outages_raw_or_wrapped(error):
    assert database.is_outage(error)
    assert database.is_outage(_wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        OSError("a mail server or a file, not the database"),
        ConnectionRefusedError("the payment gateway refused"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.LockNotAvailableError("could not obtain lock"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not_outages(error):
    assert not database.is_outage(error)
    assert not database.is_outage(_wrapped(error))
