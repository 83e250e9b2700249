"""The console's keyset pages: `?after=` / `?before=` carry a signed position (see
views/cursors.py), and the pager's links keep every filter of the request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from quart import request

from domain import keyset
from domain.errors import ValidationFailed
from views.cursors import encode_cursor, read_cursor

CURSOR_MAX = 512
BAD_CURSOR = "This page link is broken or belongs to another list. Start again from the first page."


def moment(value: Any) -> datetime:
    """A position's time: ISO 8601 with its offset."""
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(value)
    return parsed


def whole(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(value)
    return value


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(value)
    return value


@dataclass(frozen=True)
class Pager:
    """What a list's template needs besides its rows."""

    next_url: str | None
    previous_url: str | None
    first_url: str | None  # the first page, when this is not it

    @property
    def cut(self) -> bool:
        return bool(self.next_url or self.previous_url)


Kinds = Sequence[Callable[[Any], Any]]  # how to read each value of a position back


def _position(
    list_name: str, kinds: Sequence[Callable[[Any], Any]], cursor: str
) -> keyset.Position:
    found = read_cursor(cursor) if len(cursor) <= CURSOR_MAX else None
    try:
        if found is None or found.get("l") != list_name:
            raise ValueError(cursor)
        values = found.get("k")
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError(values)
        return tuple(kind(v) for kind, v in zip(kinds, values, strict=True))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed({"after": BAD_CURSOR}) from exc


def window(list_name: str, kinds: Kinds, size: int = keyset.PAGE_SIZE) -> keyset.Window:
    """The page the request asks for: `after` (next pages) or `before` (previous ones)."""
    after, before = request.args.get("after"), request.args.get("before")
    return keyset.Window(
        after=_position(list_name, kinds, after) if after else None,
        before=_position(list_name, kinds, before) if before and not after else None,
        size=size,
    )


def _encode(list_name: str, position: keyset.Position) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in position]
    return encode_cursor({"l": list_name, "k": values})


def _url(**cursor: str) -> str:
    args = [(k, v) for k, v in request.args.items(multi=True) if k not in ("after", "before")]
    args = [(k, v) for k, v in args if v != ""]
    query = urlencode([*args, *cursor.items()])
    return f"{request.path}?{query}" if query else request.path


def pager(list_name: str, page: keyset.Page[Any]) -> Pager:
    return Pager(
        next_url=_url(after=_encode(list_name, page.last))
        if page.more_after and page.last
        else None,
        previous_url=_url(before=_encode(list_name, page.first))
        if page.more_before and page.first
        else None,
        first_url=_url() if page.more_before else None,
    )
