"""Refresh tokens of the JSON API: opaque, stored hashed, rotated on every use, and a reused
one ends its whole sign-in.

A sign-in (`issue`) starts a *family*. Each `rotate` swaps the presented token for the next
one of the same family and marks the old one used. Presenting a used token again means two
parties hold the family (a stolen copy, or a client that lost track), so the family is
revoked: the thief and the owner both have to sign in again, and the reuse is in the audit
trail. Only the SHA-256 of a token is stored, so a copy of the table signs no one in.

A family also remembers the user's session version when it began. Logging out (here or in
the browser) and changing the password bump that version (domain/accounts.py), which ends
every family begun before, as it ends every login cookie and API access token.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from domain import accounts, audit, locking
from domain.errors import (
    DomainError,
    RefreshTokenExpired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    RefreshTokenRevoked,
)
from domain.models import RefreshToken, User

TOKEN_BYTES = 32  # 256 random bits, 43 URL-safe characters
TOKEN_MAX = 128  # anything longer was never issued here: refused before any query


def hash_token(token: str) -> str:
    """What the table stores of a token (a random 256-bit token needs no salt or stretch)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _digest_of(token: str) -> str:
    if not token or len(token) > TOKEN_MAX or not token.isascii():
        raise RefreshTokenInvalid()
    return hash_token(token)


async def _insert(
    conn: BaseDBAsyncClient,
    user: User,
    *,
    family: str,
    session_version: int,
    now: datetime,
    days: float,
    ip: str | None,
) -> tuple[str, RefreshToken]:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = await RefreshToken.create(
        user=user,
        family=family,
        token_hash=hash_token(token),
        session_version=session_version,
        issued_at=now,
        expires_at=now + timedelta(days=days),
        ip=ip,
        using_db=conn,
    )
    return token, row


async def issue(
    user: User, *, now: datetime, days: float, ip: str | None = None
) -> tuple[str, RefreshToken]:
    """Start a new sign-in for `user` (just authenticated): its first refresh token, valid
    for `days` (REFRESH_TOKEN_DAYS). Returns the token to hand out once, and its row."""
    async with in_transaction() as conn:
        token, row = await _insert(
            conn,
            user,
            family=uuid.uuid4().hex,
            session_version=user.session_version,
            now=now,
            days=days,
            ip=ip,
        )
        await audit.record(
            "refresh_token.issued",
            now=now,
            actor=user,
            subject=row,
            data={"family": row.family, "expires_at": row.expires_at.isoformat()},
            ip=ip,
            using_db=conn,
        )
    return token, row


REVOKE_FAMILY_SQL = """
    UPDATE refresh_tokens SET revoked_at = $2, revoked_reason = $3
    WHERE family = $1 AND revoked_at IS NULL
"""


async def _revoke_family(
    conn: BaseDBAsyncClient, row: RefreshToken, reason: str, *, now: datetime, ip: str | None
) -> None:
    await conn.execute_query(REVOKE_FAMILY_SQL, [row.family, now, reason])
    await audit.record(
        "refresh_token.reuse_detected" if reason == "reuse" else "refresh_token.revoked",
        now=now,
        actor_id=row.user_id,
        subject=row,
        data={
            "family": row.family,
            "reason": reason,
            "used_at": row.used_at.isoformat() if row.used_at else None,
        },
        ip=ip,
        using_db=conn,
    )


async def rotate(
    token: str, *, now: datetime, days: float, ip: str | None = None
) -> tuple[User, str]:
    """Swap a refresh token for the next one of its family (valid `days` from now).
    Returns the user (to issue an access token for) and the new refresh token.

    The token's row is locked first, so two uses of one token are one after the other:
    the first rotates it, the second finds it used, and that is a reuse (the family is
    revoked, RefreshTokenReused). A clean client therefore refreshes one request at a time.
    Refused: unknown (RefreshTokenInvalid), expired (RefreshTokenExpired), revoked or of a
    sign-in that has ended (RefreshTokenRevoked)."""
    digest = _digest_of(token)
    refused: DomainError | None = None
    rotated: tuple[User, str] | None = None
    async with locking.transaction() as conn:
        row = (
            await RefreshToken.filter(token_hash=digest).select_for_update().using_db(conn).first()
        )
        if row is None:
            raise RefreshTokenInvalid()
        if row.revoked_at is not None:
            raise RefreshTokenRevoked()
        if row.used_at is not None:
            await _revoke_family(conn, row, "reuse", now=now, ip=ip)
            refused = RefreshTokenReused()
        elif row.expires_at <= now:
            raise RefreshTokenExpired()
        else:
            user = await User.filter(id=row.user_id).using_db(conn).first()
            if user is None or not user.is_active or user.session_version != row.session_version:
                await _revoke_family(conn, row, "session_ended", now=now, ip=ip)
                refused = RefreshTokenRevoked()
            else:
                await RefreshToken.filter(id=row.id).using_db(conn).update(used_at=now)
                new_token, new_row = await _insert(
                    conn,
                    user,
                    family=row.family,
                    session_version=row.session_version,
                    now=now,
                    days=days,
                    ip=ip,
                )
                await audit.record(
                    "refresh_token.rotated",
                    now=now,
                    actor=user,
                    subject=new_row,
                    data={"family": row.family, "previous": row.id},
                    ip=ip,
                    using_db=conn,
                )
                rotated = (user, new_token)
    # Raised after the commit: the revocation must stay even though the request fails.
    if refused is not None:
        raise refused
    assert rotated is not None
    return rotated


REVOKE_USER_SQL = """
    UPDATE refresh_tokens SET revoked_at = $2, revoked_reason = 'logout'
    WHERE user_id = $1 AND revoked_at IS NULL
    RETURNING family
"""


async def revoke_for_logout(
    credential: str | User, *, now: datetime, ip: str | None = None
) -> User | None:
    """Log out through the API, with the signed-in user or with a refresh token alone (a
    client whose access token has run out). Every sign-in of the user ends, as a logout in
    the browser does: their refresh tokens are revoked and the session version is bumped
    (accounts.log_out), so every access token and login cookie dies with them.

    A refresh token that is already of no use (used, revoked, expired, its sign-in ended)
    changes nothing and returns None: the client is logged out already, and an old copy of
    a token cannot be used to sign its owner out again and again. Unknown tokens are
    RefreshTokenInvalid."""
    if isinstance(credential, User):
        user = credential
    else:
        row = await RefreshToken.get_or_none(token_hash=_digest_of(credential))
        if row is None:
            raise RefreshTokenInvalid()
        found = await User.get_or_none(id=row.user_id)
        if (
            found is None
            or row.revoked_at is not None
            or row.used_at is not None
            or row.expires_at <= now
            or found.session_version != row.session_version
        ):
            return None
        user = found
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict(REVOKE_USER_SQL, [user.id, now])
        # Nested: a savepoint of this transaction, so the bump, the revocations and the
        # audit row commit together.
        await accounts.log_out(
            user,
            now=now,
            ip=ip,
            data={"via": "api", "revoked_families": len({r["family"] for r in rows})},
        )
    return user
