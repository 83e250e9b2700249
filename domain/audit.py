"""The audit trail. Call `record` inside the transaction of the change it describes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from domain.models import User

COLUMNS = "actor_id, action, subject_type, subject_id, data, ip, created_at"
INSERT = f"""
    INSERT INTO activity_logs ({COLUMNS})
    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
    RETURNING id
"""


def encode(data: dict[str, Any] | None) -> str:
    """An audit row's `data` as the JSON text the column is written from."""
    return json.dumps(data or {}, default=str)


async def record(
    action: str,
    *,
    now: datetime,
    actor: User | None = None,
    subject: Model | None = None,
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    using_db: BaseDBAsyncClient | None = None,
    actor_id: int | None = None,
    subject_ref: tuple[str, object] | None = None,
) -> int:
    """Write one audit row (plain SQL: it sits on the hot path of every change)."""
    conn = using_db or connections.get("default")
    rows = await conn.execute_query_dict(
        INSERT,
        [
            actor.id if actor is not None else actor_id,
            action,
            subject_ref[0] if subject_ref else type(subject).__name__ if subject else "",
            str(subject_ref[1]) if subject_ref else str(subject.pk) if subject else "",
            encode(data),
            ip,
            now,
        ],
    )
    return int(rows[0]["id"])
