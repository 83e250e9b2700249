"""Seat holds as a state machine: hold, re-submit, cancel, sweep and time passing, against
the real database, with every invariant checked after every step.

Hypothesis drives a plain Python model of the holds next to the domain services. The state
machine itself is synchronous, so it runs in a worker thread; each step hands its coroutine
to the test's (session-scoped) event loop and waits for the answer there. Every example
starts from a clean slate: the trip's reservations, allocations and reservation.* audit rows
are deleted when the machine is built.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tortoise import connections

from domain import holds, inventory
from domain.enums import AllocationKind, ReservationStatus, SeatStatus
from domain.errors import DomainError, HoldLimitReached, ReservationNotFound, SeatsUnavailable
from domain.holds import HoldPolicy, HoldRequest
from domain.inventory import Segment
from domain.models import Reservation, ScheduleSeat, User
from tests import factories

pytestmark = pytest.mark.usefixtures("db")

T = TypeVar("T")

START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
DEPARTURE = START + timedelta(days=1)
ROUTE = [("Mumbai", 0, 0), ("Lonavala", 120, 83), ("Pune", 210, 148), ("Satara", 330, 260)]
STOPS = len(ROUTE)
SEATS = 6  # seats the machine plays with; the bus has 8, the last two must stay available
USERS = 3
# The hourly hold counts (tests/views/test_rate_limits.py) are not part of the model.
POLICY = HoldPolicy(
    hold_minutes=15,
    max_seats=3,
    max_holds_per_trip=2,
    max_active_holds=5,
    holds_per_account_per_hour=0,
    holds_per_ip_per_hour=0,
)
SEGMENTS = [(f, t) for f in range(STOPS) for t in range(f + 1, STOPS)]

ACTIVE, CANCELLED, EXPIRED = (
    ReservationStatus.ACTIVE.value,
    ReservationStatus.CANCELLED.value,
    ReservationStatus.EXPIRED.value,
)

OVERLAPPING_ALLOCATIONS_SQL = """
    SELECT a.id AS a, b.id AS b
    FROM seat_allocations a
    JOIN seat_allocations b
      ON a.schedule_id = b.schedule_id AND a.schedule_seat_id = b.schedule_seat_id AND a.id < b.id
    WHERE a.schedule_id = $1 AND a.active AND b.active AND a.stops && b.stops
"""

MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class Trip:
    """What the machine needs from the test: the loop to run on and the fixed network."""

    loop: asyncio.AbstractEventLoop
    schedule_id: int
    seats: list[ScheduleSeat]  # every seat of the bus, in inventory id order
    users: list[User]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the test's event loop from the machine's thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


@dataclass
class ModelHold:
    id: int
    user: int  # index into Trip.users
    seats: frozenset[int]  # indexes into Trip.seats
    from_seq: int
    to_seq: int
    expires_at: datetime
    status: str = ACTIVE

    def overlaps(self, seats: frozenset[int], from_seq: int, to_seq: int) -> bool:
        return bool(self.seats & seats) and self.from_seq < to_seq and from_seq < self.to_seq

    def live(self, now: datetime) -> bool:
        """A hold is gone the instant it expires, swept or not."""
        return self.status == ACTIVE and self.expires_at > now


@dataclass(frozen=True)
class Prediction:
    outcome: str  # "new", "same", "unavailable" or "limit"
    same_id: int | None = None
    stale: tuple[int, ...] = ()  # unswept expired holds the request ends on its way
    taken_seats: frozenset[int] = frozenset()


async def _reset(schedule_id: int) -> None:
    conn = connections.get("default")
    await conn.execute_query("DELETE FROM activity_logs WHERE action LIKE 'reservation.%'")
    await conn.execute_query("DELETE FROM seat_allocations WHERE schedule_id = $1", [schedule_id])
    await conn.execute_query("DELETE FROM reservations WHERE schedule_id = $1", [schedule_id])


async def _double_submit(user: User, request: HoldRequest, now: datetime) -> list[Any]:
    """The same form sent twice at once (a double click)."""
    return await asyncio.gather(
        holds.hold_seats(user, request, now=now, policy=POLICY),
        holds.hold_seats(user, request, now=now, policy=POLICY),
        return_exceptions=True,
    )


@dataclass
class Snapshot:
    overlapping: list[dict[str, Any]]
    reservations: dict[int, dict[str, Any]]
    allocations: list[dict[str, Any]]
    logs: Counter[tuple[str, int]]
    states: dict[int, inventory.SeatState]


async def _snapshot(schedule_id: int) -> Snapshot:
    conn = connections.get("default")
    overlapping = await conn.execute_query_dict(OVERLAPPING_ALLOCATIONS_SQL, [schedule_id])
    reservations = await conn.execute_query_dict(
        "SELECT id, user_id, from_seq, to_seq, status, expires_at, ended_at FROM reservations "
        "WHERE schedule_id = $1",
        [schedule_id],
    )
    allocations = await conn.execute_query_dict(
        "SELECT id, reservation_id, booking_id, schedule_seat_id, from_seq, to_seq, kind, active, "
        "released_at FROM seat_allocations WHERE schedule_id = $1",
        [schedule_id],
    )
    logs = await conn.execute_query_dict(
        "SELECT action, subject_type, subject_id, count(*) AS n FROM activity_logs "
        "WHERE action LIKE 'reservation.%' GROUP BY action, subject_type, subject_id"
    )
    counter: Counter[tuple[str, int]] = Counter()
    for row in logs:
        assert row["subject_type"] == "Reservation", row
        counter[(row["action"], int(row["subject_id"]))] += row["n"]
    return Snapshot(
        overlapping=overlapping,
        reservations={row["id"]: row for row in reservations},
        allocations=allocations,
        logs=counter,
        states=await inventory.seat_states(schedule_id),
    )


class HoldsMachine(RuleBasedStateMachine):
    reservations = Bundle("reservations")

    def __init__(self, trip: Trip) -> None:
        super().__init__()
        self.trip = trip
        self.now = START
        self.holds: dict[int, ModelHold] = {}
        self.public_ids: dict[int, str] = {}  # what the URLs call each hold
        self.logs: Counter[tuple[str, int]] = Counter()
        self.last: tuple[int, frozenset[int], int, int] | None = None
        trip.run(_reset(trip.schedule_id))

    # -- the model ---------------------------------------------------------------------

    def request(self, seats: frozenset[int], from_seq: int, to_seq: int) -> HoldRequest:
        ids = tuple(sorted(self.trip.seats[i].id for i in seats))
        return HoldRequest(self.trip.schedule_id, from_seq, to_seq, ids)

    def number(self, seat: int) -> str:
        return self.trip.seats[seat].seat.number

    def predict(self, user: int, seats: frozenset[int], from_seq: int, to_seq: int) -> Prediction:
        overlapping = [
            h
            for h in self.holds.values()
            if h.status == ACTIVE and h.overlaps(seats, from_seq, to_seq)
        ]
        stale = tuple(sorted(h.id for h in overlapping if h.expires_at <= self.now))
        taken = [h for h in overlapping if h.expires_at > self.now]
        if taken:
            # Only the identical form (same customer, seats and segment) gets the existing
            # hold back; anything else that overlaps a live hold, the customer's own
            # included, is refused with 409.
            if len(taken) == 1:
                held = taken[0]
                if (held.user, held.seats, held.from_seq, held.to_seq) == (
                    user,
                    seats,
                    from_seq,
                    to_seq,
                ):
                    return Prediction("same", same_id=held.id, stale=stale)
            taken_seats = frozenset().union(*(h.seats for h in taken)) & seats
            return Prediction("unavailable", taken_seats=taken_seats)
        mine = sum(1 for h in self.holds.values() if h.user == user and h.live(self.now))
        if mine >= POLICY.max_holds_per_trip:
            return Prediction("limit")
        return Prediction("new", stale=stale)

    def end(self, hold: ModelHold, status: str) -> None:
        assert hold.status == ACTIVE
        hold.status = status
        self.logs[(f"reservation.{status}", hold.id)] += 1

    def check_hold(
        self,
        expected: Prediction,
        result: Any,
        user: int,
        seats: frozenset[int],
        from_seq: int,
        to_seq: int,
    ) -> int | None:
        """Compare one hold_seats outcome with the prediction; the reservation id if any."""
        what = f"hold(user={user}, seats={sorted(seats)}, {from_seq}->{to_seq}) at {self.now}"
        if expected.outcome == "unavailable":
            assert isinstance(result, SeatsUnavailable), f"{what}: expected 409, got {result!r}"
            assert result.status == 409
            want = sorted(
                (self.number(s) for s in expected.taken_seats), key=int
            )  # seater seats are numbered 1..n
            assert result.numbers == want, f"{what}: names {result.numbers}, expected {want}"
            return None
        if expected.outcome == "limit":
            assert isinstance(result, HoldLimitReached), f"{what}: expected limit, got {result!r}"
            return None
        assert isinstance(result, Reservation), f"{what}: expected {expected}, got {result!r}"
        if expected.outcome == "same":
            assert result.id == expected.same_id, (
                f"{what}: re-submit gave reservation {result.id}, expected {expected.same_id}"
            )
            return result.id
        assert result.id not in self.holds, (
            f"{what}: expected a new hold, got existing reservation {result.id} "
            f"({self.holds[result.id]})"
        )
        assert result.user_id == self.trip.users[user].id
        assert (result.from_seq, result.to_seq) == (from_seq, to_seq)
        assert result.status == ReservationStatus.ACTIVE
        assert result.expires_at == self.now + POLICY.duration
        self.public_ids[result.id] = result.public_id
        return result.id

    def apply_hold(
        self,
        expected: Prediction,
        rid: int | None,
        user: int,
        seats: frozenset[int],
        from_seq: int,
        to_seq: int,
    ) -> None:
        if expected.outcome not in ("new", "same"):
            return  # refused: the transaction rolled back, stale holds included
        for stale in expected.stale:
            self.end(self.holds[stale], EXPIRED)
        if expected.outcome == "new":
            assert rid is not None
            self.holds[rid] = ModelHold(
                rid, user, seats, from_seq, to_seq, self.now + POLICY.duration
            )
            self.logs[("reservation.created", rid)] += 1

    def submit(self, user: int, seats: frozenset[int], from_seq: int, to_seq: int) -> Any:
        self.last = (user, seats, from_seq, to_seq)
        expected = self.predict(user, seats, from_seq, to_seq)
        try:
            result: Any = self.trip.run(
                holds.hold_seats(
                    self.trip.users[user],
                    self.request(seats, from_seq, to_seq),
                    now=self.now,
                    policy=POLICY,
                )
            )
        except DomainError as exc:
            result = exc
        rid = self.check_hold(expected, result, user, seats, from_seq, to_seq)
        self.apply_hold(expected, rid, user, seats, from_seq, to_seq)
        return multiple(rid) if expected.outcome == "new" else multiple()

    # -- rules -------------------------------------------------------------------------

    @rule(
        target=reservations,
        user=st.integers(0, USERS - 1),
        seats=st.frozensets(st.integers(0, SEATS - 1), min_size=1, max_size=POLICY.max_seats),
        segment=st.sampled_from(SEGMENTS),
    )
    def hold(self, user: int, seats: frozenset[int], segment: tuple[int, int]) -> Any:
        return self.submit(user, seats, *segment)

    @precondition(lambda self: self.last is not None)
    @rule(
        target=reservations,
        how=st.sampled_from(
            ["again", "twice at once", "fewer seats", "other segment", "other user"]
        ),
        data=st.data(),
    )
    def resubmit(self, how: str, data: st.DataObject) -> Any:
        """The last form once more: sent again later (a reload, the back button), sent twice
        at the same moment (a double click), or with one thing changed. Random forms rarely
        reach the re-submit path; these do."""
        assert self.last is not None
        user, seats, from_seq, to_seq = self.last
        if how == "twice at once":
            return self.double_submit(user, seats, from_seq, to_seq)
        if how == "fewer seats" and len(seats) > 1:
            smaller = st.sets(st.sampled_from(sorted(seats)), min_size=1, max_size=len(seats) - 1)
            seats = frozenset(data.draw(smaller, label="seats"))
        elif how == "other segment":
            from_seq, to_seq = data.draw(st.sampled_from(SEGMENTS), label="segment")
        elif how == "other user":
            user = (user + data.draw(st.integers(1, USERS - 1), label="offset")) % USERS
        return self.submit(user, seats, from_seq, to_seq)

    def double_submit(self, user: int, seats: frozenset[int], from_seq: int, to_seq: int) -> Any:
        """Two identical requests at once: both get the same answer, at most one new hold."""
        expected = self.predict(user, seats, from_seq, to_seq)
        results = self.trip.run(
            _double_submit(self.trip.users[user], self.request(seats, from_seq, to_seq), self.now)
        )
        ids = {self.check_hold(expected, r, user, seats, from_seq, to_seq) for r in results}
        assert len(ids) == 1, f"double submit made two holds: {results!r}"
        rid = ids.pop()
        self.apply_hold(expected, rid, user, seats, from_seq, to_seq)
        return multiple(rid) if expected.outcome == "new" else multiple()

    @rule(
        rid=reservations,
        by=st.integers(0, USERS - 1),
        when=st.sampled_from(["now", "at expiry", "just before expiry"]),
    )
    def cancel(self, rid: int, by: int, when: str) -> None:
        """`by` 0 is the hold's owner; anyone else must get a 404 and change nothing. `when`
        may first move the clock to the hold's expiry (never back): on that instant the
        hold has expired, so cancelling it records an expiry, not a cancellation."""
        hold = self.holds[rid]
        if when != "now":
            at = hold.expires_at - timedelta(microseconds=1 if when == "just before expiry" else 0)
            self.now = max(self.now, at)
        actor = self.trip.users[(hold.user + by) % USERS]
        if by:
            with pytest.raises(ReservationNotFound) as refused:
                self.trip.run(holds.cancel_hold(actor, self.public_ids[rid], now=self.now))
            assert refused.value.status == 404
            return
        result = self.trip.run(holds.cancel_hold(actor, self.public_ids[rid], now=self.now))
        if hold.status == ACTIVE:
            self.end(hold, EXPIRED if hold.expires_at <= self.now else CANCELLED)
        assert result.id == rid
        assert result.status.value == hold.status, (
            f"cancel({rid}) at {self.now}: {result.status}, expected {hold.status}"
        )

    @rule(
        step=st.one_of(st.sampled_from(["at", "just before"]), st.integers(0, 20)),
        sweep=st.booleans(),
    )
    def advance(self, step: int | str, sweep: bool) -> None:
        """Let whole minutes pass, or stand exactly on the next expiry of a live hold (or one
        microsecond before it); then perhaps run the sweeper."""
        if isinstance(step, int):
            self.now += timedelta(minutes=step)
        else:
            expiries = [h.expires_at for h in self.holds.values() if h.live(self.now)]
            if expiries:
                expiry = min(expiries)
                self.now = expiry - timedelta(microseconds=1) if step == "just before" else expiry
        if sweep:
            due = [
                h for h in self.holds.values() if h.status == ACTIVE and h.expires_at <= self.now
            ]
            count = self.trip.run(holds.expire_holds(self.now))
            assert count == len(due), f"sweep at {self.now}: {count} expired, expected {len(due)}"
            for hold in due:
                self.end(hold, EXPIRED)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        snap = self.trip.run(_snapshot(self.trip.schedule_id))
        seat_ids = [s.id for s in self.trip.seats]
        user_ids = [u.id for u in self.trip.users]

        # (1) No seat is allocated twice on overlapping stops.
        assert snap.overlapping == [], f"overlapping active allocations: {snap.overlapping}"

        # The reservations are the model's, with the model's state.
        assert set(snap.reservations) == set(self.holds), (
            f"reservations {sorted(snap.reservations)}, model {sorted(self.holds)}"
        )
        for rid, hold in self.holds.items():
            row = snap.reservations[rid]
            assert row["status"] == hold.status, f"reservation {rid}: {row} vs {hold}"
            assert (row["user_id"], row["from_seq"], row["to_seq"], row["expires_at"]) == (
                user_ids[hold.user],
                hold.from_seq,
                hold.to_seq,
                hold.expires_at,
            ), f"reservation {rid}: {row} vs {hold}"
            assert (row["ended_at"] is None) == (hold.status == ACTIVE), row

        # (2) An active reservation (live, or expired but not swept yet) has exactly its
        # seats allocated; an ended one has none.
        by_reservation: dict[int, list[dict[str, Any]]] = {rid: [] for rid in self.holds}
        for allocation in snap.allocations:
            assert (
                allocation["booking_id"] is None and allocation["kind"] == AllocationKind.HOLD.value
            ), allocation
            by_reservation[allocation["reservation_id"]].append(allocation)
        for rid, hold in self.holds.items():
            allocations = by_reservation[rid]
            held = sorted(seat_ids[i] for i in hold.seats)
            assert sorted(a["schedule_seat_id"] for a in allocations) == held, (
                f"reservation {rid}: allocations {allocations} vs {hold}"
            )
            assert all(
                (a["from_seq"], a["to_seq"]) == (hold.from_seq, hold.to_seq) for a in allocations
            ), allocations
            active = sorted(a["schedule_seat_id"] for a in allocations if a["active"])
            assert active == (held if hold.status == ACTIVE else []), (
                f"reservation {rid} ({hold.status}): active allocations on {active}"
            )
            assert all((a["released_at"] is None) == a["active"] for a in allocations)

        # (3) What every viewer sees on every single-stop segment: a hold is gone the
        # instant it expires, swept or not.
        assert set(snap.states) == {s.id for s in self.trip.seats}
        for index, seat in enumerate(self.trip.seats):
            state = snap.states[seat.id]
            for stop in range(STOPS - 1):
                segment = Segment(stop, stop + 1)
                holders = {
                    h.user
                    for h in self.holds.values()
                    if h.live(self.now) and h.overlaps(frozenset({index}), stop, stop + 1)
                }
                expected = SeatStatus.HELD if holders else SeatStatus.AVAILABLE
                got = state.status_for(segment, None, self.now)
                assert got == expected, (
                    f"seat {seat.seat.number} on {stop}->{stop + 1} at {self.now}: {got}, "
                    f"expected {expected}"
                )
                for viewer, viewer_id in enumerate(user_ids):
                    mine = (
                        SeatStatus.AVAILABLE
                        if not holders
                        else SeatStatus.MINE
                        if holders == {viewer}
                        else SeatStatus.HELD
                    )
                    got = state.status_for(segment, viewer_id, self.now)
                    assert got == mine, (
                        f"seat {seat.seat.number} on {stop}->{stop + 1} for user {viewer} at "
                        f"{self.now}: {got}, expected {mine}"
                    )

        # (4) One audit row per transition, no more, no fewer.
        assert snap.logs == +self.logs, f"audit rows {dict(snap.logs)}, model {dict(self.logs)}"


async def test_holds_behave_like_the_model() -> None:
    route = await factories.make_route(ROUTE)
    schedule = await factories.make_trip(DEPARTURE, route=route, rows=2)  # 8 seats
    seats = await factories.schedule_seats(schedule)
    assert len(seats) == 8
    users = [await factories.make_user(now=START) for _ in range(USERS)]
    trip = Trip(asyncio.get_running_loop(), schedule.id, seats, users)
    await asyncio.to_thread(
        run_state_machine_as_test, lambda: HoldsMachine(trip), settings=MACHINE_SETTINGS
    )
