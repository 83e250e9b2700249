"""The live seat watch: one viewer's seat map kept current, for the SSE stream and the WebSocket.

A watch subscribes to the process's seat broker before it reads the seats (so no change can
slip between the two), keeps the seat states it last saw, and reports a seat only when its
status changes for this viewer and segment. Holds that run out are noticed on time without
any event: the watch wakes at the next expiry it knows of. Updates are plain data; the
views only render them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain import clock as wall_clock
from domain.enums import SeatStatus
from domain.events import SeatBroker, SeatChange, Subscription
from domain.inventory import (
    SeatMap,
    SeatState,
    SeatView,
    changed_since,
    check_segment,
    load_trip,
    seat_map,
    seat_states,
)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SeatUpdate:
    """What changed on one viewer's seat map since the last update.

    `seats` are the seats whose status changed for this viewer and segment, each with its
    new status; no seats means nothing changed (time for a heartbeat). `reload`: the watch
    fell behind and ends; the viewer should start again from a fresh page. `snapshot`:
    `seats` is every seat of the map with its current status (a watch that keeps
    snapshots, after a gap: the broker resynced, or the watch fell behind)."""

    seats: tuple[SeatView, ...] = ()
    available: int = 0  # seats free on this segment for this viewer, after the change
    next_expiry: datetime | None = None  # when the next hold on this map runs out
    reload: bool = False
    snapshot: bool = False


class SeatWatch:
    """One viewer's watch on one trip and segment; `close()` it when the viewer leaves."""

    def __init__(
        self,
        broker: SeatBroker,
        subscription: Subscription,
        seat_map: SeatMap,
        *,
        viewer_id: int | None,
        behind: bool,
        clock: Clock,
        snapshots: bool = False,
    ) -> None:
        self.seat_map = seat_map
        self.snapshots = snapshots
        self._broker = broker
        self._subscription = subscription
        self._viewer_id = viewer_id
        self._clock = clock
        self._behind = behind
        self._views = seat_map.seats
        self._states: dict[int, SeatState] = dict(seat_map.states)
        self._shown = {seat_id: view.status for seat_id, view in self._views.items()}
        # The next moment each seat's displayed hold runs out, updated only for the seats an
        # event touches (cheap with a thousand watchers).
        now = clock()
        self._expiry = {seat_id: st.next_expiry(now) for seat_id, st in self._states.items()}

    @property
    def schedule_id(self) -> int:
        return self.seat_map.schedule_id

    def close(self) -> None:
        self._broker.unsubscribe(self._subscription)

    def next_expiry(self) -> datetime | None:
        return min((t for t in self._expiry.values() if t is not None), default=None)

    def snapshot(self) -> SeatUpdate:
        """Every seat of the map with its status for this viewer now (`snapshot=True`)."""
        return self._update(list(self._views), force=True)

    async def next(self, *, heartbeat: float) -> SeatUpdate:
        """Wait until a seat changes for this viewer (an event, or a hold running out) or
        `heartbeat` seconds pass without one; then say what changed.

        The first update of a watch opened for a page older than a change brings every
        seat up to date. After a gap (the broker lost events and resynced, or this watch
        fell behind and its queued changes were dropped) a watch that keeps `snapshots`
        reads every seat again and reports them all, then goes on; otherwise a resync
        reports the seats that changed and falling behind ends the watch (`reload`)."""
        if self._behind:
            self._behind = False
            return self.snapshot()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + heartbeat  # a timeout, not a business time
        while True:
            now = self._clock()
            due = self.next_expiry()
            timeout = deadline - loop.time()
            if timeout <= 0:
                return SeatUpdate(available=self._available(), next_expiry=due)
            if due is not None:
                timeout = min(timeout, max((due - now).total_seconds(), 0) + 0.005)
            change: SeatChange | None = None
            with contextlib.suppress(TimeoutError):
                change = await asyncio.wait_for(self._subscription.queue.get(), timeout)
            if change is not None and change.reload and not self.snapshots:
                return SeatUpdate(reload=True)
            if change is not None and (change.resync or change.reload):
                # The subscription stays: whatever commits after this read is still heard.
                self._states.update(await seat_states(self.schedule_id))
                if self.snapshots:
                    return self.snapshot()
                touched = list(self._views)
            elif change is not None:
                self._states.update(change.states)
                touched = list(change.states)
            else:  # a hold came due, or the heartbeat
                now = self._clock()
                touched = [i for i, t in self._expiry.items() if t is not None and t <= now]
            update = self._update(touched)
            if update.seats:
                return update

    def _update(self, seat_ids: list[int], *, force: bool = False) -> SeatUpdate:
        now = self._clock()
        changed = []
        for seat_id in seat_ids:
            state, view = self._states.get(seat_id), self._views.get(seat_id)
            if state is None or view is None:
                continue
            self._expiry[seat_id] = state.next_expiry(now)
            status = state.status_for(self.seat_map.segment, self._viewer_id, now)
            if force or self._shown.get(seat_id) != status:
                self._shown[seat_id] = status
                changed.append(dataclasses.replace(view, status=status))
        return SeatUpdate(tuple(changed), self._available(), self.next_expiry(), snapshot=force)

    def _available(self) -> int:
        return sum(1 for status in self._shown.values() if status is SeatStatus.AVAILABLE)


async def watch_seats(
    broker: SeatBroker,
    schedule_id: int,
    from_seq: int | None,
    to_seq: int | None,
    *,
    viewer_id: int | None,
    since: datetime | None,
    clock: Clock = wall_clock.now,
    snapshots: bool = False,
) -> SeatWatch:
    """Start watching a trip's seat map for one viewer and segment (the whole route when
    the stops are absent). `since`: when the viewer's page was rendered; if a seat changed
    after it, the first update brings every seat up to date. `snapshots`: a client that
    keeps its own copy of the map (the WebSocket) gets every seat after a gap and the watch
    goes on (see `SeatWatch.next`).

    Refuses an unknown trip or a bad segment before it subscribes."""
    trip = await load_trip(schedule_id)
    segment = check_segment(trip, from_seq, to_seq)
    subscription = broker.subscribe(schedule_id)  # before reading: nothing slips between
    try:
        now = clock()
        current = await seat_map(trip, segment, viewer_id=viewer_id, now=now)
        behind = since is not None and await changed_since(schedule_id, since, now)
    except BaseException:
        broker.unsubscribe(subscription)
        raise
    return SeatWatch(
        broker,
        subscription,
        current,
        viewer_id=viewer_id,
        behind=behind,
        clock=clock,
        snapshots=snapshots,
    )
