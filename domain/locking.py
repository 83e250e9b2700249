"""Row locks with a bounded wait: the one way the domain takes `SELECT ... FOR UPDATE`.

PostgreSQL waits for a row lock as long as the statement timeout allows (15 s here), so a
request that queues behind a slow or stuck transaction would hang for that long and then
fail with a database error. `transaction()` opens a transaction whose lock waits are cut
off after `LOCK_WAIT` (`SET LOCAL lock_timeout`, so it ends with the transaction); a lock
that is not granted in time, or a deadlock, becomes `RecordBusy`: nothing was changed and
the same request will work in a moment.

Skip-locked claims (`select_for_update(skip_locked=True)`: the sweeper, the outbox, refund
retries) never wait and may use a plain transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TypeVar

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from domain.errors import RecordBusy

LOCK_WAIT = timedelta(seconds=2)
M = TypeVar("M", bound=Model)


def is_lock_error(exc: BaseException) -> bool:
    """A lock not granted within lock_timeout, or a deadlock. Tortoise passes these through
    raw or wrapped: look at the exception and what caused it."""
    for error in (exc, exc.__cause__, exc.__context__):
        if isinstance(
            error,
            asyncpg.exceptions.LockNotAvailableError | asyncpg.exceptions.DeadlockDetectedError,
        ):
            return True
    return False


def lock_timeout_value(wait: timedelta = LOCK_WAIT) -> str:
    """`wait` as a lock_timeout setting (whole milliseconds, at least 1)."""
    return f"{max(1, round(wait.total_seconds() * 1000))}ms"


@asynccontextmanager
async def transaction(wait: timedelta = LOCK_WAIT) -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction whose row locks wait at most `wait`; a lock it cannot get in time
    rolls it back and raises RecordBusy."""
    try:
        async with in_transaction() as conn:
            await conn.execute_query(
                "SELECT set_config('lock_timeout', $1, true)", [lock_timeout_value(wait)]
            )
            yield conn
    except RecordBusy:
        raise
    except Exception as exc:
        if is_lock_error(exc):
            raise RecordBusy() from exc
        raise


async def claim(
    query: QuerySet[M], *, due_field: str, lease_until: datetime, batch: int
) -> list[M]:
    """Take up to `batch` due rows of `query` for this process: rows another process holds
    are skipped, never waited for, and pushing `due_field` to `lease_until` keeps them from
    being due for anyone else until the lease runs out (the work is then done outside any
    transaction, and settled or given up on by the caller)."""
    async with in_transaction() as conn:
        rows = (
            await query.order_by(due_field, "id")
            .limit(batch)
            .select_for_update(skip_locked=True)
            .using_db(conn)
        )
        if rows:
            model = type(rows[0])
            await (
                model.filter(id__in=[row.pk for row in rows])
                .using_db(conn)
                .update(**{due_field: lease_until})
            )
    return list(rows)
