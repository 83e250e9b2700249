"""Live seat maps: a server-sent event stream per trip page.

Each stream subscribes to the process's seat broker, keeps the seat states it last saw, and
sends a named event `seat-<id>` (the seat's DOM id, which htmx-ext-sse swaps) only when a
seat's status changes for this viewer and segment. Holds that expire are noticed on time
without any event: the stream wakes at the next expiry it knows of.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from quart import Blueprint, current_app, make_response, request, stream_with_context
from quart.typing import ResponseReturnValue

from domain import clock, events, inventory
from domain.enums import SeatStatus
from domain.events import SeatBroker
from views import web

blueprint = Blueprint("live", __name__)

HEARTBEAT_SECONDS = 15.0
BROKER_KEY = "busbook.seat_broker"


def broker() -> SeatBroker:
    value: SeatBroker = current_app.extensions[BROKER_KEY]
    return value


def sse(event: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {event}\n{data}\n\n"


def _since(raw: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(raw) / 1000, UTC) if raw else None
    except (ValueError, OverflowError, OSError):
        return None


@blueprint.get("/schedules/<int:schedule_id>/stream")
async def stream_seats(schedule_id: int) -> ResponseReturnValue:
    trip = await inventory.load_trip(schedule_id)
    segment = inventory.parse_segment(trip, request.args.get("from"), request.args.get("to"))
    user = web.viewer()
    viewer_id = user.id if user else None
    since = _since(request.args.get("since"))
    # Subscribe before reading the seats, so nothing can slip between the two.
    subscription = broker().subscribe(schedule_id)
    try:
        now = clock.now()
        seat_map = await inventory.seat_map(trip, segment, viewer_id=viewer_id, now=now)
        send_all = since is not None and await inventory.changed_since(schedule_id, since, now)
    except BaseException:
        broker().unsubscribe(subscription)
        raise
    views = seat_map.seats
    states = dict(seat_map.states)
    shown = {seat_id: view.status for seat_id, view in views.items()}

    async def render_changes(seat_ids: list[int], *, force: bool = False) -> list[str]:
        now = clock.now()
        out = []
        for seat_id in seat_ids:
            state, view = states.get(seat_id), views.get(seat_id)
            if state is None or view is None:
                continue
            status = state.status_for(segment, viewer_id, now)
            if force or shown.get(seat_id) != status:
                shown[seat_id] = status
                html = await web.seat_html(dataclasses.replace(view, status=status))
                out.append(sse(f"seat-{seat_id}", html))
        if out:
            free = sum(1 for s in shown.values() if s is SeatStatus.AVAILABLE)
            out.append(sse("seat-count", str(free)))
        return out

    @stream_with_context
    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            if send_all:  # the page is older than a change: bring every seat up to date
                for chunk in await render_changes(list(views), force=True):
                    yield chunk
            # The next moment a displayed hold runs out, kept per seat and updated only for
            # the seats an event touches (cheap with a thousand watchers).
            expiry = {seat_id: st.next_expiry(clock.now()) for seat_id, st in states.items()}
            while True:
                now = clock.now()
                due = min((t for t in expiry.values() if t is not None), default=None)
                timeout = HEARTBEAT_SECONDS
                if due is not None:
                    timeout = min(timeout, max((due - now).total_seconds(), 0) + 0.005)
                change: events.SeatChange | None = None
                with contextlib.suppress(TimeoutError):
                    change = await asyncio.wait_for(subscription.queue.get(), timeout)
                if change is not None and change.reload:
                    yield sse("reload", "")
                    return
                if change is not None and change.resync:
                    states.update(await inventory.seat_states(schedule_id))
                    touched = list(views)
                elif change is not None:
                    states.update(change.states)
                    touched = list(change.states)
                else:  # an expiry came due
                    now = clock.now()
                    touched = [i for i, t in expiry.items() if t is not None and t <= now]
                now = clock.now()
                for seat_id in touched:
                    if seat_id in states:
                        expiry[seat_id] = states[seat_id].next_expiry(now)
                chunks = await render_changes(touched)
                if chunks:
                    yield "".join(chunks)  # one write per wake-up, not one per event
                elif change is None and not touched:
                    yield ": heartbeat\n\n"
        finally:
            broker().unsubscribe(subscription)

    response = await make_response(
        stream(),
        200,
        {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    response.timeout = None  # type: ignore[union-attr]  # Quart would cut the stream at 60 s
    return response
