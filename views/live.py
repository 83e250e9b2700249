"""Live seat maps: a server-sent event stream per trip page.

The stream renders the updates of the viewer's seat watch (domain/live.py): a named event
`seat-<id>` (the seat's DOM id, which htmx-ext-sse swaps) per seat whose status changed,
then the free-seat count; a comment as heartbeat when nothing changed for a while.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from quart import Blueprint, make_response, request, stream_with_context
from quart.typing import ResponseReturnValue

from domain import live
from views import auth, forms
from views.rendering import seat_html
from views.services import services

blueprint = Blueprint("live", __name__)

HEARTBEAT_SECONDS = 15.0


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
    user = auth.viewer()
    svc = services()
    watch = await live.watch_seats(
        svc.broker,
        schedule_id,
        *forms.segment_stops(request.args.get("from"), request.args.get("to")),
        viewer_id=user.id if user else None,
        since=_since(request.args.get("since")),
        clock=svc.clock,
    )

    @stream_with_context
    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            while True:
                update = await watch.next(heartbeat=HEARTBEAT_SECONDS)
                if update.reload:
                    yield sse("reload", "")
                    return
                if not update.seats:
                    yield ": heartbeat\n\n"
                    continue
                chunks = [
                    sse(f"seat-{seat.schedule_seat_id}", await seat_html(seat))
                    for seat in update.seats
                ]
                chunks.append(sse("seat-count", str(update.available)))
                yield "".join(chunks)  # one write per wake-up, not one per event
        finally:
            watch.close()

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
