"""Seat events: announced with pg_notify inside the changing transaction (so only committed
changes are ever seen, invariant 5) and fanned out to each process's live seat maps.

Each process keeps one LISTEN connection (its own asyncpg connection: a pooled one would
drop the listener when reset). Subscribers get bounded queues; a subscriber that falls behind
is told to reload instead of slowing everyone else down. The same connection hears catalogue
edits (a route's stops) and drops this process's cached copies of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from tortoise.backends.base.client import BaseDBAsyncClient

from domain import inventory
from domain.inventory import SeatState, seat_states

log = logging.getLogger(__name__)

CHANNEL = "busbook_seats"
CATALOGUE_CHANNEL = "busbook_catalogue"


async def announce(
    conn: BaseDBAsyncClient, schedule_id: int, schedule_seat_ids: Iterable[int], reason: str
) -> None:
    """Queue a seat event; PostgreSQL delivers it only if the transaction commits."""
    for payload in payloads(schedule_id, schedule_seat_ids, reason):
        await conn.execute_query("SELECT pg_notify($1, $2)", [CHANNEL, payload])


async def announce_route_changed(conn: BaseDBAsyncClient, route_id: int) -> None:
    """Queue "this route's stops changed": on commit, every process drops its cached copy.

    (A bus's edits announce themselves with `announce_bus_changed`.)"""
    payload = json.dumps({"route": route_id})
    await conn.execute_query("SELECT pg_notify($1, $2)", [CATALOGUE_CHANNEL, payload])


async def announce_bus_changed(conn: BaseDBAsyncClient, bus_id: int) -> None:
    """Queue "this bus changed" (name, registration, or a layout no trip uses yet): on
    commit, every process drops its cached copy."""
    payload = json.dumps({"bus": bus_id})
    await conn.execute_query("SELECT pg_notify($1, $2)", [CATALOGUE_CHANNEL, payload])


def payloads(schedule_id: int, schedule_seat_ids: Iterable[int], reason: str) -> list[str]:
    """The NOTIFY payloads of one change (for callers that send `pg_notify` themselves)."""
    ids = sorted(set(schedule_seat_ids))
    # Payloads must stay under 8000 bytes: send ids (never HTML), in chunks. The reason is
    # for people watching with `LISTEN busbook_seats`; subscribers read the seats' states.
    return [
        json.dumps({"s": schedule_id, "ids": ids[start : start + 500], "r": reason})
        for start in range(0, len(ids), 500)
    ]


@dataclass(frozen=True)
class SeatChange:
    """What a subscriber hears: seats of one trip with their new states, or a signal."""

    schedule_id: int  # 0: every trip
    states: dict[int, SeatState] = field(default_factory=dict)
    resync: bool = False  # the states are unknown (missed or unreadable): read every seat again
    reload: bool = False  # the subscriber fell behind: start afresh from a new page


RELOAD = SeatChange(0, reload=True)
RESYNC = SeatChange(0, resync=True)


@dataclass(eq=False)
class Subscription:
    schedule_id: int
    queue: asyncio.Queue[SeatChange] = field(default_factory=lambda: asyncio.Queue(64))

    def offer(self, change: SeatChange) -> None:
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            # Too slow to keep up: drop what is queued and tell it to reload the page.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RELOAD)


LoadStates = Callable[[int, list[int]], Awaitable[dict[int, SeatState]]]


class SeatBroker:
    """One LISTEN connection per process, fanning seat events out to subscribers.

    `load_states` reads the changed seats (`inventory.seat_states`; tests pass one that
    fails)."""

    def __init__(
        self, dsn: str, *, reconnect_delay: float = 0.5, load_states: LoadStates = seat_states
    ) -> None:
        self.dsn = dsn
        self.reconnect_delay = reconnect_delay
        self.load_states = load_states
        self._subscribers: dict[int, set[Subscription]] = defaultdict(set)
        self._pending: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._connection: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="seat-broker-listen"),
            asyncio.create_task(self._dispatch(), name="seat-broker-dispatch"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close()

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def subscribe(self, schedule_id: int) -> Subscription:
        subscription = Subscription(schedule_id)
        self._subscribers[schedule_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.schedule_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.schedule_id]

    def subscriber_count(self, schedule_id: int | None = None) -> int:
        if schedule_id is not None:
            return len(self._subscribers.get(schedule_id, ()))
        return sum(len(s) for s in self._subscribers.values())

    async def _listen(self) -> None:
        """Hold the LISTEN connection; reconnect whenever it drops."""
        connected_before = False
        while True:
            lost = asyncio.Event()
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self.dsn)
                connection.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._on_notify)
                await connection.add_listener(CATALOGUE_CHANNEL, self._on_catalogue)
                # Edits made while nobody listened were not heard: start from an empty cache.
                inventory.forget_routes()
                self._connection = connection
                if connected_before:
                    # Events may have been missed while we were away: everyone resyncs.
                    self._broadcast(RESYNC)
                connected_before = True
                self._listening.set()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 5)
                    if not lost.is_set():
                        await connection.execute("SELECT 1")  # notice a silent drop
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("seat events: LISTEN connection lost (%s); reconnecting", exc)
            self._listening.clear()
            if connection is not None and not connection.is_closed():
                connection.terminate()
            await asyncio.sleep(self.reconnect_delay)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            event = json.loads(str(payload))
        except ValueError:
            log.warning("seat events: ignoring malformed payload %r", str(payload)[:200])
            return
        if event.get("s") in self._subscribers:
            self._pending.put_nowait(event)

    def _on_catalogue(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            event = json.loads(str(payload))
            route_id, bus_id = event.get("route"), event.get("bus")
        except (ValueError, AttributeError):
            route_id = bus_id = None
        if isinstance(route_id, int):
            inventory.forget_route(route_id)
        elif isinstance(bus_id, int):
            inventory.forget_bus(bus_id)
        else:  # whatever changed, nothing stale is kept
            log.warning("catalogue events: malformed payload %r", str(payload)[:200])
            inventory.forget_routes()

    async def _dispatch(self) -> None:
        """Load each changed seat's state once per process, then hand it to subscribers.

        Events waiting together are coalesced per trip; one consumer keeps them in order,
        so a subscriber never receives an older state after a newer one."""
        while True:
            batch = [await self._pending.get()]
            while not self._pending.empty():
                batch.append(self._pending.get_nowait())
            by_schedule: dict[int, set[int]] = defaultdict(set)
            for event in batch:
                by_schedule[int(event["s"])].update(int(i) for i in event.get("ids", ()))
            for schedule_id, ids in by_schedule.items():
                if schedule_id not in self._subscribers:
                    continue
                try:
                    states = await self.load_states(schedule_id, sorted(ids))
                    change = SeatChange(schedule_id, states)
                except Exception:
                    # Never let a change go unseen: each subscriber reads the whole trip.
                    log.exception("seat events: could not load seats of trip %s", schedule_id)
                    change = SeatChange(schedule_id, resync=True)
                for subscription in list(self._subscribers.get(schedule_id, ())):
                    subscription.offer(change)

    def _broadcast(self, change: SeatChange) -> None:
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                subscription.offer(change)
