"""Admin API keys: long-lived credentials for scripts and partner systems, made in the
console, shown once, stored hashed, revocable, with their last use.

A key reads `bbk_<prefix>_<secret>`. The prefix (12 hex digits, not secret) names the row
and is what the console shows; the table keeps only the SHA-256 of the whole key, so a
copy of it authenticates no one. A key acts as the admin who created it, and only while
that account is an active admin: demoting or closing the account stops its keys at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain import audit, keyset, locking
from domain.errors import (
    ApiKeyInvalid,
    ApiKeyNotFound,
    ApiKeyRevoked,
    Forbidden,
    ValidationFailed,
)
from domain.models import ApiKey, User

SCHEME = "bbk"
PREFIX_BYTES = 6  # 12 hex digits: unique enough to look a key up, and safe to show
SECRET_BYTES = 32
KEY_MAX = 128  # longer than any key issued here
NAME_MAX = 80
_SHAPE = re.compile(rf"{SCHEME}_([0-9a-f]{{{PREFIX_BYTES * 2}}})_[A-Za-z0-9_-]{{20,}}")
# A key's last use is written at most this often: one small UPDATE a minute, not one per
# request of a busy script.
LAST_USED_EVERY = timedelta(minutes=1)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    """Whether a bearer credential is meant as an API key (not a JWT access token)."""
    return value.startswith(SCHEME + "_")


def _require_admin(user: User) -> None:
    if not user.is_admin or not user.is_active:
        raise Forbidden("Only Busbook operators manage API keys.")


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": "Name the key after what will use it, e.g. Partner X."})
    if len(name) > NAME_MAX:
        raise ValidationFailed({"name": f"The name can be at most {NAME_MAX} characters."})
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ValidationFailed({"name": "The name cannot contain control characters."})
    return name


async def create_api_key(
    admin: User, name: str, *, now: datetime, ip: str | None = None
) -> tuple[ApiKey, str]:
    """A new key named `name` acting as `admin`. Returns the row and the key itself, which
    is never stored and cannot be shown again."""
    _require_admin(admin)
    name = _clean_name(name)
    for attempt in range(3):
        prefix = secrets.token_hex(PREFIX_BYTES)
        secret = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
        try:
            async with in_transaction() as conn:
                key = await ApiKey.create(
                    name=name,
                    prefix=prefix,
                    secret_hash=hash_key(secret),
                    created_by=admin,
                    created_at=now,
                    using_db=conn,
                )
                await audit.record(
                    "api_key.created",
                    now=now,
                    actor=admin,
                    subject=key,
                    data={"name": name, "prefix": prefix},
                    ip=ip,
                    using_db=conn,
                )
        except IntegrityError:  # the same 48-bit prefix twice: draw again
            if attempt == 2:
                raise
            continue
        return key, secret
    raise AssertionError("unreachable")


async def revoke_api_key(
    admin: User, key_id: int, *, now: datetime, ip: str | None = None
) -> ApiKey:
    """Revoke a key (any admin may revoke any key). Revoking a revoked key changes nothing."""
    _require_admin(admin)
    async with locking.transaction() as conn:
        key = await ApiKey.filter(id=key_id).select_for_update().using_db(conn).first()
        if key is None:
            raise ApiKeyNotFound()
        if key.revoked_at is not None:
            return key
        key.revoked_at = now
        key.revoked_by_id = admin.id
        await key.save(update_fields=["revoked_at", "revoked_by_id"], using_db=conn)
        await audit.record(
            "api_key.revoked",
            now=now,
            actor=admin,
            subject=key,
            data={"name": key.name, "prefix": key.prefix},
            ip=ip,
            using_db=conn,
        )
    return key


TOUCH_SQL = """
    UPDATE api_keys SET last_used_at = $2
    WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)
"""


async def authenticate_api_key(secret: str, *, now: datetime) -> User:
    """The admin a key acts as. Refused: not a key of ours (ApiKeyInvalid), revoked, or its
    admin is no longer an active admin (ApiKeyRevoked). Notes the use at most once a
    minute (`last_used_at`)."""
    match = _SHAPE.fullmatch(secret) if len(secret) <= KEY_MAX else None
    if match is None:
        raise ApiKeyInvalid()
    key = await ApiKey.filter(prefix=match[1]).select_related("created_by").first()
    # Compared in constant time, so the response time says nothing about the secret.
    if key is None or not hmac.compare_digest(key.secret_hash, hash_key(secret)):
        raise ApiKeyInvalid()
    if key.revoked_at is not None:
        raise ApiKeyRevoked()
    admin = key.created_by
    if not admin.is_active or not admin.is_admin:
        raise ApiKeyRevoked(
            "This API key no longer works: the operator who created it is no longer an admin."
        )
    stale = now - LAST_USED_EVERY
    if key.last_used_at is None or key.last_used_at <= stale:
        # Conditional, so concurrent requests write it once; not audited: a use changes
        # nothing but this note.
        await connections.get("default").execute_query(TOUCH_SQL, [key.id, now, stale])
    return admin


async def key_page(window: keyset.Window) -> keyset.Page[ApiKey]:
    """One page of keys, newest first, with who made and who revoked it."""
    return await keyset.read_page(
        ApiKey.all(), ("-created_at", "-id"), window, "created_by", "revoked_by"
    )


async def list_api_keys() -> list[ApiKey]:
    """Every key, newest first, with who made and who revoked it."""
    return list(
        await ApiKey.all()
        .select_related("created_by")
        .prefetch_related("revoked_by")
        .order_by("-created_at", "-id")
    )
