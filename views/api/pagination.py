"""Lists under /api: `limit` (1-100, default 20) and an opaque `cursor`, answered with the
page, `next_cursor` and a `next` link (null on the last page).

A cursor is the list's keyset position (the last row's sort key, e.g. its time and id)
signed with the app's secret, so a client cannot forge one and a broken one is a clear
422, never a 500. The domain's list functions take that position (`after`) and a limit and
read one row more than asked to know whether there is a next page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import Field
from quart import request

from views.api.problems import ApiProblem
from views.api.schemas import Query
from views.cursors import encode_cursor, read_cursor

__all__ = ["PageQuery", "decode_cursor", "encode_cursor", "next_link", "split_page"]

T = TypeVar("T")
LIMIT_MAX = 100
CURSOR_MAX = 512


class PageQuery(Query):
    limit: int = Field(20, ge=1, le=LIMIT_MAX, description="How many items per page (1-100).")
    cursor: str | None = Field(
        None, max_length=CURSOR_MAX, description="The `next_cursor` of the previous page."
    )


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    position = read_cursor(cursor)
    if position is None:
        raise ApiProblem(
            422,
            "invalid_cursor",
            "This cursor is not valid. Use the `next_cursor` of the previous page as it was "
            "sent, or leave it out to start from the first page.",
            errors=[{"field": "cursor", "message": "Not a cursor this API made."}],
        )
    return position


def next_link(cursor: str | None) -> str | None:
    """The same request for the page after this one."""
    if cursor is None:
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    return f"{request.path}?{urlencode([*args, ('cursor', cursor)])}"


def split_page(rows: Sequence[T], limit: int) -> tuple[list[T], bool]:
    """The domain read `limit + 1` rows: the page, and whether another follows."""
    return list(rows[:limit]), len(rows) > limit
