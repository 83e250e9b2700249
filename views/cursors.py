"""Signed list positions, for the console's pages and the API's `cursor` alike: a keyset
position (the sort key of a row) as an opaque string signed with the app's secret, so a
client cannot forge one and a broken one is refused, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from views.services import services


def _sign(payload: bytes) -> str:
    key = services().settings.secret_key.encode()
    return hmac.new(key, b"cursor:" + payload, hashlib.sha256).hexdigest()[:24]


def encode_cursor(position: dict[str, Any]) -> str:
    payload = json.dumps(position, separators=(",", ":"), default=str).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(payload)}"


def read_cursor(cursor: str) -> dict[str, Any] | None:
    """The position a cursor carries, or None when this app did not make it."""
    body, _, signature = cursor.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        valid = hmac.compare_digest(signature, _sign(payload))
        position = json.loads(payload) if valid else None
    except (ValueError, UnicodeDecodeError):
        position = None
    return position if isinstance(position, dict) else None
