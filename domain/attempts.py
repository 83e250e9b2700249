"""Exact attempt counters for the brute-force and abuse limits (logins, password checks,
registrations, holds, payments), shared by every worker process through PostgreSQL.

An attempt is *reserved* before the expensive or risky work (a password hash check, a new
account): one `INSERT … ON CONFLICT DO UPDATE … RETURNING` adds one to each of its counters
under the row lock and returns the new counts, so concurrent attempts are counted one after
the other and no more than the limit can ever be in progress or done (the audit-log count
it replaces let 18 parallel guesses through a limit of 5). An attempt that turns out not to
count (the right password, a refused attempt, a form with mistakes) is given back with
`release`. Each counter has a fixed window that starts with its first attempt.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import connections

from domain.errors import TooManyAttempts


def address_group(ip: str | None) -> str | None:
    """The unit the per-address limits count: an IPv4 address, or the /64 network of an
    IPv6 address (one subscriber gets a whole /64, so single IPv6 addresses cost nothing)."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@dataclass(frozen=True)
class Limit:
    """At most `limit` attempts counted under `key` within `window`."""

    key: str
    limit: int
    window: timedelta

    @property
    def stored_key(self) -> str:
        # Hashed: fixed length whatever was typed, and no second copy of emails and IPs.
        kind, _, material = self.key.partition(":")
        return f"{kind}:{hashlib.sha256(material.encode()).hexdigest()[:40]}"


@dataclass(frozen=True)
class RateLimits:
    """How often one account and one address may do an action (make a hold, start a
    payment): at most `per_account` and `per_ip` times per `window` (0: that limit is off,
    as behind a proxy that hides addresses). Every worker counts in the same rows, and the
    website and the API call the same domain function, so they share one budget."""

    per_account: int = 0
    per_ip: int = 0
    window: timedelta = timedelta(hours=1)

    def limits(self, action: str, account: object, ip: str | None) -> list[Limit]:
        checks = []
        if self.per_account > 0:
            checks.append(Limit(f"{action}-account:{account}", self.per_account, self.window))
        group = address_group(ip)
        if self.per_ip > 0 and group:
            checks.append(Limit(f"{action}-ip:{group}", self.per_ip, self.window))
        return checks


RESERVE_SQL = """
    INSERT INTO attempt_counters AS c (key, window_started_at, window_seconds, count)
    SELECT key, $3, seconds, 1 FROM unnest($1::text[], $2::int[]) AS t(key, seconds)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN c.window_started_at + make_interval(secs => c.window_seconds)
                          <= EXCLUDED.window_started_at
                     THEN 1 ELSE c.count + 1 END,
        window_started_at = CASE WHEN c.window_started_at + make_interval(secs => c.window_seconds)
                                      <= EXCLUDED.window_started_at
                                 THEN EXCLUDED.window_started_at ELSE c.window_started_at END,
        window_seconds = EXCLUDED.window_seconds
    RETURNING key, count, window_started_at + make_interval(secs => window_seconds) AS resets_at
"""
RELEASE_SQL = """
    UPDATE attempt_counters SET count = greatest(count - 1, 0) WHERE key = ANY($1::text[])
"""
RESET_SQL = "DELETE FROM attempt_counters WHERE key = ANY($1::text[])"
FORGET_SQL = (
    "DELETE FROM attempt_counters WHERE window_started_at + make_interval(secs => window_seconds)"
    " <= $1"
)


def _sorted(limits: Sequence[Limit]) -> list[Limit]:
    # One order for every statement, so two attempts never wait on each other's rows.
    unique = {limit.stored_key: limit for limit in limits}
    return [unique[key] for key in sorted(unique)]


async def reserve(limits: Sequence[Limit], *, now: datetime, message: str) -> None:
    """Count one attempt under every limit, or raise TooManyAttempts (counting nothing)
    when any of them is already used up."""
    limits = _sorted(limits)
    if not limits:
        return
    rows = await connections.get("default").execute_query_dict(
        RESERVE_SQL,
        [
            [limit.stored_key for limit in limits],
            [math.ceil(limit.window.total_seconds()) for limit in limits],
            now,
        ],
    )
    by_key = {row["key"]: row for row in rows}
    over = [limit for limit in limits if by_key[limit.stored_key]["count"] > limit.limit]
    if over:
        await release(limits)
        resets_at = max(by_key[limit.stored_key]["resets_at"] for limit in over)
        minutes = max(1, math.ceil((resets_at - now).total_seconds() / 60))
        raise TooManyAttempts(
            f"{message} Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again.",
            retry_after=max(1, math.ceil((resets_at - now).total_seconds())),
        )


async def release(limits: Sequence[Limit]) -> None:
    """Give back an attempt that did not count."""
    if limits:
        await connections.get("default").execute_query(
            RELEASE_SQL, [[limit.stored_key for limit in _sorted(limits)]]
        )


async def reset(limits: Sequence[Limit]) -> None:
    """Start these counters afresh (the owner got in: their earlier typos are forgiven)."""
    if limits:
        await connections.get("default").execute_query(
            RESET_SQL, [[limit.stored_key for limit in _sorted(limits)]]
        )


async def forget_old(now: datetime) -> None:
    """Drop counters whose window has passed (they would start again at 1 anyway)."""
    await connections.get("default").execute_query(FORGET_SQL, [now])
