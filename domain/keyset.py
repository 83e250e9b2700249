"""Keyset pages for long lists (the console's and the API's): a page is read from a position
(the sort key of the last row seen, or of the first one when paging back), never with
OFFSET, so page 1,000 costs what page 1 costs wherever an index serves the order, and rows
written meanwhile neither repeat nor go missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)
T = TypeVar("T")
Position = tuple[Any, ...]
PAGE_SIZE = 50


@dataclass(frozen=True)
class Window:
    """Which page: the rows after `after` (forward) or before `before` (back), `size` of them."""

    after: Position | None = None
    before: Position | None = None
    size: int = PAGE_SIZE


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    more_after: bool  # a row follows the last one
    more_before: bool  # a row precedes the first one
    first: Position | None = None  # the sort key of the first row (for "previous")
    last: Position | None = None  # and of the last one (for "next")
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cut(self) -> bool:
        """The list goes on beyond this page, one way or the other."""
        return self.more_after or self.more_before

    def with_rows(self, rows: list[Any]) -> Page[Any]:
        """The same page (positions and flags) carrying other rows built from these."""
        return Page(rows, self.more_after, self.more_before, self.first, self.last, self.extra)


def _beyond(order: Sequence[str], position: Position, *, forward: bool) -> Q:
    """Rows strictly after `position` in `order` (or strictly before it): the lexicographic
    (a, b) > (x, y) written as a > x OR (a = x AND b > y), per column direction."""
    if len(position) != len(order):
        raise ValueError("the position does not match the order")
    clauses = []
    for i, key in enumerate(order):
        name = key.lstrip("-")
        descending = key.startswith("-")
        op = "lt" if descending == forward else "gt"
        equal = {k.lstrip("-"): v for k, v in zip(order[:i], position[:i], strict=True)}
        clauses.append(Q(**equal, **{f"{name}__{op}": position[i]}))
    condition = clauses[0]
    for clause in clauses[1:]:
        condition |= clause
    # The same bound on the first column alone, inclusive: an index on the order can start
    # its scan there instead of reading (and filtering out) every row of the pages before.
    first = order[0].lstrip("-")
    op = "lte" if order[0].startswith("-") == forward else "gte"
    return Q(**{f"{first}__{op}": position[0]}) & condition


def key_of(row: Any, order: Sequence[str]) -> Position:
    return tuple(getattr(row, key.lstrip("-")) for key in order)


async def read_page(
    query: QuerySet[M], order: Sequence[str], window: Window, *related: str
) -> Page[M]:
    """One page of `query` in `order` (model fields, `-` for descending, ending in a unique
    one such as `id`), with `related` prefetched: one row more than asked is read to know
    whether the list goes on."""
    size = max(window.size, 1)
    if window.before is not None:
        flipped = [key[1:] if key.startswith("-") else f"-{key}" for key in order]
        rows = list(
            await query.filter(_beyond(order, window.before, forward=False))
            .order_by(*flipped)
            .limit(size + 1)
            .prefetch_related(*related)
        )
        more_before = len(rows) > size
        rows = rows[:size][::-1]
        more_after = True
    else:
        if window.after is not None:
            query = query.filter(_beyond(order, window.after, forward=True))
        rows = list(await query.order_by(*order).limit(size + 1).prefetch_related(*related))
        more_after = len(rows) > size
        rows = rows[:size]
        more_before = window.after is not None
    return Page(
        rows,
        more_after,
        more_before,
        key_of(rows[0], order) if rows else window.after or window.before,
        key_of(rows[-1], order) if rows else window.after or window.before,
    )
