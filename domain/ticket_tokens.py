"""Ticket numbers and booking references, and the signed QR and download-link tokens: the
identifiers printed on a ticket and the proofs that it is genuine.

Identifiers use a 32-letter alphabet without the look-alikes 0/O and 1/I, so they can be
read out over the phone: a ticket number is `TK-` + 8 letters (40 bits), a booking
reference `BK` + 6 letters (30 bits). Both are random, not sequential; the database's
unique constraints catch the rare collision and the caller draws again.

Tokens are `<version>.<fields>.<signature>`, the signature a base64url HMAC-SHA256 over
everything before it, keyed by a sub-key derived from the application secret *per purpose*
(QR code vs download link), so a token made for one purpose never verifies as the other.
The fields are readable (nothing in them is secret; they are printed on the ticket anyway)
and the whole token is URL-safe.

Nothing here reads the clock: expiry is decided by the `now` the caller passes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

# 8 digits + 24 letters = 32 symbols: no 0/O, no 1/I.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
TICKET_PREFIX = "TK-"
TICKET_LENGTH = 8
BOOKING_PREFIX = "BK"
BOOKING_LENGTH = 6

TICKET_NUMBER_RE = re.compile(rf"{TICKET_PREFIX}[{ALPHABET}]{{{TICKET_LENGTH}}}")
BOOKING_REFERENCE_RE = re.compile(rf"{BOOKING_PREFIX}[{ALPHABET}]{{{BOOKING_LENGTH}}}")

# What a token field may contain: URL-safe and free of the "." separator. Deliberately wider
# than the generated shapes, so tickets numbered by other means (fixtures, imports) still
# get tokens. Lengths follow the model columns (Ticket.number 20, Booking.reference 12).
_TICKET_FIELD = re.compile(r"[A-Za-z0-9_-]{1,20}")
_BOOKING_FIELD = re.compile(r"[A-Za-z0-9_-]{1,12}")
_UINT = re.compile(r"[1-9][0-9]{0,18}")  # up to 2**63 - 1, a PostgreSQL bigint
_MAX_ID = 2**63 - 1
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")

_QR_VERSION = "1"
_DOWNLOAD_VERSION = "1"
_QR_PURPOSE = b"busbook/ticket-qr/v1"
_DOWNLOAD_PURPOSE = b"busbook/ticket-download/v1"
_SIGNATURE_LENGTH = 43  # 32 bytes of HMAC-SHA256, base64url without padding
_MAX_TOKEN_LENGTH = 512  # anything longer is garbage; don't even split it

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _Chooser(Protocol):
    """Anything with `choice`: the `secrets` module, or a seeded `random.Random` in tests."""

    def choice(self, seq: str, /) -> str: ...


# ----------------------------------------------------------------------------- identifiers


def _draw(rng: _Chooser, length: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def ticket_number(rng: _Chooser = secrets) -> str:
    """A new random ticket number like `TK-7F3K9Q2M` (not checked for uniqueness here)."""
    return TICKET_PREFIX + _draw(rng, TICKET_LENGTH)


def booking_reference(rng: _Chooser = secrets) -> str:
    """A new random booking reference like `BK7F3K9Q` (not checked for uniqueness here)."""
    return BOOKING_PREFIX + _draw(rng, BOOKING_LENGTH)


# ----------------------------------------------------------------------------- signing


def _subkey(secret: str, purpose: bytes) -> bytes:
    if not secret:
        raise ValueError("an empty secret cannot sign tickets")
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def _signature(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _sign(key: bytes, *fields: str) -> str:
    message = ".".join(fields)
    return f"{message}.{_signature(key, message)}"


def _verified_fields(key: bytes, token: object, version: str, count: int) -> list[str] | None:
    """The `count` fields after the version of an authentic token, or None."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
        return None
    message, dot, signature = token.rpartition(".")
    if not dot or len(signature) != _SIGNATURE_LENGTH:
        return None
    if not hmac.compare_digest(signature, _signature(key, message)):
        return None
    parts = message.split(".")
    if len(parts) != count + 1 or parts[0] != version:
        return None
    return parts[1:]


# ----------------------------------------------------------------------------- QR token


@dataclass(frozen=True, slots=True)
class QrPayload:
    ticket_number: str
    booking_reference: str
    schedule_id: int


def qr_token(secret: str, *, ticket_number: str, booking_reference: str, schedule_id: int) -> str:
    """The signed token printed in a ticket's QR code (~75 characters, URL-safe).

    Example: `1.TK-7F3K9Q2M.BK7F3K9Q.42.<43-character signature>`. It does not expire: it
    is as valid as the ticket row it names; a scanner must still check the ticket's status
    and that it belongs to the trip being boarded (`schedule_id`).
    """
    if not _TICKET_FIELD.fullmatch(ticket_number):
        raise ValueError(f"ticket number {ticket_number!r} cannot go into a token")
    if not _BOOKING_FIELD.fullmatch(booking_reference):
        raise ValueError(f"booking reference {booking_reference!r} cannot go into a token")
    if isinstance(schedule_id, bool) or not isinstance(schedule_id, int):
        raise ValueError(f"schedule id must be an integer, got {schedule_id!r}")
    if not 0 < schedule_id <= _MAX_ID:
        raise ValueError(f"schedule id must be between 1 and 2**63 - 1, got {schedule_id}")
    key = _subkey(secret, _QR_PURPOSE)
    return _sign(key, _QR_VERSION, ticket_number, booking_reference, str(schedule_id))


def read_qr_token(secret: str, token: str) -> QrPayload | None:
    """What an authentic QR token says, or None for anything tampered with or malformed.

    Never raises for a bad token (only for an empty `secret`, a configuration error)."""
    fields = _verified_fields(_subkey(secret, _QR_PURPOSE), token, _QR_VERSION, 3)
    if fields is None:
        return None
    number, reference, schedule = fields
    if not (
        _TICKET_FIELD.fullmatch(number)
        and _BOOKING_FIELD.fullmatch(reference)
        and _UINT.fullmatch(schedule)
    ):
        return None
    schedule_id = int(schedule)
    if schedule_id > _MAX_ID:
        return None
    return QrPayload(ticket_number=number, booking_reference=reference, schedule_id=schedule_id)


# ----------------------------------------------------------------------------- download link


class DownloadStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class DownloadCheck:
    """The verdict on a download-link token.

    `ticket_number` and `expires_at` are set for VALID and EXPIRED (an authentic token),
    None for INVALID (nothing in a forged token can be trusted).
    """

    status: DownloadStatus
    ticket_number: str | None = None
    expires_at: datetime | None = None

    @property
    def is_valid(self) -> bool:
        return self.status is DownloadStatus.VALID

    @property
    def is_expired(self) -> bool:
        return self.status is DownloadStatus.EXPIRED


INVALID_DOWNLOAD = DownloadCheck(DownloadStatus.INVALID)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _to_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def download_token(secret: str, ticket_number: str, *, expires_at: datetime) -> str:
    """A signed token for a ticket's download link, good until `expires_at` (exclusive).

    Example: `1.TK-7F3K9Q2M.1795000000000000.<signature>`; the expiry is kept to the
    microsecond, so "expired at `expires_at`" holds exactly.
    """
    if not _TICKET_FIELD.fullmatch(ticket_number):
        raise ValueError(f"ticket number {ticket_number!r} cannot go into a token")
    _require_aware(expires_at, "expires_at")
    key = _subkey(secret, _DOWNLOAD_PURPOSE)
    return _sign(key, _DOWNLOAD_VERSION, ticket_number, str(_to_micros(expires_at)))


def read_download_token(secret: str, token: str, *, now: datetime) -> DownloadCheck:
    """VALID while `now < expires_at`, EXPIRED from then on, INVALID if not authentic.

    Never raises for a bad token; raises ValueError only for a naive `now` (a bug).
    """
    _require_aware(now, "now")
    fields = _verified_fields(_subkey(secret, _DOWNLOAD_PURPOSE), token, _DOWNLOAD_VERSION, 2)
    if fields is None:
        return INVALID_DOWNLOAD
    number, micros = fields
    if not (_TICKET_FIELD.fullmatch(number) and _INT.fullmatch(micros)):
        return INVALID_DOWNLOAD
    try:
        expires_at = _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        return INVALID_DOWNLOAD
    status = DownloadStatus.VALID if now < expires_at else DownloadStatus.EXPIRED
    return DownloadCheck(status, ticket_number=number, expires_at=expires_at)
