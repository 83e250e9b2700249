"""Public ids: what URLs, emails and (next) the JSON API call a hold, a payment, a
cancellation or a refund. They are random, so they reveal nothing about volumes and cannot
be walked; the integer primary keys stay internal. (A booking's public id is its reference.)

The same shape is made by the database default (migration 0007) for rows inserted in
plain SQL, such as a hold: `<prefix>_` and 32 hex digits (a UUID4, 122 random bits).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

RESERVATION = "rsv"
PAYMENT = "pay"
CANCELLATION = "cnl"
REFUND = "rfd"
LENGTH = 36  # prefix, underscore, 32 hex digits
_SHAPE = re.compile(r"[a-z]{3}_[0-9a-f]{32}")


def new(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def maker(prefix: str) -> Callable[[], str]:
    """A model field default."""

    def make() -> str:
        return new(prefix)

    make.__name__ = f"new_{prefix}_id"
    return make


def looks_like(value: str, prefix: str) -> bool:
    """Whether `value` could be a public id of that kind (checked before any query)."""
    return value.startswith(prefix + "_") and _SHAPE.fullmatch(value) is not None
