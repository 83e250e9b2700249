"""The audit trail. Call `record` inside the transaction of the change it describes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from domain.models import ActivityLog, User


async def record(
    action: str,
    *,
    now: datetime,
    actor: User | None = None,
    subject: Model | None = None,
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> ActivityLog:
    return await ActivityLog.create(
        action=action,
        actor=actor,
        subject_type=type(subject).__name__ if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
        data=data or {},
        ip=ip,
        created_at=now,
        using_db=using_db,
    )
