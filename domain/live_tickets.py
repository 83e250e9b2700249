"""Live seat tickets: how an API client proves who it is to the seat WebSocket.

A browser cannot put an `Authorization` header on a WebSocket, and an access token in a URL
would end up in logs. So a client that holds an access token asks for a ticket (`issue`)
and puts that in the WebSocket's URL instead: a JWT (HS256) that lives 60 seconds, is good
for one purpose (audience `ws`) and one trip, and carries the user's session version, so a
logout or a password change since it was issued refuses it. It is signed with a key derived
from the application secret for this purpose alone, so it never verifies as an access token
or as anything else the secret signs, and no access token verifies as a ticket.

A ticket may be used more than once within its minute (a client that reconnects at once
needs no new one); it only lets its holder see which held seats are their own.

Nothing here reads the clock: the caller passes `now`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from domain.accounts import SessionClaim, session_user
from domain.errors import LiveTicketExpired, LiveTicketInvalid, ScheduleNotFound
from domain.models import Schedule, User

AUDIENCE = "ws"
ALGORITHM = "HS256"
LIFETIME = timedelta(seconds=60)
_PURPOSE = b"busbook/live-seat-ticket/v1"
_MAX_LENGTH = 1024  # anything longer is not one of ours: don't even decode it
_CLAIMS = ("sub", "sv", "sch", "aud", "iat", "exp", "jti")


@dataclass(frozen=True)
class LiveTicket:
    ticket: str
    expires_at: datetime


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


async def issue_ticket(user: User, schedule_id: int, *, secret: str, now: datetime) -> LiveTicket:
    """A ticket for `user` to watch trip `schedule_id`'s seats. Refuses an unknown trip."""
    if not await Schedule.exists(id=schedule_id):
        raise ScheduleNotFound()
    expires_at = now + LIFETIME
    claims = {
        "sub": str(user.id),
        "sv": user.session_version,
        "sch": schedule_id,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    return LiveTicket(jwt.encode(claims, _key(secret), algorithm=ALGORITHM), expires_at)


def read_ticket(ticket: str, schedule_id: int, *, secret: str, now: datetime) -> SessionClaim:
    """The login a ticket speaks for, if it is genuine, for this trip and not expired."""
    if len(ticket) > _MAX_LENGTH:
        raise LiveTicketInvalid()
    try:
        # The expiry is judged against `now` below, not against PyJWT's own clock.
        claims: dict[str, Any] = jwt.decode(
            ticket,
            _key(secret),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": list(_CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise LiveTicketInvalid() from exc
    sub, sv, sch, exp = claims["sub"], claims["sv"], claims["sch"], claims["exp"]
    if not (
        isinstance(sub, str)
        and sub.isdigit()
        and type(sv) is int
        and type(sch) is int
        and type(exp) is int
    ):
        raise LiveTicketInvalid()
    if sch != schedule_id:
        raise LiveTicketInvalid()
    if datetime.fromtimestamp(exp, UTC) <= now:
        raise LiveTicketExpired()
    return SessionClaim(int(sub), sv)


async def ticket_user(ticket: str, schedule_id: int, *, secret: str, now: datetime) -> User:
    """The user a ticket was issued to, while their login still holds (not signed out,
    password not changed, account active)."""
    user = await session_user(read_ticket(ticket, schedule_id, secret=secret, now=now))
    if user is None:
        raise LiveTicketInvalid()
    return user
