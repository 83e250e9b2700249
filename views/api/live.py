"""Live seats over a WebSocket: `/api/v1/schedules/{id}/ws?from_stop=&to_stop=&ticket=`.

The socket renders the updates of the viewer's seat watch (domain/live.py), the same broker
and per-viewer watch as the trip page's SSE stream, as JSON text frames:

- `{"type": "snapshot", "schedule_id", "from_stop", "to_stop", "available_seats",
  "seats": [{"seat_id", "seat_number", "status"}, ...]}` on connect, and again after any gap
  (the broker lost events and resynced, or this client fell behind): the client replaces
  its whole copy of the map;
- `{"type": "seat", "seat_id", "seat_number", "status", "available_seats"}` for each seat
  whose status changed for this segment and viewer (committed changes only: holds,
  releases, expiries, bookings, cancellations, blocks);
- `{"type": "ping"}` when nothing was sent for `PING_SECONDS` (Granian sends no WebSocket
  pings, and proxies drop quiet connections). The client may answer `{"type": "pong"}`;
  a `{"type": "ping"}` from the client is answered `{"type": "pong"}`; anything else it
  sends is ignored. The server does not drop a client that never answers (a dead peer
  shows up as failing sends).

Statuses: `free`, `held`, `booked`, `blocked` (closed by the operator) and, for a client
that connected with a ticket (`POST /api/v1/schedules/{id}/ws-ticket`,
domain/live_tickets.py), `mine` for the seats it holds itself. A seat's id is the trip's
inventory id (`schedule_seat_id`), the id `reservations/create` takes in `seat_ids`.

Refusals: an `Origin` that is not one of the site's (Settings.allowed_origins: the site
itself and CORS_ORIGINS) is refused before the handshake, with a 403 problem (a page on
another site must never read a customer's seats); with no `Origin` (not a browser) the
socket is served. (quart-cors's own WebSocket check is switched off for this route: it
would refuse both of those.) Everything else the client can fix (an unknown trip, a bad
segment, a bad or expired ticket) is accepted, answered with one
`{"type": "error", "error": {problem details}}` and closed with 1008 (policy violation)
and the error's code as the reason: a browser cannot read a refused handshake's status, so
this is the only way it learns whether to fix the stops or fetch a new ticket. A database
outage is the same with 1011.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from typing import Any

from pydantic import Field
from quart import Response, websocket
from quart.typing import ResponseReturnValue
from quart_cors import cors_exempt

from domain import database, live, live_tickets
from domain.errors import DomainError, ServiceUnavailable, ValidationFailed
from domain.inventory import SeatView
from domain.models import User
from views.api import problems
from views.api.auth import needs, require_api_user
from views.api.blueprints import api_blueprint
from views.api.io import reply, responds, tags
from views.api.schedules import SEAT_STATUS_NAMES, SEGMENT_FIELDS
from views.api.schemas import Out, example
from views.services import services

blueprint = api_blueprint("live", __name__)

PING_SECONDS = 20.0
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011

# How a seat's status for a viewer is named in the API.
# The seat list and the socket name statuses and segment fields alike (views/api/schedules.py).
STATUS_NAMES = SEAT_STATUS_NAMES
FIELD_NAMES = SEGMENT_FIELDS


class LiveSeatTicket(Out):
    model_config = example(
        ticket="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",
        expires_at="2026-12-03T06:01:00Z",
        expires_in=60,
    )

    ticket: str = Field(
        description="Put it in the socket's URL as `?ticket=`: the seats you hold show "
        "as `mine`. Good for this trip only."
    )
    expires_at: datetime = Field(description="Connect before this; a connected socket stays.")
    expires_in: int = Field(description="Seconds from now.")


@blueprint.post("/schedules/<int:schedule_id>/ws-ticket")
@tags("schedules")
@needs("user")
@responds(LiveSeatTicket)
async def live_seat_ticket(schedule_id: int) -> Response:
    """A ticket for the live seat WebSocket

    The WebSocket `/api/v1/schedules/{id}/ws?from_stop=&to_stop=&ticket=` sends the trip's
    seats for the segment (a `snapshot` on connect and after any gap, then one `seat`
    message per change, and a `ping` when quiet). Without a ticket a client sees `free`,
    `held`, `booked` and `blocked`; with one, also `mine`. The ticket lives 60 seconds, is
    good for this trip only, and stops working when you log out; the access token itself
    never goes into a URL. Nothing is stored: no Idempotency-Key is needed.
    """
    user = await require_api_user()
    svc = services()
    now = svc.now()
    issued = await live_tickets.issue_ticket(
        user, schedule_id, secret=svc.settings.secret_key, now=now
    )
    return reply(
        LiveSeatTicket(
            ticket=issued.ticket,
            expires_at=issued.expires_at,
            expires_in=round((issued.expires_at - now).total_seconds()),
        )
    )


def _stop(name: str) -> int | None:
    raw = websocket.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        raise ValidationFailed({name: "Give a stop number of this route."})
    return int(raw)


def _seat(seat: SeatView) -> dict[str, Any]:
    return {
        "seat_id": seat.schedule_seat_id,
        "seat_number": seat.number,
        "status": STATUS_NAMES[seat.status],
    }


def snapshot_message(watch: live.SeatWatch, update: live.SeatUpdate) -> str:
    return json.dumps(
        {
            "type": "snapshot",
            "schedule_id": watch.schedule_id,
            "from_stop": watch.seat_map.segment.from_seq,
            "to_stop": watch.seat_map.segment.to_seq,
            "available_seats": update.available,
            "seats": [_seat(seat) for seat in update.seats],
        }
    )


def seat_message(seat: SeatView, available: int) -> str:
    return json.dumps({"type": "seat", **_seat(seat), "available_seats": available})


PING = json.dumps({"type": "ping"})
PONG = json.dumps({"type": "pong"})


async def _close_with(error: DomainError) -> None:
    await websocket.accept()
    body = problems.domain_body(error, FIELD_NAMES)
    await websocket.send(json.dumps({"type": "error", "error": body}, default=str))
    code = INTERNAL_ERROR if error.status >= 500 else POLICY_VIOLATION
    await websocket.close(code, error.code)


async def _answer_pings() -> None:
    while True:
        message = await websocket.receive()
        try:
            kind = json.loads(message).get("type")
        except (ValueError, AttributeError):
            continue
        if kind == "ping":
            await websocket.send(PONG)


@blueprint.websocket("/schedules/<int:schedule_id>/ws")
@cors_exempt  # quart-cors would refuse a client without Origin, and the site's own origin
async def live_seats(schedule_id: int) -> ResponseReturnValue | None:
    svc = services()
    origin = websocket.headers.get("Origin")
    if origin is not None and origin not in svc.settings.allowed_origins:
        return problems.problem(
            403,
            "origin_not_allowed",
            "Pages of this origin may not open the live seat socket (see CORS_ORIGINS).",
        )
    try:
        viewer: User | None = None
        ticket = websocket.args.get("ticket")
        if ticket is not None:
            viewer = await live_tickets.ticket_user(
                ticket, schedule_id, secret=svc.settings.secret_key, now=svc.now()
            )
        watch = await live.watch_seats(
            svc.broker,
            schedule_id,
            _stop("from_stop"),
            _stop("to_stop"),
            viewer_id=viewer.id if viewer else None,
            since=None,
            clock=svc.clock,
            snapshots=True,
        )
    except DomainError as error:
        await _close_with(error)
        return None
    except Exception as exc:
        if not database.is_outage(exc):
            raise
        await _close_with(ServiceUnavailable())
        return None
    pings = None
    try:
        await websocket.accept()
        await websocket.send(snapshot_message(watch, watch.snapshot()))
        pings = asyncio.create_task(_answer_pings())
        while True:
            update = await watch.next(heartbeat=PING_SECONDS)
            if update.snapshot:
                await websocket.send(snapshot_message(watch, update))
            elif not update.seats:
                await websocket.send(PING)
            else:
                for seat in update.seats:
                    await websocket.send(seat_message(seat, update.available))
    finally:
        if pings is not None:
            pings.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pings
        watch.close()
