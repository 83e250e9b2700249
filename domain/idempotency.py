"""Idempotency keys: a creating API request sent again with the same `Idempotency-Key`
gets the first answer back instead of creating a second hold, payment or booking.

`begin` claims the key for the sender (`scope`): the first request gets a `Claim` and runs;
a repeat of a finished one gets its `Replay`; a repeat with another method, path or body is
`IdempotencyKeyReused`; a repeat while the first is still running is
`IdempotencyInProgress`. `finish` stores the answer; `abandon` frees the key after a failure
that changed nothing (a 5xx), so the client's retry runs again.

A key is kept for `RETENTION`. A first request whose worker died before it could finish
leaves its key in flight; after `TAKEOVER` a repeat runs again (the domain's own rules, such
as the hold limits and the seat constraint, still stop a duplicate).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import connections

from domain.errors import IdempotencyInProgress, IdempotencyKeyReused, ValidationFailed

RETENTION = timedelta(hours=24)
TAKEOVER = timedelta(minutes=10)
KEY_MAX = 255


@dataclass(frozen=True)
class Claim:
    id: int


@dataclass(frozen=True)
class Replay:
    status: int
    body: str
    headers: dict[str, str]


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{method.upper()} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX or not key.isascii() or not key.isprintable():
        raise ValidationFailed(
            {
                "Idempotency-Key": (
                    f"An Idempotency-Key is 1 to {KEY_MAX} printable ASCII characters, such as "
                    "a UUID."
                )
            }
        )
    return key


CLAIM_SQL = """
    INSERT INTO idempotency_keys (scope, key, fingerprint, response_body, response_headers,
                                  created_at, expires_at)
    VALUES ($1, $2, $3, '', '{}'::jsonb, $4, $5)
    ON CONFLICT (scope, key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, response_status = NULL, response_body = '',
            response_headers = '{}'::jsonb, created_at = EXCLUDED.created_at,
            completed_at = NULL, expires_at = EXCLUDED.expires_at
        WHERE idempotency_keys.expires_at <= $4
           OR (idempotency_keys.response_status IS NULL
               AND idempotency_keys.fingerprint = EXCLUDED.fingerprint
               AND idempotency_keys.created_at <= $6)
    RETURNING id
"""
EXISTING_SQL = """
    SELECT fingerprint, response_status, response_body, response_headers
    FROM idempotency_keys WHERE scope = $1 AND key = $2
"""


async def begin(scope: str, key: str, fingerprint: str, *, now: datetime) -> Claim | Replay:
    """Claim `key` for this request, or say what the first request with it answered. An
    expired key, or one left in flight longer than TAKEOVER, is claimed anew."""
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        CLAIM_SQL, [scope, key, fingerprint, now, now + RETENTION, now - TAKEOVER]
    )
    if rows:
        return Claim(int(rows[0]["id"]))
    existing = await conn.execute_query_dict(EXISTING_SQL, [scope, key])
    if not existing:  # deleted by `abandon` between the two statements: just try again
        return await begin(scope, key, fingerprint, now=now)
    row = existing[0]
    if row["fingerprint"] != fingerprint:
        raise IdempotencyKeyReused()
    if row["response_status"] is None:
        raise IdempotencyInProgress()
    headers = row["response_headers"]
    if isinstance(headers, str):
        headers = json.loads(headers)
    return Replay(int(row["response_status"]), str(row["response_body"]), dict(headers))


async def finish(
    claim: Claim, *, status: int, body: str, headers: dict[str, str], now: datetime
) -> None:
    await connections.get("default").execute_query(
        "UPDATE idempotency_keys SET response_status = $2, response_body = $3, "
        "response_headers = $4::jsonb, completed_at = $5 WHERE id = $1",
        [claim.id, status, body, json.dumps(headers), now],
    )


async def abandon(claim: Claim) -> None:
    await connections.get("default").execute_query(
        "DELETE FROM idempotency_keys WHERE id = $1 AND response_status IS NULL", [claim.id]
    )


async def purge_expired(*, now: datetime, batch: int = 1000) -> int:
    """Drop keys past their retention (the sweeper calls this)."""
    result = await connections.get("default").execute_query(
        "DELETE FROM idempotency_keys WHERE id IN (SELECT id FROM idempotency_keys "
        "WHERE expires_at <= $1 LIMIT $2)",
        [now, batch],
    )
    return int(result[0])
