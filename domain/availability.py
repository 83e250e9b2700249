"""The one availability rule, once in SQL and once in Python.

A seat is taken on a segment [from_seq, to_seq) when an active allocation of it overlaps the
segment and, for a hold, the hold's `expires_at > now`. A hold whose time is up is free for
everyone at once, whether or not the sweeper has run (invariant 2); segments that only touch
([0, 1) and [1, 2)) do not overlap. Without a segment the question is "taken anywhere on the
trip".

The SQL fragments are composed into the statements that ask with a known segment and moment
(search's free-seat counts, the hold check, the fulfilment's re-secure check, the
dashboard); the Python predicate answers for seat states read once and judged for any
viewer, segment and moment (seat maps, live updates, blocking a seat).
tests/integration/test_availability_rule.py checks on random allocations that both always
give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.enums import AllocationKind


@dataclass(frozen=True)
class Segment:
    """Stops [from_seq, to_seq) of a trip, by their sequence numbers."""

    from_seq: int
    to_seq: int


@dataclass(frozen=True)
class AllocationFacts:
    """The values of one allocation that decide whether it takes its seat."""

    from_seq: int
    to_seq: int
    kind: AllocationKind
    active: bool
    expires_at: datetime | None  # the hold's (reservations.expires_at); None for a booking


def overlaps(allocation: AllocationFacts, segment: Segment | None) -> bool:
    return segment is None or (
        allocation.from_seq < segment.to_seq and allocation.to_seq > segment.from_seq
    )


def live(allocation: AllocationFacts, now: datetime) -> bool:
    """Still holding its seat at `now`: a booking, or a hold that has not expired."""
    return allocation.kind is AllocationKind.BOOKING or (
        allocation.expires_at is not None and allocation.expires_at > now
    )


def takes(allocation: AllocationFacts, segment: Segment | None, now: datetime) -> bool:
    """The rule in Python: does this allocation take its seat on `segment` (anywhere on the
    trip when None) at `now`?"""
    return allocation.active and overlaps(allocation, segment) and live(allocation, now)


# The rule in SQL. `a` is a `seat_allocations` row, `r` the `reservations` row it belongs to
# (LEFT JOIN: null for a booking); the other arguments are SQL expressions (parameters such
# as "$3", columns such as "o.seq"). The overlap test is written on from_seq/to_seq, which
# the hot paths' plans filter on after the (schedule_id, schedule_seat_id) index lookup.


def overlapping_sql(a: str, from_seq: str | None = None, to_seq: str | None = None) -> str:
    """An active allocation overlapping [from_seq, to_seq) (anywhere on the trip when the
    segment is not given), live or not: the hold check also wants the expired holds in the
    way, to release them."""
    if from_seq is None or to_seq is None:
        return f"{a}.active"
    return f"{a}.active AND {a}.from_seq < {to_seq} AND {a}.to_seq > {from_seq}"


def live_sql(a: str, r: str, now: str) -> str:
    """The allocation still holds its seat at `now` (a boolean SQL expression)."""
    return f"({a}.kind = 'booking' OR {r}.expires_at > {now})"


def taken_sql(
    a: str, r: str, *, now: str, from_seq: str | None = None, to_seq: str | None = None
) -> str:
    """The whole rule: the allocation takes its seat on the segment at `now`."""
    return f"({overlapping_sql(a, from_seq, to_seq)} AND {live_sql(a, r, now)})"
